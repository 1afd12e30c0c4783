//! DNS checks against real DNS servers on loopback whose zones change mid-run: a whole cut-over
//! (before, TTL lowered, mixed between two resolvers, after), SPF cases, resolvers that fail
//! (SERVFAIL, REFUSED) or do not answer, TTL advice through the switch, and invalid input.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestDns;
use ferry_cutover::dns::{
    self, DnsOptions, HostSet, Points, ResolverStatus, SwitchStage, Targets, WatchOptions,
};
use ferry_cutover::spf::SpfVerdict;
use hickory_proto::op::ResponseCode;

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
        let ttl = d.ttl.as_ref().unwrap();
        assert_eq!((ttl.stage, ttl.lower_first), (SwitchStage::UnderWay, false));
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
        assert_eq!(d.ttl.as_ref().unwrap().stage, SwitchStage::Done);
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
    let silent_answer = &r.domains[0].answers[1];
    assert_eq!(silent_answer.points, Points::Failed);
    assert_eq!(silent_answer.status, ResolverStatus::NoAnswer);
    assert_eq!(
        silent_answer.error.as_deref(),
        Some("no answer within 300 ms to MX example.com")
    );
    // What the resolver that answered says stands; the silent one is named, not counted.
    assert_eq!(r.domains[0].points, Points::Both);
    assert_eq!(
        r.domains[0].failed,
        vec![silent.local_addr().unwrap().to_string()]
    );
    assert!(!r.all_new);
}

/// A resolver answering SERVFAIL or REFUSED is that resolver's status ("failed", with the reason),
/// never "no MX"; SPF is read from a resolver that answers, and "cannot decide" when none does.
#[tokio::test]
async fn a_failing_resolver_is_its_own_status_not_no_mx() {
    for (code, words) in [
        (
            ResponseCode::ServFail,
            "SERVFAIL (the resolver could not get an answer)",
        ),
        (
            ResponseCode::Refused,
            "REFUSED (the resolver will not answer this client)",
        ),
    ] {
        let good = TestDns::start().await;
        let bad = TestDns::start().await;
        for s in [&good, &bad] {
            old_zone(s).await;
        }
        bad.fail_with(Some(code));
        let t = targets();
        // The failing resolver first: SPF must still come from the one that answers.
        let r = dns::check(&domains(), &options(&[&bad, &good]), &t)
            .await
            .unwrap();
        let com = &r.domains[0];
        let failed = &com.answers[0];
        assert_eq!(failed.resolver, bad.addr.to_string());
        assert_eq!(failed.status, ResolverStatus::Failed, "{words}");
        assert_eq!(failed.points, Points::Failed);
        assert_eq!(
            failed.error.as_deref(),
            Some(format!("answered {words} to MX example.com").as_str())
        );
        assert!(failed.mx.is_empty());
        assert_eq!(com.answers[1].status, ResolverStatus::Answered);
        assert_eq!(com.points, Points::Old);
        assert_eq!(com.failed, vec![bad.addr.to_string()]);
        assert_eq!(com.still_old, vec![good.addr.to_string()]);
        assert_eq!(com.spf.verdict, SpfVerdict::DoesNotAllow, "{:?}", com.spf);
        assert_eq!(com.spf.resolver, Some(good.addr.to_string()));
        assert!(
            r.warnings.contains(&format!(
                "example.com: resolver {} failed: answered {words} to MX example.com; it does not count as answering the new host",
                bad.addr
            )),
            "{:?}",
            r.warnings
        );

        // The failing resolver alone: not "no MX", and SPF not "no record" (example.org has none).
        let alone = dns::check(&["example.org".into()], &options(&[&bad]), &t)
            .await
            .unwrap();
        let org = &alone.domains[0];
        assert_eq!(org.points, Points::Failed);
        assert_eq!(org.answers[0].status, ResolverStatus::Failed);
        assert_eq!(org.spf.verdict, SpfVerdict::Undecided);
        assert_eq!(
            org.spf.detail,
            format!(
                "cannot read the SPF record: resolver {}: answered {words} to TXT example.org",
                bad.addr
            )
        );
        assert_eq!(org.spf.resolver, None);
        assert!(org.ttl.is_none());
        assert!(!alone.all_new);
    }
}

