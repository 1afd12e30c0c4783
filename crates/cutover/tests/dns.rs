//! DNS checks against real DNS servers on loopback whose zones change mid-run: a whole cut-over
//! (before, TTL lowered, mixed between two resolvers, after) and SPF cases.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::TestDns;
use ferry_cutover::dns::{self, DnsOptions, HostSet, Points, Targets, WatchOptions};
use ferry_cutover::spf::SpfVerdict;

const OLD_IP: &str = "192.0.2.5";
const NEW_IP: &str = "198.51.100.10";

fn targets() -> Targets {
    Targets {
        old: HostSet {
            names: vec!["mail.example.com".into()],
            addresses: vec![OLD_IP.into()],
        },
        new: HostSet {
            names: vec!["mx.newhost.test".into()],
            addresses: vec![],
        },
        new_spf_includes: vec![],
    }
}

fn domains() -> Vec<String> {
    vec!["example.com".into(), "example.org".into()]
}

/// The old server's zone as it is before anything changes.
async fn old_zone(dns: &TestDns) {
    dns.set_mx("example.com", 3600, &[(10, "mail.example.com")])
        .await;
    dns.set_mx("example.org", 7200, &[(10, "mail.example.com")])
        .await;
    dns.set_a("mail.example.com", 3600, &[OLD_IP]).await;
    dns.set_a("mx.newhost.test", 300, &[NEW_IP]).await;
    dns.set_txt(
        "example.com",
        3600,
        &["v=spf1 mx include:_spf.isp.example ~all"],
    )
    .await;
    dns.set_txt(
        "_spf.isp.example",
        3600,
        &["v=spf1 ip4:203.0.113.0/24 -all"],
    )
    .await;
}

async fn switch(dns: &TestDns) {
    dns.set_mx("example.com", 300, &[(10, "mx.newhost.test")])
        .await;
    dns.set_mx("example.org", 300, &[(10, "mx.newhost.test")])
        .await;
}

fn options(servers: &[&TestDns]) -> DnsOptions {
    DnsOptions {
        resolvers: servers.iter().map(|s| s.addr).collect(),
        timeout_ms: 2000,
    }
}

#[tokio::test]
async fn follows_a_zone_through_a_whole_cutover() {
    let a = TestDns::start().await;
    let b = TestDns::start().await;
    for s in [&a, &b] {
        old_zone(s).await;
    }
    let opts = options(&[&a, &b]);
    let t = targets();

    // Before: everything points at the old server; TTLs are high; SPF does not allow the new host.
    let before = dns::check(&domains(), &opts, &t).await.unwrap();
    assert!(!before.all_new);
    let com = &before.domains[0];
    assert_eq!(com.domain, "example.com");
    assert_eq!(com.points, Points::Old);
    assert_eq!(com.answers.len(), 2);
    let mx = &com.answers[0].mx[0];
    assert_eq!(
        (mx.preference, mx.host.as_str(), mx.ttl),
        (10, "mail.example.com", 3600)
    );
    assert_eq!(mx.addresses[0].ip, OLD_IP);
    assert_eq!(mx.points, Points::Old);
    assert_eq!(com.still_old.len(), 2);
    let ttl = com.ttl.as_ref().unwrap();
    assert!(ttl.lower_first);
    assert_eq!((ttl.max_ttl, ttl.wait_secs), (3600, 3600));
    assert!(ttl.text.contains("1 h"), "{}", ttl.text);
    let org_ttl = before.domains[1].ttl.as_ref().unwrap();
    assert_eq!(org_ttl.wait_secs, 7200);
    assert_eq!(com.spf.verdict, SpfVerdict::DoesNotAllow, "{:?}", com.spf);
    assert!(com.spf.new_host_ips.contains(&NEW_IP.to_string()));
    assert!(before
        .warnings
        .iter()
        .any(|w| w.contains("SPF does not allow")));
    assert_eq!(before.domains[1].spf.verdict, SpfVerdict::NoRecord);

    // The admin lowers the TTLs and fixes SPF; Ferry sees it at once.
    for s in [&a, &b] {
        s.set_mx("example.com", 300, &[(10, "mail.example.com")])
            .await;
        s.set_mx("example.org", 300, &[(10, "mail.example.com")])
            .await;
        s.set_a("mail.example.com", 300, &[OLD_IP]).await;
        s.set_txt(
            "example.com",
            300,
            &["v=spf1 mx include:_spf.isp.example ip4:198.51.100.0/24 ~all"],
        )
        .await;
    }
    let lowered = dns::check(&domains(), &opts, &t).await.unwrap();
    let ttl = lowered.domains[0].ttl.as_ref().unwrap();
    assert!(!ttl.lower_first);
    assert_eq!(ttl.max_ttl, 300);
    assert_eq!(lowered.domains[0].spf.verdict, SpfVerdict::Allows);

    // Mixed: resolver A already answers the new MX, resolver B still the old one.
    switch(&a).await;
    let mixed = dns::check(&domains(), &opts, &t).await.unwrap();
    assert!(!mixed.all_new);
    for d in &mixed.domains {
        assert_eq!(d.points, Points::Both, "{}", d.domain);
        assert_eq!(d.answers[0].points, Points::New);
        assert_eq!(d.answers[1].points, Points::Old);
        assert_eq!(d.still_old, vec![b.addr.to_string()]);
    }

    // During: watch until every resolver answers the new MX; B switches while Ferry watches.
    let rounds = Arc::new(AtomicUsize::new(0));
    let seen = rounds.clone();
    let b_addr = b.addr.to_string();
    let b = Arc::new(b);
    let b2 = b.clone();
    let switcher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        switch(&b2).await;
    });
    let watch = WatchOptions {
        interval: Duration::from_millis(200),
        max_wait: Duration::from_secs(20),
    };
    let mut old_seen_during_watch = false;
    let after = dns::watch(&domains(), &opts, &t, &watch, |r| {
        seen.fetch_add(1, Ordering::SeqCst);
        if dns::still_old(r).iter().any(|(_, rs)| rs.contains(&b_addr)) {
            old_seen_during_watch = true;
        }
    })
    .await
    .unwrap();
    switcher.await.unwrap();
    assert!(after.all_new);
    assert!(
        old_seen_during_watch,
        "the watch reported resolver B on the old MX first"
    );
    assert!(rounds.load(Ordering::SeqCst) >= 2);
    for d in &after.domains {
        assert_eq!(d.points, Points::New);
        assert!(d.still_old.is_empty());
        assert!(d.answers.iter().all(|a| a.mx[0].host == "mx.newhost.test"));
    }
}

