//! The real app to Microsoft 365 as it is: no password sign-in, Ferry signs in as the admin's
//! app. The built `ferry-app` under X, driven over WebDriver, on a migration of a materialized
//! copy of the fixture server (discovered beforehand through `ferry_project`). Microsoft is played
//! by the test kit: its token server (client-credentials grant, checked as Microsoft documents
//! it) and a Dovecot that takes only OAuth tokens it asks that server about; the app is pointed at
//! both with `FERRY_OAUTH_IMAP`, `FERRY_OAUTH_IMAP_SHA256` and `FERRY_OAUTH_TOKEN_URL` (see
//! src-tauri/src/commands_oauth.rs). The test chooses Microsoft 365, enters the app's details
//! (first a tenant that is not one, then a wrong secret, then the right one), checks every
//! mailbox (one the app was not given says what to run; after the admin grants it, it signs in),
//! runs the initial sync and compares the new host's content; the secret is in the vault only.
//! Screenshots go to `artifacts/app-e2e/` (50-oauth-*.png). Run as tests/app_webdriver.rs says:
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver_oauth -- --ignored

mod common;

use std::time::Duration;

use common::{click, scroll_to, shot, text, tid, type_into, wait_for, wait_text, AppEnv, Driver};
use fantoccini::Locator;
use ferry_testkit::{Dovecot, Preset, TokenServer};

const TENANT: &str = "contoso.example";
const APP: &str = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
const SECRET: &str = "Qx8~app.secret_value-7f3aZ";

