//! The real app on a computer without a system password store and without
//! `FERRY_VAULT_PASSPHRASE`: the passwords go to Ferry's encrypted file, whose passphrase the
//! admin gives in the app's dialog. Storing the first passwords asks to choose one (typed twice;
//! two different ones are refused), creates the file and stores them, none of them readable in
//! the file; after a quit and reopen the login check asks for it again: Escape cancels with a note,
//! a wrong passphrase is refused in words, the right one runs the check against the test kit's
//! Dovecot and every account signs in. Screenshots of each dialog state go to
//! `artifacts/app-e2e/vault-*.png`.
//!
//! Needs a display, `tauri-driver` and `WebKitWebDriver`, and the binary built with
//! `--features ferry-app/custom-protocol`, hence `#[ignore]`:
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver_vault -- --ignored

use std::time::Duration;

mod common;

use common::{click, shot, text, tid, wait_for, wait_text, AppEnv, Driver, PrepHost};
use fantoccini::key::Key;
use fantoccini::{Client, Locator};

const PASSPHRASE: &str = "harbour lantern seventy";
const WRONG: &str = "harbour lantern seventy-one";

/// The `data-testid` of the focused element.
async fn focused(c: &Client) -> String {
    c.execute(
        "const a = document.activeElement; return a ? (a.getAttribute('data-testid') || a.tagName) : '';",
        vec![],
    )
    .await
    .expect("active element")
    .as_str()
    .unwrap_or_default()
    .to_string()
}

/// Types into a field of the dialog by its test id (the field is empty: the dialog clears it
/// after each try).
async fn type_in(c: &Client, id: &str, value: &str) {
    wait_for(c, &tid(id)).await.send_keys(value).await.unwrap();
}

/// Presses a key in the focused element, as the admin does.
async fn press(c: &Client, key: Key) {
    c.active_element()
        .await
        .expect("a focused element")
        .send_keys(&char::from(key).to_string())
        .await
        .expect("key press");
}

