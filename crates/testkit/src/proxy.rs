//! A TCP proxy on loopback that a test can tell to cut or stall connections, now or after a number
//! of bytes: for the reliability tests (dropped connections, silent servers).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Default)]
struct State {
    /// Bytes (both directions, all connections) still allowed before every connection is cut;
    /// negative means no limit.
    budget: AtomicI64,
    stalled: AtomicBool,
    /// Bumped by `cut_now`; a connection that sees a newer generation than its own closes.
    generation: AtomicU64,
    /// Refuse (close at once) new connections while set.
    refuse: AtomicBool,
    forwarded: AtomicU64,
    connections: AtomicU64,
    live: Mutex<Vec<TcpStream>>,
    stop: AtomicBool,
}

pub struct FaultProxy {
    port: u16,
    state: Arc<State>,
}

impl FaultProxy {
    /// Starts forwarding 127.0.0.1:<new port> to 127.0.0.1:`target_port`.
    pub fn start(target_port: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("proxy addr").port();
        let state = Arc::new(State {
            budget: AtomicI64::new(-1),
            ..State::default()
        });
        let accept_state = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if accept_state.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                if accept_state.refuse.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                accept_state.connections.fetch_add(1, Ordering::SeqCst);
                {
                    let mut live = accept_state.live.lock().unwrap();
                    live.push(client.try_clone().expect("clone"));
                    live.push(server.try_clone().expect("clone"));
                }
                let generation = accept_state.generation.load(Ordering::SeqCst);
                for (from, to) in [
                    (client.try_clone().unwrap(), server.try_clone().unwrap()),
                    (server, client),
                ] {
                    let st = accept_state.clone();
                    std::thread::spawn(move || pump(from, to, st, generation));
                }
            }
        });
        FaultProxy { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Cuts every open connection now (both directions, like a dropped network).
    pub fn cut_now(&self) {
        self.state.generation.fetch_add(1, Ordering::SeqCst);
        for s in self.state.live.lock().unwrap().drain(..) {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    /// Cuts every connection once `n` more bytes have passed (either direction, all connections).
    pub fn cut_after_bytes(&self, n: u64) {
        self.state.budget.store(n as i64, Ordering::SeqCst);
    }

    /// Stops forwarding: connections stay open but silent, like a hung server.
    pub fn stall(&self) {
        self.state.stalled.store(true, Ordering::SeqCst);
    }

    /// Forwards again after `stall`, lifts a byte budget and accepts new connections.
    pub fn resume(&self) {
        self.state.stalled.store(false, Ordering::SeqCst);
        self.state.budget.store(-1, Ordering::SeqCst);
        self.state.refuse.store(false, Ordering::SeqCst);
    }

    /// Closes new connections at once until `resume` (a server that went away).
    pub fn refuse_new(&self) {
        self.state.refuse.store(true, Ordering::SeqCst);
    }

    /// Bytes forwarded so far, both directions.
    pub fn bytes_forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        self.cut_now();
        // Wake the accept loop so that its thread ends.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn pump(mut from: TcpStream, mut to: TcpStream, st: Arc<State>, generation: u64) {
    let _ = from.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = vec![0u8; 16 * 1024];
    let mut pending: Vec<u8> = Vec::new();
    loop {
        if st.generation.load(Ordering::SeqCst) != generation || st.stop.load(Ordering::SeqCst) {
            break;
        }
        if st.stalled.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        }
        if pending.is_empty() {
            match from.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    continue
                }
                Err(_) => break,
            }
        }
        // Spend the byte budget: forward what it allows, then cut everything.
        let mut allowed = pending.len();
        let budget = st.budget.load(Ordering::SeqCst);
        let mut cut = false;
        if budget >= 0 {
            let take = (budget as usize).min(allowed);
            st.budget.fetch_sub(take as i64, Ordering::SeqCst);
            if take < allowed || budget as usize == take {
                cut = take < allowed || (budget as usize) == allowed;
            }
            allowed = take;
        }
        if to.write_all(&pending[..allowed]).is_err() {
            break;
        }
        st.forwarded.fetch_add(allowed as u64, Ordering::SeqCst);
        pending.drain(..allowed);
        if cut {
            st.generation.fetch_add(1, Ordering::SeqCst);
            for s in st.live.lock().unwrap().drain(..) {
                let _ = s.shutdown(Shutdown::Both);
            }
            break;
        }
    }
    let _ = from.shutdown(Shutdown::Both);
    let _ = to.shutdown(Shutdown::Both);
}
