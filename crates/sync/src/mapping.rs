//! Folder mapping: which source folder goes into which destination folder.
//!
//! Order of precedence: explicit rename rules, then special-use roles (RFC 6154 attributes on either
//! side, else well-known Apple / Outlook / Gmail names on the source), then the plain name with the
//! separator and namespace prefix translated. Sub-folders follow their parent (`Archive/2018` goes
//! under whatever the destination calls its archive). Two source folders with one role land in one
//! destination folder.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// A special-use role (RFC 6154).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, TS, PartialOrd, Ord)]
#[ts(export)]
pub enum Role {
    Sent,
    Trash,
    Junk,
    Drafts,
    Archive,
    /// Gmail's All Mail and similar virtual views: not copied (their mail is in other folders).
    All,
    Flagged,
}

impl Role {
    /// From an IMAP attribute such as `\Sent` (case-insensitive).
    pub fn from_attribute(attr: &str) -> Option<Role> {
        match attr.trim_start_matches('\\').to_ascii_lowercase().as_str() {
            "sent" => Some(Role::Sent),
            "trash" => Some(Role::Trash),
            "junk" => Some(Role::Junk),
            "drafts" => Some(Role::Drafts),
            "archive" => Some(Role::Archive),
            "all" => Some(Role::All),
            "flagged" => Some(Role::Flagged),
            _ => None,
        }
    }

    /// Recognised by name when the server does not say (Apple Mail, Outlook, Gmail, common others).
    pub fn from_name(name: &str) -> Option<Role> {
        let n = name.trim().to_lowercase();
        let n = n
            .strip_prefix("[gmail]/")
            .or_else(|| n.strip_prefix("[google mail]/"))
            .unwrap_or(&n);
        match n {
            "sent" | "sent messages" | "sent items" | "sent mail" | "sent-mail" | "sent e-mail" => {
                Some(Role::Sent)
            }
            "trash" | "deleted messages" | "deleted items" | "deleted" | "bin" => Some(Role::Trash),
            "junk" | "junk e-mail" | "junk email" | "spam" | "bulk mail" => Some(Role::Junk),
            "drafts" | "draft" => Some(Role::Drafts),
            "archive" | "archives" => Some(Role::Archive),
            "all mail" => Some(Role::All),
            "starred" => Some(Role::Flagged),
            _ => None,
        }
    }

    /// The name to create on a destination that has no folder for this role.
    pub fn default_name(self) -> &'static str {
        match self {
            Role::Sent => "Sent",
            Role::Trash => "Trash",
            Role::Junk => "Junk",
            Role::Drafts => "Drafts",
            Role::Archive => "Archive",
            Role::All => "All Mail",
            Role::Flagged => "Flagged",
        }
    }
}

/// A folder as listed by one side.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListedFolder {
    /// Full name, UTF-8, with the server's own delimiter and prefix (e.g. `INBOX.Sent`).
    pub name: String,
    pub delimiter: Option<char>,
    /// Role from the server's SPECIAL-USE attributes, if any.
    pub special_use: Option<Role>,
    /// `\Noselect` / `\NonExistent`: holds no mail.
    pub no_select: bool,
}

/// The shape of one side's personal namespace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    /// Personal namespace prefix, e.g. `""` or `"INBOX."`.
    pub prefix: String,
    pub delimiter: char,
}

impl Default for Namespace {
    fn default() -> Self {
        Namespace {
            prefix: String::new(),
            delimiter: '/',
        }
    }
}

/// User-supplied mapping rules.
#[derive(Clone, Debug, Default, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct MappingRules {
    /// `(source path, destination path)`, paths `/`-separated without prefix. A rule for a parent
    /// applies to its children too.
    pub renames: Vec<(String, String)>,
    /// Only folders matching one of these (`*` any text, `%` any text without `/`) are copied.
    /// Empty = all.
    pub include: Vec<String>,
    /// Folders matching one of these are not copied (their children neither, unless included).
    pub exclude: Vec<String>,
    /// Copy `\All` / `\Flagged` virtual views too (off: their mail is in other folders).
    pub copy_virtual: bool,
}

