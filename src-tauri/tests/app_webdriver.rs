//! The real app, end to end: the built `ferry-app` binary (with its UI embedded) runs under X
//! (Xvfb in CI), driven over WebDriver by tauri-driver + WebKitWebDriver. It discovers a
//! materialized copy of the fixture server (the screen checked against
//! `ferry_project::discover::run_copy` for the same copy), records a decision on every warning,
//! chooses the test kit's Modern Dovecot as "another IMAP host" (its certificate compared and
//! pinned), stores each account's password, checks the logins, runs the initial sync and checks
//! the destination's content message count by message count; then quits and reopens. Screenshots
//! of each screen and state go to `artifacts/app-e2e/`.
//!
//! Needs a display, `tauri-driver` and `WebKitWebDriver`, and the binary built with
//! `--features ferry-app/custom-protocol` (else it loads the Vite dev server), hence `#[ignore]`:
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver -- --ignored

use std::time::Duration;

mod common;
// (the module allows its own dead code)
#[path = "../../crates/cutover/tests/common/mod.rs"]
mod dns_server;

use common::{
    click, grouped, scroll_to, shot, text, tid, wait_for, wait_text, AppEnv, Driver, PrepHost,
};
use fantoccini::Locator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run by scripts/test under xvfb-run"]
async fn a_migration_from_discover_to_initial_sync_and_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    // What discovery finds for this copy; the screen must show the same.
    let expected = ferry_project::discover::run_copy(&root).expect("discovery of the fixture copy");
    assert!(!expected.accounts.is_empty());

    // a real DNS server on loopback, with the fixture's domains still at the old server
    let dns = dns_server::TestDns::start().await;
    dns.set_mx("example.com", 3600, &[(10, "mail.example.com")])
        .await;
    dns.set_mx("example.org", 3600, &[(10, "mail.example.com")])
        .await;
    dns.set_a("mail.example.com", 3600, &["192.0.2.5"]).await;
    dns.set_a("mx.newhost.test", 300, &["198.51.100.10"]).await;
    dns.set_txt("example.com", 3600, &["v=spf1 mx -all"]).await;
    let driver = Driver::start(
        &AppEnv::new(&project_dir, &tmp.path().join("passwords.ferry-vault"))
            .dns(&[dns.addr])
            // the screens show local time: UTC here, to compare with what the project recorded
            .env("TZ", "UTC"),
    );

    // --- Discover ------------------------------------------------------------------------
    let c = driver.session().await;
    assert_eq!(c.title().await.unwrap(), "Ferry");
    wait_for(&c, &tid("source-form")).await;
    let phases = c.find_all(Locator::Css(".phases button")).await.unwrap();
    assert_eq!(phases.len(), 11, "every phase of DESIGN.md in the sidebar");
    assert_eq!(
        text(&c, &tid("blocked")).await,
        "Discover the old server first."
    );
    shot(&c, "01-start.png").await;

    wait_for(&c, &tid("root-input"))
        .await
        .send_keys(root.to_str().unwrap())
        .await
        .unwrap();
    click(&c, &tid("discover-button")).await;
    wait_for(&c, &tid("results")).await;

    assert_eq!(text(&c, &tid("hostname")).await, expected.hostname);
    assert_eq!(
        text(&c, &format!("{} .tile-value", tid("summary-accounts"))).await,
        grouped(expected.accounts.len() as u64)
    );
    assert_eq!(
        text(&c, &format!("{} .tile-value", tid("summary-messages"))).await,
        grouped(expected.totals.messages)
    );
    assert_eq!(
        text(&c, &format!("{} .tile-value", tid("summary-size"))).await,
        ferry_project::discover::human_bytes(expected.totals.bytes)
    );
    for account in &expected.accounts {
        let row = text(&c, &tid(&format!("account-{}", account.short_name))).await;
        assert!(row.contains(&account.short_name), "{row}");
        let messages = text(
            &c,
            &format!(
                "{} {} .count",
                tid(&format!("account-{}", account.short_name)),
                tid("messages")
            ),
        )
        .await;
        assert_eq!(
            messages,
            grouped(account.messages),
            "{}",
            account.short_name
        );
    }
    let rows = c
        .find_all(Locator::Css(&format!(
            "{} tbody > tr",
            tid("accounts-table")
        )))
        .await
        .unwrap();
    assert_eq!(rows.len(), expected.accounts.len());
    let warnings = c.find_all(Locator::Css(".warning")).await.unwrap();
    assert_eq!(warnings.len(), expected.warnings.len());
    for (shown, warning) in warnings.iter().zip(&expected.warnings) {
        let t = shown.text().await.unwrap();
        assert!(
            t.contains(&warning.message),
            "{t} lacks {}",
            warning.message
        );
        assert!(t.contains("What to do:"), "{t}");
    }
    let discover_state = || async {
        wait_for(&c, &tid("phase-discover"))
            .await
            .attr("data-state")
            .await
            .unwrap()
    };
    assert_eq!(discover_state().await.as_deref(), Some("needs_attention"));
    shot(&c, "02-discover.png").await;
    scroll_to(&c, &tid("accounts-table")).await;
    shot(&c, "03-accounts.png").await;
    let busiest = expected
        .accounts
        .iter()
        .max_by_key(|a| a.folders.len())
        .unwrap();
    click(&c, &tid(&format!("folders-{}", busiest.short_name))).await;
    let folders = text(&c, &tid(&format!("folders-of-{}", busiest.guid))).await;
    for folder in &busiest.folders {
        let name = if folder.name.is_empty() {
            "INBOX"
        } else {
            folder.name.as_str()
        };
        assert!(folders.contains(name), "{folders} lacks {name}");
    }
    shot(&c, "04-folders.png").await;

    // a decision on every warning: the step is done
    scroll_to(&c, &tid("warnings")).await;
    shot(&c, "05-warnings-to-decide.png").await;
    for _ in 0..expected.warnings.len() {
        click(&c, ".warning:not(.decided) .decision-choices button").await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_text(&c, &tid("phase-discover"), "Discover done", |_| true).await;
    assert_eq!(discover_state().await.as_deref(), Some("done"));
    scroll_to(&c, &tid("warnings")).await;
    shot(&c, "06-warnings-decided.png").await;

    // --- Destination: the Modern Dovecot as "another IMAP host" ---------------------------
    let plan = ferry_project::project::Project::open(&project_dir.join("migration.ferry"))
        .unwrap()
        .plan()
        .unwrap();
    let planned: Vec<_> = plan
        .iter()
        .filter(|a| a.included && a.present && a.kind == ferry_project::plan::AccountKind::User)
        .cloned()
        .collect();
    // An account without a mail store (the fixture's forwarding-only user) has nothing to copy:
    // the admin leaves it behind on the plan table (the app cannot read it over the old server's
    // IMAP yet).
    let (movers, empty): (Vec<_>, Vec<_>) = planned.into_iter().partition(|a| a.store.is_some());
    assert!(!movers.is_empty());
    let mut builder = ferry_testkit::Dovecot::builder(ferry_testkit::Preset::Modern);
    for (i, account) in movers.iter().enumerate() {
        builder = builder.user(
            &account.dest_address,
            &format!("app-e2e-{i}-{}", account.login),
        );
    }
    let server = builder.start();

    click(&c, &tid("continue")).await;
    wait_for(&c, &tid("destination-chooser")).await;
    shot(&c, "07-destination-presets.png").await;
    click(&c, &tid("preset-genericImap")).await;
    wait_for(&c, &tid("imap-host"))
        .await
        .send_keys(server.host())
        .await
        .unwrap();
    let port = wait_for(&c, &tid("imap-port")).await;
    port.clear().await.unwrap();
    port.send_keys(&server.imaps_port().to_string())
        .await
        .unwrap();
    click(&c, &tid("check-certificate")).await;
    let fingerprint = text(&c, &tid("fingerprint")).await;
    assert_eq!(
        fingerprint.replace(':', ""),
        server.cert_sha256().replace(':', "").to_ascii_lowercase()
    );
    shot(&c, "08-destination-certificate.png").await;
    click(&c, &tid("trust-certificate")).await;
    click(&c, &tid("save-destination")).await;
    assert_eq!(
        text(&c, &tid("destination-host")).await,
        format!("{}:{}", server.host(), server.imaps_port())
    );
    wait_for(&c, &tid("plan")).await;
    for account in &empty {
        let row = tid(&format!("plan-{}", account.login));
        assert!(
            text(&c, &row)
                .await
                .contains("no mail store: nothing to copy"),
            "{}",
            account.login
        );
        click(&c, &format!("{row} {}", tid("include"))).await;
        wait_text(
            &c,
            &format!("{} h2", tid("plan")),
            "the account left behind",
            |t| {
                t == format!(
                    "Accounts to move ({} of {})",
                    movers.len(),
                    movers.len() + empty.len()
                )
            },
        )
        .await;
    }
    shot(&c, "09-destination-plan.png").await;

    // --- Credentials ------------------------------------------------------------------------
    click(&c, &tid("continue")).await;
    wait_for(&c, &tid("passwords")).await;
    shot(&c, "10-credentials-empty.png").await;
    for (i, account) in movers.iter().enumerate() {
        let field = format!(
            "{} {}",
            tid(&format!("cred-{}", account.login)),
            tid("password")
        );
        wait_for(&c, &field)
            .await
            .send_keys(&format!("app-e2e-{i}-{}", account.login))
            .await
            .unwrap();
    }
    click(&c, &tid("store-passwords")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    click(&c, &tid("check-logins")).await;
    for account in &movers {
        let status = format!(
            "{} {}",
            tid(&format!("cred-{}", account.login)),
            tid("check-status")
        );
        let shown = wait_text(&c, &status, "a login check", |t| !t.is_empty()).await;
        assert_eq!(shown, "Signs in", "{}", account.source_address);
    }
    let vault = std::fs::read(tmp.path().join("passwords.ferry-vault")).unwrap();
    let project_bytes = std::fs::read(project_dir.join("migration.ferry")).unwrap();
    for (i, account) in movers.iter().enumerate() {
        let password = format!("app-e2e-{i}-{}", account.login);
        for (what, bytes) in [("vault", &vault), ("project", &project_bytes)] {
            assert!(
                !bytes
                    .windows(password.len())
                    .any(|w| w == password.as_bytes()),
                "a password in clear in the {what} file"
            );
        }
    }
    shot(&c, "11-credentials-checked.png").await;

    // --- Initial sync -------------------------------------------------------------------------
    click(&c, &tid("continue")).await;
    wait_for(&c, &tid("sync-summary")).await;
    shot(&c, "12-initial-sync-ready.png").await;
    click(&c, &tid("start-sync")).await;
    wait_for(&c, &tid("progress")).await;
    shot(&c, "13-initial-sync-running.png").await;
    let heading = format!("{} h2", tid("sync-summary"));
    wait_text(&c, &heading, "the end of the sync", |t| {
        t == "The initial sync ended"
    })
    .await;
    wait_for(&c, &tid("start-sync")).await;
    shot(&c, "14-initial-sync-done.png").await;
    // every account's bar is full, and the destination holds what the screen says was copied
    for account in &movers {
        let row = tid(&format!("progress-{}", account.source_address));
        let done = text(&c, &format!("{row} {}", tid("messages-done"))).await;
        let mut parts = done.split(" of ");
        let (copied, total) = (
            parts.next().unwrap().replace(',', ""),
            parts.next().unwrap().replace(',', ""),
        );
        assert_eq!(copied, total, "{}: {done}", account.source_address);
        let on_server: usize = server
            .mailboxes(&account.dest_address)
            .iter()
            .map(|mb| server.messages(&account.dest_address, mb).len())
            .sum();
        assert_eq!(
            on_server.to_string(),
            copied,
            "{} on the destination",
            account.dest_address
        );
    }

    // --- Review: the check compares both sides; the new host's count is the server's -----------
    let on_destination: usize = movers
        .iter()
        .map(|a| {
            server
                .mailboxes(&a.dest_address)
                .iter()
                .map(|mb| server.messages(&a.dest_address, mb).len())
                .sum::<usize>()
        })
        .sum();
    click(&c, &tid("continue")).await;
    click(&c, &tid("check-review")).await;
    let counts = wait_text(&c, &tid("review-counts"), "the review", |t| !t.is_empty()).await;
    assert!(
        counts.contains(&format!(
            "New host: {} messages",
            grouped(on_destination as u64)
        )),
        "{counts}"
    );
    shot(&c, "14b-review.png").await;
    let rows = c
        .find_all(Locator::Css(&format!(
            "{} tbody > tr",
            tid("review-accounts")
        )))
        .await
        .unwrap();
    assert_eq!(rows.len(), movers.len(), "one review row per moved account");

    // --- DNS prep against the loopback DNS server: old, then new after the MX switch ------------
    click(&c, &tid("continue")).await;
    let mx = wait_for(&c, &tid("new-mx")).await;
    mx.send_keys("mx.newhost.test").await.unwrap();
    click(&c, &tid("check-dns")).await;
    let points = format!("{} {}", tid("dns-example.com"), tid("points"));
    assert_eq!(text(&c, &points).await, "Old server");
    let resolver = format!(
        "{} {}",
        tid("dns-example.com"),
        tid(&format!("resolver-{}", dns.addr))
    );
    assert!(
        text(&c, &resolver)
            .await
            .contains("10 mail.example.com (TTL 1 h)"),
        "{}",
        text(&c, &resolver).await
    );
    shot(&c, "14c-dns-before.png").await;

    // the admin lowers the TTL: the old one (1 h) is counted down from then, and a check made
    // after lowering (the resolvers now say 5 min) does not shorten it
    assert_eq!(
        text(&c, &format!("{} h2", tid("ttl-wait"))).await,
        "Lowered the TTL?"
    );
    click(&c, &tid("ttl-lowered")).await;
    let waiting = |t: &str| t.starts_with("Switch the MX records after");
    wait_text(&c, &tid("ttl-wait-title"), "the countdown", waiting).await;
    let wait = ferry_project::phases::cutover::ttl_wait(
        &ferry_project::project::Project::open(
            &project_dir.join(ferry_project::project::FILE_NAME),
        )
        .unwrap(),
    )
    .unwrap()
    .expect("the lowering is recorded");
    assert_eq!(wait.old_ttl_secs, 3600);
    let local = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .format("%-d %b %Y, %H:%M")
            .to_string()
    };
    assert_eq!(
        text(&c, &tid("ttl-wait-title")).await,
        format!("Switch the MX records after {}", local(wait.switch_after))
    );
    assert_eq!(
        text(&c, &tid("ttl-wait-text")).await,
        format!(
            "1 h left. You lowered the TTL on {}; until the old TTL (1 h) has passed, some resolvers may still send mail to the old server.",
            local(wait.lowered_at)
        )
    );
    dns.set_mx("example.com", 300, &[(10, "mail.example.com")])
        .await;
    click(&c, &tid("check-dns")).await;
    wait_text(&c, &resolver, "the lowered TTL", |t| {
        t.contains("10 mail.example.com (TTL 5 min)")
    })
    .await;
    assert_eq!(
        text(&c, &tid("ttl-wait-title")).await,
        format!("Switch the MX records after {}", local(wait.switch_after))
    );
    scroll_to(&c, &tid("ttl-wait")).await;
    shot(&c, "14c2-dns-ttl-countdown.png").await;
    for domain in ["example.com", "example.org"] {
        dns.set_mx(domain, 300, &[(10, "mx.newhost.test")]).await;
    }
    click(&c, &tid("check-dns")).await;
    wait_text(&c, &points, "the new MX", |t| t == "New host").await;
    shot(&c, "14d-dns-after.png").await;

    // --- Cut-over: "I switched the MX records" starts the watch, which runs the delta itself ---
    click(&c, &tid("continue")).await;
    click(&c, &tid("mx-switched")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("cutover")),
        "the watch's end",
        |t| t == "The cut-over watch ended",
    )
    .await;
    let summary = text(&c, &tid("cutover-summary")).await;
    assert!(
        summary.starts_with("Every resolver answers the new host."),
        "{summary}"
    );
    shot(&c, "14e-cutover-done.png").await;

    // --- Final sync (the same job the menu-bar's "Run final sync…" starts), after a confirmation --
    click(&c, &tid("phase-final_sync")).await;
    click(&c, &tid("start-sync")).await;
    wait_for(&c, &tid("confirm-sync")).await;
    shot(&c, "14f-final-sync-confirm.png").await;
    click(&c, &tid("confirm-yes")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the final sync's end",
        |t| t == "The final sync ended",
    )
    .await;
    shot(&c, "14g-final-sync-done.png").await;
    c.close().await.unwrap();

    // --- quit and reopen: the same migration and its next step are back ------------------------
    let c = driver.session().await;
    wait_for(&c, &tid("headline")).await;
    click(&c, &tid("phase-discover")).await;
    assert_eq!(text(&c, &tid("hostname")).await, expected.hostname);
    assert!(text(&c, &tid("results"))
        .await
        .contains(root.to_str().unwrap()));
    shot(&c, "15-reopened.png").await;

    // --- another server would replace this migration: asked first; then an error with its fix --
    click(&c, &tid("choose-another")).await;
    let input = wait_for(&c, &tid("root-input")).await;
    input.clear().await.unwrap();
    input
        .send_keys(tmp.path().join("no-such-server").to_str().unwrap())
        .await
        .unwrap();
    click(&c, &tid("discover-button")).await;
    let question = text(&c, &tid("confirm-replace")).await;
    assert!(
        question.contains(&format!("replaces the migration of {}", expected.hostname)),
        "{question}"
    );
    shot(&c, "16-confirm-replace.png").await;
    click(&c, &tid("confirm-yes")).await;
    let error = wait_for(&c, &tid("error")).await;
    assert_eq!(
        error.attr("data-code").await.unwrap().as_deref(),
        Some("not_found")
    );
    assert_eq!(
        text(&c, &tid("error-message")).await,
        format!(
            "Ferry cannot open the folder {}: it does not exist.",
            tmp.path().join("no-such-server").display()
        )
    );
    assert!(text(&c, &tid("error-fix"))
        .await
        .contains("Library/Server/Mail"));
    shot(&c, "17-error.png").await;
    c.close().await.unwrap();
}

