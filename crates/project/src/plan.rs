//! The account plan: each mail user discovery found -> the address on the new host, whether it
//! is copied, and how its mail is read (the store on disk when Ferry can read it, else IMAP).
//! The junk-training mailboxes are in the plan too, marked as such and left out of the sync by
//! default: the Quarantine phase archives them.

use ferry_discover::{Inventory, TrainingKind};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::destination::Destination;

/// How an account's mail is read on the old server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SourceMethod {
    /// The Maildir store on disk: no password needed (Ferry runs as an admin on the server).
    Store,
    /// The old server's IMAP service, with the user's password or the admin's master login.
    Imap,
}

impl SourceMethod {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SourceMethod::Store => "store",
            SourceMethod::Imap => "imap",
        }
    }
    pub(crate) fn parse(s: &str) -> SourceMethod {
        if s == "imap" {
            SourceMethod::Imap
        } else {
            SourceMethod::Store
        }
    }
}

/// What kind of mailbox an account of the plan is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AccountKind {
    /// A person's (or a shared) mailbox.
    User,
    /// `junkmail`: mail users marked as junk, for the spam filter's training.
    JunkTraining,
    /// `notjunkmail`: mail users marked as not junk.
    NotJunkTraining,
}

impl AccountKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AccountKind::User => "user",
            AccountKind::JunkTraining => "junk_training",
            AccountKind::NotJunkTraining => "notjunk_training",
        }
    }
    pub(crate) fn parse(s: &str) -> AccountKind {
        match s {
            "junk_training" => AccountKind::JunkTraining,
            "notjunk_training" => AccountKind::NotJunkTraining,
            _ => AccountKind::User,
        }
    }
}

/// One account of the plan.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PlannedAccount {
    /// The account's primary address on the old server (the plan's key).
    pub source_address: String,
    /// The short name (the old server's IMAP login).
    pub login: String,
    /// The directory GUID, which names the store folder.
    pub guid: String,
    /// The store folder on the old server (relative to the root), when found.
    pub store: Option<String>,
    /// The address on the new host.
    pub dest_address: String,
    /// Copied by the syncs.
    pub included: bool,
    pub method: SourceMethod,
    pub kind: AccountKind,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// False when the newest discovery no longer found the account (its copy stays).
    pub present: bool,
}

/// A change the admin makes to one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "change", content = "value")]
#[ts(export)]
pub enum AccountChange {
    DestAddress(String),
    Included(bool),
    Method(SourceMethod),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    #[error("{0:?} is not an email address; write it as name@example.com")]
    BadAddress(String),
    #[error("{0} has no store on disk that Ferry can read; its mail can only be read over IMAP")]
    NoStore(String),
}

impl AccountChange {
    pub(crate) fn apply(&self, account: &mut PlannedAccount) -> Result<(), PlanError> {
        match self {
            AccountChange::DestAddress(address) => {
                let address = address.trim();
                if !valid_address(address) {
                    return Err(PlanError::BadAddress(address.to_string()));
                }
                account.dest_address = address.to_ascii_lowercase();
            }
            AccountChange::Included(included) => account.included = *included,
            AccountChange::Method(SourceMethod::Store) if account.store.is_none() => {
                return Err(PlanError::NoStore(account.source_address.clone()))
            }
            AccountChange::Method(method) => account.method = *method,
        }
        Ok(())
    }
}

/// `local@domain` with a plausible domain.
pub fn valid_address(address: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !local.contains(char::is_whitespace)
                && !local.contains('@')
                && valid_domain(domain)
        }
        None => false,
    }
}

/// A DNS name of at least two labels, each 1-63 letters, digits or hyphens, not starting or
/// ending with a hyphen.
pub fn valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    labels.len() >= 2
        && domain.len() <= 253
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

/// The default plan for an inventory: every mail account with an address, same address on the
/// new host, included when it has a store with mail to copy (an account without one, such as a
/// forwarding-only account, has nothing to copy); read from the store on disk.
pub fn plan_from_inventory(
    inventory: &Inventory,
    _destination: Option<&Destination>,
) -> Vec<PlannedAccount> {
    let mut plan = Vec::new();
    for account in &inventory.accounts {
        let Some(address) = account.addresses.first() else {
            continue;
        };
        plan.push(PlannedAccount {
            source_address: address.to_ascii_lowercase(),
            login: account.short_name.clone(),
            guid: account.guid.clone(),
            store: account.store.clone(),
            dest_address: address.to_ascii_lowercase(),
            included: account.store.is_some() && account.messages > 0,
            method: if account.store.is_some() {
                SourceMethod::Store
            } else {
                SourceMethod::Imap
            },
            kind: AccountKind::User,
            messages: account.messages,
            bytes: account.bytes,
            present: true,
        });
    }
    for training in &inventory.training_mailboxes {
        let address = training
            .addresses
            .first()
            .cloned()
            .unwrap_or_else(|| format!("{}@{}", training.short_name, inventory.hostname));
        plan.push(PlannedAccount {
            source_address: address.to_ascii_lowercase(),
            login: training.short_name.clone(),
            guid: training.guid.clone(),
            store: training.store.clone(),
            dest_address: address.to_ascii_lowercase(),
            included: false,
            method: if training.store.is_some() {
                SourceMethod::Store
            } else {
                SourceMethod::Imap
            },
            kind: match training.kind {
                TrainingKind::Junk => AccountKind::JunkTraining,
                TrainingKind::Notjunk => AccountKind::NotJunkTraining,
            },
            messages: training.messages,
            bytes: training.bytes,
            present: true,
        });
    }
    plan
}

/// Days the first copy of `account` needs at the destination's daily upload limit (`None`
/// where the host has none): shown with the plan, before anything is copied.
pub fn upload_days(account: &PlannedAccount, destination: &Destination) -> Option<u32> {
    let bytes_per_day = destination.limits.daily_upload_bytes?;
    Some(ferry_sync::days_for_bytes(
        account.bytes,
        &ferry_sync::DailyBudget { bytes_per_day },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_domains_are_checked() {
        assert!(valid_address("jane.doe@example.com"));
        assert!(!valid_address("jane doe@example.com"));
        assert!(!valid_address("jane@example"));
        assert!(!valid_address("@example.com"));
        assert!(!valid_address("jane@exa..mple.com"));
        assert!(valid_domain("new-host.example.co.uk"));
        assert!(!valid_domain("-bad.example.com"));
        assert!(!valid_domain("https://example.com"));
    }

    #[test]
    fn upload_days_follow_the_hosts_daily_limit() {
        let mut account = PlannedAccount {
            source_address: "a@example.com".into(),
            login: "a".into(),
            guid: "G".into(),
            store: None,
            dest_address: "a@example.com".into(),
            included: true,
            method: SourceMethod::Store,
            kind: AccountKind::User,
            messages: 10,
            bytes: 1_200_000_000,
            present: true,
        };
        let google = Destination::preset(crate::destination::PresetId::GoogleWorkspace);
        assert_eq!(google.limits.daily_upload_bytes, Some(500_000_000));
        assert_eq!(upload_days(&account, &google), Some(3));
        account.bytes = 400_000_000;
        assert_eq!(upload_days(&account, &google), Some(1));
        let fastmail = Destination::preset(crate::destination::PresetId::Fastmail);
        assert_eq!(upload_days(&account, &fastmail), None);
    }
}
