//! A TCP proxy on loopback that delays every byte by a fixed time in each direction, like a host
//! far away (20 ms each way = a 40 ms round trip), without limiting the bandwidth: bytes are
//! read as they come and written once their time is due, so a stream in flight keeps flowing.
//! Used by `scripts/bench --latency-ms` and by tests of latency hiding.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub struct DelayProxy {
    port: u16,
    stop: Arc<AtomicBool>,
    connections: Arc<AtomicU64>,
}

impl DelayProxy {
    /// Forwards 127.0.0.1:<new port> to 127.0.0.1:`target_port`, each direction `one_way` late.
    pub fn start(target_port: u16, one_way: Duration) -> DelayProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("proxy addr").port();
        let stop = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(AtomicU64::new(0));
        let (st, count) = (stop.clone(), connections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let count = count.clone();
                std::thread::spawn(move || {
                    // Connecting costs a round trip too (SYN, SYN-ACK).
                    std::thread::sleep(one_way * 2);
                    let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    count.fetch_add(1, Ordering::SeqCst);
                    let (c2, s2) = (
                        client.try_clone().expect("clone"),
                        server.try_clone().expect("clone"),
                    );
                    delayed_pump(client, server, one_way);
                    delayed_pump(s2, c2, one_way);
                });
            }
        });
        DelayProxy {
            port,
            stop,
            connections,
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

impl Drop for DelayProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// `from` -> `to`, each chunk written `delay` after it was read.
fn delayed_pump(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if tx
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        // The sender drops here: the writer ends after the last chunk is due and written.
    });
    std::thread::spawn(move || {
        for (due, bytes) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&bytes).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}
