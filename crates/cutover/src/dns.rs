//! DNS at cut-over (phases 6 and 7): MX records with TTLs, the addresses of each MX host, whether
//! they point at the old server, the new host or both, the SPF record, TTL advice that follows the
//! state of the switch, and a watch over several resolvers until every one answers the new MX.
//!
//! A resolver that fails (SERVFAIL, REFUSED) or does not answer is reported as such, never as
//! "no MX" or "no SPF record", and never counts as answering the new host.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::sync::OnceLock;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hickory_resolver::config::{NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError, NoRecords};
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use hickory_resolver::TokioResolver;
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
    /// Per query: one query costs at most this long (it is not retried within a check).
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

    /// The addresses; [`Targets::validate`] has refused any that is not one.
    fn ips(&self) -> Vec<IpAddr> {
        self.addresses
            .iter()
            .filter_map(|a| a.trim().parse().ok())
            .collect()
    }

    /// Every name is a host name (or a `*.` / `.` pattern) and every address an IP address.
    fn validate(
        &self,
        names_role: &'static str,
        addresses_role: &'static str,
        need_dot: bool,
    ) -> Result<()> {
        for name in &self.names {
            checked_pattern(name, names_role, need_dot)?;
        }
        for address in &self.addresses {
            if address.trim().parse::<IpAddr>().is_err() {
                return Err(CutoverError::BadAddress {
                    role: addresses_role,
                    value: address.clone(),
                });
            }
        }
        Ok(())
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

impl Targets {
    /// Refuses a name that is not a DNS name (`mx..example.net`, `https://mx.example.net/`) or an
    /// address that is not an IP address, naming the value: a typo must not turn every domain
    /// "unknown" silently. [`check`] and [`watch`] call it first.
    pub fn validate(&self) -> Result<()> {
        // The old server's name comes from its Postfix settings and may be a one-label LAN name;
        // the new host's name must be a full name, or it never matches an MX record.
        self.old.validate(
            "the old server's host name",
            "an address of the old server",
            false,
        )?;
        self.new
            .validate("the new host's name", "an address of the new host", true)?;
        for include in &self.new_spf_includes {
            host_name(include, "an SPF include of the new host")?;
        }
        Ok(())
    }
}

/// Checks a mail domain: a DNS name of at least two labels. Returns it in lower case without
/// the trailing dot.
pub fn validate_domain(value: &str) -> Result<String> {
    name_problem(value, true).map_err(|reason| CutoverError::BadDomain {
        name: value.to_string(),
        reason,
    })
}

/// Checks a host name (`mx.example.net`); `role` says what it was given as, for the error.
pub fn host_name(value: &str, role: &'static str) -> Result<String> {
    checked_host_name(value, role, true)
}

fn checked_host_name(value: &str, role: &'static str, need_dot: bool) -> Result<String> {
    name_problem(value, need_dot).map_err(|reason| CutoverError::BadHostName {
        role,
        value: value.to_string(),
        reason,
    })
}

/// A host name, or `*.example.net` / `.example.net` for every name under `example.net`.
pub fn host_name_pattern(value: &str, role: &'static str) -> Result<String> {
    checked_pattern(value, role, true)
}

fn checked_pattern(value: &str, role: &'static str, need_dot: bool) -> Result<String> {
    let trimmed = value.trim();
    let (prefix, rest) = match trimmed.strip_prefix("*.") {
        Some(rest) => ("*.", rest),
        None => match trimmed.strip_prefix('.') {
            Some(rest) => (".", rest),
            None => ("", trimmed),
        },
    };
    if prefix.is_empty() {
        return checked_host_name(value, role, need_dot);
    }
    name_problem(rest, true)
        .map(|name| format!("{prefix}{name}"))
        .map_err(|reason| CutoverError::BadHostName {
            role,
            value: value.to_string(),
            reason,
        })
}

/// The normalised name, or why it is not a DNS name, in words.
/// `need_dot`: a name of one label ("mail") is refused.
fn name_problem(value: &str, need_dot: bool) -> std::result::Result<String, String> {
    const EXAMPLE: &str = "for example mail.example.net";
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(format!("it is empty; give a name, {EXAMPLE}"));
    }
    if trimmed.contains("://") {
        return Err(format!(
            "it looks like a web address; give the name alone, without a scheme such as 'https://' or a path ({EXAMPLE})"
        ));
    }
    if trimmed.parse::<IpAddr>().is_ok() || trimmed.parse::<SocketAddr>().is_ok() {
        return Err("it is an IP address, not a name; give it as an address instead".into());
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| matches!(c, '/' | '@' | ':' | '\\') || c.is_whitespace())
    {
        return Err(format!(
            "'{c}' cannot appear in a DNS name; give the name alone ({EXAMPLE})"
        ));
    }
    let without_root = trimmed.strip_suffix('.').unwrap_or(trimmed);
    // Internationalised names in their ASCII (xn--) form, as DNS carries them.
    let ascii = if without_root.is_ascii() {
        without_root.to_ascii_lowercase()
    } else {
        let name = Name::from_utf8(without_root)
            .map_err(|e| format!("it cannot be written as a DNS name ({e})"))?;
        normalize(&name.to_ascii())
    };
    if ascii.len() > 253 {
        return Err("it is longer than 253 characters".into());
    }
    if ascii.starts_with('.') {
        return Err(format!("it starts with a dot ({EXAMPLE})"));
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.iter().any(|l| l.is_empty()) {
        return Err(format!("it has two dots in a row ({EXAMPLE})"));
    }
    if need_dot && labels.len() < 2 {
        return Err(format!("it has no dot; give the full name ({EXAMPLE})"));
    }
    for label in &labels {
        if label.len() > 63 {
            return Err(format!("'{label}' is longer than 63 characters"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("'{c}' cannot appear in a DNS name ({EXAMPLE})"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("'{label}' starts or ends with a hyphen"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err("its last part is a number, so it is neither a name nor an address".into());
    }
    Ok(ascii)
}

/// Where an MX host, or a whole domain, points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Points {
    /// Only at the old server.
    Old,
    /// Only at the new host. For a domain: every resolver answered, each only the new host.
    New,
    /// At both ("mixed"): several MX, one name with addresses of both, or (for a domain) some
    /// resolvers answer the old server and others the new host: the switch is under way.
    Both,
    /// At neither, as far as Ferry can tell. For a domain also: the resolvers that answered give
    /// the new host, but others failed or did not answer, so Ferry cannot say "every resolver".
    Unknown,
    /// The domain has no MX record.
    NoMx,
    /// For one resolver: it failed or did not answer (see its status). For a domain: no
    /// resolver answered.
    Failed,
}

/// How one resolver answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum ResolverStatus {
    /// It answered every question (an answer may be "no such record").
    Answered,
    /// It answered with an error (SERVFAIL, REFUSED, ...): it cannot say what the zone holds.
    Failed,
    /// It did not answer in time (down, or dropping packets). Ferry asks it once per check and
    /// skips it for the rest of that check.
    NoAnswer,
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
    /// Why the addresses are missing, if they could not be read.
    pub error: Option<String>,
}

/// Where the switch stands for one domain, as the TTL advice sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SwitchStage {
    /// No resolver answers the new MX yet.
    Before,
    /// Some resolvers answer the new MX, not all.
    UnderWay,
    /// Every resolver answers only the new MX.
    Done,
}

/// TTL advice that follows the state of the switch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TtlAdvice {
    pub stage: SwitchStage,
    /// The highest TTL among the MX records and their hosts' A/AAAA records (during the switch:
    /// among the answers that still name the old server).
    pub max_ttl: u32,
    pub recommended_ttl: u32,
    /// True when the TTL should be lowered before switching.
    pub lower_first: bool,
    /// Before the switch: how long to wait after lowering the TTL (the old TTL); during it: how
    /// long resolvers may still hold the old MX. 0 when there is nothing to wait for.
    pub wait_secs: u32,
    pub text: String,
}

/// One resolver's answer for one domain.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ResolverAnswer {
    /// `IP:port`, or `system`.
    pub resolver: String,
    pub status: ResolverStatus,
    /// What it answered (possibly partial when it failed on an MX host's address).
    pub mx: Vec<MxRecord>,
    /// `Failed` unless it answered.
    pub points: Points,
    /// Why it failed or did not answer, naming the query.
    pub error: Option<String>,
}

/// Everything Ferry knows about one domain's mail DNS.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DomainDns {
    pub domain: String,
    pub answers: Vec<ResolverAnswer>,
    /// Over all resolvers: `New` only when every resolver answered, each only the new host.
    pub points: Points,
    /// Resolvers that still answer the old server (alone or with the new host).
    pub still_old: Vec<String>,
    /// Resolvers that failed or did not answer: they do not count as answering the new host.
    pub failed: Vec<String>,
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

/// Why a lookup gave no records: the resolver failed, or did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LookupFailure {
    pub(crate) status: ResolverStatus,
    pub(crate) reason: String,
}

