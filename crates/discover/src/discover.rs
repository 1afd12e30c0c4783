//! Putting the pieces together: config, directory, settings and store into one [`Inventory`].

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use crate::dscl::{self, DirUser};
use crate::error::DiscoverError;
use crate::host::Host;
use crate::plists::{self, MailUserSettings};
use crate::postfix::{self, MainCf, TableEntry};
use crate::serveradmin::{self, Settings};
use crate::store;
use crate::types::*;

const MAIN_CF: &str = "/Library/Server/Mail/Config/postfix/main.cf";
const PARTITION_MAP: &str = "/Library/Server/Mail/Config/dovecot/partition_map.conf";
const SERVICES_OTHER: &str = "/Library/Server/Mail/Config/MailServicesOther.plist";
const MAIL_SETTINGS: [&str; 2] = [
    "/Library/Server/Mail/Data/db/.mailusersettings.plist",
    // Lion Server (10.7) kept it here.
    "/var/db/.mailusersettings.plist",
];
const DEFAULT_PARTITION: &str = "/Library/Server/Mail/Data/mail";

/// Stock aliases of macOS's Postfix `aliases` file (and Server's additions): they are listed, but
/// not added to the addresses of the account they end up at.
const SYSTEM_ALIASES: &[&str] = &[
    "mailer-daemon",
    "postmaster",
    "root",
    "bin",
    "daemon",
    "named",
    "nobody",
    "uucp",
    "www",
    "ftp-bugs",
    "postfix",
    "manager",
    "dumper",
    "operator",
    "abuse",
    "decode",
    "_amavisd",
    "amavisd",
    "clamav",
    "_clamav",
    "security",
    "hostmaster",
    "usenet",
    "news",
    "webmaster",
    "ftp",
];

struct Ctx<'a> {
    root: &'a Path,
    /// The root with its links resolved, to tell whether a path still lies under it.
    root_resolved: Option<PathBuf>,
    warnings: Vec<Warning>,
    /// Lookup tables already read (main.cf may name one twice), by server path.
    tables: BTreeMap<String, Vec<TableEntry>>,
}

