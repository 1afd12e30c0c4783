//! A fault injector that speaks IMAP, in front of a real server (plain IMAP on loopback): commands
//! pass through to the server, except those the test picked, which get the answer the test set
//! instead (a tagged `NO [THROTTLED] ...`, Microsoft's "Suggested Backoff Time" text, or a `BYE`
//! that closes the connection), without the server ever seeing them. Every command is logged
//! with its time, so a test can measure how long a client waited after being told to.
//!
//! Client commands are read line by line with their literals (`{n}` and `{n+}`); a refused
//! command's literals are swallowed (a synchronizing one gets the `+` the server would have
//! sent). Server answers are passed on as whole lines, so an injected answer never lands inside
//! one.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// What a picked command gets instead of reaching the server.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `<tag> NO <text>`, e.g. `[THROTTLED] Request is throttled. Suggested Backoff Time: 1500 milliseconds`.
    No(String),
    /// `* BYE <text>`, then the connection is closed (the server "overloaded").
    Bye(String),
}

/// One client command as the proxy saw it.
#[derive(Clone, Debug)]
pub struct CommandSeen {
    pub at: Instant,
    pub connection: u64,
    /// Upper-case command name (`APPEND`, `UID FETCH`, `LOGIN`).
    pub command: String,
    /// The answer given instead of the server's, when refused.
    pub refused: Option<Refusal>,
}

#[derive(Default)]
struct State {
    /// Per command name: 1-based occurrence numbers (over all connections) and their refusal.
    schedule: Mutex<HashMap<String, Vec<(u64, Refusal)>>>,
    counts: Mutex<HashMap<String, u64>>,
    log: Mutex<Vec<CommandSeen>>,
    connections: AtomicU64,
    stop: AtomicBool,
}

pub struct ThrottleProxy {
    port: u16,
    state: Arc<State>,
}

impl ThrottleProxy {
    /// Starts forwarding 127.0.0.1:<new port> to 127.0.0.1:`target_port` (a plain IMAP port).
    pub fn start(target_port: u16) -> ThrottleProxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("proxy port");
        let port = listener.local_addr().expect("proxy addr").port();
        let state = Arc::new(State::default());
        let st = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if st.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(client) = client else { continue };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target_port)) else {
                    continue;
                };
                let id = st.connections.fetch_add(1, Ordering::SeqCst) + 1;
                let to_client = Arc::new(Mutex::new(client.try_clone().expect("clone")));
                {
                    let (server, to_client) =
                        (server.try_clone().expect("clone"), to_client.clone());
                    std::thread::spawn(move || answers(server, to_client));
                }
                let st = st.clone();
                std::thread::spawn(move || commands(client, server, to_client, st, id));
            }
        });
        ThrottleProxy { port, state }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The `nth` (1-based, counted over every connection) `command` (e.g. `APPEND`) gets
    /// `refusal` instead of reaching the server.
    pub fn refuse(&self, command: &str, nth: u64, refusal: Refusal) {
        self.state
            .schedule
            .lock()
            .unwrap()
            .entry(command.to_ascii_uppercase())
            .or_default()
            .push((nth, refusal));
    }

    /// Every command seen so far, in order.
    pub fn log(&self) -> Vec<CommandSeen> {
        self.state.log.lock().unwrap().clone()
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> u64 {
        self.state.connections.load(Ordering::SeqCst)
    }
}

