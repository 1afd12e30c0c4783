//! The old server's IMAP service through Tauri's IPC layer on the mock runtime (no display):
//! `source_imap`, `set_source_imap` and `set_source_password` with the argument names and shapes
//! the UI sends, the errors as the UI receives them, the password in the vault under the key the
//! sync reads and never in a view, and `check_logins` reporting the old server's login of the
//! account read over IMAP (real Dovecots: the test kit's OldMac and Modern). The harness is
//! tests/ipc.rs's.

mod mock_app;

use ferry_testkit::{Dovecot, Preset};
use ferry_vault::Vault;
use mock_app::start;
use serde_json::{json, Value};

#[test]
fn the_old_servers_imap_service_and_its_passwords_over_ipc() {
    let tmp = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "pw-jane-new")
        .start();
    let app = start(&tmp.path().join("project"));
    app.invoke(
        "discover",
        json!({ "source": { "kind": "copy", "root": old.server_root().to_str().unwrap() } }),
    )
    .unwrap();
    app.invoke(
        "choose_destination",
        json!({ "choice": { "preset": "genericImap", "imap_host": new.host(), "imap_port": new.imaps_port(),
            "imap_security": "tls", "smtp_host": null, "pinned_sha256": new.cert_sha256() } }),
    )
    .unwrap();
    // only jane moves, read over IMAP
    let view = app.invoke("app_view", json!({})).unwrap();
    for account in view["plan"].as_array().unwrap() {
        let address = account["source_address"].as_str().unwrap();
        if address != "jane.doe@example.com" {
            app.invoke(
                "change_account",
                json!({ "sourceAddress": address, "change": { "change": "included", "value": false } }),
            )
            .unwrap();
        }
    }
    let view = app
        .invoke(
            "change_account",
            json!({ "sourceAddress": "jane.doe@example.com", "change": { "change": "method", "value": "imap" } }),
        )
        .unwrap();
    let jane = view["plan"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["source_address"] == "jane.doe@example.com")
        .unwrap();
    assert_eq!(jane["method"], "imap");
    assert_eq!(jane["login"], "jdoe");

    assert_eq!(app.invoke("source_imap", json!({})).unwrap(), Value::Null);
    // a password before the service is set up: what to do first
    let err = app
        .invoke(
            "set_source_password",
            json!({ "sourceAddress": "jane.doe@example.com", "password": "x" }),
        )
        .unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "not_ready", "message": "Set up how Ferry reaches the old server over IMAP first (in Destination, below the accounts)." })
    );
    // no plain TCP across the network
    let err = app
        .invoke(
            "set_source_imap",
            json!({ "imap": { "host": "mail.example.com", "port": 143, "security": "plain", "pinned_sha256": null } }),
        )
        .unwrap_err();
    assert_eq!(
        err,
        json!({ "code": "invalid", "message": "Ferry does not send passwords without encryption across the network, and mail.example.com is not this computer. Choose TLS (port 993) or STARTTLS (port 143)." })
    );
    assert_eq!(app.invoke("source_imap", json!({})).unwrap(), Value::Null);

    // the certificate as the UI shows it (the same command as the destination's), then kept
    let cert = app
        .invoke(
            "probe_certificate",
            json!({ "host": old.host(), "port": old.imaps_port(), "security": "tls" }),
        )
        .unwrap();
    let fingerprint = cert["sha256"].as_str().unwrap().to_string();
    assert_eq!(
        fingerprint,
        old.cert_sha256().replace(':', "").to_ascii_lowercase()
    );
    assert_ne!(
        cert["reason"], "",
        "the test kit's certificate is not trusted by the system"
    );
    let kept = app
        .invoke(
            "set_source_imap",
            json!({ "imap": { "host": format!(" {} ", old.host()), "port": old.imaps_port(), "security": "tls",
                "pinned_sha256": fingerprint.to_ascii_uppercase() } }),
        )
        .unwrap();
    let expected = json!({ "host": old.host(), "port": old.imaps_port(), "security": "tls", "pinned_sha256": fingerprint });
    assert_eq!(kept, expected);
    assert_eq!(app.invoke("source_imap", json!({})).unwrap(), expected);

    // the password goes one way, under (old server's host, login)
    let err = app
        .invoke(
            "set_source_password",
            json!({ "sourceAddress": "jane.doe@example.com", "password": "" }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "invalid", "{err}");
    let secret = old.password("jdoe").to_string();
    let view = app
        .invoke(
            "set_source_password",
            json!({ "sourceAddress": "jane.doe@example.com", "password": secret }),
        )
        .unwrap();
    assert!(
        !view.to_string().contains(&secret),
        "the view carries the password"
    );
    assert_eq!(
        app.vault.get(old.host(), "jdoe").unwrap().unwrap().expose(),
        secret
    );
    app.invoke(
        "set_password",
        json!({ "sourceAddress": "jane.doe@example.com", "password": "pw-jane-new" }),
    )
    .unwrap();

    // the login check covers both servers for jane
    let report = app.invoke("check_logins", json!({})).unwrap();
    let seen: Vec<(String, String, String)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["account"].as_str().unwrap().to_string(),
                r["side"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let row = |side: &str| {
        (
            "jane.doe@example.com".to_string(),
            side.to_string(),
            "ok".to_string(),
        )
    };
    assert_eq!(seen, [row("destination"), row("source")]);
    assert_eq!(report["source_from_store"], false);
    assert!(!report.to_string().contains(&secret));
    let view = app.invoke("app_view", json!({})).unwrap();
    let checks: Vec<(&str, &str, &str)> = view["login_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["account"].as_str().unwrap(),
                c["side"].as_str().unwrap(),
                c["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        checks,
        [
            ("jane.doe@example.com", "destination", "ok"),
            ("jane.doe@example.com", "source", "ok")
        ]
    );
    assert_eq!(view["status"]["phases"][2]["note"], "2 logins work");
}