impl Ctx<'_> {
    fn local(&self, server_path: &str) -> PathBuf {
        self.root.join(server_path.trim_start_matches('/'))
    }

    /// Whether `local` lies under the root once its links are followed (a path that does not
    /// exist has nothing to read and passes). A copy of a server can hold links that lead out
    /// of it; discovery reads nothing outside the folder it was given.
    fn resolves_under_root(&self, local: &Path) -> bool {
        match (fs::canonicalize(local), &self.root_resolved) {
            (Ok(path), Some(root)) => path.starts_with(root),
            _ => true,
        }
    }

    /// The warning for a path that leads outside the root: `what` names it, `consequence` says
    /// what Ferry does without it.
    fn warn_outside(&mut self, subject: Option<&str>, what: &str, consequence: &str) {
        self.warn(
            WarningCode::OutsideRoot,
            subject,
            format!(
                "{what} leads outside the server folder {}, so Ferry does not read it and {consequence}. Correct the path, or copy what it points at into the folder.",
                self.root.display()
            ),
        );
    }

    fn warn(&mut self, code: WarningCode, subject: Option<&str>, message: String) {
        let w = Warning {
            code,
            subject: subject.map(str::to_string),
            message,
        };
        // A table named twice in main.cf (virtual_users is read for domains and addresses)
        // must not give the same warning twice.
        if !self.warnings.contains(&w) {
            self.warnings.push(w);
        }
    }

    fn read_required(&self, server_path: &str) -> Result<(String, Vec<u8>), DiscoverError> {
        let path = self.local(server_path);
        match fs::read(&path) {
            Ok(b) => Ok((path.display().to_string(), b)),
            Err(source) => Err(DiscoverError::RequiredFile {
                path,
                root: self.root.to_path_buf(),
                source,
            }),
        }
    }

    /// Reads an optional file; a missing or unreadable one becomes a warning saying `consequence`,
    /// as does one whose path leads outside the root (`..`, or a link).
    fn read_optional(&mut self, server_path: &str, consequence: &str) -> Option<(String, Vec<u8>)> {
        let path = self.local(server_path);
        if climbs(server_path) || !self.resolves_under_root(&path) {
            let what = format!("The file {server_path}");
            self.warn_outside(None, &what, consequence);
            return None;
        }
        match fs::read(&path) {
            Ok(b) => Some((path.display().to_string(), b)),
            Err(e) => {
                let what = if e.kind() == ErrorKind::NotFound {
                    "is missing".to_string()
                } else {
                    format!("cannot be read ({e}); run discovery as root")
                };
                self.warn(
                    WarningCode::MissingFile,
                    None,
                    format!("{} {what}, so {consequence}.", path.display()),
                );
                None
            }
        }
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Whether a path named by the server's configuration climbs with `..` (an absolute path is
/// taken below the root anyway).
fn climbs(server_path: &str) -> bool {
    Path::new(server_path)
        .components()
        .any(|c| matches!(c, Component::ParentDir))
}

fn is_guid(name: &str) -> bool {
    name.len() == 36
        && name.char_indices().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => c == '-',
            _ => c.is_ascii_hexdigit(),
        })
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Reads the server at `root` (its `/`) with `host` for `serveradmin` and `dscl`.
pub fn discover(root: &Path, host: &dyn Host) -> Result<Inventory, DiscoverError> {
    fs::read_dir(root).map_err(|source| DiscoverError::RootUnreadable {
        path: root.to_path_buf(),
        source,
    })?;
    let mut cx = Ctx {
        root,
        root_resolved: fs::canonicalize(root).ok(),
        warnings: Vec::new(),
        tables: BTreeMap::new(),
    };

    // --- serveradmin, main.cf --------------------------------------------------------------
    let sa_out = host.serveradmin_settings_mail()?;
    let settings = serveradmin::parse(&sa_out.source, &sa_out.text)?;
    let (main_file, main_bytes) = cx.read_required(MAIN_CF)?;
    let main = MainCf::parse(&main_file, &text(&main_bytes))?;

    let hostname = match main.get("myhostname")? {
        Some(h) if !h.is_empty() => h,
        _ => settings
            .text("mail:postfix:myhostname")
            .or(settings.text("mail:imap:servername"))
            .unwrap_or_default()
            .to_string(),
    };
    if let Some(sa_host) = settings.text("mail:postfix:myhostname") {
        if !sa_host.eq_ignore_ascii_case(&hostname) {
            cx.warn(
                WarningCode::Inconsistent,
                None,
                format!("serveradmin says the mail host is {sa_host} but main.cf says {hostname}; Ferry uses main.cf (what Postfix runs with). Check which name clients use before cut-over."),
            );
        }
    }
    let mydomain = main
        .get("mydomain")?
        .filter(|d| !d.is_empty())
        .or_else(|| settings.text("mail:postfix:mydomain").map(str::to_string))
        .unwrap_or_else(|| {
            hostname
                .split_once('.')
                .map(|(_, d)| d.to_string())
                .unwrap_or_default()
        })
        .to_lowercase();

    // --- virtual alias maps and aliases ------------------------------------------------------
    let virtual_maps = read_tables(&mut cx, &main, "virtual_alias_maps")?;
    let alias_entries = read_aliases(&mut cx, &main)?;

    // --- domains ---------------------------------------------------------------------------
    let host_lc = hostname.to_lowercase();
    let mut domains: Vec<String> = Vec::new();
    let push_domain = |d: &str, domains: &mut Vec<String>| {
        let d = d.trim().trim_end_matches('.').to_lowercase();
        if d.is_empty()
            || d == "localhost"
            || d.starts_with("localhost.")
            || d == host_lc
            || d.contains([':', '/', '$'])
            || domains.contains(&d)
        {
            return;
        }
        domains.push(d);
    };
    push_domain(&mydomain, &mut domains);
    let mydestination = main.get("mydestination")?.unwrap_or_default();
    for d in postfix::list_items(&mydestination) {
        push_domain(&d, &mut domains);
    }
    // Local (mydestination) domains: where Postfix-style aliases apply.
    let local_domains = domains.clone();
    for tok in postfix::list_items(&main.get("virtual_alias_domains")?.unwrap_or_default()) {
        match table_path(&tok) {
            Some(path) => {
                for e in load_table(&mut cx, &path, "its domains are not known")? {
                    let d = e.key.rsplit_once('@').map(|(_, d)| d).unwrap_or(&e.key);
                    push_domain(d, &mut domains);
                }
            }
            None if !tok.contains(':') => push_domain(&tok, &mut domains),
            None => {}
        }
    }

    // --- directory users, mail settings, partitions -----------------------------------------
    let dscl_out = host.dscl_readall_users()?;
    let users = dscl::parse_readall(&dscl_out.source, &dscl_out.text)?;

    let mut mail_settings: Option<BTreeMap<String, MailUserSettings>> = None;
    for (i, p) in MAIL_SETTINGS.iter().enumerate() {
        let path = cx.local(p);
        if path.exists() || i + 1 == MAIL_SETTINGS.len() {
            let consequence = "every user with an address is taken as active, without quota";
            let file = if path.exists() {
                cx.read_optional(p, consequence)
            } else {
                cx.read_optional(MAIL_SETTINGS[0], consequence)
            };
            if let Some((file, bytes)) = file {
                mail_settings = Some(plists::parse_mail_user_settings(&file, &bytes)?);
            }
            break;
        }
    }

    let (junk_id, notjunk_id) = match cx.read_optional(
        SERVICES_OTHER,
        "the junk-training accounts are taken to be the defaults junkmail and notjunkmail",
    ) {
        Some((file, bytes)) => plists::parse_junk_accounts(&file, &bytes)?,
        None => (None, None),
    };
    let junk_id = junk_id.unwrap_or_else(|| "junkmail".into());
    let notjunk_id = notjunk_id.unwrap_or_else(|| "notjunkmail".into());

    let partitions = read_partitions(&mut cx, &settings)?;

    // --- accounts ----------------------------------------------------------------------------
    let known_names: BTreeSet<String> =
        users.iter().map(|u| u.record_name.to_lowercase()).collect();
    let alias_names: BTreeSet<String> = alias_entries
        .iter()
        .map(|a| a.name.to_lowercase())
        .collect();
    let virtual_keys: BTreeSet<String> = virtual_maps
        .iter()
        .map(|(_, e)| e.key.to_lowercase())
        .collect();

    // Virtual alias map entries whose target is a short name: address -> short name.
    let mut virtual_by_user: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (file, e) in &virtual_maps {
        for target in postfix::list_items(&e.value) {
            let t = target.to_lowercase();
            if t.contains('@') || t.starts_with(['|', '/']) {
                continue;
            }
            if known_names.contains(&t) || alias_names.contains(&t) {
                virtual_by_user.entry(t).or_default().push(e.key.clone());
            } else {
                cx.warn(
                    WarningCode::VirtualUserUnknown,
                    Some(&target),
                    format!("{file}, line {}: the address {} goes to the user {target}, who is not in the directory, so the old server cannot deliver it. Decide where that address should go on the new host.", e.line, e.key),
                );
            }
        }
    }

    let mut accounts = Vec::new();
    let mut training = Vec::new();
    let mut non_mail_users = Vec::new();
    let mut user_guids: BTreeSet<String> = BTreeSet::new();
    for user in &users {
        let Some(guid) = user.guid.as_ref().map(|g| g.to_uppercase()) else {
            if !user.emails.is_empty() {
                cx.warn(
                    WarningCode::Inconsistent,
                    Some(&user.record_name),
                    format!("{}, line {}: the user {} has mail addresses but no GeneratedUID, so Ferry cannot find a store; check the record with dscl.", dscl_out.source, user.line, user.record_name),
                );
            }
            continue;
        };
        // The GUID names the store's folder: anything but a UUID (`../..`, `/etc`) could lead
        // anywhere.
        if !is_guid(&guid) {
            cx.warn(
                WarningCode::Inconsistent,
                Some(&user.record_name),
                format!("{}, line {}: the user {} has the GeneratedUID {:?}, which is not a UUID (8-4-4-4-12 hexadecimal digits), so Ferry does not look for a store by that name; check the record with dscl.", dscl_out.source, user.line, user.record_name, user.guid.as_deref().unwrap_or_default()),
            );
            continue;
        }
        // A user in two directory nodes (LDAPv3 and local) is one user: keep the first record.
        if !user_guids.insert(guid.clone()) {
            continue;
        }
        let us = mail_settings.as_ref().and_then(|m| m.get(&guid)).cloned();
        let partition_tag = us
            .as_ref()
            .and_then(|s| s.partition.clone())
            .unwrap_or_else(|| "default".into());
        let partition_path = match partitions.iter().find(|p| p.tag == partition_tag) {
            Some(p) => Some(p.path.clone()),
            None => {
                cx.warn(
                    WarningCode::UnknownPartition,
                    Some(&user.record_name),
                    format!("{}'s mail settings name the store partition {partition_tag:?}, which partition_map.conf does not list, so Ferry cannot find the store; add the partition's path to partition_map.conf or check the user's mail settings.", user.record_name),
                );
                None
            }
        };
        let store_path = partition_path
            .map(|p| cx.local(&p).join(&guid))
            .filter(|p| p.is_dir());
        let store_path = match store_path {
            Some(p) if !cx.resolves_under_root(&p) => {
                let what = format!("{}'s store {} (a link)", user.record_name, p.display());
                cx.warn_outside(
                    Some(&user.record_name),
                    &what,
                    "this account's mail is not counted or copied",
                );
                None
            }
            other => other,
        };
        let is_mail_user = !user.emails.is_empty() || us.is_some() || store_path.is_some();
        if !is_mail_user {
            let system = user.record_name.starts_with('_')
                || user
                    .unique_id
                    .as_deref()
                    .and_then(|u| u.parse::<i64>().ok())
                    .is_some_and(|u| u < 500);
            if !system {
                non_mail_users.push(user.record_name.clone());
            }
            continue;
        }
        let scan = store_path.as_deref().map(store::scan);
        if let Some(s) = &scan {
            for p in &s.problems {
                cx.warn(
                    WarningCode::UnreadableStore,
                    Some(&user.record_name),
                    format!("{}: {p}.", user.record_name),
                );
            }
        }
        let mut addresses: Vec<String> = Vec::new();
        let add = |a: &str, addresses: &mut Vec<String>| {
            if !addresses.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                addresses.push(a.to_string());
            }
        };
        for e in &user.emails {
            add(e, &mut addresses);
        }
        if let Some(extra) = virtual_by_user.get(&user.record_name.to_lowercase()) {
            for e in extra {
                add(e, &mut addresses);
            }
        }
        for e in &user.emails {
            if !virtual_keys.contains(&e.to_lowercase()) {
                cx.warn(
                    WarningCode::AddressNotInVirtualUsers,
                    Some(&user.record_name),
                    format!("{e} is an address of {} in the directory but is missing from virtual_users, so the old server rejects mail sent to it (the Server 5.4 bug). Decide whether to create it on the new host; no mail to it arrived here.", user.record_name),
                );
            }
        }

        let store_str = store_path.as_ref().map(|p| p.display().to_string());
        let lname = user.record_name.to_lowercase();
        if lname == junk_id.to_lowercase() || lname == notjunk_id.to_lowercase() {
            let kind = if lname == junk_id.to_lowercase() {
                TrainingKind::Junk
            } else {
                TrainingKind::Notjunk
            };
            training.push(TrainingMailbox {
                kind,
                short_name: user.record_name.clone(),
                guid,
                addresses,
                store: store_str,
                messages: scan.as_ref().map_or(0, |s| s.messages),
                bytes: scan.as_ref().map_or(0, |s| s.bytes),
            });
            continue;
        }

        let (state, forward_to) =
            account_state(&mut cx, user, us.as_ref(), mail_settings.is_some());
        let quota_bytes = us
            .as_ref()
            .and_then(|s| s.quota_mb)
            .filter(|&q| q > 0)
            .map(|q| q.saturating_mul(1024 * 1024));
        let quota_used_bytes = match &store_path {
            Some(p) => {
                let f = p.join("maildirsize");
                match fs::read(&f) {
                    Ok(b) => Some(store::parse_maildirsize(&f.display().to_string(), &text(&b))?.1),
                    Err(_) => None,
                }
            }
            None => None,
        };
        if store_path.is_none() && state != AccountState::Forwarding {
            cx.warn(
                WarningCode::MissingStore,
                Some(&user.record_name),
                format!("{} is a mail user but has no store ({}/{guid} does not exist), so there is no mail to copy. If the user never received mail this is expected; otherwise look for the store elsewhere.", user.record_name, partitions.first().map_or(DEFAULT_PARTITION, |p| p.path.as_str())),
            );
        }
        let folders = scan.as_ref().map(|s| s.folders.clone()).unwrap_or_default();
        let acc = Account {
            short_name: user.record_name.clone(),
            guid,
            real_name: user.real_name.clone(),
            addresses,
            state,
            forward_to,
            quota_bytes,
            quota_used_bytes,
            store: store_str,
            messages: scan.as_ref().map_or(0, |s| s.messages),
            bytes: scan.as_ref().map_or(0, |s| s.bytes),
            deleted_pending: scan.as_ref().map_or(0, |s| s.deleted_pending),
            folders,
        };
        account_warnings(&mut cx, &acc);
        accounts.push(acc);
    }

    // --- aliases (after accounts: they add addresses) ----------------------------------------
    let aliases = resolve_aliases(
        &mut cx,
        &alias_entries,
        &local_domains,
        &mut accounts,
        &training,
    );

    // --- orphans and users/ links ------------------------------------------------------------
    let mut orphans = Vec::new();
    for p in &partitions {
        let dir = cx.local(&p.path);
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .collect();
        names.sort();
        for name in names {
            let path = dir.join(&name);
            if !is_guid(&name)
                || !path.is_dir()
                || fs::symlink_metadata(&path)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(true)
            {
                continue;
            }
            if user_guids.contains(&name.to_uppercase()) {
                continue;
            }
            let scan = store::scan(&path);
            cx.warn(
                WarningCode::OrphanStore,
                Some(&name),
                format!("The store {}/{name} belongs to no directory user (a deleted account?) and holds {} ({}). Decide whether to copy it to a mailbox on the new host or archive it.", p.path.trim_end_matches('/'), plural(scan.messages, "message", "messages"), human_bytes(scan.bytes)),
            );
            orphans.push(Orphan {
                guid: name,
                store: path.display().to_string(),
                messages: scan.messages,
                bytes: scan.bytes,
                folders: scan.folders,
            });
        }
        check_user_links(&mut cx, &dir.join("users"), &users);
    }

    let totals = Totals {
        accounts: accounts.len() as u64,
        folders: accounts.iter().map(|a| a.folders.len() as u64).sum(),
        messages: accounts.iter().map(|a| a.messages).sum(),
        bytes: accounts.iter().map(|a| a.bytes).sum(),
        deleted_pending: accounts.iter().map(|a| a.deleted_pending).sum(),
    };
    Ok(Inventory {
        root: root.display().to_string(),
        hostname,
        domains,
        partitions,
        accounts,
        training_mailboxes: training,
        orphans,
        aliases,
        non_mail_users,
        totals,
        warnings: cx.warnings,
    })
}

