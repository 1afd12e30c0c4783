//! The Secret Service backend against a real GNOME Keyring: each test starts its own private D-Bus
//! session bus and `gnome-keyring-daemon`, with a fresh login keyring unlocked by a password on
//! standard input, all inside a temp folder. Nothing touches the machine's own keyring or bus.
#![cfg(target_os = "linux")]

use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferry_testkit::SessionBus;
use ferry_vault::secret_service::SecretServiceVault;
use ferry_vault::{Entry, Secret, Vault, VaultError};

const KEYRING_PASSWORD: &str = "keyring-unlock-Vq7";

/// A private session bus, and (optionally) a keyring daemon on it; both killed on drop.
struct Desktop {
    bus: SessionBus,
    keyring: Option<Child>,
}

impl Drop for Desktop {
    fn drop(&mut self) {
        if let Some(keyring) = &mut self.keyring {
            let _ = keyring.kill();
            let _ = keyring.wait();
        }
    }
}

fn need(program: &str) {
    let found = std::env::var_os("PATH")
        .map(|paths| std::env::split_paths(&paths).any(|p| p.join(program).is_file()))
        .unwrap_or(false);
    assert!(
        found,
        "{program} is not installed; scripts/test installs it (apt-get install gnome-keyring dbus-daemon)"
    );
}

fn start_bus() -> Desktop {
    need("dbus-daemon");
    Desktop {
        bus: SessionBus::start(),
        keyring: None,
    }
}

fn start_keyring(desktop: &mut Desktop) {
    need("gnome-keyring-daemon");
    let root = desktop.bus.dir();
    for sub in ["home", "data", "config", "run"] {
        std::fs::create_dir_all(root.join(sub)).unwrap();
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("run"), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let mut keyring = Command::new("gnome-keyring-daemon")
        .args(["--foreground", "--unlock", "--components=secrets"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", root.join("home"))
        .env("XDG_DATA_HOME", root.join("data"))
        .env("XDG_CONFIG_HOME", root.join("config"))
        .env("XDG_RUNTIME_DIR", root.join("run"))
        .env("DBUS_SESSION_BUS_ADDRESS", &desktop.bus.address)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gnome-keyring-daemon");
    {
        // --unlock reads the login keyring's password from standard input until EOF.
        let mut stdin = keyring.stdin.take().unwrap();
        stdin.write_all(KEYRING_PASSWORD.as_bytes()).unwrap();
    }
    desktop.keyring = Some(keyring);
}

/// The daemon claims its bus name a moment after starting; retry until it answers.
fn connect(address: &str) -> SecretServiceVault {
    let start = Instant::now();
    loop {
        match SecretServiceVault::connect_to(address) {
            Ok(vault) => return vault,
            Err(err) if start.elapsed() < Duration::from_secs(15) => {
                let _ = err;
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(err) => panic!("the keyring did not answer within 15 s: {err}"),
        }
    }
}

fn files_contain(dir: &Path, needle: &[u8]) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap().flatten() {
            let path = entry.path();
            let kind = entry.file_type().unwrap();
            if kind.is_dir() {
                stack.push(path);
            } else if kind.is_file() {
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.windows(needle.len()).any(|w| w == needle) {
                    hits.push(path.display().to_string());
                }
            }
        }
    }
    hits
}

#[test]
fn passwords_live_in_a_real_gnome_keyring() {
    let mut desktop = start_bus();
    start_keyring(&mut desktop);
    let vault = connect(&desktop.bus.address);

    assert!(vault.get("mail.example.com", "jdoe").unwrap().is_none());
    vault
        .set(
            "Mail.Example.com",
            "jdoe",
            &Secret::new("Ss-Jdoe-5150".into()),
        )
        .unwrap();
    vault
        .set_many(&[
            Entry {
                host: "imap.new.example".into(),
                user: "jdoe@example.com".into(),
                secret: Secret::new("Ss-New-8675309".into()),
            },
            Entry {
                host: "mail.example.com".into(),
                user: "asmith".into(),
                secret: Secret::new("Ss-Asmith-1999".into()),
            },
        ])
        .unwrap();
    assert_eq!(
        vault
            .get("mail.example.com", "jdoe")
            .unwrap()
            .unwrap()
            .expose(),
        "Ss-Jdoe-5150"
    );
    // Same user, other host: a different item.
    assert!(vault.get("imap.new.example", "jdoe").unwrap().is_none());
    // Replacing keeps one item with the new password.
    vault
        .set(
            "mail.example.com",
            "jdoe",
            &Secret::new("Ss-Jdoe-2nd".into()),
        )
        .unwrap();
    assert_eq!(
        vault
            .get("MAIL.example.com", "jdoe")
            .unwrap()
            .unwrap()
            .expose(),
        "Ss-Jdoe-2nd"
    );

    // A second, independent connection (another Ferry process) sees the same items.
    let other = connect(&desktop.bus.address);
    assert_eq!(
        other
            .get("imap.new.example", "jdoe@example.com")
            .unwrap()
            .unwrap()
            .expose(),
        "Ss-New-8675309"
    );
    assert!(other.delete("mail.example.com", "asmith").unwrap());
    assert!(!other.delete("mail.example.com", "asmith").unwrap());
    assert!(vault.get("mail.example.com", "asmith").unwrap().is_none());
    assert!(vault.describe().contains("Secret Service"));

    // The keyring on disk is encrypted: none of the passwords is in clear in any file.
    drop(other);
    drop(vault);
    for secret in ["Ss-Jdoe-2nd", "Ss-New-8675309", "Ss-Jdoe-5150"] {
        let hits = files_contain(desktop.bus.dir(), secret.as_bytes());
        assert!(hits.is_empty(), "{secret} in clear in {hits:?}");
    }
}

#[test]
fn a_bus_without_a_secret_service_is_reported_unavailable() {
    let desktop = start_bus();
    let started = Instant::now();
    let err = SecretServiceVault::connect_to(&desktop.bus.address)
        .err()
        .expect("no keyring runs on this bus");
    assert!(
        matches!(err, VaultError::Unavailable { .. }),
        "expected Unavailable, got {err}"
    );
    assert!(err.to_string().contains("FERRY_VAULT=file"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // And no bus at all.
    let err = SecretServiceVault::connect_to("unix:path=/nonexistent/ferry-bus")
        .err()
        .unwrap();
    assert!(matches!(err, VaultError::Unavailable { .. }), "{err}");
}