async fn gone(c: &Client, css: &str, what: &str) {
    for _ in 0..200 {
        if c.find(Locator::Css(css)).await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    shot(c, &format!("failed-waiting-{}.png", what.replace(' ', "-"))).await;
    panic!("{css} did not go away: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run by scripts/test under xvfb-run"]
async fn the_password_file_passphrase_is_chosen_then_asked_after_a_restart() {
    use ferry_project::phases;
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    let project_path = project_dir.join(ferry_project::project::FILE_NAME);
    let vault = tmp.path().join("data/ferry/passwords.ferry-vault");

    // The migration up to Credentials, through the project's own phases (no vault needed yet:
    // the test's host never opens one here).
    let host = PrepHost {
        vault: tmp.path().join("never-used.ferry-vault"),
    };
    let mut project = common::discover_copy(&project_path, &host, &root);
    let (movers, empty): (Vec<_>, Vec<_>) = project
        .plan()
        .unwrap()
        .into_iter()
        .filter(|a| a.included && a.present && a.kind == ferry_project::plan::AccountKind::User)
        .partition(|a| a.store.is_some());
    assert!(!movers.is_empty());
    let password = |login: &str| format!("vault-e2e-{login}-Pw");
    let mut builder = ferry_testkit::Dovecot::builder(ferry_testkit::Preset::Modern);
    for account in &movers {
        builder = builder.user(&account.dest_address, &password(&account.login));
    }
    let server = builder.start();
    common::choose_loopback_host(&mut project, &host, &server, server.imaps_port());
    for account in &empty {
        project
            .update_account(
                &account.source_address,
                &ferry_project::plan::AccountChange::Included(false),
            )
            .unwrap();
    }
    let destination = project.destination().unwrap().unwrap();
    drop(project);
    assert!(!host.vault.exists());

    // No passphrase in the app's environment.
    let driver = Driver::start(&AppEnv::new(&project_dir, &vault).without_passphrase());

    // --- First run: store the passwords; the dialog asks to choose a passphrase -----------------
    let c = driver.session().await;
    click(&c, &tid("phase-credentials")).await;
    wait_for(&c, &tid("passwords")).await;
    for account in &movers {
        let field = format!(
            "{} {}",
            tid(&format!("cred-{}", account.login)),
            tid("password")
        );
        wait_for(&c, &field)
            .await
            .send_keys(&password(&account.login))
            .await
            .unwrap();
    }
    click(&c, &tid("store-passwords")).await;
    let dialog = tid("passphrase-dialog");
    wait_for(&c, &dialog).await;
    assert_eq!(
        wait_for(&c, &dialog)
            .await
            .attr("data-state")
            .await
            .unwrap()
            .as_deref(),
        Some("choose")
    );
    assert_eq!(
        text(&c, &format!("{dialog} h2")).await,
        "Choose a passphrase for Ferry's password file"
    );
    assert_eq!(
        text(&c, &tid("passphrase-file")).await,
        vault.display().to_string()
    );
    assert_eq!(
        text(&c, &tid("passphrase-why")).await,
        "This computer has no system password store (such as the macOS Keychain), so Ferry keeps the passwords you give it in an encrypted file:"
    );
    assert_eq!(focused(&c).await, "passphrase-input");
    assert!(!vault.exists(), "nothing is written before a passphrase");
    shot(&c, "vault-01-choose.png").await;

    // two different passphrases: refused, nothing created
    type_in(&c, "passphrase-input", PASSPHRASE).await;
    type_in(&c, "passphrase-confirm", WRONG).await;
    press(&c, Key::Enter).await;
    assert_eq!(
        text(&c, &tid("passphrase-error")).await,
        "The two passphrases differ. Type the same one in both fields."
    );
    assert_eq!(focused(&c).await, "passphrase-input");
    assert!(!vault.exists());
    shot(&c, "vault-02-choose-differ.png").await;

    type_in(&c, "passphrase-input", PASSPHRASE).await;
    type_in(&c, "passphrase-confirm", PASSPHRASE).await;
    press(&c, Key::Enter).await;
    gone(&c, &dialog, "the dialog closing after the passphrase").await;
    // the interrupted step ran again: every password is stored
    for account in &movers {
        let field = format!(
            "{} {}",
            tid(&format!("cred-{}", account.login)),
            tid("password")
        );
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let placeholder = wait_for(&c, &field).await.attr("placeholder").await;
            if placeholder.ok().flatten().as_deref() == Some("Stored (type to replace)") {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{} was not stored",
                account.login
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    assert!(c.find(Locator::Css(&tid("error"))).await.is_err());
    shot(&c, "vault-03-stored.png").await;

    // the file exists, opens with the passphrase only, and holds nothing in clear
    let bytes = std::fs::read(&vault).expect("the password file was created");
    let mut clear = vec![PASSPHRASE.to_string(), server.host().to_string()];
    for account in &movers {
        clear.push(password(&account.login));
        clear.push(account.dest_address.clone());
    }
    for needle in &clear {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "{needle} is in the password file in clear"
        );
    }
    let opened = ferry_vault::FileVault::open_existing(
        &vault,
        &secrecy::SecretString::from(PASSPHRASE.to_string()),
    )
    .expect("the chosen passphrase opens the file");
    for account in &movers {
        use ferry_vault::Vault;
        let login = phases::sync::destination_login(&destination, account);
        assert_eq!(
            opened
                .get(server.host(), &login)
                .unwrap()
                .map(|s| s.expose().to_string()),
            Some(password(&account.login)),
            "{login}"
        );
    }
    c.close().await.unwrap();

    // --- Reopen: the login check asks for the passphrase -----------------------------------------
    let c = driver.session().await;
    click(&c, &tid("phase-credentials")).await;
    click(&c, &tid("check-logins")).await;
    wait_for(&c, &dialog).await;
    assert_eq!(
        wait_for(&c, &dialog)
            .await
            .attr("data-state")
            .await
            .unwrap()
            .as_deref(),
        Some("enter")
    );
    assert_eq!(
        text(&c, &format!("{dialog} h2")).await,
        "Enter the passphrase of Ferry's password file"
    );
    assert!(c
        .find(Locator::Css(&tid("passphrase-confirm")))
        .await
        .is_err());
    assert_eq!(focused(&c).await, "passphrase-input");
    shot(&c, "vault-04-enter.png").await;

    // Escape: the screen as it was, with a note
    press(&c, Key::Escape).await;
    gone(&c, &dialog, "the dialog closing on Escape").await;
    assert_eq!(
        text(&c, &tid("error-message")).await,
        "Cancelled: nothing was stored or read. This step needs the passphrase of Ferry's password file; do it again when you have it."
    );
    wait_for(&c, &tid("passwords")).await;
    shot(&c, "vault-05-cancelled.png").await;

    // again: a wrong passphrase is refused, the right one runs the check
    click(&c, &tid("check-logins")).await;
    wait_for(&c, &dialog).await;
    type_in(&c, "passphrase-input", WRONG).await;
    press(&c, Key::Enter).await;
    assert_eq!(
        wait_text(&c, &tid("passphrase-error"), "the wrong passphrase refused", |t| {
            !t.is_empty()
        })
        .await,
        "That passphrase does not open Ferry's password file. Check it (Caps Lock, keyboard layout) and try again."
    );
    assert_eq!(focused(&c).await, "passphrase-input");
    let field = wait_for(&c, &tid("passphrase-input")).await;
    assert_eq!(field.prop("value").await.unwrap().as_deref(), Some(""));
    shot(&c, "vault-06-wrong.png").await;

    type_in(&c, "passphrase-input", PASSPHRASE).await;
    press(&c, Key::Enter).await;
    gone(&c, &dialog, "the dialog closing after the right passphrase").await;
    for account in &movers {
        let status = format!(
            "{} {}",
            tid(&format!("cred-{}", account.login)),
            tid("check-status")
        );
        let shown = wait_text(&c, &status, "a login check", |t| !t.is_empty()).await;
        assert_eq!(shown, "Signs in", "{}", account.source_address);
    }
    // the check read the file and wrote nothing
    assert_eq!(std::fs::read(&vault).unwrap(), bytes);
    shot(&c, "vault-07-checked.png").await;
    c.close().await.unwrap();
}
