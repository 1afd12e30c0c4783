//! The project's sync job against real Dovecots: progress events tagged with the job's id (per
//! account totals known before the end, bytes done never above the total), one writing job at
//! a time (the second refused, naming the holder), and a cancelled initial sync that the same
//! job continues, every message exactly once.

mod common;

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use common::{digests, FileVaultHost};
use ferry_project::host::ProjectHost;
use ferry_project::jobs::{self, JobControl, JobError, JobEvent, JobKind, JobProgress};
use ferry_project::phases;
use ferry_project::project::{Project, RunOutcome};
use ferry_testkit::{Dovecot, Preset};
use ferry_vault::{Secret, Vault};

#[tokio::test(flavor = "multi_thread")]
async fn a_cancelled_sync_job_continues_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "pw-jane")
        .start();
    // A mailbox big enough that a cancel lands mid-copy.
    let inbox_new = old.mail_dir("jdoe").join("new");
    for n in 0..800 {
        let mut raw = format!(
            "From: a@example.com\r\nSubject: bulk {n}\r\nMessage-ID: <job-{n}@example.com>\r\n\r\n"
        )
        .into_bytes();
        raw.resize(20_000, b'x');
        raw.extend_from_slice(b"\r\n");
        let path = inbox_new.join(format!("1701{n:06}.M{n}P9.mail,S={}", raw.len()));
        std::fs::File::create(&path)
            .and_then(|mut f| f.write_all(&raw))
            .unwrap();
        old.give_to_mail_user(&path);
    }
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let path = dir.path().join("migration.ferry");
    {
        let project = common::project_to(&path, &host, &old, &new, &["jane.doe@example.com"]);
        phases::credentials::set_destination_password(
            &project,
            &host,
            "jane.doe@example.com",
            &Secret::new("pw-jane".into()),
        )
        .unwrap();
    }

    // While a job holds the project, a second one is refused and told who holds it.
    {
        let _held = jobs::lock(&path, JobKind::InitialSync, 1_764_800_000).unwrap();
        let control = JobControl::new(JobKind::FinalSync);
        let err = phases::sync::run(&path, &host, &control, Arc::new(|_| {}), None)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            matches!(err, phases::PhaseError::Busy(JobError::Busy { .. })),
            "{err:?}"
        );
        assert!(
            text.starts_with(&format!(
                "Ferry (process {}) running the initial sync since 2025-12-03 22:13 UTC is already working on this migration.",
                std::process::id()
            )),
            "{text}"
        );
    }

    // Cancel once the first messages have landed.
    let events: Arc<Mutex<Vec<JobEvent>>> = Arc::default();
    let control = JobControl::new(JobKind::InitialSync);
    let sink = {
        let events = events.clone();
        let cancel = control.cancel.clone();
        Arc::new(move |e: JobEvent| {
            if let JobProgress::Account { progress } = &e.event {
                if progress.messages_done > 0 {
                    cancel.cancel();
                }
            }
            events.lock().unwrap().push(e);
        })
    };
    let first = phases::sync::run(&path, &host, &control, sink, None)
        .await
        .unwrap();
    assert!(first.cancelled, "{}", first.summary);
    let copied_first = first.report.copied;
    assert!(copied_first > 0 && copied_first < 800, "{}", first.summary);
    {
        let events = events.lock().unwrap();
        assert!(events.iter().all(|e| e.job_id == control.id));
        assert!(matches!(events[0].event, JobProgress::Started { .. }));
        assert!(matches!(
            events.last().unwrap().event,
            JobProgress::Finished {
                outcome: RunOutcome::Cancelled,
                ..
            }
        ));
        let last = events
            .iter()
            .rev()
            .find_map(|e| match &e.event {
                JobProgress::Account { progress } => Some(progress.clone()),
                _ => None,
            })
            .unwrap();
        assert_eq!(
            last.stage,
            ferry_project::jobs::AccountStage::Stopped,
            "{last:?}"
        );
        assert!(last.messages_done < last.messages_total, "{last:?}");
        for e in events.iter() {
            if let JobProgress::Account { progress } = &e.event {
                assert!(progress.bytes_done <= progress.bytes_total, "{progress:?}");
                assert!(progress.messages_total >= 812, "{progress:?}");
            }
        }
    }
    let project = Project::open(&path).unwrap();
    assert_eq!(
        project.last_run("initial_sync").unwrap().unwrap().outcome,
        RunOutcome::Cancelled
    );
    drop(project);

    // The same job again: the rest, nothing twice.
    let again = phases::sync::run(
        &path,
        &host,
        &JobControl::new(JobKind::InitialSync),
        Arc::new(|_| {}),
        None,
    )
    .await
    .unwrap();
    assert!(!again.cancelled);
    assert_eq!(again.report.failed, 0, "{}", again.summary);
    let on_new_host = digests(&new, "jane.doe@example.com");
    assert_eq!(
        on_new_host,
        digests(&old, "jdoe"),
        "every message exactly once"
    );
    // The continued run says what it copied and what is on the new host in all.
    assert_eq!(copied_first + again.report.copied, on_new_host.len() as u64);
    assert_eq!(
        again.summary,
        format!(
            "Initial sync: {} messages copied; {} messages on the new host in all, with the run that stopped before",
            again.report.copied,
            on_new_host.len()
        )
    );
}

