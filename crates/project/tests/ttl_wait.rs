//! DNS prep's countdown: after the admin lowers the TTL, the MX switch waits for the old TTL,
//! the highest one the DNS checks saw before the switch (a check made after lowering must not
//! shorten the wait). Against a real DNS server on loopback.

#[path = "../../cutover/tests/common/mod.rs"]
mod dns_server;

use chrono::{DateTime, TimeZone, Utc};
use ferry_cutover::dns::DnsOptions;
use ferry_project::destination::PresetId;
use ferry_project::host::{FixedClock, ProjectHost};
use ferry_project::phases::{self, cutover, PhaseError};
use ferry_project::project::Project;
use ferry_project::store::{Source, SourceKind};
use ferry_vault::Vault;

struct Host {
    clock: FixedClock,
    dns: DnsOptions,
}

impl ProjectHost for Host {
    fn now(&self) -> DateTime<Utc> {
        self.clock.get()
    }
    fn vault(&self) -> Result<Box<dyn Vault>, String> {
        Err("no passwords in this test".into())
    }
    fn dns_options(&self) -> DnsOptions {
        self.dns.clone()
    }
}

#[tokio::test]
async fn the_wait_is_the_old_ttl_counted_from_the_lowering() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let dns = dns_server::TestDns::start().await;
    let lowered = Utc.with_ymd_and_hms(2026, 12, 4, 9, 0, 0).unwrap();
    let host = Host {
        clock: FixedClock::new(lowered - chrono::Duration::minutes(10)),
        dns: DnsOptions {
            resolvers: vec![dns.addr],
            timeout_ms: 2000,
        },
    };
    let mut project = Project::open(&tmp.path().join("migration.ferry")).unwrap();
    phases::discover::discover(
        &mut project,
        &host,
        Some(Source {
            kind: SourceKind::Copy,
            root: root.display().to_string(),
        }),
    )
    .unwrap();
    phases::destination::choose(
        &mut project,
        &host,
        &phases::destination::DestinationChoice {
            preset: PresetId::Fastmail,
            imap_host: None,
            imap_port: None,
            imap_security: None,
            smtp_host: None,
            pinned_sha256: None,
        },
    )
    .unwrap();

    // No check yet: Ferry cannot know the old TTL, and says what to do.
    match cutover::mark_ttl_lowered(&mut project, &host) {
        Err(PhaseError::NotReady(why)) => assert_eq!(
            why,
            "Check DNS first: Ferry needs the TTL the resolvers saw before you lowered it, to tell you how long to wait."
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(cutover::ttl_wait(&project).unwrap(), None);

    // Before: the MX at 2 h on one domain, its host's address at 1 h.
    dns.set_mx("example.com", 7200, &[(10, "mail.example.com")])
        .await;
    dns.set_mx("example.org", 600, &[(10, "mail.example.com")])
        .await;
    dns.set_a("mail.example.com", 3600, &["192.0.2.5"]).await;
    cutover::dns_check(&mut project, &host).await.unwrap();

    // Lowered to 300 s and checked again: the resolvers now say 300, the wait stays 2 h.
    dns.set_mx("example.com", 300, &[(10, "mail.example.com")])
        .await;
    dns.set_a("mail.example.com", 300, &["192.0.2.5"]).await;
    host.clock.set(lowered);
    let wait = cutover::mark_ttl_lowered(&mut project, &host).unwrap();
    assert_eq!(
        wait,
        cutover::TtlWait {
            lowered_at: lowered.timestamp(),
            old_ttl_secs: 7200,
            switch_after: lowered.timestamp() + 7200,
        }
    );
    host.clock.set(lowered + chrono::Duration::minutes(5));
    let report = cutover::dns_check(&mut project, &host).await.unwrap();
    let ttl = report.domains[0].ttl.as_ref().unwrap();
    assert_eq!(
        (report.domains[0].domain.as_str(), ttl.max_ttl),
        ("example.com", 300)
    );
    assert_eq!(cutover::ttl_wait(&project).unwrap(), Some(wait));
    assert_eq!(
        project.facts().unwrap().ttl_lowered_at,
        Some(lowered.timestamp())
    );

    // In words, before and after the wait.
    assert_eq!(
        cutover::ttl_wait_words(&wait, lowered.timestamp() + 47 * 60),
        "You lowered the TTL at 2026-12-04 09:00 UTC: resolvers may hold the old answer for its old TTL (2 h). Switch the MX records after 2026-12-04 11:00 UTC (in 1 h 13 min)."
    );
    assert_eq!(
        cutover::ttl_wait_words(&wait, wait.switch_after),
        "The old TTL (2 h) has passed since you lowered it at 2026-12-04 09:00 UTC: you can switch the MX records now."
    );

    // Lowered again later (a second lowering, say to 60 s): the count starts again from then,
    // still with the highest TTL seen before the switch.
    host.clock.set(lowered + chrono::Duration::hours(1));
    let again = cutover::mark_ttl_lowered(&mut project, &host).unwrap();
    assert_eq!(again.old_ttl_secs, 7200);
    assert_eq!(again.switch_after, lowered.timestamp() + 3600 + 7200);
}
