//! Phase 11, decommission: may the old server be switched off? A checklist computed from what the
//! other phases found (accounts final-synced and verified, DNS, mail still arriving, quarantine,
//! profiles, a clone of the server kept), each item done / not yet / blocked with what to do, in
//! a person's words. Plain inputs: the project fills them from its file.

use crate::words::plural;
use chrono::{DateTime, Duration, Utc};
use ferry_cutover::dns::DnsReport;
use ferry_cutover::mailflow::MailflowReport;
use ferry_cutover::quarantine::QuarantineArchive;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Hours without mail at the old server before it may go (the seed's 72 h).
pub const REQUIRED_QUIET_HOURS: u32 = 72;

/// Where one account stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AccountReadiness {
    /// As people know it (the address on the new host).
    pub account: String,
    /// The short name on the old server (the mail-flow check names accounts by it).
    pub old_login: String,
    /// Part of the migration (an excluded account does not hold the decommission up).
    pub included: bool,
    /// When its final sync ended (None: not run yet).
    #[ts(type = "string | null")]
    pub final_synced_at: Option<DateTime<Utc>>,
    /// Verified after the final sync: `Some(true)` nothing missing, `Some(false)` messages
    /// missing, `None` not verified yet.
    pub verified: Option<bool>,
    /// Messages missing and not kept another way (wrapped or in an mbox file).
    pub missing: u64,
}