/// An MX host whose address lookup fails is not "a host without addresses": the new host's name
/// alone must not make the domain "new" while the resolver cannot say where it points.
#[tokio::test]
async fn a_failing_address_lookup_is_not_read_as_no_address() {
    let s = TestDns::start().await;
    old_zone(&s).await;
    switch(&s).await;
    s.fail_name("mx.newhost.test", ResponseCode::ServFail);
    let r = dns::check(&["example.com".into()], &options(&[&s]), &targets())
        .await
        .unwrap();
    let answer = &r.domains[0].answers[0];
    assert_eq!(answer.status, ResolverStatus::Failed);
    assert_eq!(answer.mx[0].host, "mx.newhost.test");
    assert_eq!(
        answer.mx[0].error.as_deref(),
        Some("answered SERVFAIL (the resolver could not get an answer) to A mx.newhost.test")
    );
    assert_eq!(r.domains[0].points, Points::Failed);
    assert!(!r.all_new);
}

/// An include that fails on the first resolver is read from the next one; on the only resolver
/// it is "cannot decide", naming the failed lookup.
#[tokio::test]
async fn spf_is_read_from_any_resolver_that_answers() {
    let first = TestDns::start().await;
    let second = TestDns::start().await;
    for s in [&first, &second] {
        old_zone(s).await;
    }
    first.fail_name("_spf.isp.example", ResponseCode::ServFail);
    let t = targets();
    let both = dns::check(&["example.com".into()], &options(&[&first, &second]), &t)
        .await
        .unwrap();
    let spf = &both.domains[0].spf;
    assert_eq!(spf.verdict, SpfVerdict::DoesNotAllow, "{spf:?}");
    assert_eq!(spf.resolver, Some(second.addr.to_string()));

    let only = dns::check(&["example.com".into()], &options(&[&first]), &t)
        .await
        .unwrap();
    let spf = &only.domains[0].spf;
    assert_eq!(spf.verdict, SpfVerdict::Undecided);
    assert_eq!(
        spf.detail,
        format!(
            "cannot read the SPF record: resolver {}: answered SERVFAIL (the resolver could not get an answer) to TXT _spf.isp.example",
            first.addr
        )
    );
}

/// A resolver that is down (a bound port nobody reads, a closed port) costs one timeout per
/// check, not several per lookup, and SPF comes from the resolver that answers.
#[tokio::test]
async fn a_silent_resolver_costs_one_timeout_per_check() {
    let a = TestDns::start().await;
    old_zone(&a).await;
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let closed = std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = silent.local_addr().unwrap();
    let opts = DnsOptions {
        resolvers: vec![silent, closed, a.addr],
        timeout_ms: 1000,
    };
    let started = Instant::now();
    let r = dns::check(&domains(), &opts, &targets()).await.unwrap();
    let took = started.elapsed();
    eprintln!("a check of 2 domains with 2 dead resolvers first took {took:?}");
    assert!(
        took < Duration::from_millis(1800),
        "one timeout per check, not one per lookup: {took:?}"
    );
    for d in &r.domains {
        assert_eq!(
            d.answers[0].status,
            ResolverStatus::NoAnswer,
            "{}",
            d.domain
        );
        assert_eq!(
            d.answers[1].status,
            ResolverStatus::NoAnswer,
            "{}",
            d.domain
        );
        assert_eq!(
            d.answers[2].status,
            ResolverStatus::Answered,
            "{}",
            d.domain
        );
        assert_eq!(d.failed, vec![silent.to_string(), closed.to_string()]);
        assert_eq!(d.points, Points::Old);
    }
    // Asked once (for the first domain's MX), then skipped with the same reason.
    for d in &r.domains {
        assert_eq!(
            d.answers[0].error.as_deref(),
            Some("no answer within 1 s to MX example.com")
        );
    }
    assert_eq!(r.domains[0].spf.verdict, SpfVerdict::DoesNotAllow);
    assert_eq!(r.domains[0].spf.resolver, Some(a.addr.to_string()));
    assert_eq!(r.domains[1].spf.verdict, SpfVerdict::NoRecord);
    let silent_warnings = r
        .warnings
        .iter()
        .filter(|w| w.starts_with(&format!("resolver {silent} did not answer")))
        .count();
    assert_eq!(silent_warnings, 1, "{:?}", r.warnings);
}

