//! SPF (RFC 7208) as far as the cut-over needs it: does the domain's `v=spf1` record allow the new
//! host to send for it? Evaluates `ip4`, `ip6`, `a`, `mx`, `include`, `redirect` and `all`
//! recursively within the RFC's limit of 10 DNS lookups, and says "cannot decide" (with the reason)
//! for macros, `exists`, `ptr` and DNS failures instead of guessing. A resolver that fails is never
//! read as "no record": the caller asks the next resolver, and says "cannot decide" when none answers.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::dns::{normalize, Client, LookupFailure, Targets};

/// RFC 7208 4.6.4.
const MAX_LOOKUPS: u32 = 10;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SpfVerdict {
    /// The record gives `pass` to the new host.
    Allows,
    /// The record ends in fail / softfail / neutral for the new host.
    DoesNotAllow,
    /// Ferry cannot decide (see `detail`).
    Undecided,
    /// The domain publishes no SPF record.
    NoRecord,
    /// More than one `v=spf1` record, or a syntax error: receivers treat it as a permanent error.
    Invalid,
}

impl SpfVerdict {
    /// The verdict as a sentence, for people.
    pub fn describe(self) -> &'static str {
        match self {
            SpfVerdict::Allows => "SPF allows the new host to send for this domain",
            SpfVerdict::DoesNotAllow => "SPF does not allow the new host to send for this domain",
            SpfVerdict::Undecided => "Ferry cannot decide whether SPF allows the new host",
            SpfVerdict::NoRecord => "the domain publishes no SPF record",
            SpfVerdict::Invalid => "the SPF record is invalid (receivers treat it as an error)",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SpfCheck {
    pub record: Option<String>,
    pub verdict: SpfVerdict,
    pub detail: String,
    /// Set when the admin should change something before the switch.
    pub warning: Option<String>,
    /// The addresses of the new host that were tested.
    pub new_host_ips: Vec<String>,
    /// The resolver the record was read from (`None` when no resolver answered).
    pub resolver: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Eval {
    /// A mechanism matched; its qualifier ('+', '-', '~', '?').
    Matched(char, String),
    NoMatch,
    Undecided(String),
    /// A lookup failed on this resolver: another resolver may answer.
    DnsFailed(String),
}

type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What is being tested: one address of the new host, or (without an address) whether the record
/// includes one of the new host's SPF include domains.
#[derive(Clone, Copy)]
struct Probe<'a> {
    ip: Option<IpAddr>,
    includes: &'a [String],
}

/// SPF when no resolver could be read: "cannot decide", with each resolver's reason.
pub(crate) fn unreadable(failures: Vec<String>) -> SpfCheck {
    SpfCheck {
        record: None,
        verdict: SpfVerdict::Undecided,
        detail: if failures.is_empty() {
            "no resolver to ask".into()
        } else {
            format!("cannot read the SPF record: {}", failures.join("; "))
        },
        warning: Some(
            "SPF could not be read from any resolver; check it by hand before the switch".into(),
        ),
        new_host_ips: Vec::new(),
        resolver: None,
    }
}

/// Does the domain's SPF allow the new host, as `client` sees it? `Err` (with the reason) when a
/// lookup on this resolver failed: the verdict would rest on a missing answer.
pub(crate) async fn check(
    client: &Client,
    domain: &str,
    targets: &Targets,
) -> Result<SpfCheck, String> {
    let records = spf_records(client, domain)
        .await
        .map_err(|e| e.to_string())?;
    let record = match records.as_slice() {
        [] => {
            return Ok(SpfCheck {
                record: None,
                verdict: SpfVerdict::NoRecord,
                detail: "no v=spf1 record".into(),
                warning: None,
                new_host_ips: Vec::new(),
                resolver: None,
            })
        }
        [one] => one.clone(),
        many => {
            return Ok(SpfCheck {
                record: Some(many.join(" | ")),
                verdict: SpfVerdict::Invalid,
                detail: format!(
                    "{} v=spf1 records; receivers treat that as an error",
                    many.len()
                ),
                warning: Some("publish exactly one v=spf1 record".into()),
                new_host_ips: Vec::new(),
                resolver: None,
            })
        }
    };

    let mut ips: Vec<IpAddr> = targets
        .new
        .addresses
        .iter()
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    for name in &targets.new.names {
        if name.starts_with('*') || name.starts_with('.') {
            continue;
        }
        let found = client
            .addresses(name)
            .await
            .map_err(|e| format!("the new host's addresses: {e}"))?;
        ips.extend(found.iter().filter_map(|a| a.ip.parse::<IpAddr>().ok()));
    }
    ips.sort();
    ips.dedup();
    let includes: Vec<String> = targets
        .new_spf_includes
        .iter()
        .map(|i| normalize(i))
        .collect();

    let mut probes: Vec<Probe> = ips
        .iter()
        .map(|ip| Probe {
            ip: Some(*ip),
            includes: &includes,
        })
        .collect();
    if !includes.is_empty() {
        probes.push(Probe {
            ip: None,
            includes: &includes,
        });
    }
    let new_host_ips = ips.iter().map(|i| i.to_string()).collect();
    if probes.is_empty() {
        return Ok(SpfCheck {
            record: Some(record),
            verdict: SpfVerdict::Undecided,
            detail: "the new host's sending addresses are not known".into(),
            warning: Some("give the new host's addresses or SPF include to check SPF".into()),
            new_host_ips,
            resolver: None,
        });
    }

    let mut undecided = Vec::new();
    let mut denied = Vec::new();
    for probe in probes {
        let mut lookups = 0;
        let what = probe
            .ip
            .map(|i| i.to_string())
            .unwrap_or_else(|| format!("include:{}", includes.join(",")));
        match eval_record(client, domain, &record, probe, &mut lookups, 0).await {
            Eval::Matched('+', why) => {
                return Ok(SpfCheck {
                    record: Some(record),
                    verdict: SpfVerdict::Allows,
                    detail: format!("{what} passes ({why})"),
                    warning: None,
                    new_host_ips,
                    resolver: None,
                })
            }
            Eval::Matched(q, why) => denied.push(format!("{what}: {} ({why})", result_name(q))),
            Eval::NoMatch => denied.push(format!("{what}: neutral (no mechanism matches)")),
            Eval::Undecided(why) => undecided.push(format!("{what}: {why}")),
            Eval::DnsFailed(why) => return Err(why),
        }
    }
    Ok(if !undecided.is_empty() {
        SpfCheck {
            record: Some(record),
            verdict: SpfVerdict::Undecided,
            detail: undecided
                .into_iter()
                .chain(denied)
                .collect::<Vec<_>>()
                .join("; "),
            warning: Some(
                "Ferry cannot tell whether SPF allows the new host; check it by hand".into(),
            ),
            new_host_ips,
            resolver: None,
        }
    } else {
        SpfCheck {
            record: Some(record),
            verdict: SpfVerdict::DoesNotAllow,
            detail: denied.join("; "),
            warning: Some(
                "SPF does not allow the new host: add its ip4:/ip6: or include: to the record before the switch, or mail sent from it may be rejected"
                    .into(),
            ),
            new_host_ips,
            resolver: None,
        }
    })
}

fn result_name(q: char) -> &'static str {
    match q {
        '-' => "fail",
        '~' => "softfail",
        '?' => "neutral",
        _ => "pass",
    }
}

async fn spf_records(client: &Client, domain: &str) -> Result<Vec<String>, LookupFailure> {
    Ok(client
        .txt(domain)
        .await?
        .into_iter()
        .filter(|t| {
            let t = t.trim_start().to_ascii_lowercase();
            t == "v=spf1" || t.starts_with("v=spf1 ")
        })
        .collect())
}

fn eval_domain<'a>(
    client: &'a Client,
    domain: String,
    probe: Probe<'a>,
    lookups: &'a mut u32,
    depth: u32,
) -> BoxFut<'a, Eval> {
    Box::pin(async move {
        match spf_records(client, &domain).await {
            Err(e) => Eval::DnsFailed(e.to_string()),
            Ok(r) if r.len() == 1 => {
                eval_record(client, &domain, &r[0], probe, lookups, depth).await
            }
            Ok(r) if r.is_empty() => {
                Eval::Undecided(format!("{domain} has no SPF record (permerror)"))
            }
            Ok(_) => Eval::Undecided(format!("{domain} has several SPF records (permerror)")),
        }
    })
}