const PERMISSION_ADVICE: &str = "Give the app access to this mailbox: in Exchange Online PowerShell, register the app's service principal once (New-ServicePrincipal) and run Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess; also check that the mailbox exists in the app's tenant.";
const SECRET_ADVICE: &str = "Create a new client secret for the app (Certificates & secrets in its registration) and store its value in Ferry; the secret's ID is not the secret.";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run under xvfb-run"]
async fn microsoft_365_with_the_apps_sign_in_from_destination_to_initial_sync() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    let project_file = project_dir.join(ferry_project::project::FILE_NAME);
    let vault_file = tmp.path().join("passwords.ferry-vault");
    let prep = common::PrepHost {
        vault: vault_file.clone(),
    };
    // Discovered, and the accounts without a mail store left behind (nothing to copy).
    let movers = discover_movers(&project_file, &prep, &root);

    // "Microsoft 365": the app registered in the tenant, every mailbox but the last given to it.
    let tokens = TokenServer::start(Duration::from_secs(60));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    let server = {
        let mut b = Dovecot::builder(Preset::Modern);
        for (i, a) in movers.iter().enumerate() {
            b = b.user(&a.dest_address, &format!("never-used-{i}"));
        }
        b.oauth2(&tokens).start()
    };
    let (granted, withheld) = movers.split_at(movers.len() - 1);
    let withheld = &withheld[0];
    for a in granted {
        tokens.grant_mailbox(APP, &a.dest_address);
    }

    let driver = Driver::start(
        &AppEnv::new(&project_dir, &vault_file)
            .env(
                "FERRY_OAUTH_IMAP",
                format!("{}:{}", server.host(), server.imaps_port()),
            )
            .env("FERRY_OAUTH_IMAP_SHA256", server.cert_sha256())
            .env(
                "FERRY_OAUTH_TOKEN_URL",
                format!("{}/{{tenant}}/oauth2/v2.0/token", tokens.base_url()),
            ),
    );
    let c = driver.session().await;

    // --- Destination: Microsoft 365, what to prepare, the app's details -----------------------
    click(&c, &tid("phase-destination")).await;
    wait_for(&c, &tid("destination-chooser")).await;
    click(&c, &tid("preset-microsoft365")).await;
    wait_for(&c, &tid("oauth-microsoft365")).await;
    let steps = c
        .find_all(Locator::Css(&format!("{} li", tid("prepare-steps"))))
        .await
        .unwrap();
    assert_eq!(steps.len(), 5);
    assert!(text(&c, &tid("prepare-steps"))
        .await
        .contains("Application permissions: IMAP.AccessAsApp. Then Grant admin consent."));
    assert_eq!(
        wait_for(&c, &tid("client-secret"))
            .await
            .attr("type")
            .await
            .unwrap()
            .as_deref(),
        Some("password")
    );
    scroll_to(&c, &tid("oauth-microsoft365")).await;
    shot(&c, "50-oauth-m365-prepare.png").await;

    // a tenant that is not one: said in words, nothing chosen
    type_into(&c, &tid("tenant"), "contoso").await;
    type_into(&c, &tid("client-id"), APP).await;
    type_into(&c, &tid("client-secret"), SECRET).await;
    click(&c, &tid("save-destination")).await;
    assert_eq!(
        text(&c, &tid("error-message")).await,
        "\"contoso\" is not a tenant. Enter the organisation's primary domain (for example contoso.onmicrosoft.com) or its Directory (tenant) ID, which looks like 00001111-aaaa-2222-bbbb-3333cccc4444."
    );
    scroll_to(&c, &tid("error")).await;
    shot(&c, "51-oauth-m365-bad-tenant.png").await;

    // the right tenant with a wrong secret: stored (only Microsoft can tell it is wrong)
    type_into(&c, &tid("tenant"), TENANT).await;
    type_into(&c, &tid("client-secret"), "not-the-secret-value").await;
    click(&c, &tid("save-destination")).await;
    assert_eq!(
        text(&c, &tid("oauth-sign-in")).await,
        format!("Ferry signs in as your app {APP} in tenant {TENANT}, with its client secret (kept in the password store)")
    );
    assert_eq!(text(&c, &tid("destination-name")).await, "Microsoft 365");
    assert_eq!(
        text(&c, &tid("destination-host")).await,
        format!("{}:{}", server.host(), server.imaps_port())
    );
    shot(&c, "52-oauth-m365-chosen.png").await;

    // --- Credentials: no password fields; every mailbox checked -------------------------------
    click(&c, &tid("continue")).await;
    wait_for(&c, &tid("oauth-mailboxes")).await;
    assert!(c
        .find_all(Locator::Css("input[type=\"password\"]"))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        text(&c, &tid("oauth-heading")).await,
        "Mailboxes on Microsoft 365"
    );
    assert_eq!(
        text(&c, "p.lead").await,
        "Ferry signs in to the new host as your app, for every mailbox: nobody's password is needed. Check that the app may open each mailbox before the copy starts."
    );
    shot(&c, "53-oauth-credentials-unchecked.png").await;
    let status = |login: &str| {
        format!(
            "{} {}",
            tid(&format!("mailbox-{login}")),
            tid("check-status")
        )
    };
    let advice = |login: &str| {
        format!(
            "{} {}",
            tid(&format!("mailbox-{login}")),
            tid("check-advice")
        )
    };
    click(&c, &tid("check-logins")).await;
    for a in &movers {
        let shown = wait_text(&c, &status(&a.login), "a mailbox check", |t| !t.is_empty()).await;
        assert_eq!(shown, "Cannot sign in", "{}", a.dest_address);
        assert_eq!(text(&c, &advice(&a.login)).await, SECRET_ADVICE);
    }
    shot(&c, "54-oauth-credentials-wrong-secret.png").await;

    // the right secret: "Change the app's details…" opens them on Destination
    click(&c, &tid("edit-app")).await;
    wait_for(&c, &tid("oauth-microsoft365")).await;
    assert_eq!(
        wait_for(&c, &tid("tenant"))
            .await
            .prop("value")
            .await
            .unwrap()
            .as_deref(),
        Some(TENANT)
    );
    type_into(&c, &tid("client-secret"), SECRET).await;
    click(&c, &tid("save-destination")).await;
    wait_for(&c, &tid("oauth-sign-in")).await;
    click(&c, &tid("continue")).await;
    click(&c, &tid("check-logins")).await;
    let heading = format!(
        "Mailboxes on Microsoft 365 ({} of {} sign in)",
        granted.len(),
        movers.len()
    );
    wait_text(&c, &tid("oauth-heading"), "the check's end", |t| {
        t == heading
    })
    .await;
    for a in granted {
        assert_eq!(text(&c, &status(&a.login)).await, "Signs in", "{}", a.login);
        assert!(c
            .find_all(Locator::Css(&advice(&a.login)))
            .await
            .unwrap()
            .is_empty());
    }
    assert_eq!(text(&c, &status(&withheld.login)).await, "Cannot sign in");
    assert_eq!(text(&c, &advice(&withheld.login)).await, PERMISSION_ADVICE);
    scroll_to(&c, &tid("oauth-mailboxes")).await;
    shot(&c, "55-oauth-credentials-one-without-permission.png").await;

    // the admin runs Add-MailboxPermission for it; the check again
    tokens.grant_mailbox(APP, &withheld.dest_address);
    click(&c, &tid("check-logins")).await;
    let all = format!(
        "Mailboxes on Microsoft 365 ({} of {} sign in)",
        movers.len(),
        movers.len()
    );
    wait_text(&c, &tid("oauth-heading"), "every mailbox", |t| t == all).await;
    for a in &movers {
        assert_eq!(text(&c, &status(&a.login)).await, "Signs in", "{}", a.login);
    }
    shot(&c, "56-oauth-credentials-all-sign-in.png").await;

    // --- Initial sync: every message on the new host, no user password anywhere ----------------
    click(&c, &tid("continue")).await;
    wait_for(&c, &tid("sync-summary")).await;
    click(&c, &tid("start-sync")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the end of the sync",
        |t| t == "The initial sync ended",
    )
    .await;
    shot(&c, "57-oauth-initial-sync-done.png").await;
    for a in &movers {
        let row = tid(&format!("progress-{}", a.source_address));
        let done = text(&c, &format!("{row} {}", tid("messages-done"))).await;
        let mut parts = done.split(" of ");
        let (copied, total) = (
            parts.next().unwrap().replace(',', ""),
            parts.next().unwrap().replace(',', ""),
        );
        assert_eq!(copied, total, "{}: {done}", a.source_address);
        let on_server: usize = server
            .mailboxes(&a.dest_address)
            .iter()
            .map(|mb| server.messages(&a.dest_address, mb).len())
            .sum();
        assert_eq!(on_server.to_string(), copied, "{}", a.dest_address);
        assert!(on_server > 0, "{}", a.dest_address);
    }
    assert!(tokens.tokens_issued() >= 1);
    c.close().await.unwrap();

    // The secret is in the vault (encrypted), not in the project file; no user password stored.
    let project_bytes = std::fs::read(&project_file).unwrap();
    let vault_bytes = std::fs::read(&vault_file).unwrap();
    for (what, bytes) in [("project", &project_bytes), ("vault", &vault_bytes)] {
        assert!(
            !bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()),
            "the secret in clear in the {what} file"
        );
    }
    let vault = ferry_project::host::ProjectHost::vault(&prep).unwrap();
    assert_eq!(
        vault
            .get(&format!("oauth:{TENANT}"), &format!("client-secret:{APP}"))
            .unwrap()
            .unwrap()
            .expose(),
        SECRET
    );
    for a in &movers {
        assert!(
            vault.get(server.host(), &a.dest_address).unwrap().is_none(),
            "{}",
            a.dest_address
        );
    }
}

