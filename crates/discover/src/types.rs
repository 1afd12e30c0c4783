//! The inventory: what discovery found, as stable JSON (field order is declaration order) and as
//! TypeScript types for the desktop app. Sizes are bytes; `u64` fields are exported to TypeScript
//! as `number` (mail stores stay far below 2^53 bytes).

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// Everything phase 1 learned about the old server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Inventory {
    /// The folder that was read as the server's `/`.
    pub root: String,
    /// Postfix `myhostname` (e.g. `mail.example.com`).
    pub hostname: String,
    /// Hosted mail domains: `mydomain` first, then the others in the order found.
    pub domains: Vec<String>,
    /// Mail store partitions (`partition_map.conf`): where the `<GUID>` stores live.
    pub partitions: Vec<Partition>,
    /// Mail users, in directory order; the junk-training mailboxes are not among them.
    pub accounts: Vec<Account>,
    /// Apple's `junkmail` / `notjunkmail` accounts that `learn_junk_mail` reads and empties.
    pub training_mailboxes: Vec<TrainingMailbox>,
    /// Stores with no directory user behind them (a deleted user's mail).
    pub orphans: Vec<Orphan>,
    /// Postfix-style aliases from the `aliases` file, resolved to accounts where possible.
    pub aliases: Vec<Alias>,
    /// Directory users that are not mail users (no address, no mail settings, no store).
    pub non_mail_users: Vec<String>,
    /// Sums over `accounts` (training mailboxes and orphans are not included).
    pub totals: Totals,
    /// Things the admin should know or decide, each a sentence.
    pub warnings: Vec<Warning>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Partition {
    /// Tag as used in the user's `kAltMailStoreLoc` (`default` for the main store).
    pub tag: String,
    /// The path on the server (absolute, as written in the config).
    pub path: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AccountState {
    /// Mail is delivered to the store (`kMailAccountState = Enabled`).
    Active,
    /// Mail is forwarded elsewhere (`Forward`); usually no local mail.
    Forwarding,
    /// Mail is off for this user (`Off`); the store may still hold mail.
    Disabled,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Account {
    /// Directory short name (`RecordName`), also the IMAP login.
    pub short_name: String,
    /// Directory `GeneratedUID`: the store's folder name.
    pub guid: String,
    pub real_name: Option<String>,
    /// Primary address first (the first `EMailAddress`), then every other directory address,
    /// then addresses of Postfix-style aliases that deliver here.
    pub addresses: Vec<String>,
    pub state: AccountState,
    /// Where mail is forwarded to, for `forwarding` accounts.
    pub forward_to: Option<String>,
    /// Quota from the user's mail settings (`kUserDiskQuota`, MB × 1 MiB); `null` = none.
    #[ts(type = "number | null")]
    pub quota_bytes: Option<u64>,
    /// Usage recorded in the store's `maildirsize` (Maildir++ quota), if the file exists.
    #[ts(type = "number | null")]
    pub quota_used_bytes: Option<u64>,
    /// Path of the store on this machine (`<root>/<partition>/<GUID>`); `null` if there is none.
    pub store: Option<String>,
    /// Message files in all folders (includes `deleted_pending`).
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    /// Messages flagged `\Deleted` but not yet expunged.
    #[ts(type = "number")]
    pub deleted_pending: u64,
    pub folders: Vec<Folder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum FolderRole {
    Inbox,
    Sent,
    Drafts,
    Trash,
    Junk,
    Archive,
    Notes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Folder {
    /// UTF-8 name with `/` as the hierarchy separator (`Rechnungen/2018`, `Entwürfe Kunden`).
    pub name: String,
    /// The folder's directory in the store (`.Rechnungen.2018`, modified UTF-7); `""` for INBOX.
    pub disk_name: String,
    pub role: Option<FolderRole>,
    /// Listed in the store's `subscriptions` (mail clients show only subscribed folders).
    pub subscribed: bool,
    /// Message files in `cur/` and `new/` (includes `deleted_pending`).
    #[ts(type = "number")]
    pub messages: u64,
    /// Sum of the message files' sizes on disk.
    #[ts(type = "number")]
    pub bytes: u64,
    /// Messages flagged `\Deleted` (`T`) but not expunged.
    #[ts(type = "number")]
    pub deleted_pending: u64,
    /// Messages in `new/` (delivered, not yet seen by any client).
    #[ts(type = "number")]
    pub unseen_new: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TrainingKind {
    /// Mail users forwarded as spam, for `sa-learn --spam`.
    Junk,
    /// Mail users forwarded as not spam, for `sa-learn --ham`.
    Notjunk,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct TrainingMailbox {
    pub kind: TrainingKind,
    pub short_name: String,
    pub guid: String,
    pub addresses: Vec<String>,
    pub store: Option<String>,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Orphan {
    pub guid: String,
    pub store: String,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    pub folders: Vec<Folder>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Alias {
    /// The alias's local part as written in `aliases` (`info`).
    pub name: String,
    /// The alias's addresses in the local domains (`info@example.com`).
    pub addresses: Vec<String>,
    /// Targets as written (`jdoe`, `root`, `someone@elsewhere.example`).
    pub targets: Vec<String>,
    /// Accounts the alias finally delivers to, after following other aliases.
    pub delivers_to: Vec<String>,
    /// One of the stock system aliases (`postmaster`, `MAILER-DAEMON`, `root`, ...): listed but
    /// not added to account addresses.
    pub system: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Totals {
    #[ts(type = "number")]
    pub accounts: u64,
    #[ts(type = "number")]
    pub folders: u64,
    #[ts(type = "number")]
    pub messages: u64,
    #[ts(type = "number")]
    pub bytes: u64,
    #[ts(type = "number")]
    pub deleted_pending: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum WarningCode {
    /// A directory address that `virtual_users` lacks (Server 5.4 bug): the old server rejects it.
    AddressNotInVirtualUsers,
    /// A `virtual_users` (or other virtual alias map) line whose target is no known user.
    VirtualUserUnknown,
    /// An active mail user without a store.
    MissingStore,
    /// A user's `kAltMailStoreLoc` names a partition that `partition_map.conf` lacks.
    UnknownPartition,
    /// A store with no directory user.
    OrphanStore,
    /// Two or more folders of one account share a role (`Sent Items` and `Sent Messages`).
    DuplicateRole,
    /// Messages flagged deleted but not expunged.
    DeletedPending,
    /// An optional file is missing.
    MissingFile,
    /// A mail user without an entry in `.mailusersettings.plist`.
    NoMailSettings,
    /// A mail-settings value that Ferry does not know.
    UnknownSetting,
    /// A folder or file of the store could not be read.
    UnreadableStore,
    /// An alias whose target is neither an account, another alias nor an address.
    AliasUnknownTarget,
    /// Two sources disagree (serveradmin vs main.cf, `users/` link vs directory).
    Inconsistent,
    /// The store uses more than the user's quota.
    OverQuota,
    /// A path from the server's configuration or directory (`..` in a partition path or a
    /// table, a link) that leads outside the folder discovery was given: not read.
    OutsideRoot,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Warning {
    pub code: WarningCode,
    /// Short name (or GUID) of the account the warning is about, if any.
    pub subject: Option<String>,
    /// What was found and what to do, as a sentence.
    pub message: String,
}