impl Drop for ThrottleProxy {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A literal announced at the end of a line: its length and whether it is synchronizing.
fn literal_at_end(line: &[u8]) -> Option<(usize, bool)> {
    let body = line
        .strip_suffix(b"\r\n")
        .or_else(|| line.strip_suffix(b"\n"))?;
    let body = body.strip_suffix(b"}")?;
    let open = body.iter().rposition(|&c| c == b'{')?;
    let inner = &body[open + 1..];
    let (digits, sync) = match inner.strip_suffix(b"+") {
        Some(d) => (d, false),
        None => (inner, true),
    };
    let n = std::str::from_utf8(digits).ok()?.parse().ok()?;
    Some((n, sync))
}

/// The tag and upper-case command name of a command's first line.
fn tag_and_command(line: &[u8]) -> (String, String) {
    let text = String::from_utf8_lossy(line);
    let mut words = text.split_whitespace();
    let tag = words.next().unwrap_or("").to_string();
    let first = words.next().unwrap_or("").to_ascii_uppercase();
    let command = if first == "UID" {
        format!("UID {}", words.next().unwrap_or("").to_ascii_uppercase())
    } else {
        first
    };
    (tag, command)
}

fn send(to_client: &Mutex<TcpStream>, bytes: &[u8]) -> bool {
    to_client.lock().unwrap().write_all(bytes).is_ok()
}

/// Client to server: command by command; picked ones refused.
fn commands(
    client: TcpStream,
    mut server: TcpStream,
    to_client: Arc<Mutex<TcpStream>>,
    st: Arc<State>,
    id: u64,
) {
    let mut reader = BufReader::new(client);
    let mut line = Vec::new();
    'commands: loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let (tag, command) = tag_and_command(&line);
        let nth = {
            let mut counts = st.counts.lock().unwrap();
            let n = counts.entry(command.clone()).or_default();
            *n += 1;
            *n
        };
        let refusal = st
            .schedule
            .lock()
            .unwrap()
            .get(&command)
            .and_then(|list| list.iter().find(|(n, _)| *n == nth).map(|(_, r)| r.clone()));
        st.log.lock().unwrap().push(CommandSeen {
            at: Instant::now(),
            connection: id,
            command,
            refused: refusal.clone(),
        });
        // The command with its literals: passed on piece by piece, or swallowed.
        loop {
            if refusal.is_none() && server.write_all(&line).is_err() {
                break 'commands;
            }
            let Some((n, sync)) = literal_at_end(&line) else {
                break;
            };
            if refusal.is_some() && sync && !send(&to_client, b"+ go ahead\r\n") {
                break 'commands;
            }
            let mut literal = vec![0u8; n];
            if reader.read_exact(&mut literal).is_err() {
                break 'commands;
            }
            if refusal.is_none() && server.write_all(&literal).is_err() {
                break 'commands;
            }
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break 'commands,
                Ok(_) => {}
            }
        }
        match refusal {
            None => {}
            Some(Refusal::No(text))
                if !send(&to_client, format!("{tag} NO {text}\r\n").as_bytes()) =>
            {
                break;
            }
            Some(Refusal::No(_)) => {}
            Some(Refusal::Bye(text)) => {
                send(&to_client, format!("* BYE {text}\r\n").as_bytes());
                break;
            }
        }
    }
    let _ = server.shutdown(Shutdown::Both);
    let _ = to_client.lock().unwrap().shutdown(Shutdown::Both);
}

/// Server to client: whole lines (with their literals), so that an injected answer goes between.
fn answers(server: TcpStream, to_client: Arc<Mutex<TcpStream>>) {
    let mut reader = BufReader::new(server);
    let mut line = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let mut whole = line.clone();
        while let Some((n, _)) = literal_at_end(&line) {
            let mut literal = vec![0u8; n];
            if reader.read_exact(&mut literal).is_err() {
                return;
            }
            whole.extend_from_slice(&literal);
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            whole.extend_from_slice(&line);
        }
        if !send(&to_client, &whole) {
            break;
        }
    }
    let _ = to_client.lock().unwrap().shutdown(Shutdown::Both);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_and_commands_are_recognised() {
        assert_eq!(
            literal_at_end(b"A1 APPEND INBOX {310+}\r\n"),
            Some((310, false))
        );
        assert_eq!(
            literal_at_end(b"A1 APPEND INBOX {12}\r\n"),
            Some((12, true))
        );
        assert_eq!(literal_at_end(b"A1 NOOP\r\n"), None);
        assert_eq!(literal_at_end(b"A1 LOGIN {x}\r\n"), None);
        assert_eq!(
            tag_and_command(b"F7 uid fetch 1:* (FLAGS)\r\n"),
            ("F7".to_string(), "UID FETCH".to_string())
        );
        assert_eq!(
            tag_and_command(b"F2 APPEND \"INBOX\" {3+}\r\n"),
            ("F2".to_string(), "APPEND".to_string())
        );
    }
}
