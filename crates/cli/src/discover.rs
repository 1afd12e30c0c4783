//! `ferry discover [--root DIR] [--json]`: what the old server holds, readable at a glance, or the
//! Inventory as JSON for scripts.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context;
use ferry_project::discover::{
    human_bytes, Account, AccountState, Folder, Inventory, TrainingKind,
};

#[derive(clap::Args)]
pub struct DiscoverArgs {
    /// The old server's root folder (`/` on the server itself; a copy of it elsewhere).
    /// Without it: the migration project's server, or `/`.
    #[arg(long, value_name = "DIR")]
    pub root: Option<PathBuf>,
    /// Print the inventory as JSON instead of the summary.
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &DiscoverArgs) -> anyhow::Result<std::process::ExitCode> {
    let root = args.root.clone().unwrap_or_else(|| PathBuf::from("/"));
    let inv = ferry_project::discover::run(&root)
        .with_context(|| format!("discovery of {} failed", root.display()))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&inv)?);
    } else {
        print!("{}", render(&inv));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// Display width: East Asian wide characters take two columns.
fn width(s: &str) -> usize {
    s.chars()
        .map(|c| {
            let c = c as u32;
            let wide = (0x1100..=0x115F).contains(&c)
                || (0x2E80..=0xA4CF).contains(&c)
                || (0xAC00..=0xD7A3).contains(&c)
                || (0xF900..=0xFAFF).contains(&c)
                || (0xFE30..=0xFE4F).contains(&c)
                || (0xFF00..=0xFF60).contains(&c)
                || (0xFFE0..=0xFFE6).contains(&c)
                || (0x1F300..=0x1FAFF).contains(&c)
                || (0x20000..=0x3FFFD).contains(&c);
            if wide {
                2
            } else {
                1
            }
        })
        .sum()
}

fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    for _ in width(s)..w {
        out.push(' ');
    }
    out
}

fn rpad(s: &str, w: usize) -> String {
    let mut out = String::new();
    for _ in width(s)..w {
        out.push(' ');
    }
    out.push_str(s);
    out
}

/// Wraps `text` to `cols` columns; continuation lines start with `indent` spaces.
fn wrap(text: &str, first_prefix: &str, indent: usize, cols: usize) -> String {
    let mut out = String::from(first_prefix);
    let mut line_w = width(first_prefix);
    let mut first_word = true;
    for word in text.split_whitespace() {
        let w = width(word);
        if !first_word && line_w + 1 + w > cols {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            line_w = indent;
        } else if !first_word {
            out.push(' ');
            line_w += 1;
        }
        out.push_str(word);
        line_w += w;
        first_word = false;
    }
    out.push('\n');
    out
}

fn state_text(a: &Account) -> &'static str {
    match a.state {
        AccountState::Active => "active",
        AccountState::Forwarding => "forwarding",
        AccountState::Disabled => "disabled",
    }
}