/// Everything the checklist is computed from.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChecklistInput {
    #[ts(type = "string")]
    pub now: DateTime<Utc>,
    pub accounts: Vec<AccountReadiness>,
    /// The latest DNS check.
    pub dns: Option<DnsReport>,
    /// The latest look at mail arriving at the old server.
    pub mailflow: Option<MailflowReport>,
    /// Hours of quiet required ([`REQUIRED_QUIET_HOURS`] unless the admin chose otherwise).
    pub quiet_hours: u32,
    /// Whether the old server has quarantine mailboxes to archive at all.
    pub has_quarantine: bool,
    pub quarantine: Option<QuarantineArchive>,
    /// When the device profiles were exported.
    #[ts(type = "string | null")]
    pub profiles_exported_at: Option<DateTime<Utc>>,
    /// When the admin confirmed a clone or full backup of the old server is kept.
    #[ts(type = "string | null")]
    pub server_clone_confirmed_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ItemState {
    Done,
    /// Waiting for a step that is next anyway (or for time to pass).
    NotYet,
    /// Something must be fixed first.
    Blocked,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
#[serde(rename_all = "snake_case")]
pub enum ChecklistItemId {
    AccountsFinalSynced,
    DnsAllNew,
    OldServerQuiet,
    QuarantineArchived,
    ProfilesExported,
    ServerCloneKept,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ChecklistItem {
    pub id: ChecklistItemId,
    pub title: String,
    pub state: ItemState,
    /// Where it stands.
    pub detail: String,
    /// What to do next (None when done).
    pub todo: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Checklist {
    #[ts(type = "string")]
    pub checked_at: DateTime<Utc>,
    pub items: Vec<ChecklistItem>,
    /// Every item done: the old server may be switched off.
    pub ready: bool,
}

fn item(
    id: ChecklistItemId,
    title: &str,
    state: ItemState,
    detail: String,
    todo: Option<String>,
) -> ChecklistItem {
    ChecklistItem {
        id,
        title: title.to_string(),
        state,
        detail,
        todo: if state == ItemState::Done { None } else { todo },
    }
}

fn when(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn accounts_item(input: &ChecklistInput) -> ChecklistItem {
    const TITLE: &str = "Every account final-synced and verified";
    let id = ChecklistItemId::AccountsFinalSynced;
    let included: Vec<&AccountReadiness> = input.accounts.iter().filter(|a| a.included).collect();
    if included.is_empty() {
        return item(
            id,
            TITLE,
            ItemState::Blocked,
            "No account is part of the migration.".into(),
            Some("Include the accounts to move in the account plan.".into()),
        );
    }
    // Files that reached the old store after an account's final sync (delivered mail, or mail
    // someone wrote or moved there) are not on the new host.
    let late = |a: &AccountReadiness| {
        input.mailflow.as_ref().and_then(|m| {
            m.late_arrivals
                .iter()
                .chain(&m.written_since_cutover)
                .filter(|l| {
                    (l.account.eq_ignore_ascii_case(&a.old_login)
                        || account_matches(&l.account, &a.account))
                        && a.final_synced_at.is_some_and(|f| l.at > f)
                })
                .map(|l| l.at)
                .max()
        })
    };
    let mut blocked = Vec::new();
    let mut waiting = Vec::new();
    for a in &included {
        if a.verified == Some(false) || a.missing > 0 {
            blocked.push(format!(
                "{}: {} not on the new host",
                a.account,
                plural(a.missing, "message", "messages")
            ));
        } else if a.final_synced_at.is_none() {
            waiting.push(format!("{}: final sync not run yet", a.account));
        } else if let Some(at) = late(a) {
            waiting.push(format!(
                "{}: mail arrived at the old server after its final sync (at {})",
                a.account,
                when(at)
            ));
        } else if a.verified.is_none() {
            waiting.push(format!("{}: not verified yet", a.account));
        }
    }
    let ok = included.len() - blocked.len() - waiting.len();
    let head = format!(
        "{ok} of {} final-synced and verified.",
        plural(included.len() as u64, "account", "accounts")
    );
    if !blocked.is_empty() {
        let mut lines = blocked;
        lines.extend(waiting);
        item(
            id,
            TITLE,
            ItemState::Blocked,
            format!("{head} {}.", lines.join("; ")),
            Some("Open the review: retry the messages that failed, or keep those the new host refuses (delivered wrapped, or exported to an mbox file).".into()),
        )
    } else if !waiting.is_empty() {
        item(
            id,
            TITLE,
            ItemState::NotYet,
            format!("{head} {}.", waiting.join("; ")),
            Some("Run the final sync (it verifies every account when it ends).".into()),
        )
    } else {
        item(id, TITLE, ItemState::Done, head, None)
    }
}

fn account_matches(flow_account: &str, account: &str) -> bool {
    let short = |s: &str| s.split('@').next().unwrap_or(s).to_ascii_lowercase();
    flow_account.eq_ignore_ascii_case(account) || short(flow_account) == short(account)
}

fn dns_item(input: &ChecklistInput) -> ChecklistItem {
    const TITLE: &str = "DNS points only to the new host";
    let id = ChecklistItemId::DnsAllNew;
    match &input.dns {
        None => item(
            id,
            TITLE,
            ItemState::NotYet,
            "DNS has not been checked yet.".into(),
            Some("Check DNS after switching the MX records to the new host.".into()),
        ),
        Some(d) if d.all_new => item(
            id,
            TITLE,
            ItemState::Done,
            format!(
                "Every resolver answers only the new host for {} (checked {}).",
                d.domains
                    .iter()
                    .map(|x| x.domain.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                when(d.checked_at)
            ),
            None,
        ),
        Some(d) => {
            let pending: Vec<String> = d
                .domains
                .iter()
                .filter(|x| !x.still_old.is_empty() || !x.failed.is_empty())
                .map(|x| {
                    let mut why = Vec::new();
                    if !x.still_old.is_empty() {
                        why.push(format!("still old at {}", x.still_old.join(", ")));
                    }
                    if !x.failed.is_empty() {
                        why.push(format!("no answer from {}", x.failed.join(", ")));
                    }
                    format!("{} ({})", x.domain, why.join("; "))
                })
                .collect();
            let detail = if pending.is_empty() {
                format!(
                    "Not every resolver answers only the new host yet (checked {}).",
                    when(d.checked_at)
                )
            } else {
                format!(
                    "Not all new yet (checked {}): {}.",
                    when(d.checked_at),
                    pending.join(", ")
                )
            };
            item(
                id,
                TITLE,
                ItemState::NotYet,
                detail,
                Some("Switch the MX records to the new host if not done, then check again: resolvers follow within the old records' TTL.".into()),
            )
        }
    }
}

fn quiet_item(input: &ChecklistInput) -> ChecklistItem {
    let hours = input.quiet_hours.max(1);
    let title = format!("No mail at the old server for {hours} hours");
    let id = ChecklistItemId::OldServerQuiet;
    let dns_new = input.dns.as_ref().is_some_and(|d| d.all_new);
    let Some(m) = &input.mailflow else {
        return item(
            id,
            &title,
            if dns_new {
                ItemState::NotYet
            } else {
                ItemState::Blocked
            },
            "Mail arriving at the old server has not been checked yet.".into(),
            Some(if dns_new {
                "Check the mail flow at the old server.".into()
            } else {
                "First get DNS to point only to the new host: until then mail keeps arriving at the old server.".into()
            }),
        );
    };
    // Quiet since the last delivery or refused attempt (the mail-flow check's rule, counted on
    // to `now`); with neither seen, since the cut-over.
    let since = m
        .quiet_for_secs
        .map(|q| m.checked_at - Duration::seconds(q))
        .or(m.cutover);
    let quiet_for = since.map(|t| input.now - t);
    let unstored = if m.logged_not_stored.is_empty() {
        String::new()
    } else {
        format!(
            " {} after the cut-over the logs show but the old store does not hold (deleted, or never written): ask those people whether they miss mail.",
            plural(m.logged_not_stored.len() as u64, "delivery", "deliveries")
        )
    };
    let needed = Duration::hours(i64::from(hours));
    match quiet_for {
        Some(q) if q >= needed && dns_new => item(
            id,
            &title,
            ItemState::Done,
            match (m.quiet_for_secs, since) {
                (Some(_), Some(t)) => format!(
                    "The last mail or refused attempt was {} ({} hours ago).{unstored}",
                    when(t),
                    q.num_hours()
                ),
                _ => format!(
                    "No mail has arrived since the cut-over ({} hours ago).{unstored}",
                    q.num_hours()
                ),
            },
            None,
        ),
        Some(q) if q >= needed => item(
            id,
            &title,
            ItemState::Blocked,
            format!("Quiet for {} hours, but DNS does not point only to the new host yet.", q.num_hours()),
            Some("First get DNS to point only to the new host: until then mail can still arrive at the old server.".into()),
        ),
        Some(q) => {
            let at = since.map(|t| t + needed).unwrap_or(input.now + needed);
            item(
                id,
                &title,
                if dns_new { ItemState::NotYet } else { ItemState::Blocked },
                format!(
                    "Quiet for {} of {hours} hours{}.{unstored}",
                    q.num_hours().max(0),
                    match (m.quiet_for_secs, since) {
                        (Some(_), Some(t)) => format!(" (last mail or refused attempt {})", when(t)),
                        _ => String::new(),
                    }
                ),
                Some(format!(
                    "Wait: check again after {}{}. Mail that arrives in the meantime is copied by a final sync.",
                    when(at),
                    if dns_new { "" } else { ", once DNS points only to the new host" }
                )),
            )
        }
        None => item(
            id,
            &title,
            if dns_new { ItemState::NotYet } else { ItemState::Blocked },
            "No delivery and no cut-over time are known yet.".into(),
            Some("Record when the MX records were switched (the DNS watch does it), then check the mail flow again.".into()),
        ),
    }
}

fn quarantine_item(input: &ChecklistInput) -> ChecklistItem {
    const TITLE: &str = "Quarantine archived";
    let id = ChecklistItemId::QuarantineArchived;
    match &input.quarantine {
        Some(q) if q.complete() => {
            let messages: u32 = q.mailboxes.iter().map(|m| m.found).sum();
            item(
                id,
                TITLE,
                ItemState::Done,
                format!(
                    "{} archived ({} on {}).",
                    plural(q.mailboxes.len() as u64, "mailbox", "mailboxes"),
                    plural(u64::from(messages), "message", "messages"),
                    when(q.archived_at)
                ),
                None,
            )
        }
        Some(q) => {
            let failed: u32 = q.mailboxes.iter().map(|m| m.failed).sum();
            item(
                id,
                TITLE,
                ItemState::Blocked,
                format!(
                    "The archive of {} is incomplete: {} could not be read.",
                    when(q.archived_at),
                    plural(u64::from(failed), "message", "messages")
                ),
                Some("Read the archive's warnings, fix what they name, and archive the quarantine again (messages already archived are not added twice).".into()),
            )
        }
        None if !input.has_quarantine => item(
            id,
            TITLE,
            ItemState::Done,
            "The old server has no quarantine mailboxes.".into(),
            None,
        ),
        None => item(
            id,
            TITLE,
            ItemState::NotYet,
            "The quarantine (spam and virus mail held by the old server) is not archived yet."
                .into(),
            Some("Archive the quarantine, to an mbox file or a folder on the new host.".into()),
        ),
    }
}

fn profiles_item(input: &ChecklistInput) -> ChecklistItem {
    const TITLE: &str = "Device profiles exported";
    match input.profiles_exported_at {
        Some(t) => item(
            ChecklistItemId::ProfilesExported,
            TITLE,
            ItemState::Done,
            format!("Exported {}.", when(t)),
            None,
        ),
        None => item(
            ChecklistItemId::ProfilesExported,
            TITLE,
            ItemState::NotYet,
            "The mail settings profiles for the Macs, iPhones and iPads are not exported yet.".into(),
            Some("Export the profiles and install them on each device, so that people read their mail on the new host.".into()),
        ),
    }
}

fn clone_item(input: &ChecklistInput) -> ChecklistItem {
    const TITLE: &str = "A clone of the old server is kept";
    match input.server_clone_confirmed_at {
        Some(t) => item(
            ChecklistItemId::ServerCloneKept,
            TITLE,
            ItemState::Done,
            format!("Confirmed {}.", when(t)),
            None,
        ),
        None => item(
            ChecklistItemId::ServerCloneKept,
            TITLE,
            ItemState::NotYet,
            "No clone or full backup of the old server has been confirmed.".into(),
            Some("Make a bootable clone or a full backup of the old server's disk, keep it somewhere safe, then confirm it here.".into()),
        ),
    }
}

/// The readiness checklist. Ready when every item is done.
pub fn checklist(input: &ChecklistInput) -> Checklist {
    let items = vec![
        accounts_item(input),
        dns_item(input),
        quiet_item(input),
        quarantine_item(input),
        profiles_item(input),
        clone_item(input),
    ];
    let ready = items.iter().all(|i| i.state == ItemState::Done);
    Checklist {
        checked_at: input.now,
        items,
        ready,
    }
}