#[tokio::test]
async fn mx_pointing_at_both_and_unreachable_resolver() {
    let a = TestDns::start().await;
    old_zone(&a).await;
    a.set_mx(
        "example.com",
        300,
        &[(10, "mail.example.com"), (20, "mx.newhost.test")],
    )
    .await;
    let t = targets();
    let r = dns::check(&["example.com".into()], &options(&[&a]), &t)
        .await
        .unwrap();
    assert_eq!(r.domains[0].points, Points::Both);
    let mx = &r.domains[0].answers[0].mx;
    assert_eq!(mx.len(), 2);
    assert_eq!((mx[0].preference, mx[0].points), (10, Points::Old));
    assert_eq!((mx[1].preference, mx[1].points), (20, Points::New));

    // A domain without MX.
    let none = dns::check(&["nomx.example".into()], &options(&[&a]), &t)
        .await
        .unwrap();
    assert_eq!(
        none.domains[0].points,
        Points::NoMx,
        "{:?}",
        none.domains[0]
    );

    // A resolver that does not answer (a bound UDP port with nobody reading).
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let opts = DnsOptions {
        resolvers: vec![a.addr, silent.local_addr().unwrap()],
        timeout_ms: 300,
    };
    let r = dns::check(&["example.com".into()], &opts, &t)
        .await
        .unwrap();
    assert_eq!(r.domains[0].answers[1].points, Points::Failed);
    assert!(r.domains[0].answers[1].error.is_some());
    assert_eq!(r.domains[0].points, Points::Failed);
    assert!(!r.all_new);
}

#[tokio::test]
async fn spf_cases() {
    let s = TestDns::start().await;
    old_zone(&s).await;
    s.set_a("out.newhost.test", 300, &[NEW_IP]).await;
    let t = targets();
    let opts = options(&[&s]);
    let spf = |domain: &'static str| {
        let t = t.clone();
        let opts = opts.clone();
        async move {
            dns::check(&[domain.to_string()], &opts, &t)
                .await
                .unwrap()
                .domains
                .remove(0)
                .spf
        }
    };

    // One include deep, then a.
    s.set_txt("one.example", 300, &["v=spf1 include:two.example -all"])
        .await;
    s.set_txt("two.example", 300, &["v=spf1 a:out.newhost.test -all"])
        .await;
    assert_eq!(spf("one.example").await.verdict, SpfVerdict::Allows);

    // mx of another domain that points at the new host.
    s.set_mx("newmx.example", 300, &[(10, "mx.newhost.test")])
        .await;
    s.set_txt("mx.example", 300, &["v=spf1 mx:newmx.example -all"])
        .await;
    assert_eq!(spf("mx.example").await.verdict, SpfVerdict::Allows);

    // redirect to a record that fails.
    s.set_txt("redir.example", 300, &["v=spf1 redirect=_spf.isp.example"])
        .await;
    let r = spf("redir.example").await;
    assert_eq!(r.verdict, SpfVerdict::DoesNotAllow);
    assert!(r.detail.contains("fail"), "{}", r.detail);

    // A network that covers the new host, but with a fail qualifier.
    s.set_txt("deny.example", 300, &["v=spf1 -ip4:198.51.100.0/24 +all"])
        .await;
    assert_eq!(spf("deny.example").await.verdict, SpfVerdict::DoesNotAllow);

    // Macros and exists: Ferry says it cannot decide.
    s.set_txt(
        "macro.example",
        300,
        &["v=spf1 exists:%{i}.spf.example -all"],
    )
    .await;
    let m = spf("macro.example").await;
    assert_eq!(m.verdict, SpfVerdict::Undecided);
    assert!(m.warning.is_some());

    // An include whose domain has no SPF record: cannot decide.
    s.set_txt(
        "broken.example",
        300,
        &["v=spf1 include:missing.example -all"],
    )
    .await;
    assert_eq!(spf("broken.example").await.verdict, SpfVerdict::Undecided);

    // Two records: invalid.
    s.set_txt("two-records.example", 300, &["v=spf1 -all", "v=spf1 +all"])
        .await;
    assert_eq!(
        spf("two-records.example").await.verdict,
        SpfVerdict::Invalid
    );

    // The provider's include stands for the new host.
    s.set_txt(
        "google.example",
        300,
        &["v=spf1 include:_spf.google.example ~all"],
    )
    .await;
    let mut with_include = t.clone();
    with_include.new_spf_includes = vec!["_spf.google.example".into()];
    let r = dns::check(&["google.example".into()], &opts, &with_include)
        .await
        .unwrap();
    assert_eq!(r.domains[0].spf.verdict, SpfVerdict::Allows);
}