/// `watch` with a silent resolver first ends within max_wait plus one timeout, and names the
/// silent resolver in every round.
#[tokio::test]
async fn a_watch_with_a_silent_resolver_ends_within_max_wait() {
    let a = TestDns::start().await;
    old_zone(&a).await;
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = silent.local_addr().unwrap();
    let opts = DnsOptions {
        resolvers: vec![silent, a.addr],
        timeout_ms: 1000,
    };
    let watch = WatchOptions {
        interval: Duration::from_secs(1),
        max_wait: Duration::from_secs(4),
    };
    let mut rounds = 0;
    let started = Instant::now();
    let last = dns::watch(&domains(), &opts, &targets(), &watch, |r| {
        rounds += 1;
        for d in &r.domains {
            assert_eq!(d.failed, vec![silent.to_string()]);
        }
    })
    .await
    .unwrap();
    let took = started.elapsed();
    eprintln!("watch --max-wait 4 with a silent resolver first: {rounds} rounds, {took:?}");
    assert!(!last.all_new);
    assert!(took >= Duration::from_secs(4), "{took:?}");
    assert!(
        took < Duration::from_millis(4000 + 1000 + 800),
        "max_wait + one timeout: {took:?}"
    );
    assert!(rounds >= 2);
}

/// A failed resolver does not count as new: the watch keeps asking it, names it in each round,
/// and ends (not all new) at max_wait; once it answers the new MX, the watch ends at once.
#[tokio::test]
async fn a_watch_names_a_failing_resolver_and_does_not_count_it_as_new() {
    let a = TestDns::start().await;
    let b = TestDns::start().await;
    for s in [&a, &b] {
        old_zone(s).await;
    }
    switch(&a).await;
    b.fail_with(Some(ResponseCode::ServFail));
    let opts = options(&[&a, &b]);
    let watch = WatchOptions {
        interval: Duration::from_millis(200),
        max_wait: Duration::from_secs(1),
    };
    let mut rounds = 0;
    let last = dns::watch(&domains(), &opts, &targets(), &watch, |r| {
        rounds += 1;
        assert!(!r.all_new);
        for d in &r.domains {
            assert_eq!(d.points, Points::Unknown, "{}", d.domain);
            assert_eq!(d.failed, vec![b.addr.to_string()]);
            assert!(d.still_old.is_empty());
        }
    })
    .await
    .unwrap();
    assert!(!last.all_new);
    assert!(rounds >= 3, "{rounds}");

    b.fail_with(None);
    switch(&b).await;
    let done = dns::watch(&domains(), &opts, &targets(), &watch, |_| {})
        .await
        .unwrap();
    assert!(done.all_new);
    assert!(done.domains.iter().all(|d| d.failed.is_empty()));
}

