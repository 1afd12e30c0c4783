//! Decommission (phase 11): the readiness checklist from the fixture's real mail flow and
//! quarantine archive, and the final report: escaped everywhere, self-contained, JSON that reads
//! back.

use chrono::{DateTime, Duration, TimeZone, Utc};
use ferry_cutover::dns::DnsReport;
use ferry_project::cutover::{self, LogZone, MailflowRequest};
use ferry_project::decommission::{
    checklist, AccountReadiness, ChecklistInput, ChecklistItemId, ItemState, REQUIRED_QUIET_HOURS,
};
use ferry_project::report::{
    final_report, CutoverDates, FinalReport, PhaseTiming, ReportAccount, ReportInput,
};
use ferry_project::review::{FailedMessage, FolderReview, ResolutionKind, ResolvedMessage};
use ferry_sync::ErrorClass;

fn dns(all_new: bool, at: DateTime<Utc>) -> DnsReport {
    DnsReport {
        checked_at: at,
        domains: vec![],
        all_new,
        warnings: vec![],
    }
}

fn state_of(c: &ferry_project::decommission::Checklist, id: ChecklistItemId) -> ItemState {
    c.items.iter().find(|i| i.id == id).unwrap().state
}

#[test]
fn checklist_from_the_fixture() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let req = MailflowRequest {
        zone: LogZone::Fixed(3600),
        year_of_last_line: Some(2019),
        ..MailflowRequest::default()
    };
    let probe = cutover::mailflow(&root, &req, Utc::now()).unwrap();
    // The last delivery or refused attempt (the mail-flow check's quiet rule).
    let last = probe.checked_at
        - Duration::seconds(probe.quiet_for_secs.expect("the fixture has deliveries"));
    assert!(probe.last_delivery.is_some_and(|d| d <= last));
    // The MX was switched a minute after the last delivery: nothing arrived after it.
    let req = MailflowRequest {
        cutover: Some(last + Duration::minutes(1)),
        ..req
    };
    let quarantine = cutover::quarantine_to_mbox(&root, &tmp.path().join("quarantine")).unwrap();
    assert!(quarantine.complete(), "{quarantine:?}");

    let at = |hours: i64| last + Duration::hours(hours);
    let final_sync = at(1);
    let input = |now: DateTime<Utc>| ChecklistInput {
        now,
        accounts: vec![
            AccountReadiness {
                account: "jane.doe@example.com".into(),
                old_login: "jdoe".into(),
                included: true,
                final_synced_at: Some(final_sync),
                verified: Some(true),
                missing: 0,
            },
            AccountReadiness {
                account: "asmith@example.com".into(),
                old_login: "asmith".into(),
                included: true,
                final_synced_at: None,
                verified: None,
                missing: 0,
            },
            AccountReadiness {
                account: "junkmail@example.com".into(),
                included: false,
                ..Default::default()
            },
        ],
        dns: Some(dns(true, at(2))),
        mailflow: Some(cutover::mailflow(&root, &req, now).unwrap()),
        quiet_hours: REQUIRED_QUIET_HOURS,
        has_quarantine: true,
        quarantine: None,
        profiles_exported_at: None,
        server_clone_confirmed_at: None,
    };

    // 20 hours after the last mail: waiting, with the time to check again.
    let c = checklist(&input(at(20)));
    assert!(!c.ready);
    let quiet = c
        .items
        .iter()
        .find(|i| i.id == ChecklistItemId::OldServerQuiet)
        .unwrap();
    assert_eq!(quiet.title, "No mail at the old server for 72 hours");
    assert_eq!(quiet.state, ItemState::NotYet);
    assert_eq!(
        quiet.detail,
        format!(
            "Quiet for 20 of 72 hours (last mail or refused attempt {}).",
            last.format("%Y-%m-%d %H:%M UTC")
        )
    );
    assert_eq!(
        quiet.todo.as_deref(),
        Some(
            format!(
                "Wait: check again after {}. Mail that arrives in the meantime is copied by a final sync.",
                at(72).format("%Y-%m-%d %H:%M UTC")
            )
            .as_str()
        )
    );
    let accounts = &c.items[0];
    assert_eq!(accounts.state, ItemState::NotYet);
    assert_eq!(
        accounts.detail,
        "1 of 2 accounts final-synced and verified. asmith@example.com: final sync not run yet."
    );
    assert_eq!(
        state_of(&c, ChecklistItemId::QuarantineArchived),
        ItemState::NotYet
    );
    assert_eq!(state_of(&c, ChecklistItemId::DnsAllNew), ItemState::Done);

    // DNS still old somewhere: the quiet time cannot count yet.
    let mut old_dns = input(at(80));
    old_dns.dns = Some(dns(false, at(79)));
    let c = checklist(&old_dns);
    assert_eq!(state_of(&c, ChecklistItemId::DnsAllNew), ItemState::NotYet);
    assert_eq!(
        state_of(&c, ChecklistItemId::OldServerQuiet),
        ItemState::Blocked
    );

    // A message missing on the new host blocks.
    let mut missing = input(at(80));
    missing.accounts[0].missing = 2;
    missing.accounts[0].verified = Some(false);
    let c = checklist(&missing);
    assert_eq!(c.items[0].state, ItemState::Blocked);
    assert!(
        c.items[0]
            .detail
            .contains("jane.doe@example.com: 2 messages not on the new host"),
        "{}",
        c.items[0].detail
    );

    // Everything done, 73 hours on: ready.
    let mut done = input(at(73));
    done.accounts[1].final_synced_at = Some(final_sync);
    done.accounts[1].verified = Some(true);
    done.quarantine = Some(quarantine.clone());
    done.profiles_exported_at = Some(at(3));
    done.server_clone_confirmed_at = Some(at(4));
    let c = checklist(&done);
    for item in &c.items {
        assert_eq!(item.state, ItemState::Done, "{item:?}");
        assert_eq!(item.todo, None);
    }
    assert!(c.ready);

    // Mail that reached the old store after an account's final sync: that account is not done.
    let late_name = format!("{}.M9P9.mail.example.com:2,", at(2).timestamp());
    let jdoe_inbox =
        root.join("Library/Server/Mail/Data/mail/3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23/new");
    std::fs::write(
        jdoe_inbox.join(&late_name),
        b"From: x@example.org\nSubject: late\n\nlate\n",
    )
    .unwrap();
    let mut late = done.clone();
    late.mailflow = Some(cutover::mailflow(&root, &req, at(73)).unwrap());
    assert_eq!(late.mailflow.as_ref().unwrap().late_arrivals.len(), 1);
    let c = checklist(&late);
    assert!(!c.ready);
    assert_eq!(c.items[0].state, ItemState::NotYet);
    assert!(
        c.items[0]
            .detail
            .contains("mail arrived at the old server after its final sync"),
        "{}",
        c.items[0].detail
    );

    // Someone still writes on the old server (a sent message): that account is not done either.
    std::fs::remove_file(jdoe_inbox.join(&late_name)).unwrap();
    let sent = root.join(
        "Library/Server/Mail/Data/mail/3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23/.Sent Messages/cur",
    );
    std::fs::write(
        sent.join(format!("{}.M8P8.mail.example.com:2,S", at(2).timestamp())),
        b"From: jane.doe@example.com\nSubject: sent late\n\nx\n",
    )
    .unwrap();
    let mut written = done.clone();
    written.mailflow = Some(cutover::mailflow(&root, &req, at(73)).unwrap());
    let flow = written.mailflow.as_ref().unwrap();
    assert_eq!(
        (flow.late_arrivals.len(), flow.written_since_cutover.len()),
        (0, 1)
    );
    let c = checklist(&written);
    assert_eq!(c.items[0].state, ItemState::NotYet, "{:?}", c.items[0]);
}