fn eval_record<'a>(
    client: &'a Client,
    domain: &'a str,
    record: &'a str,
    probe: Probe<'a>,
    lookups: &'a mut u32,
    depth: u32,
) -> BoxFut<'a, Eval> {
    Box::pin(async move {
        let mut redirect = None;
        for term in record.split_whitespace().skip(1) {
            if let Some((name, value)) = term.split_once('=') {
                if !name.contains(':') && !name.contains('/') {
                    if name.eq_ignore_ascii_case("redirect") {
                        redirect = Some(value.to_string());
                    }
                    continue;
                }
            }
            let (qualifier, mech) = match term.chars().next() {
                Some(c @ ('+' | '-' | '~' | '?')) => (c, &term[1..]),
                _ => ('+', term),
            };
            if mech.contains('%') {
                return Eval::Undecided(format!("'{term}' uses SPF macros"));
            }
            let (name, arg) = match mech.split_once(':') {
                Some((n, a)) => (n.to_ascii_lowercase(), Some(a)),
                None => match mech.split_once('/') {
                    Some((n, _)) => (n.to_ascii_lowercase(), None),
                    None => (mech.to_ascii_lowercase(), None),
                },
            };
            let matched = match name.as_str() {
                "all" => Ok(true),
                "ip4" | "ip6" => match arg.map(parse_net) {
                    Some(Some((net, len))) => Ok(probe.ip.is_some_and(|ip| in_net(ip, net, len))),
                    _ => return Eval::Undecided(format!("cannot parse '{term}'")),
                },
                "a" | "mx" => {
                    // CIDR suffixes: "a/24", "a:host/24//64"; a bad one is a permerror, not /32.
                    let Some((arg_host, cidr4, cidr6)) = split_cidr(mech, arg) else {
                        return Eval::Undecided(format!(
                            "cannot parse the prefix length in '{term}' (permerror)"
                        ));
                    };
                    let Some(ip) = probe.ip else { continue };
                    *lookups += 1;
                    if *lookups > MAX_LOOKUPS {
                        return Eval::Undecided("more than 10 DNS lookups (permerror)".into());
                    }
                    let target = arg_host
                        .map(normalize)
                        .unwrap_or_else(|| domain.to_string());
                    let hosts = if name == "a" {
                        Ok(vec![target.clone()])
                    } else {
                        client
                            .mx(&target)
                            .await
                            .map(|mx| mx.into_iter().map(|(_, _, h)| h).collect())
                    };
                    match hosts {
                        Err(e) => return Eval::DnsFailed(format!("'{term}': {e}")),
                        Ok(hosts) => {
                            let mut hit = false;
                            for h in hosts {
                                match client.addresses(&h).await {
                                    Err(e) => return Eval::DnsFailed(format!("'{term}': {e}")),
                                    Ok(addrs) => {
                                        hit |= addrs
                                            .iter()
                                            .filter_map(|a| a.ip.parse::<IpAddr>().ok())
                                            .any(|a| {
                                                let len = if a.is_ipv4() { cidr4 } else { cidr6 };
                                                in_net(ip, a, len)
                                            })
                                    }
                                }
                            }
                            Ok(hit)
                        }
                    }
                }
                "include" => {
                    let Some(target) = arg.map(normalize) else {
                        return Eval::Undecided(format!("'{term}' has no domain"));
                    };
                    if probe.includes.contains(&target) {
                        Ok(true)
                    } else {
                        *lookups += 1;
                        if *lookups > MAX_LOOKUPS || depth >= MAX_LOOKUPS {
                            return Eval::Undecided("more than 10 DNS lookups (permerror)".into());
                        }
                        match eval_domain(client, target.clone(), probe, lookups, depth + 1).await {
                            Eval::Matched('+', _) => Ok(true),
                            Eval::Matched(..) | Eval::NoMatch => Ok(false),
                            Eval::Undecided(why) => Err(why),
                            failed @ Eval::DnsFailed(_) => return failed,
                        }
                    }
                }
                "exists" | "ptr" => Err(format!(
                    "'{term}' needs the sender's connection to evaluate"
                )),
                other => Err(format!("unknown mechanism '{other}' (permerror)")),
            };
            match matched {
                Ok(true) => return Eval::Matched(qualifier, format!("{domain}: {term}")),
                Ok(false) => {}
                Err(why) => return Eval::Undecided(why),
            }
        }
        if let Some(target) = redirect {
            *lookups += 1;
            if *lookups > MAX_LOOKUPS || depth >= MAX_LOOKUPS {
                return Eval::Undecided("more than 10 DNS lookups (permerror)".into());
            }
            if target.contains('%') {
                return Eval::Undecided(format!("redirect={target} uses SPF macros"));
            }
            let target = normalize(&target);
            if probe.includes.contains(&target) {
                return Eval::Matched('+', format!("{domain}: redirect={target}"));
            }
            return eval_domain(client, target, probe, lookups, depth + 1).await;
        }
        Eval::NoMatch
    })
}