fn count(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn folder_line(out: &mut String, f: &Folder, name_w: usize, lead: &str) {
    let mut notes = Vec::new();
    if f.unseen_new > 0 {
        notes.push(format!("{} new", f.unseen_new));
    }
    if f.deleted_pending > 0 {
        notes.push(format!("{} deleted, not expunged", f.deleted_pending));
    }
    if !f.subscribed {
        notes.push("not subscribed".to_string());
    }
    let _ = writeln!(
        out,
        "{lead}{}  {}  {}{}",
        pad(&f.name, name_w),
        rpad(&f.messages.to_string(), 4),
        rpad(&human_bytes(f.bytes), 9),
        if notes.is_empty() {
            String::new()
        } else {
            format!("   ({})", notes.join(", "))
        }
    );
}

const COLS: usize = 100;

pub fn render(inv: &Inventory) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "Old server  {}", inv.hostname);
    let _ = writeln!(o, "Domains     {}", inv.domains.join(", "));
    for p in &inv.partitions {
        let _ = writeln!(o, "Mail store  {} (partition {})", p.path, p.tag);
    }
    let t = &inv.totals;
    let _ = writeln!(
        o,
        "Total       {} · {} · {} · {}",
        count(t.accounts, "account", "accounts"),
        count(t.folders, "folder", "folders"),
        count(t.messages, "message", "messages"),
        human_bytes(t.bytes),
    );

    // --- accounts table ---
    let _ = writeln!(o);
    let headers = [
        "ACCOUNT", "NAME", "STATE", "MESSAGES", "SIZE", "QUOTA", "ADDRESS",
    ];
    let rows: Vec<[String; 7]> = inv
        .accounts
        .iter()
        .map(|a| {
            let primary = a.addresses.first().cloned().unwrap_or_else(|| "–".into());
            let extra = a.addresses.len().saturating_sub(1);
            // Forwarding accounts show where mail goes; their addresses are in the details below.
            let addr = match (&a.forward_to, extra) {
                (Some(fwd), _) => format!("→ {fwd}"),
                (None, 0) => primary,
                (None, n) => format!("{primary} +{n}"),
            };
            let has_store = a.store.is_some();
            [
                a.short_name.clone(),
                a.real_name.clone().unwrap_or_default(),
                state_text(a).to_string(),
                if has_store {
                    a.messages.to_string()
                } else {
                    "–".into()
                },
                if has_store {
                    human_bytes(a.bytes)
                } else {
                    "no store".into()
                },
                a.quota_bytes
                    .map(human_bytes)
                    .unwrap_or_else(|| "none".into()),
                addr,
            ]
        })
        .collect();
    let mut w = headers.map(width);
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(width(c));
        }
    }
    let right = [false, false, false, true, true, true, false];
    let line = |cells: [&str; 7]| {
        let mut s = String::from("  ");
        for (i, c) in cells.iter().enumerate() {
            if i > 0 {
                s.push_str("  ");
            }
            if i == 6 {
                s.push_str(c);
            } else if right[i] {
                s.push_str(&rpad(c, w[i]));
            } else {
                s.push_str(&pad(c, w[i]));
            }
        }
        s.trim_end().to_string()
    };
    let _ = writeln!(o, "{}", line(headers));
    for r in &rows {
        let cells = [
            r[0].as_str(),
            r[1].as_str(),
            r[2].as_str(),
            r[3].as_str(),
            r[4].as_str(),
            r[5].as_str(),
            r[6].as_str(),
        ];
        let _ = writeln!(o, "{}", line(cells));
    }

    // --- per account: addresses and folders ---
    for a in &inv.accounts {
        let _ = writeln!(o);
        let title = match &a.real_name {
            Some(n) => format!("{} ({n})", a.short_name),
            None => a.short_name.clone(),
        };
        let _ = writeln!(o, "{title}");
        if !a.addresses.is_empty() {
            let list = a
                .addresses
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    if i == 0 {
                        format!("{x} (primary),")
                    } else {
                        format!("{x},")
                    }
                })
                .collect::<Vec<_>>()
                .join(" ");
            o.push_str(&wrap(list.trim_end_matches(','), "  addresses  ", 13, COLS));
        }
        if let Some(fwd) = &a.forward_to {
            let _ = writeln!(
                o,
                "  forwards   to {fwd} (no local mail to copy; set up the forward on the new host)"
            );
        }
        if let (Some(q), Some(used)) = (a.quota_bytes, a.quota_used_bytes) {
            let _ = writeln!(
                o,
                "  quota      {} of {} used (maildirsize)",
                human_bytes(used),
                human_bytes(q)
            );
        }
        if a.folders.is_empty() {
            continue;
        }
        let name_w = a.folders.iter().map(|f| width(&f.name)).max().unwrap_or(0);
        for (i, f) in a.folders.iter().enumerate() {
            folder_line(
                &mut o,
                f,
                name_w,
                if i == 0 {
                    "  folders    "
                } else {
                    "             "
                },
            );
        }
    }

    // --- training mailboxes, orphans ---
    if !inv.training_mailboxes.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "Junk-mail training mailboxes (read and emptied by learn_junk_mail; not migrated as users)");
        let name_w = inv
            .training_mailboxes
            .iter()
            .map(|t| width(&t.short_name))
            .max()
            .unwrap_or(0);
        for t in &inv.training_mailboxes {
            let kind = match t.kind {
                TrainingKind::Junk => "junk    ",
                TrainingKind::Notjunk => "not junk",
            };
            let _ = writeln!(
                o,
                "  {}  {kind}  {}  {}",
                pad(&t.short_name, name_w),
                rpad(&count(t.messages, "message", "messages"), 12),
                rpad(&human_bytes(t.bytes), 9)
            );
        }
    }
    if !inv.orphans.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "Stores without a user");
        for orphan in &inv.orphans {
            let _ = writeln!(
                o,
                "  {}  {}  {}",
                orphan.guid,
                rpad(&count(orphan.messages, "message", "messages"), 12),
                rpad(&human_bytes(orphan.bytes), 9)
            );
        }
    }

    // --- aliases ---
    let user_aliases: Vec<_> = inv.aliases.iter().filter(|a| !a.system).collect();
    let system_aliases: Vec<_> = inv.aliases.iter().filter(|a| a.system).collect();
    if !inv.aliases.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(o, "Aliases (Postfix aliases file)");
        let name_w = user_aliases
            .iter()
            .map(|a| width(&a.name))
            .max()
            .unwrap_or(0);
        for a in &user_aliases {
            let to = if a.delivers_to.is_empty() {
                a.targets.join(", ")
            } else {
                a.delivers_to.join(", ")
            };
            let _ = writeln!(o, "  {}  → {to}", pad(&a.name, name_w));
        }
        if !system_aliases.is_empty() {
            let names = system_aliases
                .iter()
                .map(|a| a.name.as_str())
                .collect::<Vec<_>>()
                .join(", ");
            let mut ends: Vec<&str> = system_aliases
                .iter()
                .flat_map(|a| a.delivers_to.iter().map(String::as_str))
                .collect();
            ends.sort();
            ends.dedup();
            let text = if ends.is_empty() {
                format!("system aliases: {names}")
            } else {
                format!("system aliases: {names} → {}", ends.join(", "))
            };
            o.push_str(&wrap(&text, "  ", 4, COLS));
        }
    }
    if !inv.non_mail_users.is_empty() {
        let _ = writeln!(o);
        let _ = writeln!(
            o,
            "Directory users without mail: {}",
            inv.non_mail_users.join(", ")
        );
    }

    // --- warnings ---
    let _ = writeln!(o);
    if inv.warnings.is_empty() {
        let _ = writeln!(o, "No warnings.");
    } else {
        let _ = writeln!(o, "Warnings ({})", inv.warnings.len());
        for wng in &inv.warnings {
            o.push_str(&wrap(&wng.message, "  ! ", 4, COLS));
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn widths_and_wrapping() {
        assert_eq!(width("日本語"), 6);
        assert_eq!(width("Björn"), 5);
        assert_eq!(pad("日本", 6), "日本  ");
        let w = wrap("aaa bbb ccc", "> ", 2, 8);
        assert_eq!(w, "> aaa\n  bbb\n  ccc\n");
    }
}