const EVIL: &str = "<script>alert('x')</script><img src=x onerror=alert(1)>";

fn evil_input() -> ReportInput {
    let at = Utc.with_ymd_and_hms(2026, 3, 2, 9, 30, 0).unwrap();
    let failure = FailedMessage {
        account: "jdoe => jane".into(),
        folder: format!("INBOX/{EVIL}"),
        uid: Some(7),
        key: "7".into(),
        size: 1234,
        subject: Some(EVIL.into()),
        date: Some("Tue, 1 Jan 2019 10:00:00 +0000".into()),
        class: Some(ErrorClass::Rejected),
        reason: format!("NO \"]]><iframe src=http://evil.example/> {EVIL}"),
        advice: ErrorClass::Rejected.advice().into(),
        can_resolve: vec![ResolutionKind::Wrapped, ResolutionKind::Mbox],
    };
    let resolved = ResolvedMessage {
        account: "jdoe => jane".into(),
        folder: "INBOX".into(),
        uid: Some(9),
        key: "9".into(),
        size: 99,
        subject: Some(format!("{EVIL} kept")),
        date: None,
        class: ErrorClass::Rejected,
        reason: "refused".into(),
        how: ResolutionKind::Wrapped,
        dest_folder: Some("INBOX".into()),
        dest_uid: Some(44),
        mbox_path: None,
        at: at.to_rfc3339(),
    };
    ReportInput {
        title: format!("</title>{EVIL}"),
        customer: Some(format!("Müller & Söhne {EVIL}")),
        prepared_by: Some("<b>consultant</b>".into()),
        generated_at: at,
        old_server: format!("mail.example.com{EVIL}"),
        destination: "Generic IMAP (imap.example.net)".into(),
        domains: vec![format!("example.com{EVIL}")],
        accounts: vec![ReportAccount {
            name: format!("jdoe{EVIL}"),
            destination: "jane@example.net".into(),
            included: true,
            source_messages: 12_480,
            source_bytes: 2_100_000_000,
            dest_messages: 12_479,
            dest_bytes: 2_099_000_000,
            missing: 1,
            folders: vec![FolderReview {
                sources: vec![format!("Archive{EVIL}")],
                dest: "Archive".into(),
                source_messages: 10,
                source_bytes: 1000,
                dest_messages: 10,
                dest_bytes: 1000,
                dest_matching: 10,
                ..Default::default()
            }],
            failures: vec![failure],
            resolved: vec![resolved],
            final_sync_at: Some(at),
            verified: false,
        }],
        phases: vec![PhaseTiming {
            phase: format!("Initial sync {EVIL}"),
            started_at: at - Duration::hours(5),
            finished_at: Some(at - Duration::hours(4)),
            result: EVIL.into(),
        }],
        cutover: CutoverDates {
            mx_switched_at: Some(at - Duration::hours(80)),
            ..Default::default()
        },
        checklist: None,
        notes: vec![format!("javascript:{EVIL}"), "url(http://x) @import".into()],
    }
}