/// Splits `a:host/24//64` into (`host`, 24, 64); defaults are /32 and /128. `None` when a prefix
/// length is not a number within 0..=32 (IPv4) or 0..=128 (IPv6).
fn split_cidr<'a>(mech: &'a str, arg: Option<&'a str>) -> Option<(Option<&'a str>, u8, u8)> {
    let body = arg.unwrap_or(mech);
    let (host, c4, c6) = match body.split_once("//") {
        Some((left, c6)) => {
            let (h, c4) = left.split_once('/').unwrap_or((left, ""));
            (h, c4, c6)
        }
        None => {
            let (h, c4) = body.split_once('/').unwrap_or((body, ""));
            (h, c4, "")
        }
    };
    let length = |text: &str, max: u8| -> Option<u8> {
        if text.is_empty() {
            Some(max)
        } else {
            text.parse().ok().filter(|n| *n <= max)
        }
    };
    let cidr4 = length(c4, 32)?;
    let cidr6 = length(c6, 128)?;
    let host = if arg.is_some() && !host.is_empty() {
        Some(host)
    } else {
        None
    };
    Some((host, cidr4, cidr6))
}

fn parse_net(arg: &str) -> Option<(IpAddr, u8)> {
    let (ip, len) = match arg.split_once('/') {
        Some((ip, len)) => (ip.parse::<IpAddr>().ok()?, Some(len.parse::<u8>().ok()?)),
        None => (arg.parse::<IpAddr>().ok()?, None),
    };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = len.unwrap_or(max);
    (len <= max).then_some((ip, len))
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks() {
        let ip: IpAddr = "198.51.100.10".parse().unwrap();
        assert!(in_net(ip, "198.51.100.0".parse().unwrap(), 24));
        assert!(!in_net(ip, "198.51.101.0".parse().unwrap(), 24));
        assert!(in_net(ip, "0.0.0.0".parse().unwrap(), 0));
        assert!(!in_net(ip, "::".parse().unwrap(), 0));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert!(in_net(v6, "2001:db8::".parse().unwrap(), 32));
        assert_eq!(
            parse_net("192.0.2.0/24"),
            Some(("192.0.2.0".parse().unwrap(), 24))
        );
        assert_eq!(parse_net("192.0.2.0/33"), None);
        assert_eq!(parse_net("nonsense"), None);
    }

    #[test]
    fn cidr_suffixes() {
        assert_eq!(split_cidr("a", None), Some((None, 32, 128)));
        assert_eq!(split_cidr("a/24", None), Some((None, 24, 128)));
        assert_eq!(
            split_cidr("a:h.example/24//64", Some("h.example/24//64")),
            Some((Some("h.example"), 24, 64))
        );
        assert_eq!(
            split_cidr("mx:h.example", Some("h.example")),
            Some((Some("h.example"), 32, 128))
        );
        assert_eq!(split_cidr("a/33", None), None);
        assert_eq!(split_cidr("a:h.example/x", Some("h.example/x")), None);
        assert_eq!(split_cidr("a//129", None), None);
    }
}