impl std::fmt::Display for LookupFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason)
    }
}

/// One resolver (a single name server, or the system's), without a cache so that a watch sees
/// each change as soon as the server has it. A client lives for one check: once it has not
/// answered, the rest of that check skips it (one timeout per check, not one per lookup).
pub(crate) struct Client {
    label: String,
    resolver: TokioResolver,
    timeout: Duration,
    silent: OnceLock<String>,
}

impl Client {
    pub(crate) fn new(addr: Option<SocketAddr>, timeout: Duration) -> Result<Self> {
        let mut opts = ResolverOpts::default();
        opts.timeout = timeout;
        // hickory retries `attempts` more times after the first: one query is one timeout.
        opts.attempts = 0;
        opts.cache_size = 0;
        opts.use_hosts_file = ResolveHosts::Never;
        let (label, builder) = match addr {
            Some(addr) => {
                let mut server = NameServerConfig::udp_and_tcp(addr.ip());
                for connection in &mut server.connections {
                    connection.port = addr.port();
                }
                (
                    addr.to_string(),
                    TokioResolver::builder_with_config(
                        ResolverConfig::from_name_servers(vec![server]),
                        TokioRuntimeProvider::default(),
                    ),
                )
            }
            None => (
                "system".to_string(),
                TokioResolver::builder_tokio().map_err(|e| CutoverError::BadResolver {
                    value: format!("system resolver configuration ({e})"),
                })?,
            ),
        };
        let resolver =
            builder
                .with_options(opts)
                .build()
                .map_err(|e| CutoverError::BadResolver {
                    value: format!("{label} ({e})"),
                })?;
        Ok(Self {
            label,
            resolver,
            timeout,
            silent: OnceLock::new(),
        })
    }

    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Why this resolver is skipped for the rest of the check, if it is.
    pub(crate) fn silent(&self) -> Option<&str> {
        self.silent.get().map(String::as_str)
    }