/// Every tag name in the page.
fn tags(html: &str) -> Vec<String> {
    html.split('<')
        .skip(1)
        .map(|t| {
            t.trim_start_matches('/')
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '!')
                .collect::<String>()
                .to_ascii_lowercase()
        })
        .collect()
}

#[test]
fn final_report_is_escaped_and_self_contained() {
    let report = final_report(evil_input());
    assert_eq!(report.totals.included, 1);
    assert_eq!(report.totals.failed, 1);
    assert_eq!(report.totals.resolved_text, "1 delivered wrapped");
    let html = report.html();
    let allowed = [
        "!doctype", "html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "div",
        "span", "table", "tr", "th", "td", "ul", "li",
    ];
    for t in tags(&html) {
        assert!(
            allowed.contains(&t.as_str()),
            "unexpected tag <{t}> in {html}"
        );
    }
    // No external assets, nothing active, whatever the input said: escaped text holds no '<',
    // so every '<...>' is markup of the report's own; the style sheet loads nothing.
    for markup in html
        .split('<')
        .skip(1)
        .map(|t| t.split('>').next().unwrap_or(""))
    {
        for needle in ["src=", "href=", "onerror", "on", "http"] {
            let attr = markup
                .split_whitespace()
                .skip(1)
                .any(|a| a.starts_with(needle));
            assert!(!attr, "<{markup}> has {needle}");
        }
    }
    let style = html
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    for needle in ["url(", "@import", "http"] {
        assert!(!style.contains(needle), "{needle} in the style");
    }
    assert_eq!(html.matches("<style>").count(), 1);
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    // The texts are there, escaped.
    assert!(html.contains("<title>&lt;/title&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    assert!(html.contains("Müller &amp; Söhne"));
    assert!(html.contains("&lt;b&gt;consultant&lt;/b&gt;"));
    assert!(html.contains("12\u{202F}480"));
    assert!(html.contains("2.0 GiB"));
    assert!(html.contains("Delivered wrapped (the original attached) in INBOX"));
    assert!(html.contains("2026-03-02 09:30 UTC"));

    // The JSON holds the same facts, unescaped, and reads back.
    let json = report.json();
    let back: FinalReport = serde_json::from_str(&json).unwrap();
    assert_eq!(back.input.accounts, report.input.accounts);
    assert_eq!(back.totals, report.totals);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["accounts"][0]["failures"][0]["subject"], EVIL);
    assert_eq!(v["totals"]["resolved"]["wrapped"], 1);

    // Written as two files; a symbolic link at the name is refused.
    let tmp = tempfile::tempdir().unwrap();
    let html_path = tmp.path().join("final-report.html");
    let json_path = report.write(&html_path).unwrap();
    assert_eq!(json_path, tmp.path().join("final-report.json"));
    assert_eq!(std::fs::read_to_string(&html_path).unwrap(), html);
    assert_eq!(std::fs::read_to_string(&json_path).unwrap(), json);
    for path in [&html_path, &json_path] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", path.display());
    }
    let victim = tmp.path().join("victim");
    std::fs::write(&victim, "keep").unwrap();
    let link = tmp.path().join("linked.html");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let err = report.write(&link).unwrap_err();
    assert!(err.to_string().contains("linked.html"), "{err}");
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "keep");
}

#[test]
fn report_shows_the_checklist_verdict() {
    let mut input = evil_input();
    let now = input.generated_at;
    input.checklist = Some(checklist(&ChecklistInput {
        now,
        accounts: vec![],
        dns: None,
        mailflow: None,
        quiet_hours: REQUIRED_QUIET_HOURS,
        has_quarantine: false,
        quarantine: None,
        profiles_exported_at: None,
        server_clone_confirmed_at: Some(now),
    }));
    let html = final_report(input).html();
    assert!(html.contains(
        "<p class=\"verdict\">The old server should not be switched off yet: see the checklist.</p>"
    ));
    assert!(html.contains("<td class=\"blocked\">Blocked</td>"));
    assert!(html.contains("<td>The old server has no quarantine mailboxes.</td>"));
}
