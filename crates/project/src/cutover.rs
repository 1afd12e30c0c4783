//! Phases 6, 7, 10 and the inputs of 11: DNS before and during the MX switch, mail still arriving
//! at the old server, the quarantine archive. The domains, host name and accounts come from
//! discovery ([`crate::discover::run`]); the checks themselves live in `ferry-cutover`.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

pub use ferry_cutover::dns::{
    parse_resolver, validate_domain, DnsOptions, DnsReport, DomainDns, HostSet, Points,
    ResolverAnswer, ResolverStatus, SwitchStage, Targets, TtlAdvice, WatchOptions,
};
pub use ferry_cutover::logs::{AttemptOutcome, LogYear, LogZone, RejectedAttempt, YearSource};
pub use ferry_cutover::mailflow::{
    AccountFlow, LoggedMessage, MailflowOptions, MailflowReport, MailflowWatch, StoreAccount,
    StoreArrival, DEFAULT_QUIET_HOURS,
};
pub use ferry_cutover::quarantine::{ArchivedMailbox, MailboxKind, QuarantineArchive};
pub use ferry_cutover::spf::{SpfCheck, SpfVerdict};
pub use ferry_cutover::CutoverError;
pub use ferry_imap::types::{Credentials as ImapCredentials, Endpoint as ImapEndpoint};

use crate::discover::{DiscoverError, Inventory};