    /// Records of one type; an empty list when the name has none (NXDOMAIN or NODATA). Any other
    /// outcome is a failure of the resolver, never "no records".
    pub(crate) async fn records(
        &self,
        name: &str,
        rtype: RecordType,
    ) -> std::result::Result<Vec<(u32, RData)>, LookupFailure> {
        if let Some(reason) = self.silent() {
            return Err(LookupFailure {
                status: ResolverStatus::NoAnswer,
                reason: reason.to_string(),
            });
        }
        let fqdn = fqdn(name).map_err(|e| LookupFailure {
            status: ResolverStatus::Failed,
            reason: e.to_string(),
        })?;
        match self.resolver.lookup(fqdn, rtype).await {
            Ok(lookup) => Ok(lookup
                .answers()
                .iter()
                .filter(|r| r.record_type() == rtype)
                .map(|r| (r.ttl, r.data.clone()))
                .collect()),
            Err(e) => match self.failure(&e, rtype, name) {
                None => Ok(Vec::new()),
                Some(failure) => {
                    if failure.status == ResolverStatus::NoAnswer {
                        let _ = self.silent.set(failure.reason.clone());
                    }
                    Err(failure)
                }
            },
        }
    }

    /// `None` for an empty answer; otherwise what went wrong, in words, naming the query.
    fn failure(&self, e: &NetError, rtype: RecordType, name: &str) -> Option<LookupFailure> {
        let query = format!("{rtype} {}", normalize(name));
        let (status, reason) = match e {
            NetError::Dns(DnsError::NoRecordsFound(NoRecords {
                response_code: ResponseCode::NXDomain | ResponseCode::NoError,
                ..
            })) => return None,
            NetError::Dns(DnsError::NoRecordsFound(NoRecords { response_code, .. }))
            | NetError::Dns(DnsError::ResponseCode(response_code)) => (
                ResolverStatus::Failed,
                format!(
                    "answered {} to {query}",
                    response_code_words(*response_code)
                ),
            ),
            NetError::Timeout | NetError::NoConnections => (
                ResolverStatus::NoAnswer,
                format!(
                    "no answer within {} to {query}",
                    human_duration(self.timeout)
                ),
            ),
            NetError::Io(io) => (
                ResolverStatus::NoAnswer,
                format!("no answer to {query} ({io})"),
            ),
            other => (ResolverStatus::Failed, format!("{other} ({query})")),
        };
        Some(LookupFailure { status, reason })
    }

