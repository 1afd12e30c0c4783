//! The real app on the later screens (Profiles, Quarantine, Decommission): the built `ferry-app`
//! binary under X, driven over WebDriver (tauri-driver + WebKitWebDriver), on a migration of a
//! materialized copy of the fixture server that was discovered and given a new host beforehand
//! through `ferry_project` (tests/app_webdriver.rs clicks through those screens). It checks what
//! each screen shows against the project, confirms "a clone is kept", writes the final report,
//! and saves a screenshot of each state to `artifacts/app-e2e/` (3x-*.png). The folder choosers
//! are native dialogs WebDriver cannot answer, so the exports themselves are covered by
//! tests/ipc_phases.rs. Run as tests/app_webdriver.rs says:
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver_phases -- --ignored

mod common;

use common::{click, scroll_to, shot, text, tid, wait_for, wait_state, AppEnv, Driver};
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run under xvfb-run"]
async fn profiles_quarantine_and_decommission_on_a_discovered_migration() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    std::fs::create_dir_all(&project_dir).unwrap();
    let project_file = project_dir.join(ferry_project::project::FILE_NAME);
    let host = ferry_app::AppHost::from_env();
    let (people, training) = {
        let mut project = ferry_project::project::Project::open(&project_file).unwrap();
        let snapshot = ferry_project::phases::discover::discover(
            &mut project,
            &host,
            Some(ferry_project::store::Source {
                kind: ferry_project::store::SourceKind::Copy,
                root: root.display().to_string(),
            }),
        )
        .unwrap();
        ferry_project::phases::destination::choose(
            &mut project,
            &host,
            &serde_json::from_value(json!({ "preset": "genericImap", "imap_host": "imap.new.example",
                "imap_port": 993, "imap_security": "tls", "smtp_host": null, "pinned_sha256": null }))
            .unwrap(),
        )
        .unwrap();
        let people: Vec<String> = project
            .plan()
            .unwrap()
            .into_iter()
            .filter(|a| a.included && a.present && a.kind == ferry_project::plan::AccountKind::User)
            .map(|a| a.dest_address)
            .collect();
        (people, snapshot.inventory.training_mailboxes)
    };
    assert!(!people.is_empty());

    let driver = Driver::start(&AppEnv::new(
        &project_dir,
        &tmp.path().join("passwords.ferry-vault"),
    ));
    let c = driver.session().await;

    // --- Profiles ----------------------------------------------------------------------------
    click(&c, &tid("phase-profiles")).await;
    wait_for(&c, &tid("profile-preview")).await;
    assert_eq!(text(&c, &tid("preview-address")).await, people[0]);
    assert_eq!(
        text(&c, &tid("preview-imap")).await,
        "imap.new.example:993 (TLS)"
    );
    assert_eq!(
        text(&c, &tid("preview-asks")).await,
        "their password on the new host"
    );
    assert!(
        wait_for(&c, &tid("export"))
            .await
            .attr("disabled")
            .await
            .unwrap()
            .is_some(),
        "no export before a folder is chosen"
    );
    shot(&c, "30-profiles-preview.png").await;
    click(&c, &tid("option-withPasswords")).await;
    assert_eq!(
        text(&c, &tid("password-warning")).await,
        "The files will hold passwords in clear. Hand each only to its person."
    );
    scroll_to(&c, &tid("profile-options")).await;
    shot(&c, "31-profiles-with-passwords.png").await;

    // --- Quarantine --------------------------------------------------------------------------
    click(&c, &tid("phase-quarantine")).await;
    wait_for(&c, &tid("quarantine-found")).await;
    for t in &training {
        let row = text(&c, &tid(&format!("training-{}", t.short_name))).await;
        // WebDriver joins the cells' text without separators
        let kind = match serde_json::to_value(t.kind).unwrap().as_str().unwrap() {
            "junk" => "Taught as junk",
            _ => "Taught as not junk",
        };
        assert_eq!(
            row,
            format!(
                "{}{kind}{}{}",
                t.short_name,
                t.messages,
                ferry_project::discover::human_bytes(t.bytes)
            )
        );
    }
    shot(&c, "32-quarantine.png").await;

    // --- Decommission ------------------------------------------------------------------------
    click(&c, &tid("phase-decommission")).await;
    wait_for(&c, &tid("check-readiness")).await;
    shot(&c, "33-decommission-start.png").await;
    click(&c, &tid("check-readiness")).await;
    wait_for(&c, &tid("checklist")).await;
    assert_eq!(text(&c, &tid("readiness")).await, "Not yet: 6 items to do");
    wait_state(&c, &tid("item-server_clone_kept"), "not_yet").await;
    shot(&c, "34-decommission-checklist.png").await;
    click(&c, &tid("mark-clone")).await;
    wait_for(&c, &tid("confirm-clone")).await;
    scroll_to(&c, &tid("confirm-clone")).await;
    shot(&c, "35-decommission-confirm-clone.png").await;
    click(&c, &tid("confirm-yes")).await;
    wait_state(&c, &tid("item-server_clone_kept"), "done").await;
    click(&c, &tid("write-report")).await;
    let report = project_dir.join("final-report.html");
    assert_eq!(
        text(&c, &tid("report-path")).await,
        report.display().to_string()
    );
    assert!(std::fs::read_to_string(&report)
        .unwrap()
        .contains("</html>"));
    scroll_to(&c, &tid("decommission-summary")).await;
    shot(&c, "36-decommission-report.png").await;
    c.close().await.unwrap();
}