/// A sync cut short by quitting Ferry continues by itself when Ferry opens again, and copies
/// every message exactly once. The destination sits behind a proxy that hangs (a stalled
/// network) while the first run is under way, so the quit comes mid-sync.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run by scripts/test under xvfb-run"]
async fn a_sync_cut_short_by_a_quit_continues_when_ferry_opens_again() {
    use ferry_project::phases;
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    let project_path = project_dir.join("migration.ferry");
    let host = PrepHost {
        vault: tmp.path().join("passwords.ferry-vault"),
    };

    // The migration up to the initial sync, prepared through the project's own phases.
    let mut project = ferry_project::project::Project::open(&project_path).unwrap();
    phases::discover::discover(
        &mut project,
        &host,
        Some(ferry_project::store::Source {
            kind: ferry_project::store::SourceKind::Copy,
            root: root.to_str().unwrap().to_string(),
        }),
    )
    .unwrap();
    let (movers, empty): (Vec<_>, Vec<_>) = project
        .plan()
        .unwrap()
        .into_iter()
        .filter(|a| a.included && a.present && a.kind == ferry_project::plan::AccountKind::User)
        .partition(|a| a.store.is_some());
    let mut builder = ferry_testkit::Dovecot::builder(ferry_testkit::Preset::Modern);
    for account in &movers {
        builder = builder.user(&account.dest_address, &format!("resume-{}", account.login));
    }
    let server = builder.start();
    let proxy = ferry_testkit::FaultProxy::start(server.imaps_port());
    common::choose_loopback_host(&mut project, &host, &server, proxy.port());
    for account in &empty {
        project
            .update_account(
                &account.source_address,
                &ferry_project::plan::AccountChange::Included(false),
            )
            .unwrap();
    }
    for account in &movers {
        phases::credentials::set_destination_password(
            &project,
            &host,
            &account.source_address,
            &ferry_vault::Secret::from(format!("resume-{}", account.login)),
        )
        .unwrap();
    }
    drop(project);

    let driver = Driver::start(&AppEnv::new(&project_dir, &host.vault));
    let c = driver.session().await;
    click(&c, &tid("phase-initial_sync")).await;
    // the network to the new host hangs from now on: the sync cannot finish
    proxy.stall();
    click(&c, &tid("start-sync")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the running sync",
        |t| t == "The initial sync is running",
    )
    .await;
    shot(&c, "18-sync-hanging-before-quit.png").await;
    // quit Ferry in the middle of the sync
    c.close().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let runs = ferry_project::project::Project::open(&project_path)
        .unwrap()
        .runs()
        .unwrap();
    let last = runs
        .iter()
        .rev()
        .find(|r| r.phase == "initial_sync")
        .unwrap();
    assert_eq!(
        last.outcome,
        ferry_project::project::RunOutcome::Running,
        "the quit left the sync unfinished"
    );
    proxy.resume();

    // open Ferry again: the sync continues by itself
    let c = driver.session().await;
    click(&c, &tid("phase-initial_sync")).await;
    wait_text(
        &c,
        &format!("{} h2", tid("sync-summary")),
        "the resumed sync's end",
        |t| t == "The initial sync ended",
    )
    .await;
    shot(&c, "19-sync-resumed-after-reopen.png").await;
    for account in &movers {
        let row = tid(&format!("progress-{}", account.source_address));
        let done = text(&c, &format!("{row} {}", tid("messages-done"))).await;
        let (copied, total) = done.split_once(" of ").unwrap();
        assert_eq!(copied, total, "{}: {done}", account.source_address);
        let on_server: usize = server
            .mailboxes(&account.dest_address)
            .iter()
            .map(|mb| server.messages(&account.dest_address, mb).len())
            .sum();
        // exactly once: nothing copied twice across the quit
        assert_eq!(
            on_server.to_string(),
            copied.replace(',', ""),
            "{} on the destination",
            account.dest_address
        );
    }
    c.close().await.unwrap();
}
