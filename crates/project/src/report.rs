//! The final report (phase 11): what a consultant hands the customer at the end. One HTML page
//! (printable, no external assets: inline CSS, no scripts, no images, no links out) and the same
//! facts as JSON: accounts, counts, sizes, failures and how each was resolved, timings and the
//! cut-over dates. Every text that comes from mail or from the admin is escaped.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::decommission::{Checklist, ItemState};
use crate::review::{
    FailedMessage, FolderReview, ResolutionKind, ResolvedCounts, ResolvedMessage, Review,
};

/// One account in the report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReportAccount {
    /// Who (the person's name or login on the old server).
    pub name: String,
    /// The address on the new host.
    pub destination: String,
    pub included: bool,
    pub source_messages: u64,
    pub source_bytes: u64,
    pub dest_messages: u64,
    pub dest_bytes: u64,
    /// Not on the new host and not kept another way.
    pub missing: u64,
    pub folders: Vec<FolderReview>,
    pub failures: Vec<FailedMessage>,
    pub resolved: Vec<ResolvedMessage>,
    #[ts(type = "string | null")]
    pub final_sync_at: Option<DateTime<Utc>>,
    pub verified: bool,
}

/// When a phase ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct PhaseTiming {
    /// In words: "Initial sync", "Final sync".
    pub phase: String,
    #[ts(type = "string")]
    pub started_at: DateTime<Utc>,
    #[ts(type = "string | null")]
    pub finished_at: Option<DateTime<Utc>>,
    /// In words: "12 480 messages copied (2.1 GB)".
    pub result: String,
}

/// The cut-over's dates.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct CutoverDates {
    #[ts(type = "string | null")]
    pub ttl_lowered_at: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub mx_switched_at: Option<DateTime<Utc>>,
    /// When every resolver first answered only the new host.
    #[ts(type = "string | null")]
    pub dns_all_new_at: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub last_mail_at_old_server: Option<DateTime<Utc>>,
    #[ts(type = "string | null")]
    pub final_sync_at: Option<DateTime<Utc>>,
}

/// Everything the report shows; the project fills it from its file.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReportInput {
    /// "Mail migration of example.com".
    pub title: String,
    pub customer: Option<String>,
    pub prepared_by: Option<String>,
    #[ts(type = "string")]
    pub generated_at: DateTime<Utc>,
    /// The old server (its host name).
    pub old_server: String,
    /// The new host in words: "Fastmail (imap.fastmail.com)".
    pub destination: String,
    pub domains: Vec<String>,
    pub accounts: Vec<ReportAccount>,
    pub phases: Vec<PhaseTiming>,
    pub cutover: CutoverDates,
    pub checklist: Option<Checklist>,
    pub notes: Vec<String>,
}

/// Totals over the included accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct ReportTotals {
    pub accounts: u64,
    pub included: u64,
    pub source_messages: u64,
    pub source_bytes: u64,
    pub dest_messages: u64,
    pub dest_bytes: u64,
    pub missing: u64,
    /// Failures still open.
    pub failed: u64,
    pub resolved: ResolvedCounts,
    /// "3 delivered wrapped, 1 exported to mbox".
    pub resolved_text: String,
}

/// The report: its input and the totals. [`FinalReport::html`] and [`FinalReport::json`] give
/// the two forms.
#[derive(Debug, Clone, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FinalReport {
    #[serde(flatten)]
    pub input: ReportInput,
    pub totals: ReportTotals,
}

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(
        "cannot write the report {path}: {source}; choose a file in a folder you can write to"
    )]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Accounts for the report from a review (the project adds names, addresses and dates).
pub fn accounts_from_review(review: &Review) -> Vec<ReportAccount> {
    review
        .accounts
        .iter()
        .map(|a| {
            let (name, destination) = match a.account.split_once(" => ") {
                Some((s, d)) => (s.to_string(), d.to_string()),
                None => (a.account.clone(), a.account.clone()),
            };
            ReportAccount {
                name,
                destination,
                included: true,
                source_messages: a.source_messages,
                source_bytes: a.source_bytes,
                dest_messages: a.dest_messages,
                dest_bytes: a.dest_bytes,
                missing: a.missing,
                folders: a.folders.clone(),
                failures: a.failures.clone(),
                resolved: a.resolved.clone(),
                final_sync_at: None,
                verified: a.error.is_none() && a.missing == 0,
            }
        })
        .collect()
}

