//! The project file: created private, reopened with everything in it, the previous release's
//! `migration.json` taken over (and kept), a newer file refused untouched, the plan made from a
//! real discovery of the simulated old server, and the status computed from it.

use std::path::Path;

use ferry_project::plan::{AccountChange, AccountKind, SourceMethod};
use ferry_project::project::{Decision, Fact, Project, ProjectError, RunOutcome};
use ferry_project::status::status;
use ferry_project::store::{Migration, Phase, PhaseState, ProjectStore, Source, SourceKind};

fn fixture_copy(dir: &Path) -> std::path::PathBuf {
    ferry_testkit::materialize_fixture(&dir.join("server"))
}

fn discover(root: &Path) -> ferry_discover::Inventory {
    ferry_project::discover::run(root).expect("fixture discovers")
}

#[cfg(unix)]
fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn a_new_project_is_private_and_keeps_what_it_was_told() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_copy(dir.path());
    let path = dir.path().join("data/ferry/migration.ferry");
    let inventory = discover(&root);
    {
        let mut project = Project::open(&path).unwrap();
        project
            .set_source(&Source {
                kind: SourceKind::Copy,
                root: root.display().to_string(),
            })
            .unwrap();
        project.record_inventory(&inventory, 1_700_000_000).unwrap();
        project
            .set_destination(&ferry_project::destination::Destination::generic(
                "imap.new.example",
                "smtp.new.example",
            ))
            .unwrap();
        project
            .set_fact(Fact::TtlLoweredAt, Some(1_700_000_100))
            .unwrap();
    }
    #[cfg(unix)]
    {
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(path.parent().unwrap()), 0o700);
    }
    let project = Project::open(&path).unwrap();
    assert_eq!(project.inventory().unwrap().unwrap().inventory, inventory);
    assert_eq!(
        project.inventory().unwrap().unwrap().taken_at,
        1_700_000_000
    );
    assert_eq!(
        project.destination().unwrap().unwrap().imap.host,
        "imap.new.example"
    );
    assert_eq!(project.facts().unwrap().ttl_lowered_at, Some(1_700_000_100));

    // The plan: one line per mail account with an address, same address by default, read from
    // the store on disk; the training mailboxes marked as such and left out.
    let plan = project.plan().unwrap();
    let users: Vec<_> = plan
        .iter()
        .filter(|a| a.kind == AccountKind::User)
        .collect();
    let with_address = inventory
        .accounts
        .iter()
        .filter(|a| !a.addresses.is_empty())
        .count();
    assert_eq!(users.len(), with_address);
    for (account, discovered) in users.iter().zip(
        inventory
            .accounts
            .iter()
            .filter(|a| !a.addresses.is_empty()),
    ) {
        assert_eq!(
            account.source_address,
            discovered.addresses[0].to_lowercase()
        );
        assert_eq!(account.dest_address, account.source_address);
        assert_eq!(account.messages, discovered.messages);
        assert_eq!(account.bytes, discovered.bytes);
        assert_eq!(
            account.method,
            if discovered.store.is_some() {
                SourceMethod::Store
            } else {
                SourceMethod::Imap
            }
        );
    }
    let training: Vec<_> = plan
        .iter()
        .filter(|a| a.kind != AccountKind::User)
        .collect();
    assert_eq!(training.len(), inventory.training_mailboxes.len());
    assert!(training.iter().all(|a| !a.included));
}

#[test]
fn plan_changes_survive_a_new_discovery() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_copy(dir.path());
    let path = dir.path().join("migration.ferry");
    let inventory = discover(&root);
    let mut project = Project::open(&path).unwrap();
    project.record_inventory(&inventory, 1).unwrap();
    let first = project.plan().unwrap()[0].clone();
    project
        .update_account(
            &first.source_address,
            &AccountChange::DestAddress("Jane.New@New.Example".into()),
        )
        .unwrap();
    project
        .update_account(&first.source_address, &AccountChange::Included(false))
        .unwrap();
    let err = project
        .update_account(
            &first.source_address,
            &AccountChange::DestAddress("not an address".into()),
        )
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "\"not an address\" is not an email address; write it as name@example.com"
    );
    project.record_inventory(&inventory, 2).unwrap();
    let again = project.plan().unwrap()[0].clone();
    assert_eq!(again.source_address, first.source_address);
    assert_eq!(again.dest_address, "jane.new@new.example");
    assert!(!again.included);
    assert_eq!(project.inventory_count().unwrap(), 2);
    assert_eq!(project.inventory().unwrap().unwrap().taken_at, 2);
}

