//! A private D-Bus session bus in a temp folder, for the tests that need one (the Secret Service
//! vault against a real GNOME Keyring, the app's menu-bar icon): their daemons meet there, never
//! on the machine's own bus. The daemon is killed when the bus is dropped.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct SessionBus {
    dir: tempfile::TempDir,
    /// The address clients connect to (`DBUS_SESSION_BUS_ADDRESS`).
    pub address: String,
    daemon: Child,
}

impl SessionBus {
    /// Starts `dbus-daemon` with a session configuration that lets every client own any name.
    pub fn start() -> SessionBus {
        let dir = tempfile::tempdir().expect("a temp folder for the bus");
        let config = dir.path().join("bus.conf");
        std::fs::write(
            &config,
            format!(
                r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir={}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"#,
                dir.path().display()
            ),
        )
        .expect("the bus configuration");
        let mut daemon = Command::new("dbus-daemon")
            .arg(format!("--config-file={}", config.display()))
            .args(["--nofork", "--print-address=1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("dbus-daemon is not installed; scripts/test installs it (dbus-daemon)");
        let stdout = daemon.stdout.take().expect("the daemon's output");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let address = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("dbus-daemon printed no address within 10 s")
            .trim()
            .to_owned();
        assert!(address.starts_with("unix:"), "odd bus address {address:?}");
        SessionBus {
            dir,
            address,
            daemon,
        }
    }

    /// The bus's temp folder, where a test may keep its daemons' other files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SessionBus {
    fn drop(&mut self) {
        let _ = self.daemon.kill();
        let _ = self.daemon.wait();
    }
}