/// Computes the totals.
pub fn final_report(input: ReportInput) -> FinalReport {
    let mut t = ReportTotals {
        accounts: input.accounts.len() as u64,
        ..Default::default()
    };
    for a in input.accounts.iter().filter(|a| a.included) {
        t.included += 1;
        t.source_messages += a.source_messages;
        t.source_bytes += a.source_bytes;
        t.dest_messages += a.dest_messages;
        t.dest_bytes += a.dest_bytes;
        t.missing += a.missing;
        t.failed += a.failures.iter().filter(|f| f.class.is_some()).count() as u64;
        for r in &a.resolved {
            t.resolved.add(r.how);
        }
    }
    t.resolved_text = t.resolved.text();
    FinalReport { input, totals: t }
}

/// Sizes as the app, the CLI and discovery show them (binary units: "7.3 KiB", "1.2 MiB"), so
/// that the report and the screens give the same numbers.
pub fn human_bytes(bytes: u64) -> String {
    ferry_discover::human_bytes(bytes)
}

/// Escapes text for HTML content and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c if c.is_control() && c != '\n' && c != '\t' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

fn date(t: Option<DateTime<Utc>>) -> String {
    t.map(|t| t.format("%Y-%m-%d %H:%M UTC").to_string())
        .unwrap_or_else(|| "\u{2014}".to_string())
}

fn count(n: u64) -> String {
    // Thin groups of three, as people read large counts.
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push('\u{202F}');
        }
        out.push(c);
    }
    out
}