    pub(crate) async fn addresses(
        &self,
        name: &str,
    ) -> std::result::Result<Vec<AddressRecord>, LookupFailure> {
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
    ) -> std::result::Result<Vec<(u32, u16, String)>, LookupFailure> {
        let mut out: Vec<(u32, u16, String)> = self
            .records(domain, RecordType::MX)
            .await?
            .into_iter()
            .filter_map(|(ttl, data)| match data {
                RData::MX(mx) => Some((ttl, mx.preference, normalize(&mx.exchange.to_ascii()))),
                _ => None,
            })
            .collect();
        out.sort_by(|a, b| (a.1, &a.2).cmp(&(b.1, &b.2)));
        Ok(out)
    }

    pub(crate) async fn txt(&self, name: &str) -> std::result::Result<Vec<String>, LookupFailure> {
        Ok(self
            .records(name, RecordType::TXT)
            .await?
            .into_iter()
            .filter_map(|(_, data)| match data {
                // A TXT record is several character-strings; SPF joins them without spaces (RFC 7208 3.3).
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part).into_owned())
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }
}

/// SERVFAIL and REFUSED with what they mean; other codes by their name.
fn response_code_words(code: ResponseCode) -> String {
    match code {
        ResponseCode::ServFail => "SERVFAIL (the resolver could not get an answer)".into(),
        ResponseCode::Refused => "REFUSED (the resolver will not answer this client)".into(),
        other => format!("{} ({other})", u16::from(other)),
    }
}

fn human_duration(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        human_secs(d.as_secs() as u32)
    } else {
        format!("{} ms", d.as_millis())
    }
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

/// Where a set of MX hosts (or the answers of several resolvers that all answered) points.
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

/// A domain over every resolver: what the resolvers that answered say, except that "new" needs
/// every resolver to have answered.
fn domain_points(answers: &[ResolverAnswer]) -> Points {
    let answered: Vec<Points> = answers
        .iter()
        .filter(|a| a.status == ResolverStatus::Answered)
        .map(|a| a.points)
        .collect();
    if answered.is_empty() {
        return Points::Failed;
    }
    match combine(answered.iter().copied()) {
        Points::New if answered.len() < answers.len() => Points::Unknown,
        other => other,
    }
}

async fn answer(client: &Client, domain: &str, targets: &Targets) -> ResolverAnswer {
    let failed = |failure: LookupFailure, mx: Vec<MxRecord>| ResolverAnswer {
        resolver: client.label().to_string(),
        status: failure.status,
        mx,
        points: Points::Failed,
        error: Some(failure.reason),
    };
    let mx = match client.mx(domain).await {
        Ok(mx) => mx,
        Err(failure) => return failed(failure, Vec::new()),
    };
    let mut records = Vec::new();
    let mut first_failure = None;
    for (ttl, preference, host) in mx {
        let (addresses, error) = match client.addresses(&host).await {
            Ok(a) => (a, None),
            Err(failure) => {
                let reason = failure.reason.clone();
                first_failure.get_or_insert(failure);
                (Vec::new(), Some(reason))
            }
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
    // Without an MX host's addresses Ferry cannot tell where it points (an old name may have
    // moved to the new address): the resolver's answer is incomplete, not "new".
    if let Some(failure) = first_failure {
        return failed(failure, records);
    }
    let points = if records.is_empty() {
        Points::NoMx
    } else {
        combine(records.iter().map(|r| r.points))
    };
    ResolverAnswer {
        resolver: client.label().to_string(),
        status: ResolverStatus::Answered,
        mx: records,
        points,
        error: None,
    }
}

fn max_ttl<'a>(answers: impl Iterator<Item = &'a ResolverAnswer>) -> Option<u32> {
    answers
        .flat_map(|a| a.mx.iter())
        .flat_map(|mx| std::iter::once(mx.ttl).chain(mx.addresses.iter().map(|a| a.ttl)))
        .max()
}

/// Before the switch: lower the TTL first (when high), then wait the old TTL. During it: wait
/// for the resolvers that still hold the old MX. After it: nothing to lower.
fn ttl_advice(answers: &[ResolverAnswer], points: Points) -> Option<TtlAdvice> {
    let max_all = max_ttl(answers.iter())?;
    let any_new = answers.iter().any(|a| {
        a.status == ResolverStatus::Answered && matches!(a.points, Points::New | Points::Both)
    });
    let stage = if points == Points::New {
        SwitchStage::Done
    } else if any_new {
        SwitchStage::UnderWay
    } else {
        SwitchStage::Before
    };
    let (max_ttl, lower_first, wait_secs, text) = match stage {
        SwitchStage::Before if max_all > RECOMMENDED_TTL => (
            max_all,
            true,
            max_all,
            format!(
                "Lower the TTL of the MX record and of its hosts' A/AAAA records from {} to {RECOMMENDED_TTL} s now, then wait the old TTL ({}) before switching the MX, so that no resolver still holds the old value for long.",
                human_secs(max_all),
                human_secs(max_all)
            ),
        ),
        SwitchStage::Before => (
            max_all,
            false,
            0,
            format!(
                "TTLs are low ({}): after you switch the MX, resolvers follow within {}.",
                human_secs(max_all),
                human_secs(max_all)
            ),
        ),
        SwitchStage::UnderWay => {
            let old = max_ttl(answers.iter().filter(|a| {
                a.status == ResolverStatus::Answered
                    && matches!(a.points, Points::Old | Points::Both)
            }))
            .unwrap_or(max_all);
            (
                old,
                false,
                old,
                format!(
                    "The switch is under way: some resolvers already answer the new MX; wait up to {} (the old TTL) for the rest.",
                    human_secs(old)
                ),
            )
        }
        SwitchStage::Done => (
            max_all,
            false,
            0,
            "Every resolver answers the new MX: no TTL needs lowering.".to_string(),
        ),
    };
    Some(TtlAdvice {
        stage,
        max_ttl,
        recommended_ttl: RECOMMENDED_TTL,
        lower_first,
        wait_secs,
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

/// SPF is about what the zone says, not about propagation: read it from the first resolver that
/// answers, in order; a resolver that fails or is silent passes the question to the next.
async fn read_spf(clients: &[Client], domain: &str, targets: &Targets) -> SpfCheck {
    let mut failures = Vec::new();
    for client in clients {
        if let Some(reason) = client.silent() {
            failures.push(format!("resolver {}: {reason}", client.label()));
            continue;
        }
        match spf::check(client, domain, targets).await {
            Ok(mut check) => {
                check.resolver = Some(client.label().to_string());
                return check;
            }
            Err(reason) => failures.push(format!("resolver {}: {reason}", client.label())),
        }
    }
    spf::unreadable(failures)
}

/// Checks every domain on every resolver: MX, addresses, where they point, TTL advice, SPF.
/// Refuses invalid domains, names and addresses first, naming the value.
pub async fn check(
    domains: &[String],
    options: &DnsOptions,
    targets: &Targets,
) -> Result<DnsReport> {
    for d in domains {
        validate_domain(d)?;
    }
    targets.validate()?;
    let clients = clients(options)?;
    let mut out = Vec::new();
    let mut warnings = Vec::new();
    let mut silent_warned = BTreeSet::new();
    for domain in domains {
        let domain = normalize(domain);
        let answers =
            futures::future::join_all(clients.iter().map(|c| answer(c, &domain, targets))).await;
        let points = domain_points(&answers);
        let still_old = answers
            .iter()
            .filter(|a| {
                a.status == ResolverStatus::Answered
                    && matches!(a.points, Points::Old | Points::Both)
            })
            .map(|a| a.resolver.clone())
            .collect();
        let failed = answers
            .iter()
            .filter(|a| a.status != ResolverStatus::Answered)
            .map(|a| a.resolver.clone())
            .collect();
        let ttl = ttl_advice(&answers, points);
        let spf = read_spf(&clients, &domain, targets).await;
        if let Some(w) = &spf.warning {
            warnings.push(format!("{domain}: {w}"));
        }
        for a in &answers {
            let reason = a.error.as_deref().unwrap_or("");
            match a.status {
                ResolverStatus::Answered => {}
                ResolverStatus::Failed => warnings.push(format!(
                    "{domain}: resolver {} failed: {reason}; it does not count as answering the new host",
                    a.resolver
                )),
                // A silent resolver is one warning per check, not one per domain.
                ResolverStatus::NoAnswer => {
                    if silent_warned.insert(a.resolver.clone()) {
                        warnings.push(format!(
                            "resolver {} did not answer ({reason}); it was skipped for the rest of this check and does not count as answering the new host",
                            a.resolver
                        ));
                    }
                }
            }
        }
        out.push(DomainDns {
            domain,
            answers,
            points,
            still_old,
            failed,
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
    /// Give up after this long (the report then says which resolvers still answer the old MX,
    /// and which failed). The last check starts at this point at the latest, so a watch ends
    /// within `max_wait` plus one check (a silent resolver costs one timeout per check).
    pub max_wait: Duration,
}

/// Checks again every `interval` until every domain on every resolver answers only the new host,
/// or `max_wait` has passed. `on_round` sees each round's report (for progress output). A resolver
/// that fails or does not answer never counts as new: the watch keeps asking it, and each round's
/// report names it (`DomainDns::failed`).
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
        let elapsed = started.elapsed();
        if report.all_new || elapsed >= watch.max_wait {
            return Ok(report);
        }
        tokio::time::sleep(watch.interval.min(watch.max_wait - elapsed)).await;
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
    fn names_and_addresses_are_checked() {
        assert_eq!(validate_domain("Example.COM.").unwrap(), "example.com");
        assert_eq!(
            host_name("_spf.google.com", "x").unwrap(),
            "_spf.google.com"
        );
        assert_eq!(
            host_name_pattern("*.NewHost.test", "x").unwrap(),
            "*.newhost.test"
        );
        assert_eq!(
            host_name_pattern(".newhost.test", "x").unwrap(),
            ".newhost.test"
        );
        assert_eq!(
            host_name("bücher.example", "x").unwrap(),
            "xn--bcher-kva.example"
        );
        for (bad, reason) in [
            ("mx..newhost.test", "it has two dots in a row"),
            ("https://mx.newhost.test/", "it looks like a web address"),
            ("mx.newhost.test:25", "':' cannot appear in a DNS name"),
            ("198.51.100.10", "it is an IP address, not a name"),
            ("localhost", "it has no dot"),
            ("", "it is empty"),
            (".newhost.test", "it starts with a dot"),
            ("-mx.newhost.test", "'-mx' starts or ends with a hyphen"),
            ("mx.new host.test", "' ' cannot appear in a DNS name"),
            ("mx!.newhost.test", "'!' cannot appear in a DNS name"),
            ("1.2.3", "its last part is a number"),
        ] {
            let err = host_name(bad, "the new host's name")
                .unwrap_err()
                .to_string();
            assert!(
                err.starts_with(&format!(
                    "'{bad}', given as the new host's name, is not a valid host name: {reason}"
                )),
                "{bad}: {err}"
            );
        }
        // A one-label name is the old server's LAN name, never the new host's.
        let mut lan = Targets {
            old: HostSet {
                names: vec!["server".into()],
                addresses: vec![],
            },
            ..Targets::default()
        };
        lan.validate().unwrap();
        lan.new.names = vec!["newhost".into()];
        assert_eq!(
            lan.validate().unwrap_err().to_string(),
            "'newhost', given as the new host's name, is not a valid host name: it has no dot; give the full name (for example mail.example.net)"
        );
        let long = format!("{}.example", "a".repeat(64));
        assert!(host_name(&long, "x").is_err());
        let t = Targets {
            new: HostSet {
                names: vec!["mx.newhost.test".into()],
                addresses: vec!["198.51.100.300".into()],
            },
            ..Targets::default()
        };
        assert_eq!(
            t.validate().unwrap_err().to_string(),
            "'198.51.100.300', given as an address of the new host, is not an IP address; give an IPv4 or IPv6 address such as 192.0.2.10 or 2001:db8::10"
        );
    }

    #[test]
    fn resolver_addresses() {
        assert_eq!(parse_resolver("192.0.2.53").unwrap().port(), 53);
        assert_eq!(parse_resolver("127.0.0.1:5353").unwrap().port(), 5353);
        assert_eq!(parse_resolver("[::1]:5353").unwrap().port(), 5353);
        assert!(parse_resolver("dns.example").is_err());
    }
}
