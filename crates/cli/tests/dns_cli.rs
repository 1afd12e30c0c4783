//! `ferry dns` against real DNS servers on loopback (hickory-server in this process): invalid
//! names and addresses refused naming the value, a missing root said once, text in words that
//! names failing resolvers, watch progress that names the resolvers still old or failing, and a
//! watch with a dead resolver first that ends within --max-wait plus one timeout.

#[path = "../../cutover/tests/common/mod.rs"]
mod dns_server;

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use dns_server::TestDns;
use hickory_proto::op::ResponseCode;

const OLD_IP: &str = "192.0.2.5";
const NEW_IP: &str = "198.51.100.10";

fn ferry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run ferry")
}

fn shown(out: &Output) -> String {
    format!(
        "status {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The zone of the fixture's domains (example.com, example.org; the old server is
/// mail.example.com) before anything changes.
async fn old_zone(dns: &TestDns) {
    dns.set_mx("example.com", 3600, &[(10, "mail.example.com")])
        .await;
    dns.set_mx("example.org", 3600, &[(10, "mail.example.com")])
        .await;
    dns.set_a("mail.example.com", 3600, &[OLD_IP]).await;
    dns.set_a("mx.newhost.test", 300, &[NEW_IP]).await;
    dns.set_txt("example.com", 3600, &["v=spf1 mx -all"]).await;
}

async fn switch(dns: &TestDns) {
    for domain in ["example.com", "example.org"] {
        dns.set_mx(domain, 300, &[(10, "mx.newhost.test")]).await;
    }
}

fn dns_args<'a>(root: &'a str, resolvers: &'a [String]) -> Vec<&'a str> {
    let mut args = vec!["dns", "--root", root, "--new-host", "mx.newhost.test"];
    for r in resolvers {
        args.extend(["--resolver", r.as_str()]);
    }
    args
}

fn fixture(tmp: &Path) -> String {
    ferry_testkit::materialize_fixture(tmp)
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn invalid_names_and_addresses_are_refused_naming_the_value() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture(tmp.path());
    // A silent resolver: were anything asked, the command would wait for it.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent = silent.local_addr().unwrap().to_string();
    let base = [
        "dns",
        "--root",
        root.as_str(),
        "--resolver",
        silent.as_str(),
    ];
    for (flag, value, message) in [
        (
            "--new-host",
            "mx..newhost.test",
            "'mx..newhost.test', given as the new host's name, is not a valid host name: it has two dots in a row (for example mail.example.net)",
        ),
        (
            "--new-host",
            "https://mx.newhost.test/",
            "'https://mx.newhost.test/', given as the new host's name, is not a valid host name: it looks like a web address; give the name alone, without a scheme such as 'https://' or a path (for example mail.example.net)",
        ),
        (
            "--new-ip",
            "198.51.100.300",
            "'198.51.100.300', given as an address of the new host, is not an IP address; give an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10",
        ),
        (
            "--old-ip",
            "mail.example.com",
            "'mail.example.com', given as an address of the old server, is not an IP address; give an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10",
        ),
        (
            "--spf-include",
            "include:_spf.google.com",
            "'include:_spf.google.com', given as an SPF include of the new host, is not a valid host name: ':' cannot appear in a DNS name; give the name alone (for example mail.example.net)",
        ),
        (
            "--domain",
            "example .com",
            "'example .com' is not a valid domain name: ' ' cannot appear in a DNS name; give the name alone (for example mail.example.net)",
        ),
    ] {
        let started = Instant::now();
        let out = ferry(&[&base[..], &[flag, value]].concat());
        assert_eq!(out.status.code(), Some(1), "{flag} {value}: {}", shown(&out));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr),
            format!("ferry: {message}\n"),
            "{flag} {value}"
        );
        assert!(out.stdout.is_empty(), "{}", shown(&out));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "refused before any query"
        );
    }
}

#[test]
fn a_missing_root_is_said_once_in_words() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("no-such-server");
    let out = ferry(&["dns", "--root", missing.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", shown(&out));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "ferry: cannot read the old server's root folder {}: it does not exist. Give the folder that holds the old server (or a copy of it) with --root; on the server itself, run as root with --root /\n",
            missing.display()
        )
    );
}