fn account_state(
    cx: &mut Ctx,
    user: &DirUser,
    us: Option<&MailUserSettings>,
    have_settings_file: bool,
) -> (AccountState, Option<String>) {
    let Some(us) = us else {
        if have_settings_file {
            cx.warn(
                WarningCode::NoMailSettings,
                Some(&user.record_name),
                format!("{} has mail addresses but no entry in .mailusersettings.plist; Ferry takes the account as active without quota. Check the user's mail settings in Server.app.", user.record_name),
            );
        }
        return (AccountState::Active, None);
    };
    match us.state.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("enabled") => (AccountState::Active, None),
        Some("forward") => {
            if us.forward_to.is_none() {
                cx.warn(
                    WarningCode::UnknownSetting,
                    Some(&user.record_name),
                    format!("{} forwards mail but no forwarding address is set; ask the user where mail should go.", user.record_name),
                );
            }
            (AccountState::Forwarding, us.forward_to.clone())
        }
        Some("off") => (AccountState::Disabled, None),
        Some(_) => {
            cx.warn(
                WarningCode::UnknownSetting,
                Some(&user.record_name),
                format!("{} has the unknown mail state {:?}; Ferry takes the account as active so that its mail is not left behind.", user.record_name, us.state.as_deref().unwrap_or_default()),
            );
            (AccountState::Active, None)
        }
    }
}