const UNKNOWN_USER_ADVICE: &str = "Check the mailbox address: it must be a user of the organisation (its primary address), spelled as the provider knows it.";

/// Google Workspace: the service account's JSON key named by its path (typed here: the system's
/// file chooser is a native dialog WebDriver cannot answer), a file that is not such a key refused
/// in words, and every mailbox checked (one the domain does not know says so).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run under xvfb-run"]
async fn google_workspace_with_the_service_accounts_key() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    let project_file = project_dir.join(ferry_project::project::FILE_NAME);
    let vault_file = tmp.path().join("passwords.ferry-vault");
    let prep = common::PrepHost {
        vault: vault_file.clone(),
    };
    // Everyone with a store moves; the last is not (yet) a user of the Google domain.
    let movers = discover_movers(&project_file, &prep, &root);
    let tokens = TokenServer::start(Duration::from_secs(60));
    let key = ferry_testkit::TestKey::generate();
    let account = "ferry@ferry-test.iam.gserviceaccount.com";
    tokens.add_service_account(account, &key, true);
    let (known, unknown) = movers.split_at(movers.len() - 1);
    for a in known {
        tokens.add_google_user(&a.dest_address);
    }
    let server = {
        let mut b = Dovecot::builder(Preset::Modern);
        for (i, a) in movers.iter().enumerate() {
            b = b.user(&a.dest_address, &format!("never-used-{i}"));
        }
        b.oauth2(&tokens).start()
    };
    let json = tokens.service_account_key_file(account, &key);
    let key_file = tmp.path().join("ferry-test-0123abcd.json");
    std::fs::write(&key_file, &json).unwrap();
    let not_a_key = tmp.path().join("client_secret_desktop.json");
    std::fs::write(
        &not_a_key,
        r#"{"installed":{"client_id":"1234.apps.googleusercontent.com","client_secret":"x"}}"#,
    )
    .unwrap();

    let driver = Driver::start(
        &AppEnv::new(&project_dir, &vault_file)
            .env(
                "FERRY_OAUTH_IMAP",
                format!("{}:{}", server.host(), server.imaps_port()),
            )
            .env("FERRY_OAUTH_IMAP_SHA256", server.cert_sha256()),
    );
    let c = driver.session().await;
    click(&c, &tid("phase-destination")).await;
    click(&c, &tid("preset-googleWorkspace")).await;
    wait_for(&c, &tid("oauth-googleWorkspace")).await;
    assert!(text(&c, &tid("prepare-steps"))
        .await
        .contains("Manage Domain Wide Delegation, Add new: the service account's client ID and the scope https://mail.google.com/, then Authorize."));
    scroll_to(&c, &tid("oauth-googleWorkspace")).await;
    shot(&c, "58-oauth-google-prepare.png").await;

    type_into(&c, &tid("service-account-key"), not_a_key.to_str().unwrap()).await;
    click(&c, &tid("save-destination")).await;
    assert_eq!(
        text(&c, &tid("error-message")).await,
        format!("{} is not a service account's JSON key. In the Google Cloud console, open the service account, then Keys, Add key, Create new key, JSON, and choose the file it downloads.", not_a_key.display())
    );
    scroll_to(&c, &tid("error")).await;
    shot(&c, "59-oauth-google-not-a-key.png").await;

    type_into(&c, &tid("service-account-key"), key_file.to_str().unwrap()).await;
    click(&c, &tid("save-destination")).await;
    assert_eq!(
        text(&c, &tid("oauth-sign-in")).await,
        format!("Ferry signs in as your service account {account}, with its JSON key (kept in the password store)")
    );
    assert_eq!(text(&c, &tid("destination-name")).await, "Google Workspace");

    click(&c, &tid("continue")).await;
    click(&c, &tid("check-logins")).await;
    let heading = format!(
        "Mailboxes on Google Workspace ({} of {} sign in)",
        known.len(),
        movers.len()
    );
    wait_text(&c, &tid("oauth-heading"), "the check's end", |t| {
        t == heading
    })
    .await;
    let status = |login: &str| {
        format!(
            "{} {}",
            tid(&format!("mailbox-{login}")),
            tid("check-status")
        )
    };
    for a in known {
        assert_eq!(text(&c, &status(&a.login)).await, "Signs in", "{}", a.login);
    }
    let stranger = &unknown[0];
    assert_eq!(text(&c, &status(&stranger.login)).await, "Cannot sign in");
    assert_eq!(
        text(
            &c,
            &format!(
                "{} {}",
                tid(&format!("mailbox-{}", stranger.login)),
                tid("check-advice")
            )
        )
        .await,
        UNKNOWN_USER_ADVICE
    );
    assert_eq!(text(&c, &tid("edit-app")).await, "Choose another key…");
    scroll_to(&c, &tid("oauth-mailboxes")).await;
    shot(&c, "60-oauth-google-checked.png").await;
    c.close().await.unwrap();
    // the key is in the vault, not in the project file
    let project_bytes = std::fs::read(&project_file).unwrap();
    assert!(!project_bytes
        .windows(b"PRIVATE KEY".len())
        .any(|w| w == b"PRIVATE KEY"));
    let vault = ferry_project::host::ProjectHost::vault(&prep).unwrap();
    assert_eq!(
        vault
            .get(&format!("oauth:{account}"), "service-account-key")
            .unwrap()
            .unwrap()
            .expose(),
        json
    );
}

/// The fixture's copy discovered into `project_file`; the accounts without a mail store (nothing
/// to copy) left out of the plan. Returns those that move.
fn discover_movers(
    project_file: &std::path::Path,
    prep: &common::PrepHost,
    root: &std::path::Path,
) -> Vec<ferry_project::plan::PlannedAccount> {
    let mut project = common::discover_copy(project_file, prep, root);
    let mut movers = Vec::new();
    for a in project.plan().unwrap() {
        if a.kind != ferry_project::plan::AccountKind::User || !a.included || !a.present {
            continue;
        }
        if a.store.is_some() {
            movers.push(a);
        } else {
            project
                .update_account(
                    &a.source_address,
                    &ferry_project::plan::AccountChange::Included(false),
                )
                .unwrap();
        }
    }
    assert!(movers.len() >= 2, "{movers:?}");
    movers
}