/// The TTL advice follows the switch: lower first before it, wait for the rest during it, nothing
/// to lower after it.
#[tokio::test]
async fn ttl_advice_follows_the_switch() {
    let a = TestDns::start().await;
    let b = TestDns::start().await;
    for s in [&a, &b] {
        old_zone(s).await;
    }
    let opts = options(&[&a, &b]);
    let t = targets();

    let before = dns::check(&domains(), &opts, &t).await.unwrap();
    let ttl = before.domains[0].ttl.clone().unwrap();
    assert_eq!(
        (ttl.stage, ttl.lower_first, ttl.wait_secs),
        (SwitchStage::Before, true, 3600)
    );
    assert_eq!(
        ttl.text,
        "Lower the TTL of the MX record and of its hosts' A/AAAA records from 1 h to 300 s now, then wait the old TTL (1 h) before switching the MX, so that no resolver still holds the old value for long."
    );

    // A switched without lowering first; B still holds the old MX (TTL 1 h, 2 h for .org).
    switch(&a).await;
    let mixed = dns::check(&domains(), &opts, &t).await.unwrap();
    let com = mixed.domains[0].ttl.clone().unwrap();
    assert_eq!(
        (com.stage, com.lower_first, com.wait_secs, com.max_ttl),
        (SwitchStage::UnderWay, false, 3600, 3600)
    );
    assert_eq!(
        com.text,
        "The switch is under way: some resolvers already answer the new MX; wait up to 1 h (the old TTL) for the rest."
    );
    let org = mixed.domains[1].ttl.clone().unwrap();
    assert_eq!((org.stage, org.wait_secs), (SwitchStage::UnderWay, 7200));
    assert!(org.text.contains("wait up to 2 h"), "{}", org.text);

    switch(&b).await;
    let after = dns::check(&domains(), &opts, &t).await.unwrap();
    for d in &after.domains {
        let ttl = d.ttl.clone().unwrap();
        assert_eq!(
            (ttl.stage, ttl.lower_first, ttl.wait_secs),
            (SwitchStage::Done, false, 0)
        );
        assert_eq!(
            ttl.text,
            "Every resolver answers the new MX: no TTL needs lowering."
        );
    }
}

/// Invalid names and addresses are refused before any query (a silent resolver would cost a
/// timeout), naming the value and what it was given as.
#[tokio::test]
async fn invalid_names_and_addresses_are_refused_before_any_query() {
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let opts = DnsOptions {
        resolvers: vec![silent.local_addr().unwrap()],
        timeout_ms: 3000,
    };
    let with_new_name = |name: &str| {
        let mut t = targets();
        t.new.names = vec![name.into()];
        t
    };
    let cases: Vec<(Vec<String>, Targets, &str)> = vec![
        (
            domains(),
            with_new_name("mx..newhost.test"),
            "'mx..newhost.test', given as the new host's name, is not a valid host name: it has two dots in a row (for example mail.example.net)",
        ),
        (
            domains(),
            with_new_name("https://mx.newhost.test/"),
            "'https://mx.newhost.test/', given as the new host's name, is not a valid host name: it looks like a web address; give the name alone, without a scheme such as 'https://' or a path (for example mail.example.net)",
        ),
        (
            domains(),
            {
                let mut t = targets();
                t.new.addresses = vec!["198.51.100".into()];
                t
            },
            "'198.51.100', given as an address of the new host, is not an IP address; give an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10",
        ),
        (
            domains(),
            {
                let mut t = targets();
                t.old.addresses = vec!["old-server".into()];
                t
            },
            "'old-server', given as an address of the old server, is not an IP address; give an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10",
        ),
        (
            domains(),
            {
                let mut t = targets();
                t.new_spf_includes = vec!["_spf..google.com".into()];
                t
            },
            "'_spf..google.com', given as an SPF include of the new host, is not a valid host name: it has two dots in a row (for example mail.example.net)",
        ),
        (
            vec!["example..com".into()],
            targets(),
            "'example..com' is not a valid domain name: it has two dots in a row (for example mail.example.net)",
        ),
    ];
    for (domains, targets, message) in cases {
        let started = Instant::now();
        let err = dns::check(&domains, &opts, &targets).await.unwrap_err();
        assert_eq!(err.to_string(), message);
        assert!(started.elapsed() < Duration::from_millis(500));
    }
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

    // A prefix length that is not one is a permanent error, not /32 (which would match).
    s.set_txt("cidr.example", 300, &["v=spf1 a:out.newhost.test/33 -all"])
        .await;
    let bad_cidr = spf("cidr.example").await;
    assert_eq!(bad_cidr.verdict, SpfVerdict::Undecided, "{bad_cidr:?}");
    assert_eq!(
        bad_cidr.detail,
        "198.51.100.10: cannot parse the prefix length in 'a:out.newhost.test/33' (permerror)"
    );

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