/// One source folder's place on the destination.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FolderMapping {
    /// Source name as listed (server syntax).
    pub source: String,
    /// Destination name (server syntax: prefix and delimiter of the destination).
    pub dest: String,
    pub role: Option<Role>,
    /// Why it maps there: "special-use", "name", "rename rule", "same name", "inbox".
    pub reason: String,
    /// The destination folder does not exist yet and will be created.
    pub create: bool,
}

/// A source folder that is not copied, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ExcludedFolder {
    pub source: String,
    pub reason: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FolderPlan {
    pub folders: Vec<FolderMapping>,
    pub excluded: Vec<ExcludedFolder>,
}

impl FolderPlan {
    pub fn dest_for(&self, source: &str) -> Option<&FolderMapping> {
        self.folders.iter().find(|m| m.source == source)
    }
}

/// Splits a listed name into its path (prefix removed) using the side's namespace and delimiter.
fn source_path(f: &ListedFolder, ns: &Namespace) -> Vec<String> {
    let delim = f.delimiter.unwrap_or(ns.delimiter);
    if f.name.eq_ignore_ascii_case("INBOX") {
        return vec!["INBOX".to_string()];
    }
    let stripped = if !ns.prefix.is_empty() && f.name.len() > ns.prefix.len() {
        match f.name.get(..ns.prefix.len()) {
            Some(p) if p.eq_ignore_ascii_case(&ns.prefix) => &f.name[ns.prefix.len()..],
            _ => f.name.as_str(),
        }
    } else {
        f.name.as_str()
    };
    let mut parts: Vec<String> = stripped.split(delim).map(str::to_string).collect();
    if parts
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case("INBOX"))
    {
        parts[0] = "INBOX".into();
    }
    parts
}

/// Joins a path into the destination's syntax; a delimiter inside a component becomes `_`.
fn dest_name(path: &[String], ns: &Namespace) -> String {
    let parts: Vec<String> = path.iter().map(|p| p.replace(ns.delimiter, "_")).collect();
    let joined = parts.join(&ns.delimiter.to_string());
    if parts
        .first()
        .is_some_and(|p| p.eq_ignore_ascii_case("INBOX"))
    {
        joined
    } else {
        format!("{}{}", ns.prefix, joined)
    }
}

