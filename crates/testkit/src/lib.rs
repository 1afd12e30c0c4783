//! Test-only kit: real Dovecot IMAP servers on loopback (presets for the old macOS Server, a
//! modern host and a prefixed Courier/Cyrus-style host), a TCP fault proxy, and the simulated old
//! server's files. Used by tests and benchmarks only; never by Ferry itself.
//!
//! ```no_run
//! use ferry_testkit::{Dovecot, Preset};
//! let server = Dovecot::builder(Preset::Modern).quota_bytes("alice", 2_000_000).start();
//! server.deliver("alice", "INBOX", b"Subject: hi\r\n\r\nhello\r\n");
//! assert_eq!(server.messages("alice", "INBOX").len(), 1);
//! ```

mod delay_proxy;
mod dovecot;
mod fixture;
mod imap_client;
mod proxy;
mod session_bus;
mod throttle_proxy;
mod tls;
mod token_server;
mod utf7;

pub use delay_proxy::DelayProxy;
pub use dovecot::{Dovecot, DovecotBuilder, Preset, StoredMessage, TestUser};
pub use fixture::{fixture_root, materialize_fixture, shared_dir};
pub use proxy::FaultProxy;
pub use session_bus::SessionBus;
pub use throttle_proxy::{CommandSeen, Refusal, ThrottleProxy};
pub use token_server::{follow_redirect, TestKey, TokenServer, APP_SCOPE};
pub use utf7::encode as mutf7_encode;
