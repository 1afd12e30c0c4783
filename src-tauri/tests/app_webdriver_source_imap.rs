//! The real app reading one account over the old server's IMAP service: two real Dovecots from the
//! test kit, an OldMac one as the old server (its files discovered as the copy, its IMAP service
//! the source of one account) and a Modern one as the new host. On Destination the admin switches
//! jdoe to IMAP, fills in the form (the old server's name from discovery is offered), checks and
//! trusts the old server's self-signed certificate; on Credentials types the new host's passwords
//! and jdoe's old-server password (a wrong one first), checks the logins (each status exactly);
//! then runs the initial sync: jdoe's mail comes over IMAP (the old server's log shows the login)
//! and arrives exactly once, byte for byte, as does asmith's from the store on disk. Screenshots
//! go to `artifacts/app-e2e/source-imap-*.png`.
//!
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver_source_imap -- --ignored

use std::time::Duration;

mod common;

use common::{
    click, discover_copy, scroll_to, shot, text, tid, type_into, wait_for, wait_text, AppEnv,
    Driver, PrepHost,
};
use ferry_project::plan::AccountChange;
use ferry_testkit::{Dovecot, Preset};

/// Every message of `user` not flagged \Deleted, as sorted raw bytes.
fn contents(server: &Dovecot, user: &str) -> Vec<Vec<u8>> {
    let mut all: Vec<Vec<u8>> = server
        .mailboxes(user)
        .iter()
        .flat_map(|m| server.messages(user, m))
        .filter(|m| !m.flags.iter().any(|f| f == "\\Deleted"))
        .map(|m| m.bytes)
        .collect();
    all.sort();
    all
}