/// Wildcard match: `*` any text, `%` any text without `/`; case-sensitive except for INBOX.
pub fn pattern_matches(pattern: &str, path: &str) -> bool {
    fn go(p: &[char], s: &[char]) -> bool {
        match p.first() {
            None => s.is_empty(),
            Some('*') => (0..=s.len()).any(|i| go(&p[1..], &s[i..])),
            Some('%') => (0..=s.len())
                .take_while(|&i| i == 0 || s[i - 1] != '/')
                .any(|i| go(&p[1..], &s[i..])),
            Some(c) => s.first() == Some(c) && go(&p[1..], &s[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = path.chars().collect();
    go(&p, &s) || (path.eq_ignore_ascii_case("INBOX") && pattern.eq_ignore_ascii_case("INBOX"))
}

/// Computes the folder plan. `dest_folders` is what the destination lists now.
pub fn plan(
    source_folders: &[ListedFolder],
    source_ns: &Namespace,
    dest_folders: &[ListedFolder],
    dest_ns: &Namespace,
    rules: &MappingRules,
) -> FolderPlan {
    let mut out = FolderPlan::default();
    let dest_paths: Vec<(Vec<String>, &ListedFolder)> = dest_folders
        .iter()
        .map(|f| (source_path(f, dest_ns), f))
        .collect();
    // Destination folder per role: SPECIAL-USE first, then a well-known name at the top level.
    let dest_role_path = |role: Role| -> Option<Vec<String>> {
        dest_paths
            .iter()
            .find(|(_, f)| f.special_use == Some(role))
            .or_else(|| {
                dest_paths.iter().find(|(p, f)| {
                    !f.no_select && p.len() == 1 && Role::from_name(&p[0]) == Some(role)
                })
            })
            .or_else(|| {
                // Gmail-style `[Gmail]/Sent Mail`.
                dest_paths.iter().find(|(p, f)| {
                    !f.no_select && p.len() == 2 && Role::from_name(&p.join("/")) == Some(role)
                })
            })
            .map(|(p, _)| p.clone())
    };
    let existing: Vec<String> = dest_folders.iter().map(|f| f.name.clone()).collect();
    // Role of each source folder, by attribute or (top level only) by name.
    let roles: Vec<(Vec<String>, Option<Role>)> = source_folders
        .iter()
        .map(|f| {
            let path = source_path(f, source_ns);
            let role = f.special_use.or_else(|| {
                if path.len() == 1 {
                    Role::from_name(&path[0])
                } else if path.len() == 2 && path[0].starts_with('[') {
                    Role::from_name(&path.join("/"))
                } else {
                    None
                }
            });
            (path, role)
        })
        .collect();

    for (f, (path, role)) in source_folders.iter().zip(roles.iter()) {
        let joined = path.join("/");
        if f.no_select {
            out.excluded.push(ExcludedFolder {
                source: f.name.clone(),
                reason: "holds no mail (\\Noselect); its sub-folders are mapped on their own"
                    .into(),
            });
            continue;
        }
        let included =
            rules.include.is_empty() || rules.include.iter().any(|p| pattern_matches(p, &joined));
        let excluded = rules
            .exclude
            .iter()
            .any(|p| pattern_matches(p, &joined) || pattern_matches(&format!("{p}/*"), &joined));
        if !included || (excluded && !rules.include.iter().any(|p| pattern_matches(p, &joined))) {
            out.excluded.push(ExcludedFolder {
                source: f.name.clone(),
                reason: "excluded by an include/exclude pattern".into(),
            });
            continue;
        }
        if matches!(role, Some(Role::All) | Some(Role::Flagged)) && !rules.copy_virtual {
            out.excluded.push(ExcludedFolder {
                source: f.name.clone(),
                reason: "virtual view of mail held in other folders (\\All or \\Flagged)".into(),
            });
            continue;
        }
        // 1. Rename rules: the longest matching prefix wins.
        let rename = rules
            .renames
            .iter()
            .filter(|(from, _)| {
                let from_parts: Vec<&str> = from.split('/').collect();
                from_parts.len() <= path.len()
                    && from_parts.iter().zip(path.iter()).all(|(a, b)| *a == b)
            })
            .max_by_key(|(from, _)| from.split('/').count());
        let (dest_path, reason, dest_role) = if let Some((from, to)) = rename {
            let mut p: Vec<String> = to.split('/').map(str::to_string).collect();
            p.extend(path.iter().skip(from.split('/').count()).cloned());
            (p, "rename rule".to_string(), None)
        } else if path.len() == 1 && path[0] == "INBOX" {
            (vec!["INBOX".to_string()], "inbox".to_string(), None)
        } else if let Some(r) = role {
            let base = dest_role_path(*r).unwrap_or_else(|| vec![r.default_name().to_string()]);
            let why = if f.special_use.is_some() {
                "special-use"
            } else {
                "name"
            };
            (base, why.to_string(), Some(*r))
        } else {
            // 2. A child of a folder with a role follows its parent.
            let parent = (1..path.len()).rev().find_map(|n| {
                roles
                    .iter()
                    .find(|(p, r)| r.is_some() && p.len() == n && p[..] == path[..n])
                    .map(|(_, r)| (n, r.expect("filtered on is_some")))
            });
            match parent {
                Some((n, r)) if !matches!(r, Role::All | Role::Flagged) => {
                    let mut base =
                        dest_role_path(r).unwrap_or_else(|| vec![r.default_name().to_string()]);
                    base.extend(path[n..].iter().cloned());
                    (base, "under a special folder".to_string(), None)
                }
                _ => (path.clone(), "same name".to_string(), None),
            }
        };
        let dest = dest_name(&dest_path, dest_ns);
        let create = !existing.iter().any(|e| e == &dest)
            && !out
                .folders
                .iter()
                .any(|m: &FolderMapping| m.dest == dest && m.create);
        out.folders.push(FolderMapping {
            source: f.name.clone(),
            dest,
            role: dest_role,
            reason,
            create,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lf(name: &str, delim: char, su: Option<Role>) -> ListedFolder {
        ListedFolder {
            name: name.into(),
            delimiter: Some(delim),
            special_use: su,
            no_select: false,
        }
    }

    fn modern() -> (Vec<ListedFolder>, Namespace) {
        (
            vec![
                lf("INBOX", '/', None),
                lf("Sent", '/', Some(Role::Sent)),
                lf("Trash", '/', Some(Role::Trash)),
                lf("Junk", '/', Some(Role::Junk)),
                lf("Drafts", '/', Some(Role::Drafts)),
                lf("Archive", '/', Some(Role::Archive)),
            ],
            Namespace {
                prefix: String::new(),
                delimiter: '/',
            },
        )
    }

    fn oldmac_ns() -> Namespace {
        Namespace {
            prefix: String::new(),
            delimiter: '.',
        }
    }

    #[test]
    fn apple_names_go_to_special_folders_and_children_follow() {
        let src = vec![
            lf("INBOX", '.', None),
            lf("Sent Messages", '.', None),
            lf("Deleted Messages", '.', None),
            lf("Junk", '.', None),
            lf("Drafts", '.', None),
            lf("Notes", '.', None),
            lf("Archive", '.', None),
            lf("Archive.2018", '.', None),
        ];
        let (dest, dns) = modern();
        let p = plan(&src, &oldmac_ns(), &dest, &dns, &MappingRules::default());
        let d = |s: &str| p.dest_for(s).unwrap().dest.clone();
        assert_eq!(d("INBOX"), "INBOX");
        assert_eq!(d("Sent Messages"), "Sent");
        assert_eq!(d("Deleted Messages"), "Trash");
        assert_eq!(d("Junk"), "Junk");
        assert_eq!(d("Notes"), "Notes");
        assert!(p.dest_for("Notes").unwrap().create);
        assert!(!p.dest_for("Sent Messages").unwrap().create);
        assert_eq!(d("Archive.2018"), "Archive/2018");
        assert_eq!(p.dest_for("Sent Messages").unwrap().role, Some(Role::Sent));
    }

    #[test]
    fn two_source_folders_with_one_role_share_one_destination() {
        let src = vec![
            lf("INBOX", '.', None),
            lf("Sent Items", '.', None),
            lf("Sent Messages", '.', None),
            lf("Deleted Items", '.', None),
            lf("Junk E-mail", '.', None),
        ];
        let dest = vec![
            lf("INBOX", '/', None),
            lf("[Gmail]", '/', None),
            lf("[Gmail]/Sent Mail", '/', Some(Role::Sent)),
            lf("[Gmail]/Bin", '/', Some(Role::Trash)),
        ];
        let p = plan(
            &src,
            &oldmac_ns(),
            &dest,
            &Namespace::default(),
            &MappingRules::default(),
        );
        assert_eq!(p.dest_for("Sent Items").unwrap().dest, "[Gmail]/Sent Mail");
        assert_eq!(
            p.dest_for("Sent Messages").unwrap().dest,
            "[Gmail]/Sent Mail"
        );
        assert_eq!(p.dest_for("Deleted Items").unwrap().dest, "[Gmail]/Bin");
        // No junk folder on the destination: created once with the default name.
        let junk = p.dest_for("Junk E-mail").unwrap();
        assert_eq!((junk.dest.as_str(), junk.create), ("Junk", true));
    }

    #[test]
    fn prefixed_destination_gets_prefix_and_separator() {
        let src = vec![
            lf("INBOX", '.', None),
            lf("Projects", '.', None),
            lf("Rechnungen.2018", '.', None),
            lf("Sent Messages", '.', None),
        ];
        let dest = vec![
            lf("INBOX", '.', None),
            lf("INBOX.Sent", '.', None),
            lf("INBOX.Trash", '.', None),
        ];
        let dns = Namespace {
            prefix: "INBOX.".into(),
            delimiter: '.',
        };
        let p = plan(&src, &oldmac_ns(), &dest, &dns, &MappingRules::default());
        assert_eq!(p.dest_for("INBOX").unwrap().dest, "INBOX");
        assert_eq!(p.dest_for("Projects").unwrap().dest, "INBOX.Projects");
        assert_eq!(
            p.dest_for("Rechnungen.2018").unwrap().dest,
            "INBOX.Rechnungen.2018"
        );
        // No SPECIAL-USE on the destination: found by name under the prefix.
        let sent = p.dest_for("Sent Messages").unwrap();
        assert_eq!((sent.dest.as_str(), sent.create), ("INBOX.Sent", false));
    }

    #[test]
    fn prefixed_source_to_slash_destination_and_delimiter_in_a_name() {
        let src = vec![
            lf("INBOX", '.', None),
            lf("INBOX.Sent", '.', None),
            lf("INBOX.Clients", '.', None),
            lf("INBOX.Clients.ACME", '.', None),
        ];
        let sns = Namespace {
            prefix: "INBOX.".into(),
            delimiter: '.',
        };
        let (dest, dns) = modern();
        let p = plan(&src, &sns, &dest, &dns, &MappingRules::default());
        assert_eq!(p.dest_for("INBOX.Sent").unwrap().dest, "Sent");
        assert_eq!(
            p.dest_for("INBOX.Clients.ACME").unwrap().dest,
            "Clients/ACME"
        );
        // A '.' inside a '/'-separated name cannot survive on a '.' destination.
        let src2 = vec![lf("v1.2", '/', None)];
        let dns2 = Namespace {
            prefix: "INBOX.".into(),
            delimiter: '.',
        };
        let p2 = plan(
            &src2,
            &Namespace::default(),
            &[],
            &dns2,
            &MappingRules::default(),
        );
        assert_eq!(p2.dest_for("v1.2").unwrap().dest, "INBOX.v1_2");
    }

    #[test]
    fn rename_rules_and_patterns() {
        let src = vec![
            lf("INBOX", '.', None),
            lf("Old", '.', None),
            lf("Old.Sub", '.', None),
            lf("Private", '.', None),
            lf("Private.Deep", '.', None),
            lf("All Mail", '.', None),
        ];
        let rules = MappingRules {
            renames: vec![("Old".into(), "Archive/Old".into())],
            exclude: vec!["Private".into()],
            ..Default::default()
        };
        let (dest, dns) = modern();
        let p = plan(&src, &oldmac_ns(), &dest, &dns, &rules);
        assert_eq!(p.dest_for("Old").unwrap().dest, "Archive/Old");
        assert_eq!(p.dest_for("Old.Sub").unwrap().dest, "Archive/Old/Sub");
        assert!(p.dest_for("Private").is_none());
        assert!(p.dest_for("Private.Deep").is_none());
        assert!(p.dest_for("All Mail").is_none());
        assert_eq!(p.excluded.len(), 3);
        let only_inbox = MappingRules {
            include: vec!["INBOX".into()],
            ..Default::default()
        };
        let p = plan(&src, &oldmac_ns(), &dest, &dns, &only_inbox);
        assert_eq!(p.folders.len(), 1);
    }

    #[test]
    fn wildcards() {
        assert!(pattern_matches("Archive/*", "Archive/2018/Q1"));
        assert!(pattern_matches("Archive/%", "Archive/2018"));
        assert!(!pattern_matches("Archive/%", "Archive/2018/Q1"));
        assert!(pattern_matches("inbox", "INBOX"));
        assert!(!pattern_matches("Sent", "Sent Items"));
    }
}