const STYLE: &str = r#"
body { font: 11pt/1.45 -apple-system, "Helvetica Neue", Helvetica, Arial, sans-serif; color: #1d1d1f; margin: 2em auto; max-width: 60em; padding: 0 1.5em; }
h1 { font-size: 1.7em; margin-bottom: 0.1em; }
h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #d2d2d7; padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
.meta { color: #515154; margin-top: 0; }
table { border-collapse: collapse; width: 100%; margin: 0.6em 0; }
th, td { text-align: left; padding: 0.3em 0.5em; border-bottom: 1px solid #e5e5ea; vertical-align: top; }
th { background: #f5f5f7; font-weight: 600; }
td.n, th.n { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.done { color: #1a7f37; font-weight: 600; }
.not_yet { color: #9a6700; font-weight: 600; }
.blocked { color: #cf222e; font-weight: 600; }
.summary { display: table; margin: 0.8em 0; }
.summary div { display: table-row; }
.summary span { display: table-cell; padding: 0.15em 1.2em 0.15em 0; }
.small { font-size: 0.9em; color: #515154; }
.verdict { font-size: 1.1em; padding: 0.6em 0.9em; border-radius: 6px; background: #f5f5f7; }
@media print {
  body { margin: 0; max-width: none; font-size: 10pt; }
  h2 { page-break-after: avoid; }
  tr { page-break-inside: avoid; }
}
"#;

impl FinalReport {
    /// The JSON form (pretty-printed).
    pub fn json(&self) -> String {
        serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": {:?}}}", e.to_string()))
    }

    /// The HTML page: self-contained, printable.
    pub fn html(&self) -> String {
        let i = &self.input;
        let t = &self.totals;
        let mut h = String::with_capacity(16 * 1024);
        let mut p = |s: &str| h.push_str(s);
        p("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        p(&format!("<title>{}</title>\n", escape(&i.title)));
        p(&format!("<style>{STYLE}</style>\n</head>\n<body>\n"));
        p(&format!("<h1>{}</h1>\n", escape(&i.title)));
        let mut meta = Vec::new();
        if let Some(c) = &i.customer {
            meta.push(format!("For {}", escape(c)));
        }
        if let Some(c) = &i.prepared_by {
            meta.push(format!("prepared by {}", escape(c)));
        }
        meta.push(format!("on {}", date(Some(i.generated_at))));
        p(&format!("<p class=\"meta\">{}</p>\n", meta.join(", ")));

        p("<h2>Summary</h2>\n<div class=\"summary\">\n");
        let row =
            |k: &str, v: String| format!("<div><span>{}</span><span>{v}</span></div>\n", escape(k));
        p(&row("Old server", escape(&i.old_server)));
        p(&row("New host", escape(&i.destination)));
        if !i.domains.is_empty() {
            p(&row("Domains", escape(&i.domains.join(", "))));
        }
        p(&row(
            "Accounts moved",
            format!("{} of {}", count(t.included), count(t.accounts)),
        ));
        p(&row(
            "Messages on the old server",
            format!(
                "{} ({})",
                count(t.source_messages),
                escape(&human_bytes(t.source_bytes))
            ),
        ));
        p(&row(
            "Messages on the new host",
            format!(
                "{} ({})",
                count(t.dest_messages),
                escape(&human_bytes(t.dest_bytes))
            ),
        ));
        p(&row("Missing", count(t.missing)));
        p(&row("Refused and not kept", count(t.failed)));
        if t.resolved.total() > 0 {
            p(&row("Refused, kept another way", escape(&t.resolved_text)));
        }
        p("</div>\n");
        if let Some(c) = &i.checklist {
            let verdict = if c.ready {
                "The old server may be switched off."
            } else {
                "The old server should not be switched off yet: see the checklist."
            };
            p(&format!("<p class=\"verdict\">{}</p>\n", escape(verdict)));
        }

        p("<h2>Cut-over</h2>\n<table>\n<tr><th>Step</th><th>When</th></tr>\n");
        for (k, v) in [
            ("DNS time-to-live lowered", i.cutover.ttl_lowered_at),
            (
                "MX records switched to the new host",
                i.cutover.mx_switched_at,
            ),
            (
                "Every resolver answered only the new host",
                i.cutover.dns_all_new_at,
            ),
            (
                "Last mail at the old server",
                i.cutover.last_mail_at_old_server,
            ),
            ("Final sync", i.cutover.final_sync_at),
        ] {
            p(&format!(
                "<tr><td>{}</td><td>{}</td></tr>\n",
                escape(k),
                escape(&date(v))
            ));
        }
        p("</table>\n");

        p("<h2>Accounts</h2>\n<table>\n<tr><th>Account</th><th>New address</th><th class=\"n\">Messages (old)</th><th class=\"n\">Size (old)</th><th class=\"n\">Messages (new)</th><th class=\"n\">Size (new)</th><th class=\"n\">Missing</th><th>Final sync</th></tr>\n");
        for a in &i.accounts {
            let name = if a.included {
                escape(&a.name)
            } else {
                format!(
                    "{} <span class=\"small\">(not moved)</span>",
                    escape(&a.name)
                )
            };
            p(&format!(
                "<tr><td>{name}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td>{}</td></tr>\n",
                escape(&a.destination),
                count(a.source_messages),
                escape(&human_bytes(a.source_bytes)),
                count(a.dest_messages),
                escape(&human_bytes(a.dest_bytes)),
                count(a.missing),
                escape(&date(a.final_sync_at)),
            ));
        }
        p("</table>\n");

        for a in i.accounts.iter().filter(|a| !a.folders.is_empty()) {
            p(&format!("<h3>Folders of {}</h3>\n", escape(&a.name)));
            p("<table>\n<tr><th>Folder on the new host</th><th>From</th><th class=\"n\">Messages (old)</th><th class=\"n\">Size (old)</th><th class=\"n\">Messages (new)</th><th class=\"n\">Size (new)</th><th class=\"n\">Missing</th></tr>\n");
            for f in &a.folders {
                p(&format!(
                    "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>\n",
                    escape(&f.dest),
                    escape(&f.sources.join(", ")),
                    count(f.source_messages),
                    escape(&human_bytes(f.source_bytes)),
                    count(f.dest_messages),
                    escape(&human_bytes(f.dest_bytes)),
                    count(f.missing),
                ));
            }
            p("</table>\n");
        }

        let failures: Vec<(&ReportAccount, &FailedMessage)> = i
            .accounts
            .iter()
            .flat_map(|a| a.failures.iter().map(move |f| (a, f)))
            .collect();
        let resolved: Vec<(&ReportAccount, &ResolvedMessage)> = i
            .accounts
            .iter()
            .flat_map(|a| a.resolved.iter().map(move |r| (a, r)))
            .collect();
        if !resolved.is_empty() {
            p(&format!(
                "<h2>Messages the new host refused, kept another way ({})</h2>\n",
                escape(&t.resolved_text)
            ));
            p("<table>\n<tr><th>Account</th><th>Folder</th><th>Subject</th><th>Date</th><th>Why refused</th><th>Kept as</th></tr>\n");
            for (a, r) in resolved {
                let kept = match r.how {
                    ResolutionKind::Wrapped => format!(
                        "Delivered wrapped (the original attached) in {}",
                        r.dest_folder.as_deref().unwrap_or("the same folder")
                    ),
                    ResolutionKind::Mbox => format!(
                        "Exported to the mbox file {}",
                        r.mbox_path.as_deref().unwrap_or("")
                    ),
                };
                p(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    escape(&a.name),
                    escape(&r.folder),
                    escape(r.subject.as_deref().unwrap_or("(no subject)")),
                    escape(r.date.as_deref().unwrap_or("")),
                    escape(&r.reason),
                    escape(&kept),
                ));
            }
            p("</table>\n");
        }
        if !failures.is_empty() {
            p("<h2>Messages not on the new host</h2>\n<table>\n<tr><th>Account</th><th>Folder</th><th>Subject</th><th>Date</th><th class=\"n\">Size</th><th>Why</th><th>What to do</th></tr>\n");
            for (a, f) in failures {
                p(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td><td>{}</td><td>{}</td></tr>\n",
                    escape(&a.name),
                    escape(&f.folder),
                    escape(f.subject.as_deref().unwrap_or("(no subject)")),
                    escape(f.date.as_deref().unwrap_or("")),
                    escape(&human_bytes(f.size)),
                    escape(&f.reason),
                    escape(&f.advice),
                ));
            }
            p("</table>\n");
        }

        if let Some(c) = &i.checklist {
            p(&format!(
                "<h2>Before switching the old server off</h2>\n<p class=\"small\">Checked {}.</p>\n<table>\n<tr><th>Item</th><th>State</th><th>Where it stands</th><th>What to do</th></tr>\n",
                escape(&date(Some(c.checked_at)))
            ));
            for item in &c.items {
                let (class, word) = match item.state {
                    ItemState::Done => ("done", "Done"),
                    ItemState::NotYet => ("not_yet", "Not yet"),
                    ItemState::Blocked => ("blocked", "Blocked"),
                };
                p(&format!(
                    "<tr><td>{}</td><td class=\"{class}\">{word}</td><td>{}</td><td>{}</td></tr>\n",
                    escape(&item.title),
                    escape(&item.detail),
                    escape(item.todo.as_deref().unwrap_or("")),
                ));
            }
            p("</table>\n");
        }

        if !i.phases.is_empty() {
            p("<h2>Timeline</h2>\n<table>\n<tr><th>Phase</th><th>Started</th><th>Finished</th><th>Result</th></tr>\n");
            for ph in &i.phases {
                p(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
                    escape(&ph.phase),
                    escape(&date(Some(ph.started_at))),
                    escape(&date(ph.finished_at)),
                    escape(&ph.result),
                ));
            }
            p("</table>\n");
        }
        if !i.notes.is_empty() {
            p("<h2>Notes</h2>\n<ul>\n");
            for n in &i.notes {
                p(&format!("<li>{}</li>\n", escape(n)));
            }
            p("</ul>\n");
        }
        p("</body>\n</html>\n");
        h
    }

    /// Writes the HTML page to `html` and the JSON beside it (same name, `.json`); returns the
    /// JSON file's path. Readable by the owner only (they name people, folders and subjects); a
    /// symbolic link at either name is refused.
    pub fn write(&self, html: &Path) -> Result<PathBuf, ReportError> {
        let json = html.with_extension("json");
        for (path, text) in [
            (html.to_path_buf(), self.html()),
            (json.clone(), self.json()),
        ] {
            ferry_safeio::fs::write_replace(&path, text.as_bytes(), ferry_safeio::fs::PRIVATE_FILE)
                .map_err(|source| ReportError::Write { path, source })?;
        }
        Ok(json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_counts_for_people() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_234_567), "1.2 MiB");
        assert_eq!(human_bytes(2_100_000_000), "2.0 GiB");
        assert_eq!(count(12_480), "12\u{202F}480");
        assert_eq!(count(999), "999");
        assert_eq!(count(1_000_000), "1\u{202F}000\u{202F}000");
    }

    #[test]
    fn escaping() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{FFFD}b");
    }
}