/// A login check's words on the screen and its status code.
async fn status(c: &fantoccini::Client, css: &str) -> (String, String) {
    let shown = wait_text(c, css, "a login check", |t| !t.is_empty()).await;
    let code = wait_for(c, css).await.attr("data-status").await.unwrap();
    (shown, code.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run by scripts/test under xvfb-run"]
async fn one_account_read_over_the_old_servers_imap_service() {
    let tmp = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "app-e2e-new-jane")
        .user("arthur.smith@example.com", "app-e2e-new-arthur")
        .start();
    let project_dir = tmp.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    let vault = tmp.path().join("passwords.ferry-vault");
    let hostname;
    {
        // Discover (the old server's files as the copy) and Destination's host as the main
        // real-app test clicks them; only two accounts move.
        let prep = PrepHost {
            vault: vault.clone(),
        };
        let mut project = discover_copy(
            &project_dir.join("migration.ferry"),
            &prep,
            old.server_root(),
        );
        hostname = project.inventory().unwrap().unwrap().inventory.hostname;
        common::choose_loopback_host(&mut project, &prep, &new, new.imaps_port());
        for a in project.plan().unwrap() {
            let moves = ["jane.doe@example.com", "arthur.smith@example.com"]
                .contains(&a.source_address.as_str());
            project
                .update_account(&a.source_address, &AccountChange::Included(moves))
                .unwrap();
        }
    }
    let driver = Driver::start(&AppEnv::new(&project_dir, &vault));
    let c = driver.session().await;

    // --- Destination: every account from the store; the IMAP form is a link away ----------------
    click(&c, &tid("phase-destination")).await;
    wait_for(&c, &tid("plan")).await;
    assert_eq!(
        text(&c, &tid("source-imap-open")).await,
        "Read some accounts over IMAP instead…"
    );
    shot(&c, "source-imap-01-link.png").await;

    // jdoe is read over IMAP: the form appears, with the old server's name from discovery
    click(
        &c,
        &format!(
            "{} {} option[value=\"imap\"]",
            tid("plan-jdoe"),
            tid("method")
        ),
    )
    .await;
    wait_for(&c, &tid("source-imap-form")).await;
    assert_eq!(
        text(&c, &format!("{} .section-lead", tid("source-imap"))).await,
        "1 account is read over the old server's IMAP service: jane.doe@example.com. Ferry signs in there as that user; the passwords go in the next step, Credentials."
    );
    let host_field = wait_for(&c, &tid("source-imap-host")).await;
    assert_eq!(
        host_field.prop("value").await.unwrap().as_deref(),
        Some(hostname.as_str())
    );
    assert_eq!(
        wait_for(&c, &tid("source-imap-port"))
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("993")
    );
    assert_eq!(
        text(&c, &tid("source-imap-blocked")).await,
        "Check the old server's certificate first."
    );
    scroll_to(&c, &tid("source-imap")).await;
    shot(&c, "source-imap-02-form.png").await;
    // no encryption is refused for another computer than this one, before anything is kept
    click(
        &c,
        &format!(
            "{} option[value=\"plain\"]",
            tid("source-imap-security-choice")
        ),
    )
    .await;
    wait_for(&c, &tid("source-imap-plain-note")).await;
    assert_eq!(
        wait_for(&c, &tid("source-imap-port"))
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some("143")
    );
    click(&c, &tid("source-imap-save")).await;
    assert_eq!(
        text(&c, &tid("source-imap-error")).await,
        format!("That did not work: Ferry does not send passwords without encryption across the network, and {hostname} is not this computer. Choose TLS (port 993) or STARTTLS (port 143).")
    );
    scroll_to(&c, &tid("source-imap")).await;
    shot(&c, "source-imap-02b-plain-refused.png").await;
    click(
        &c,
        &format!(
            "{} option[value=\"tls\"]",
            tid("source-imap-security-choice")
        ),
    )
    .await;
    // this old server answers on loopback, on the test kit's port
    type_into(&c, &tid("source-imap-host"), old.host()).await;
    type_into(&c, &tid("source-imap-port"), &old.imaps_port().to_string()).await;
    click(&c, &tid("source-imap-check")).await;
    let fingerprint = text(&c, &tid("source-imap-fingerprint")).await;
    assert_eq!(
        fingerprint.replace(':', ""),
        old.cert_sha256().replace(':', "").to_ascii_lowercase()
    );
    assert_eq!(
        text(&c, &tid("source-imap-blocked")).await,
        "Compare and trust the certificate first."
    );
    scroll_to(&c, &tid("source-imap")).await;
    shot(&c, "source-imap-03-certificate.png").await;
    click(&c, &tid("source-imap-trust")).await;
    click(&c, &tid("source-imap-save")).await;
    assert_eq!(
        text(&c, &tid("source-imap-address")).await,
        format!("{}:{}", old.host(), old.imaps_port())
    );
    assert_eq!(
        text(&c, &tid("source-imap-security")).await,
        "TLS, certificate pinned (the fingerprint you trusted)"
    );
    shot(&c, "source-imap-04-saved.png").await;

    // --- Credentials: the new host's passwords, jdoe's on the old server (a wrong one first) -----
    click(&c, &tid("continue")).await;
    wait_for(&c, &tid("source-passwords")).await;
    assert_eq!(
        text(&c, &format!("{} h2", tid("source-passwords"))).await,
        "Passwords on the old server (0 of 1 sign in)"
    );
    let rows = c
        .find_all(fantoccini::Locator::Css(&format!(
            "{} tbody > tr",
            tid("source-passwords")
        )))
        .await
        .unwrap();
    assert_eq!(rows.len(), 1, "only the account read over IMAP");
    for (login, password) in [
        ("jdoe", "app-e2e-new-jane"),
        ("asmith", "app-e2e-new-arthur"),
    ] {
        type_into(
            &c,
            &format!("{} {}", tid(&format!("cred-{login}")), tid("password")),
            password,
        )
        .await;
    }
    click(&c, &tid("store-passwords")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let old_field = format!("{} {}", tid("source-cred-jdoe"), tid("source-password"));
    type_into(&c, &old_field, "not-the-old-password").await;
    click(&c, &tid("store-source-passwords")).await;
    wait_for(
        &c,
        &format!("{old_field}[placeholder=\"Stored (type to replace)\"]"),
    )
    .await;
    shot(&c, "source-imap-05-credentials.png").await;
    click(&c, &tid("check-logins")).await;
    let source_status = format!("{} {}", tid("source-cred-jdoe"), tid("source-check-status"));
    assert_eq!(
        status(&c, &source_status).await,
        ("Wrong password".to_string(), "wrong_password".to_string())
    );
    for login in ["jdoe", "asmith"] {
        assert_eq!(
            status(
                &c,
                &format!("{} {}", tid(&format!("cred-{login}")), tid("check-status"))
            )
            .await,
            ("Signs in".to_string(), "ok".to_string()),
            "{login} on the new host"
        );
    }
    assert_eq!(
        text(&c, &format!("{} {}", tid("source-cred-jdoe"), tid("source-check-advice"))).await,
        "The old server refused this password, or has no user jdoe (it does not say which). Type the user's password on the old server again and store it."
    );
    shot(&c, "source-imap-06-wrong-password.png").await;

    type_into(&c, &old_field, old.password("jdoe")).await;
    click(&c, &tid("store-source-passwords")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(&c, &tid("check-logins")).await;
    wait_text(&c, &source_status, "the old server's login", |t| {
        t == "Signs in"
    })
    .await;
    assert_eq!(
        status(&c, &source_status).await,
        ("Signs in".to_string(), "ok".to_string())
    );
    assert_eq!(
        text(&c, &format!("{} h2", tid("source-passwords"))).await,
        "Passwords on the old server (1 of 1 sign in)"
    );
    wait_text(&c, &tid("phase-credentials"), "Credentials done", |t| {
        t.contains("3 logins work")
    })
    .await;
    // no password in clear in the password file or the migration file
    let vault_bytes = std::fs::read(&vault).unwrap();
    let project_bytes = std::fs::read(project_dir.join("migration.ferry")).unwrap();
    for password in [
        old.password("jdoe"),
        "app-e2e-new-jane",
        "not-the-old-password",
    ] {
        for (what, bytes) in [("vault", &vault_bytes), ("project", &project_bytes)] {
            assert!(
                !bytes
                    .windows(password.len())
                    .any(|w| w == password.as_bytes()),
                "a password in clear in the {what} file"
            );
        }
    }
    shot(&c, "source-imap-07-checked.png").await;

    // --- Initial sync: jdoe over IMAP, asmith from the store; each message exactly once --------
    let logins_before = old.log().matches("user=<jdoe>").count();
    click(&c, &tid("continue")).await;
    click(&c, &tid("start-sync")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the end of the sync",
        |t| t == "The initial sync ended",
    )
    .await;
    wait_for(&c, &tid("start-sync")).await;
    shot(&c, "source-imap-08-synced.png").await;
    assert!(
        old.log().matches("user=<jdoe>").count() > logins_before,
        "the sync did not sign in to the old server's IMAP service as jdoe"
    );
    assert_eq!(old.log().matches("user=<asmith>").count(), 0);
    let jdoe = contents(&old, "jdoe");
    assert!(!jdoe.is_empty());
    assert_eq!(contents(&new, "jane.doe@example.com"), jdoe);
    assert_eq!(
        contents(&new, "arthur.smith@example.com"),
        contents(&old, "asmith")
    );
    // the screen's count is the new host's
    let on_server: usize = new
        .mailboxes("jane.doe@example.com")
        .iter()
        .map(|mb| new.messages("jane.doe@example.com", mb).len())
        .sum();
    let n = common::grouped(on_server as u64);
    let row = tid("progress-jane.doe@example.com");
    assert_eq!(
        text(&c, &format!("{row} {}", tid("messages-done"))).await,
        format!("{n} of {n}")
    );
    c.close().await.unwrap();
}