#[test]
fn the_previous_releases_migration_json_is_taken_over_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_copy(dir.path());
    let data = dir.path().join("data");
    let inventory = discover(&root);
    let legacy = Migration::discovered(
        Source {
            kind: SourceKind::Copy,
            root: root.display().to_string(),
        },
        inventory.clone(),
        1_690_000_000,
    );
    ProjectStore::in_dir(&data).save(&legacy).unwrap();

    let project = Project::open(&data.join("migration.ferry")).unwrap();
    assert_eq!(project.source().unwrap(), Some(legacy.source.clone()));
    let snapshot = project.inventory().unwrap().unwrap();
    assert_eq!(snapshot.inventory, inventory);
    assert_eq!(snapshot.taken_at, 1_690_000_000);
    assert!(!project.plan().unwrap().is_empty());
    let import = project.last_run("import").unwrap().unwrap();
    assert_eq!(import.outcome, RunOutcome::Succeeded);
    // Nothing lost: the old file is kept beside the new one, and reads as before.
    let kept = data.join("migration.json.imported");
    assert_eq!(ProjectStore::at(&kept).load().unwrap(), Some(legacy));
    assert!(!data.join("migration.json").exists());
}

#[test]
fn a_newer_file_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("migration.ferry");
    drop(Project::open(&path).unwrap());
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let err = Project::open(&path).unwrap_err();
    assert!(
        matches!(err, ProjectError::TooNew { found: 99, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("written by a newer Ferry"),
        "{err}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[test]
fn another_programs_database_is_not_taken_for_a_project() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.sqlite");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE photos (id INTEGER)")
            .unwrap();
    }
    let err = Project::open(&path).unwrap_err();
    assert!(matches!(err, ProjectError::NotAProject { .. }), "{err:?}");
}

#[test]
fn status_follows_the_project() {
    let dir = tempfile::tempdir().unwrap();
    let root = fixture_copy(dir.path());
    let path = dir.path().join("migration.ferry");
    let mut project = Project::open(&path).unwrap();
    let empty = status(&project).unwrap();
    assert_eq!(empty.next, Some(Phase::Discover));
    assert_eq!(empty.headline, "Start by discovering the old server.");
    assert_eq!(empty.phases.len(), 11);
    assert_eq!(
        empty.phases[1].blockers,
        vec!["Discover the old server first.".to_string()]
    );

    let inventory = discover(&root);
    assert!(!inventory.warnings.is_empty(), "the fixture has warnings");
    project.record_inventory(&inventory, 10).unwrap();
    let found = status(&project).unwrap();
    assert_eq!(found.phases[0].state, PhaseState::NeedsAttention);
    assert_eq!(found.next, Some(Phase::Discover));

    // Deciding on every warning finishes Discover; Destination comes next.
    for w in &inventory.warnings {
        project
            .record_decision(&Decision {
                code: ferry_project::status::warning_code(&w.code),
                subject: w.subject.clone().unwrap_or_default(),
                decision: "noted".into(),
                decided_at: 11,
            })
            .unwrap();
    }
    let decided = status(&project).unwrap();
    assert_eq!(decided.phases[0].state, PhaseState::Done);
    assert_eq!(decided.next, Some(Phase::Destination));
    assert_eq!(
        decided.headline,
        format!(
            "{}: 1 of 11 steps done. Next: Destination.",
            inventory.hostname
        )
    );
}

#[test]
fn a_run_left_running_by_a_dead_process_is_settled_as_failed() {
    let dir = tempfile::tempdir().unwrap();
    let mut project = Project::open(&dir.path().join("m.ferry")).unwrap();
    let id = project
        .log_run("initial_sync", 100, &serde_json::json!({}))
        .unwrap();
    assert_eq!(project.runs().unwrap()[0].outcome, RunOutcome::Running);
    assert_eq!(project.settle_abandoned_runs(200).unwrap(), 1);
    let run = &project.runs().unwrap()[0];
    assert_eq!(
        (run.id, run.outcome, run.ended_at),
        (id, RunOutcome::Failed, Some(200))
    );
}