fn account_warnings(cx: &mut Ctx, acc: &Account) {
    let mut by_role: BTreeMap<String, Vec<&str>> = BTreeMap::new();
    for f in &acc.folders {
        if let Some(r) = f.role {
            let key = serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default();
            by_role.entry(key).or_default().push(&f.name);
        }
    }
    for (role, names) in by_role {
        if names.len() > 1 {
            cx.warn(
                WarningCode::DuplicateRole,
                Some(&acc.short_name),
                format!("{} has {} {role} folders ({}); on the new host they will be merged into its one {role} folder unless you map them otherwise.", acc.short_name, names.len(), names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")),
            );
        }
    }
    for f in &acc.folders {
        if f.deleted_pending > 0 {
            cx.warn(
                WarningCode::DeletedPending,
                Some(&acc.short_name),
                format!("{}'s folder \"{}\" holds {} flagged deleted but not expunged: still on the old server, gone for the user. Decide whether to copy {}.", acc.short_name, f.name, plural(f.deleted_pending, "message", "messages"), if f.deleted_pending == 1 { "it" } else { "them" }),
            );
        }
    }
    if let Some(q) = acc.quota_bytes {
        if acc.bytes > q {
            cx.warn(
                WarningCode::OverQuota,
                Some(&acc.short_name),
                format!("{} stores {} but the quota is {}; make sure the new host's quota is large enough.", acc.short_name, human_bytes(acc.bytes), human_bytes(q)),
            );
        }
    }
}

/// `hash:/path` (and other indexed or text types) -> the source file's server path.
fn table_path(token: &str) -> Option<String> {
    let (kind, path) = token.split_once(':')?;
    matches!(kind, "hash" | "btree" | "lmdb" | "cdb" | "dbm" | "texthash")
        .then(|| path.to_string())
        .filter(|p| p.starts_with('/'))
}

fn load_table(
    cx: &mut Ctx,
    server_path: &str,
    consequence: &str,
) -> Result<Vec<TableEntry>, DiscoverError> {
    if let Some(t) = cx.tables.get(server_path) {
        return Ok(t.clone());
    }
    let table = match cx.read_optional(server_path, consequence) {
        Some((file, bytes)) => postfix::parse_table(&file, &text(&bytes))?,
        None => Vec::new(),
    };
    cx.tables.insert(server_path.to_string(), table.clone());
    Ok(table)
}

fn read_tables(
    cx: &mut Ctx,
    main: &MainCf,
    param: &str,
) -> Result<Vec<(String, TableEntry)>, DiscoverError> {
    let mut out = Vec::new();
    for tok in postfix::list_items(&main.get(param)?.unwrap_or_default()) {
        if let Some(path) = table_path(&tok) {
            let name = Path::new(&path)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_else(|| path.clone());
            for e in load_table(cx, &path, "its addresses are not known to Ferry")? {
                out.push((name.clone(), e));
            }
        }
    }
    Ok(out)
}

fn read_aliases(cx: &mut Ctx, main: &MainCf) -> Result<Vec<postfix::AliasEntry>, DiscoverError> {
    let mut out = Vec::new();
    for tok in postfix::list_items(&main.get("alias_maps")?.unwrap_or_default()) {
        if let Some(path) = table_path(&tok) {
            if let Some((file, bytes)) =
                cx.read_optional(&path, "its aliases are not known to Ferry")
            {
                out.extend(postfix::parse_aliases(&file, &text(&bytes))?);
            }
        }
    }
    Ok(out)
}

/// The store partitions, without those whose path climbs out of the root (each warned).
fn read_partitions(cx: &mut Ctx, settings: &Settings) -> Result<Vec<Partition>, DiscoverError> {
    let parts = read_partition_list(cx, settings)?;
    let mut kept = Vec::new();
    for p in parts {
        if climbs(&p.path) {
            let what = format!("The store partition {:?} at {}", p.tag, p.path);
            cx.warn_outside(None, &what, "the stores on it are not found");
        } else {
            kept.push(p);
        }
    }
    Ok(kept)
}

fn read_partition_list(cx: &mut Ctx, settings: &Settings) -> Result<Vec<Partition>, DiscoverError> {
    let map_path = cx.local(PARTITION_MAP);
    if map_path.exists() {
        if let Some((file, bytes)) =
            cx.read_optional(PARTITION_MAP, "the serveradmin partitions are used")
        {
            let parts = crate::store::parse_partition_map(&file, &text(&bytes))?;
            if !parts.is_empty() {
                return Ok(parts
                    .into_iter()
                    .map(|(tag, path)| Partition { tag, path })
                    .collect());
            }
        }
    } else {
        cx.warn(
            WarningCode::MissingFile,
            None,
            format!("{} is missing, so the store location comes from serveradmin (mail:imap:partitions).", map_path.display()),
        );
    }
    let mut parts: Vec<Partition> = settings
        .array_of_dicts("mail:imap:partitions")
        .into_iter()
        .filter_map(|fields| {
            let get = |k: &str| {
                fields
                    .iter()
                    .find(|(f, _)| f == k)
                    .and_then(|(_, v)| v.as_text().map(str::to_string))
            };
            Some(Partition {
                tag: get("partition")?,
                path: get("path")?,
            })
        })
        .collect();
    if parts.is_empty() {
        parts.push(Partition {
            tag: "default".into(),
            path: settings
                .text("mail:imap:partition-default")
                .unwrap_or(DEFAULT_PARTITION)
                .to_string(),
        });
    }
    Ok(parts)
}

fn resolve_aliases(
    cx: &mut Ctx,
    entries: &[postfix::AliasEntry],
    local_domains: &[String],
    accounts: &mut [Account],
    training: &[TrainingMailbox],
) -> Vec<Alias> {
    let by_name: BTreeMap<String, &postfix::AliasEntry> =
        entries.iter().map(|e| (e.name.to_lowercase(), e)).collect();
    let user_names: BTreeSet<String> = accounts
        .iter()
        .map(|a| a.short_name.to_lowercase())
        .chain(training.iter().map(|t| t.short_name.to_lowercase()))
        .collect();
    let is_user = |n: &str| user_names.contains(n);
    let local_part = |t: &str| -> Option<String> {
        let t = t.trim_matches('"').to_lowercase();
        match t.rsplit_once('@') {
            None => Some(t),
            Some((l, d)) if local_domains.iter().any(|x| x == d) => Some(l.to_string()),
            Some(_) => None,
        }
    };
    let mut out = Vec::new();
    for e in entries {
        let mut delivers: Vec<String> = Vec::new();
        let mut stack: Vec<(String, usize)> = e.targets.iter().map(|t| (t.clone(), 0)).collect();
        let mut seen = BTreeSet::from([e.name.to_lowercase()]);
        while let Some((t, depth)) = stack.pop() {
            let Some(lp) = local_part(&t) else { continue };
            if lp.starts_with(['|', '/']) || lp.starts_with(":include:") {
                continue;
            }
            if let Some(next) = by_name.get(&lp) {
                if depth < 20 && seen.insert(lp.clone()) {
                    stack.extend(next.targets.iter().map(|x| (x.clone(), depth + 1)));
                }
                continue;
            }
            if is_user(&lp) {
                if !delivers.contains(&lp) {
                    delivers.push(lp);
                }
            } else if !t.contains('@') {
                cx.warn(
                    WarningCode::AliasUnknownTarget,
                    Some(&e.name),
                    format!("aliases, line {}: the alias {} points to {t}, which is neither a mail user nor another alias, so mail to it bounces. Decide whether the new host needs it.", e.line, e.name),
                );
            }
        }
        // Keep account order stable: in the order accounts are listed.
        let mut delivers_to: Vec<String> = accounts
            .iter()
            .map(|a| a.short_name.clone())
            .chain(training.iter().map(|t| t.short_name.clone()))
            .filter(|n| delivers.iter().any(|d| d.eq_ignore_ascii_case(n)))
            .collect();
        delivers_to.dedup();
        let system = SYSTEM_ALIASES.contains(&e.name.to_lowercase().as_str());
        let addresses: Vec<String> = local_domains
            .iter()
            .map(|d| format!("{}@{d}", e.name))
            .collect();
        if !system {
            for acc in accounts.iter_mut() {
                if delivers_to.iter().any(|d| d == &acc.short_name) {
                    for a in &addresses {
                        if !acc.addresses.iter().any(|x| x.eq_ignore_ascii_case(a)) {
                            acc.addresses.push(a.clone());
                        }
                    }
                }
            }
        }
        out.push(Alias {
            name: e.name.clone(),
            addresses,
            targets: e.targets.clone(),
            delivers_to,
            system,
        });
    }
    out
}

fn check_user_links(cx: &mut Ctx, dir: &Path, users: &[DirUser]) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    let mut found: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let target = fs::read_link(e.path()).ok()?;
            let guid = target.file_name()?.to_str()?.to_uppercase();
            Some((name, guid))
        })
        .collect();
    found.sort();
    for (name, guid) in found {
        let Some(user) = users.iter().find(|u| u.record_name == name) else {
            continue;
        };
        let own = user.guid.as_deref().map(str::to_uppercase);
        if own.as_deref() != Some(guid.as_str()) {
            cx.warn(
                WarningCode::Inconsistent,
                Some(&name),
                format!("{}/{name} points to the store {guid}, but the directory gives {name} the GeneratedUID {}; Ferry follows the directory. Check which store is {name}'s before copying.", dir.display(), own.unwrap_or_else(|| "(none)".into())),
            );
        }
    }
}

/// `1.2 MiB`, `13 KiB`, `512 B`: binary units, as Server.app's quotas (MB there = MiB).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < UNITS.len() {
        v /= 1024.0;
        i += 1;
    }
    if v < 10.0 {
        format!("{v:.1} {}", UNITS[i])
    } else {
        format!("{v:.0} {}", UNITS[i])
    }
}
