//! DNS at cut-over (phases 6 and 7): MX records with TTLs, the addresses of each MX host, whether
//! they point at the old server, the new host or both, the SPF record, TTL advice before the switch,
//! and a watch over several resolvers until every one answers the new MX.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use chrono::{DateTime, Utc};
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::name_server::TokioConnectionProvider;
use hickory_resolver::proto::rr::{RData, RecordType};
use hickory_resolver::proto::xfer::Protocol;
use hickory_resolver::{Name, ResolveError, TokioResolver};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::error::{CutoverError, Result};
use crate::spf::{self, SpfCheck};

/// The TTL Ferry advises before the switch: short enough that a wrong MX is fixed within minutes.
pub const RECOMMENDED_TTL: u32 = 300;

/// Which resolvers to ask. Empty = the system's resolvers (`/etc/resolv.conf`).
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DnsOptions {
    /// `IP:port` of each resolver to ask separately.
    #[ts(type = "string[]")]
    pub resolvers: Vec<SocketAddr>,
    /// Per query.
    pub timeout_ms: u64,
}

impl Default for DnsOptions {
    fn default() -> Self {
        Self {
            resolvers: Vec::new(),
            timeout_ms: 3000,
        }
    }
}

/// Parses `IP` or `IP:port` (port 53 when absent; IPv6 with a port as `[::1]:5353`).
pub fn parse_resolver(value: &str) -> Result<SocketAddr> {
    let value = value.trim();
    if let Ok(addr) = value.parse::<SocketAddr>() {
        return Ok(addr);
    }
    value
        .parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| CutoverError::BadResolver {
            value: value.to_string(),
        })
}

/// How to recognise a host: by name (`mail.example.com`, or `.google.com` / `*.google.com` for
/// every name under it) or by address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct HostSet {
    pub names: Vec<String>,
    pub addresses: Vec<String>,
}

impl HostSet {
    fn name_matches(&self, host: &str) -> bool {
        let host = normalize(host);
        self.names.iter().any(|pattern| {
            let pattern = normalize(pattern);
            if let Some(suffix) = pattern
                .strip_prefix("*.")
                .or_else(|| pattern.strip_prefix('.'))
            {
                host.ends_with(&format!(".{suffix}"))
            } else {
                host == pattern
            }
        })
    }

    fn ips(&self) -> Vec<IpAddr> {
        self.addresses
            .iter()
            .filter_map(|a| a.trim().parse().ok())
            .collect()
    }
}

/// The old server and the new host, as the checks should recognise them.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Targets {
    pub old: HostSet,
    pub new: HostSet,
    /// SPF `include:` domains that stand for the new host (e.g. `_spf.google.com`).
    pub new_spf_includes: Vec<String>,
}

/// Where an MX host, or a whole domain, points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Points {
    /// Only at the old server.
    Old,
    /// Only at the new host.
    New,
    /// At both (several MX, or one name with addresses of both).
    Both,
    /// At neither, as far as Ferry can tell.
    Unknown,
    /// The domain has no MX record.
    NoMx,
    /// The resolver did not answer.
    Failed,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AddressRecord {
    pub ip: String,
    pub ttl: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MxRecord {
    pub preference: u16,
    /// Without the trailing dot.
    pub host: String,
    pub ttl: u32,
    pub addresses: Vec<AddressRecord>,
    pub points: Points,
    /// Why the addresses are missing, if they are.
    pub error: Option<String>,
}

/// Before the switch: how low the TTLs are, and how long to wait after lowering them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TtlAdvice {
    /// The highest TTL among the MX records and their hosts' A/AAAA records.
    pub max_ttl: u32,
    pub recommended_ttl: u32,
    /// True when the TTL should be lowered before switching.
    pub lower_first: bool,
    /// How long to wait after lowering the TTL before switching the MX (the old TTL), in seconds.
    pub wait_secs: u32,
    pub text: String,
}

/// One resolver's answer for one domain.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResolverAnswer {
    /// `IP:port`, or `system`.
    pub resolver: String,
    pub mx: Vec<MxRecord>,
    pub points: Points,
    pub error: Option<String>,
}

/// Everything Ferry knows about one domain's mail DNS.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DomainDns {
    pub domain: String,
    pub answers: Vec<ResolverAnswer>,
    /// Over all resolvers: `New` only when every resolver answers only the new host.
    pub points: Points,
    /// Resolvers that still answer the old server (alone or with the new host).
    pub still_old: Vec<String>,
    pub ttl: Option<TtlAdvice>,
    pub spf: SpfCheck,
}