/// A host whose clock the test owns: waiting for the next upload window moves it on at once.
struct WindowHost {
    vault_file: PathBuf,
    clock: Arc<ferry_sync::ManualClock>,
}

impl ProjectHost for WindowHost {
    fn now(&self) -> DateTime<Utc> {
        ferry_sync::Clock::now(self.clock.as_ref())
    }
    fn vault(&self) -> Result<Box<dyn Vault>, String> {
        common::open_vault(&self.vault_file)
    }
    fn sync_clock(&self) -> Arc<dyn ferry_sync::Clock> {
        self.clock.clone()
    }
    fn sleep_until(&self, at: DateTime<Utc>) -> futures::future::BoxFuture<'static, ()> {
        self.clock.set(at + chrono::Duration::seconds(1));
        Box::pin(async {})
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_job_waits_for_each_upload_window_and_finishes_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "pw-jane")
        .start();
    let host = WindowHost {
        vault_file: dir.path().join("vault"),
        clock: Arc::new(ferry_sync::ManualClock::new(
            "2026-12-01T08:00:00Z".parse().unwrap(),
        )),
    };
    let path = dir.path().join("migration.ferry");
    {
        let mut project = common::project_to(&path, &host, &old, &new, &["jane.doe@example.com"]);
        // A host that takes 5 KB per account and day (Google's is 500 MB).
        let mut dest = project.destination().unwrap().unwrap();
        dest.limits.daily_upload_bytes = Some(5_000);
        project.set_destination(&dest).unwrap();
        phases::credentials::set_destination_password(
            &project,
            &host,
            "jane.doe@example.com",
            &Secret::new("pw-jane".into()),
        )
        .unwrap();
    }
    let notes: Arc<Mutex<Vec<String>>> = Arc::default();
    let sink = {
        let notes = notes.clone();
        Arc::new(move |e: JobEvent| {
            if let JobProgress::Note { text } = e.event {
                notes.lock().unwrap().push(text);
            }
        })
    };
    let runs = phases::sync::run_until_done(
        &path,
        &host,
        &JobControl::new(JobKind::InitialSync),
        sink,
        None,
    )
    .await
    .unwrap();
    assert!(runs.len() >= 3, "{} windows", runs.len());
    for (i, run) in runs.iter().enumerate() {
        let last = i + 1 == runs.len();
        assert_eq!(
            run.resumes_at.is_none(),
            last,
            "window {i}: {}",
            run.summary
        );
        assert!(
            run.report.copied > 0,
            "window {i} copied nothing: {}",
            run.summary
        );
    }
    assert_eq!(notes.lock().unwrap().len(), runs.len() - 1);
    assert_eq!(
        digests(&new, "jane.doe@example.com"),
        digests(&old, "jdoe"),
        "every message exactly once, across the windows"
    );
}