/// The text names each resolver's state in words, a failing resolver with its reason, and SPF
/// as a sentence (no Rust names), read from the resolver that answers.
#[tokio::test(flavor = "multi_thread")]
async fn text_in_words_names_a_failing_resolver() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture(tmp.path());
    let good = TestDns::start().await;
    let bad = TestDns::start().await;
    for s in [&good, &bad] {
        old_zone(s).await;
    }
    bad.fail_with(Some(ResponseCode::ServFail));
    let resolvers = [bad.addr.to_string(), good.addr.to_string()];
    let out = ferry(&dns_args(&root, &resolvers));
    assert_eq!(out.status.code(), Some(0), "{}", shown(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    let (bad, good) = (&resolvers[0], &resolvers[1]);
    for expected in [
        "example.com: old server".to_string(),
        format!("  resolver {bad}: failed: answered SERVFAIL (the resolver could not get an answer) to MX example.com"),
        format!("  resolver {good}: old server"),
        "    MX 10 mail.example.com TTL 3600 -> 192.0.2.5 [old server]".to_string(),
        format!("  still answering the old server: {good}"),
        format!("  failed or did not answer (not counted as new): {bad}"),
        format!("  SPF: SPF does not allow the new host to send for this domain (read from {good})"),
        "    record: v=spf1 mx -all".to_string(),
        format!("  SPF: the domain publishes no SPF record (read from {good})"),
        format!("warning: example.org: resolver {bad} failed: answered SERVFAIL (the resolver could not get an answer) to MX example.org; it does not count as answering the new host"),
        "Not every resolver answers the new host yet.".to_string(),
    ] {
        assert!(lines.contains(&expected.as_str()), "missing line {expected:?} in\n{text}");
    }
    for rust_name in [
        "DoesNotAllow",
        "NoRecord",
        "Undecided",
        "NoMx",
        "NoAnswer",
        "Some(",
        "None",
    ] {
        assert!(!text.contains(rust_name), "{rust_name} in\n{text}");
    }
}

/// Each round of --watch names the resolvers that still answer the old MX and the ones that
/// failed (asked again, not counted as new); the watch gives up with exit 2.
#[tokio::test(flavor = "multi_thread")]
async fn watch_progress_names_the_resolvers_still_old_and_failing() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture(tmp.path());
    let switched = TestDns::start().await;
    let old = TestDns::start().await;
    let failing = TestDns::start().await;
    for s in [&switched, &old, &failing] {
        old_zone(s).await;
    }
    switch(&switched).await;
    failing.fail_with(Some(ResponseCode::Refused));
    let resolvers = [
        switched.addr.to_string(),
        old.addr.to_string(),
        failing.addr.to_string(),
    ];
    let mut args = dns_args(&root, &resolvers);
    args.extend(["--watch", "--interval", "1", "--max-wait", "1"]);
    let out = ferry(&args);
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    // The switch is under way: the TTL advice says to wait for the rest, not to lower first.
    let report = String::from_utf8_lossy(&out.stdout);
    let ttl_lines: Vec<&str> = report
        .lines()
        .filter(|l| l.starts_with("  TTL: "))
        .collect();
    assert_eq!(
        ttl_lines,
        ["  TTL: The switch is under way: some resolvers already answer the new MX; wait up to 1 h (the old TTL) for the rest."; 2],
        "\n{report}"
    );
    let progress = String::from_utf8_lossy(&out.stderr);
    // "HH:MM:SS: " then the words.
    let rounds: Vec<&str> = progress.lines().map(|l| &l[10..]).collect();
    let (old, failing) = (&resolvers[1], &resolvers[2]);
    let expected: Vec<String> = ["example.com", "example.org"]
        .iter()
        .map(|d| format!("waiting for {d}: old MX still on {old}; {failing} failed: answered REFUSED (the resolver will not answer this client) to MX {d} (not counted as new; asked again next round)"))
        .collect();
    assert_eq!(rounds.len(), 4, "two rounds of two domains:\n{progress}");
    for round in rounds.chunks(2) {
        assert_eq!(round, expected, "\n{progress}");
    }
}

/// A dead resolver first in the list: the watch ends within --max-wait plus one timeout (one
/// timeout per round, not three per lookup), each round names the dead resolver, and SPF still
/// comes from the resolver that answers.
#[tokio::test(flavor = "multi_thread")]
async fn watch_with_a_dead_resolver_first_ends_within_max_wait() {
    let tmp = tempfile::tempdir().unwrap();
    let root = fixture(tmp.path());
    let live = TestDns::start().await;
    old_zone(&live).await;
    let dead = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let dead: SocketAddr = dead.local_addr().unwrap();
    let resolvers = [dead.to_string(), live.addr.to_string()];
    let mut args = dns_args(&root, &resolvers);
    args.extend([
        "--watch",
        "--interval",
        "1",
        "--max-wait",
        "4",
        "--timeout",
        "1",
    ]);
    let started = Instant::now();
    let out = ferry(&args);
    let took = started.elapsed();
    eprintln!("ferry dns --watch --max-wait 4 --timeout 1, dead resolver first: {took:?}");
    assert_eq!(out.status.code(), Some(2), "{}", shown(&out));
    assert!(took >= Duration::from_secs(4), "{took:?}");
    assert!(
        took < Duration::from_millis(4000 + 1000 + 1500),
        "max-wait + one timeout (+ start-up): {took:?}"
    );
    let (dead, live) = (&resolvers[0], &resolvers[1]);
    let progress = String::from_utf8_lossy(&out.stderr);
    let rounds: Vec<&str> = progress.lines().map(|l| &l[10..]).collect();
    // Asked once per round (for the first domain's MX), then skipped with that reason.
    let expected: Vec<String> = ["example.com", "example.org"]
        .iter()
        .map(|d| format!("waiting for {d}: old MX still on {live}; {dead} no answer within 1 s to MX example.com (not counted as new; asked again next round)"))
        .collect();
    assert!(rounds.len() >= 4, "\n{progress}");
    for round in rounds.chunks(2) {
        assert_eq!(round, expected, "\n{progress}");
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<&str> = text.lines().collect();
    for expected in [
        format!("  resolver {dead}: no answer within 1 s to MX example.com"),
        format!("  failed or did not answer (not counted as new): {dead}"),
        format!(
            "  SPF: SPF does not allow the new host to send for this domain (read from {live})"
        ),
    ] {
        assert!(
            lines.contains(&expected.as_str()),
            "missing line {expected:?} in\n{text}"
        );
    }
}