#[derive(Debug, thiserror::Error)]
pub enum CutoverPhaseError {
    #[error("reading the old server failed: {0}")]
    Discover(#[from] DiscoverError),
    #[error(transparent)]
    Cutover(#[from] CutoverError),
    #[error("discovery found no mail domain on the old server; name the domains to check")]
    NoDomains,
    #[error("cannot log in to the IMAP destination for the archive: {0}")]
    Imap(String),
}

pub type Result<T, E = CutoverPhaseError> = std::result::Result<T, E>;

/// What the DNS checks look at: the domains, the old server and the new host.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DnsPlan {
    pub domains: Vec<String>,
    pub targets: Targets,
}

/// Domains from discovery (unless given), the old server recognised by its Postfix host name (and
/// any addresses the admin gives), the new host as the admin names it.
pub fn dns_plan(
    inventory: &Inventory,
    domains: Vec<String>,
    old_addresses: Vec<String>,
    new_host: HostSet,
    new_spf_includes: Vec<String>,
) -> Result<DnsPlan> {
    let domains = if domains.is_empty() {
        inventory.domains.clone()
    } else {
        domains
    };
    if domains.is_empty() {
        return Err(CutoverPhaseError::NoDomains);
    }
    let old_names = if inventory.hostname.is_empty() {
        Vec::new()
    } else {
        vec![inventory.hostname.clone()]
    };
    Ok(DnsPlan {
        domains,
        targets: Targets {
            old: HostSet {
                names: old_names,
                addresses: old_addresses,
            },
            new: new_host,
            new_spf_includes,
        },
    })
}

/// Phase 6 (and one look during phase 7): MX, addresses, TTL advice, SPF of every domain.
pub async fn dns_check(plan: &DnsPlan, options: &DnsOptions) -> Result<DnsReport> {
    Ok(ferry_cutover::dns::check(&plan.domains, options, &plan.targets).await?)
}

/// Phase 7: watch until every resolver answers the new MX (or `watch.max_wait` passes).
pub async fn dns_watch(
    plan: &DnsPlan,
    options: &DnsOptions,
    watch: &WatchOptions,
    on_round: impl FnMut(&DnsReport),
) -> Result<DnsReport> {
    Ok(ferry_cutover::dns::watch(&plan.domains, options, &plan.targets, watch, on_round).await?)
}

/// Every store discovery found, named by the account's short name (the logs use it); orphans by
/// their GUID.
pub fn store_accounts(inventory: &Inventory) -> Vec<StoreAccount> {
    let accounts = inventory
        .accounts
        .iter()
        .filter_map(|a| Some((a.short_name.clone(), a.store.clone()?)));
    let training = inventory
        .training_mailboxes
        .iter()
        .filter_map(|t| Some((t.short_name.clone(), t.store.clone()?)));
    let orphans = inventory
        .orphans
        .iter()
        .map(|o| (o.guid.clone(), o.store.clone()));
    accounts
        .chain(training)
        .chain(orphans)
        .map(|(name, dir)| StoreAccount {
            name,
            dir: PathBuf::from(dir),
        })
        .collect()
}

/// How to read the mail flow.
#[derive(Debug, Clone)]
pub struct MailflowRequest {
    pub cutover: Option<DateTime<Utc>>,
    pub quiet_hours: u32,
    pub zone: LogZone,
    pub year_of_last_line: Option<i32>,
}

impl Default for MailflowRequest {
    fn default() -> Self {
        Self {
            cutover: None,
            quiet_hours: DEFAULT_QUIET_HOURS,
            zone: LogZone::Local,
            year_of_last_line: None,
        }
    }
}

fn mailflow_options(root: &Path, inventory: &Inventory, req: &MailflowRequest) -> MailflowOptions {
    let mut o = MailflowOptions::new(root);
    o.accounts = store_accounts(inventory);
    o.cutover = req.cutover;
    o.quiet_hours = req.quiet_hours;
    o.zone = req.zone;
    o.year_of_last_line = req.year_of_last_line;
    o
}

/// Phase 11's input: the last delivery per account and overall, late arrivals, quiet time.
pub fn mailflow(root: &Path, req: &MailflowRequest, now: DateTime<Utc>) -> Result<MailflowReport> {
    let inventory = crate::discover::run(root)?;
    Ok(ferry_cutover::mailflow::check(
        mailflow_options(root, &inventory, req),
        now,
    )?)
}

/// Starts watching the old server's logs and store; call `poll` on it as often as wanted.
pub fn mailflow_watch(root: &Path, req: &MailflowRequest) -> Result<MailflowWatch> {
    let inventory = crate::discover::run(root)?;
    Ok(MailflowWatch::start(mailflow_options(
        root, &inventory, req,
    ))?)
}

fn quarantine_mailboxes(root: &Path) -> Result<Vec<ferry_cutover::quarantine::QuarantineMailbox>> {
    quarantine_mailboxes_of(root, &crate::discover::run(root)?)
}

/// The quarantine of the server whose `/` is `root`, as `inventory` found it: the junk-training
/// mailboxes' stores and amavis' quarantine folder.
pub fn quarantine_mailboxes_of(
    root: &Path,
    inventory: &Inventory,
) -> Result<Vec<ferry_cutover::quarantine::QuarantineMailbox>> {
    let training: Vec<StoreAccount> = inventory
        .training_mailboxes
        .iter()
        .filter_map(|t| {
            Some(StoreAccount {
                name: t.short_name.clone(),
                dir: PathBuf::from(t.store.clone()?),
            })
        })
        .collect();
    Ok(ferry_cutover::quarantine::find(root, &training)?)
}

/// Phase 10 as files: one mbox per mailbox in `dest_dir`.
pub fn quarantine_to_mbox(root: &Path, dest_dir: &Path) -> Result<QuarantineArchive> {
    let mailboxes = quarantine_mailboxes(root)?;
    Ok(ferry_cutover::quarantine::archive_to_mbox(
        &mailboxes, dest_dir,
    )?)
}

/// Phase 10 to the destination: one folder per mailbox below `base_folder` of the account that
/// `credentials` log in to.
pub async fn quarantine_to_imap(
    root: &Path,
    endpoint: &ferry_imap::types::Endpoint,
    credentials: &ferry_imap::types::Credentials,
    base_folder: &str,
) -> Result<QuarantineArchive> {
    let mailboxes = quarantine_mailboxes(root)?;
    let mut session = ferry_imap::Client::connect(endpoint, ferry_imap::types::Timeouts::default())
        .await
        .map_err(|e| CutoverPhaseError::Imap(format!("{e}. {}", e.advice())))?
        .login(credentials)
        .await
        .map_err(|e| CutoverPhaseError::Imap(format!("{e}. {}", e.advice())))?;
    let result =
        ferry_cutover::imap_archive::archive_to_imap(&mut session, base_folder, &mailboxes).await;
    session.logout().await;
    Ok(result?)
}

/// What the decommission checklist and final report take from the cut-over phases.
#[derive(Debug, Clone, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct DecommissionInputs {
    pub dns: Option<DnsReport>,
    pub mailflow: Option<MailflowReport>,
    pub quarantine: Option<QuarantineArchive>,
}

impl DecommissionInputs {
    /// Safe to switch the old server off: DNS all on the new host, quiet for the required hours,
    /// no late arrival left behind (the caller runs the final sync first), quarantine archived.
    pub fn ready(&self) -> bool {
        self.dns.as_ref().is_some_and(|d| d.all_new)
            && self.mailflow.as_ref().is_some_and(|m| m.quiet)
            && self.quarantine.as_ref().is_some_and(|q| q.complete())
    }
}