/// The DNS state of every domain: the input of phases 6, 7 and the decommission report.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DnsReport {
    #[ts(type = "string")]
    pub checked_at: DateTime<Utc>,
    pub domains: Vec<DomainDns>,
    /// Every domain, on every resolver, answers only the new host.
    pub all_new: bool,
    pub warnings: Vec<String>,
}

/// One resolver (a single name server, or the system's), without a cache so that a watch sees
/// each change as soon as the server has it.
pub(crate) struct Client {
    label: String,
    resolver: TokioResolver,
}

impl Client {
    pub(crate) fn new(addr: Option<SocketAddr>, timeout: Duration) -> Result<Self> {
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        opts.attempts = 2;
        opts.cache_size = 0;
        opts.use_hosts_file = hickory_resolver::config::ResolveHosts::Never;
        let (label, builder) = match addr {
            Some(addr) => {
                let mut config = ResolverConfig::new();
                config.add_name_server(NameServerConfig::new(addr, Protocol::Udp));
                config.add_name_server(NameServerConfig::new(addr, Protocol::Tcp));
                (
                    addr.to_string(),
                    TokioResolver::builder_with_config(config, TokioConnectionProvider::default()),
                )
            }
            None => (
                "system".to_string(),
                TokioResolver::builder_tokio().map_err(|e| CutoverError::BadResolver {
                    value: format!("system resolver configuration ({e})"),
                })?,
            ),
        };
        Ok(Self {
            label,
            resolver: builder.with_options(opts).build(),
        })
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Records of one type; an empty list when the name has none (NXDOMAIN or NODATA).
    pub(crate) async fn records(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> std::result::Result<Vec<(u32, RData)>, String> {
        let fqdn = fqdn(name).map_err(|e| e.to_string())?;
        match self.resolver.lookup(fqdn, rtype).await {
            Ok(lookup) => Ok(lookup
                .records()
                .iter()
                .filter(|r| r.record_type() == rtype)
                .map(|r| (r.ttl(), r.data().clone()))
                .collect()),
            Err(e) if is_empty_answer(&e) => Ok(Vec::new()),
            Err(e) => Err(format!("{} ({rtype} {name})", e)),
        }
    }

    pub(crate) async fn addresses(
        &self,
        name: &str,
    ) -> std::result::Result<Vec<AddressRecord>, String> {
        let mut out = Vec::new();
        for rtype in [RecordType::A, RecordType::AAAA] {
            for (ttl, data) in self.records(name, rtype).await? {
                let ip = match data {
                    RData::A(a) => IpAddr::V4(a.0),
                    RData::AAAA(a) => IpAddr::V6(a.0),
                    _ => continue,
                };
                out.push(AddressRecord {
                    ip: ip.to_string(),
                    ttl,
                });
            }
        }
        Ok(out)
    }

    pub(crate) async fn mx(
        &self,
        domain: &str,
    ) -> std::result::Result<Vec<(u32, u16, String)>, String> {
        let mut out: Vec<(u32, u16, String)> = self
            .records(domain, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|(ttl, data)| match data {
                RData::MX(mx) => Some((ttl, mx.preference(), normalize(&mx.exchange().to_ascii()))),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| (a.1, &a.2).cmp(&(b.1, &b.2)));
        Ok(out)
    }

    pub(crate) async fn txt(&self, name: &str) -> std::result::Result<Vec<String>, String> {
        Ok(self
            .records(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|(_, data)| match data {
                // A TXT record is several character-strings; SPF joins them without spaces (RFC 7208 3.3).
                RData::TXT(txt) => Some(
                    txt.txt_data()
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }
}

fn is_empty_answer(e: &ResolveError) -> bool {
    e.is_no_records_found() || e.is_nx_domain()
}

/// Lower case, no trailing dot.
pub(crate) fn normalize(name: &str) -> String {
    name.trim().trim_end_matches('.').to_ascii_lowercase()
}

fn fqdn(name: &str) -> Result<Name> {
    let n = normalize(name);
    Name::from_ascii(format!("{n}.")).map_err(|e| CutoverError::BadDomain {
        name: name.to_string(),
        reason: e.to_string(),
    })
}

fn classify_host(host: &str, addresses: &[AddressRecord], targets: &Targets) -> Points {
    let ips: Vec<IpAddr> = addresses.iter().filter_map(|a| a.ip.parse().ok()).collect();
    let new_ips = targets.new.ips();
    let old_ips = targets.old.ips();
    let has_new_ip = ips.iter().any(|ip| new_ips.contains(ip));
    let has_old_ip = ips.iter().any(|ip| old_ips.contains(ip));
    let is_new = has_new_ip || targets.new.name_matches(host);
    // An old name whose A record was moved to the new host's address is the new host.
    let is_old = has_old_ip || (targets.old.name_matches(host) && !has_new_ip);
    match (is_old, is_new) {
        (true, true) => Points::Both,
        (true, false) => Points::Old,
        (false, true) => Points::New,
        (false, false) => Points::Unknown,
    }
}

fn combine(points: impl IntoIterator<Item = Points>) -> Points {
    let (mut old, mut new, mut unknown, mut any, mut all_nomx) = (false, false, false, false, true);
    for p in points {
        any = true;
        all_nomx &= p == Points::NoMx;
        match p {
            Points::Old => old = true,
            Points::New => new = true,
            Points::Both => {
                old = true;
                new = true
            }
            Points::Failed => return Points::Failed,
            Points::Unknown | Points::NoMx => unknown = true,
        }
    }
    match (any, old, new) {
        (false, _, _) => Points::NoMx,
        _ if all_nomx => Points::NoMx,
        (_, true, true) => Points::Both,
        (_, true, false) => Points::Old,
        (_, false, true) if !unknown => Points::New,
        (_, false, true) => Points::Both,
        (_, false, false) => Points::Unknown,
    }
}

async fn answer(client: &Client, domain: &str, targets: &Targets) -> ResolverAnswer {
    let mx = match client.mx(domain).await {
        Ok(mx) => mx,
        Err(e) => {
            return ResolverAnswer {
                resolver: client.label().to_string(),
                mx: Vec::new(),
                points: Points::Failed,
                error: Some(e),
            }
        }
    };
    let mut records = Vec::new();
    for (ttl, preference, host) in mx {
        let (addresses, error) = match client.addresses(&host).await {
            Ok(a) => (a, None),
            Err(e) => (Vec::new(), Some(e)),
        };
        let points = classify_host(&host, &addresses, targets);
        records.push(MxRecord {
            preference,
            host,
            ttl,
            addresses,
            points,
            error,
        });
    }
    let points = if records.is_empty() {
        Points::NoMx
    } else {
        combine(records.iter().map(|r| r.points))
    };
    ResolverAnswer {
        resolver: client.label().to_string(),
        mx: records,
        points,
        error: None,
    }
}

fn ttl_advice(answers: &[ResolverAnswer]) -> Option<TtlAdvice> {
    let max_ttl = answers
        .iter()
        .flat_map(|a| a.mx.iter())
        .flat_map(|mx| std::iter::once(mx.ttl).chain(mx.addresses.iter().map(|a| a.ttl)))
        .max()?;
    let lower_first = max_ttl > RECOMMENDED_TTL;
    let text = if lower_first {
        format!(
            "Lower the TTL of the MX record and of its hosts' A/AAAA records from {} to {} s now, then wait at least {} before switching the MX, so that no resolver still holds the old value for long.",
            human_secs(max_ttl),
            RECOMMENDED_TTL,
            human_secs(max_ttl)
        )
    } else {
        format!(
            "TTLs are low ({}): after you switch the MX, resolvers follow within {}.",
            human_secs(max_ttl),
            human_secs(max_ttl)
        )
    };
    Some(TtlAdvice {
        max_ttl,
        recommended_ttl: RECOMMENDED_TTL,
        lower_first,
        wait_secs: max_ttl,
        text,
    })
}

/// `3600` -> `1 h`, `5400` -> `1 h 30 min`, `90` -> `1 min 30 s`.
pub fn human_secs(secs: u32) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let parts: Vec<String> = [(d, "d"), (h, "h"), (m, "min"), (s, "s")]
        .iter()
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n} {unit}"))
        .collect();
    if parts.is_empty() {
        "0 s".to_string()
    } else {
        parts.join(" ")
    }
}

fn clients(options: &DnsOptions) -> Result<Vec<Client>> {
    let timeout = Duration::from_millis(options.timeout_ms.max(100));
    if options.resolvers.is_empty() {
        Ok(vec![Client::new(None, timeout)?])
    } else {
        options
            .resolvers
            .iter()
            .map(|a| Client::new(Some(*a), timeout))
            .collect()
    }
}

/// Checks every domain on every resolver: MX, addresses, where they point, TTL advice, SPF.
pub async fn check(
    domains: &[String],
    options: &DnsOptions,
    targets: &Targets,
) -> Result<DnsReport> {
    for d in domains {
        fqdn(d)?;
    }
    let clients = clients(options)?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    for domain in domains {
        let domain = normalize(domain);
        let answers =
            futures::future::join_all(clients.iter().map(|c| answer(c, &domain, targets))).await;
        let points = combine(answers.iter().map(|a| a.points));
        let still_old = answers
            .iter()
            .filter(|a| matches!(a.points, Points::Old | Points::Both))
            .map(|a| a.resolver.clone())
            .collect();
        let ttl = ttl_advice(&answers);
        // SPF is read once, from the first resolver: it is about what the zone says, not propagation.
        let spf = spf::check(&clients[0], &domain, targets).await;
        if let Some(w) = &spf.warning {
            warnings.push(format!("{domain}: {w}"));
        }
        for a in &answers {
            if let Some(e) = &a.error {
                warnings.push(format!(
                    "{domain}: resolver {} did not answer: {e}",
                    a.resolver
                ));
            }
        }
        out.push(DomainDns {
            domain,
            answers,
            points,
            still_old,
            ttl,
            spf,
        });
    }
    let all_new = !out.is_empty() && out.iter().all(|d| d.points == Points::New);
    Ok(DnsReport {
        checked_at: Utc::now(),
        domains: out,
        all_new,
        warnings,
    })
}

/// When a watch ends.
#[derive(Debug, Clone)]
pub struct WatchOptions {
    pub interval: Duration,
    /// Give up after this long (the report then says which resolvers still answer the old MX).
    pub max_wait: Duration,
}

/// Checks again every `interval` until every domain on every resolver answers only the new host,
/// or `max_wait` has passed. `on_round` sees each round's report (for progress output).
pub async fn watch(
    domains: &[String],
    options: &DnsOptions,
    targets: &Targets,
    watch: &WatchOptions,
    mut on_round: impl FnMut(&DnsReport),
) -> Result<DnsReport> {
    let started = tokio::time::Instant::now();
    loop {
        let report = check(domains, options, targets).await?;
        on_round(&report);
        if report.all_new || started.elapsed() + watch.interval > watch.max_wait {
            return Ok(report);
        }
        tokio::time::sleep(watch.interval).await;
    }
}

/// Names of resolvers (by label) that still answer the old server, per domain.
pub fn still_old(report: &DnsReport) -> Vec<(String, Vec<String>)> {
    report
        .domains
        .iter()
        .filter(|d| !d.still_old.is_empty())
        .map(|d| (d.domain.clone(), d.still_old.clone()))
        .collect()
}

/// Every distinct MX host seen in a report (for reachability checks of the new host).
pub fn mx_hosts(report: &DnsReport) -> BTreeSet<String> {
    report
        .domains
        .iter()
        .flat_map(|d| d.answers.iter())
        .flat_map(|a| a.mx.iter().map(|m| m.host.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets() -> Targets {
        Targets {
            old: HostSet {
                names: vec!["mail.example.com".into()],
                addresses: vec!["192.0.2.5".into()],
            },
            new: HostSet {
                names: vec!["*.newhost.test".into()],
                addresses: vec!["198.51.100.10".into()],
            },
            new_spf_includes: vec![],
        }
    }

    fn addr(ip: &str) -> Vec<AddressRecord> {
        vec![AddressRecord {
            ip: ip.into(),
            ttl: 60,
        }]
    }

    #[test]
    fn classifies_by_name_and_address() {
        let t = targets();
        assert_eq!(
            classify_host("mail.example.com", &addr("192.0.2.5"), &t),
            Points::Old
        );
        assert_eq!(classify_host("MX1.newhost.test.", &[], &t), Points::New);
        // The old name moved to the new address: new.
        assert_eq!(
            classify_host("mail.example.com", &addr("198.51.100.10"), &t),
            Points::New
        );
        assert_eq!(
            classify_host("other.example", &addr("203.0.113.9"), &t),
            Points::Unknown
        );
        let both = vec![
            addr("192.0.2.5")[0].clone(),
            addr("198.51.100.10")[0].clone(),
        ];
        assert_eq!(classify_host("rr.example", &both, &t), Points::Both);
    }

    #[test]
    fn combines_hosts() {
        assert_eq!(combine([Points::Old, Points::New]), Points::Both);
        assert_eq!(combine([Points::New, Points::New]), Points::New);
        assert_eq!(combine([Points::New, Points::Unknown]), Points::Both);
        assert_eq!(combine([Points::Old, Points::Failed]), Points::Failed);
        assert_eq!(combine([]), Points::NoMx);
        assert_eq!(combine([Points::NoMx, Points::NoMx]), Points::NoMx);
        assert_eq!(combine([Points::NoMx, Points::New]), Points::Both);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_secs(3600), "1 h");
        assert_eq!(human_secs(5400), "1 h 30 min");
        assert_eq!(human_secs(86400 + 5), "1 d 5 s");
        assert_eq!(human_secs(0), "0 s");
    }

    #[test]
    fn resolver_addresses() {
        assert_eq!(parse_resolver("192.0.2.53").unwrap().port(), 53);
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_resolver("[::1]:5353").unwrap().port(), 5353);
        assert!(parse_resolver("dns.example").is_err());
    }
}
