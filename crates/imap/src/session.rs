//! An authenticated connection: folders, status, fetch, append, search.

use std::collections::{HashMap, VecDeque};

use async_imap::imap_proto::{
    AttributeValue, MailboxDatum, MessageSection, NameAttribute, Response, ResponseCode,
    SectionPath, Status, StatusAttribute,
};
use chrono::{DateTime, FixedOffset};

use crate::conn::{capability_atoms, quotable, quote, Conn, Part, Reply, ResponseData};
use crate::error::{CertificateInfo, ImapError, Result};
use crate::response::{classify, parse_appenduid, parse_namespace, single_appenduid, Ctx};
use crate::types::{
    AppendMessage, AppendUid, Capabilities, FetchItems, FetchedMessage, FlagChange, Folder,
    FolderStatus, FolderWithStatus, Namespace, Namespaces, SelectedFolder, SpecialUse, UidSet,
};
use crate::utf7;

/// Longest UID set sent in one command; longer sets are split (servers limit line length).
const MAX_SET_LEN: usize = 4000;
/// Commands in flight at once when pipelining STATUS / APPEND.
const PIPELINE_DEPTH: usize = 64;

/// A logged-in IMAP connection. Methods take `&mut self`: one command at a time per
/// connection (open several sessions for parallelism). Folder arguments are UTF-8 names as
/// [`Folder::name`] gives them (full path with the server's separator and prefix).
pub struct Session {
    conn: Conn,
    user: String,
    selected: Option<String>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("server", &self.conn.server)
            .field("user", &self.user)
            .field("selected", &self.selected)
            .finish()
    }
}

/// Formats an INTERNALDATE for APPEND: `"01-Jan-2020 10:00:00 +0100"`.
pub fn format_internal_date(date: &DateTime<FixedOffset>) -> String {
    date.format("\"%d-%b-%Y %H:%M:%S %z\"").to_string()
}

/// Parses an INTERNALDATE as sent by servers (`" 7-Jul-1996 02:44:25 -0700"`).
pub fn parse_internal_date(s: &str) -> Option<DateTime<FixedOffset>> {
    DateTime::parse_from_str(s.trim(), "%d-%b-%Y %H:%M:%S %z").ok()
}

fn is_atom_char(c: char) -> bool {
    c.is_ascii() && !c.is_ascii_control() && !"(){ %*\"\\]".contains(c)
}

/// The flag list for APPEND / STORE: `\Recent` dropped (servers refuse it), invalid keywords
/// dropped with a warning rather than failing the message.
fn flag_list(flags: &[String]) -> String {
    let mut out = Vec::new();
    for f in flags {
        if f.eq_ignore_ascii_case("\\Recent") {
            continue;
        }
        let body = f.strip_prefix('\\').unwrap_or(f);
        if !body.is_empty() && body.chars().all(is_atom_char) {
            out.push(f.as_str());
        } else {
            tracing::warn!("flag {f:?} cannot be sent over IMAP; left out");
        }
    }
    format!("({})", out.join(" "))
}

fn attr_name(a: &NameAttribute<'_>) -> String {
    match a {
        NameAttribute::NoInferiors => "\\Noinferiors".into(),
        NameAttribute::NoSelect => "\\Noselect".into(),
        NameAttribute::Marked => "\\Marked".into(),
        NameAttribute::Unmarked => "\\Unmarked".into(),
        NameAttribute::All => "\\All".into(),
        NameAttribute::Archive => "\\Archive".into(),
        NameAttribute::Drafts => "\\Drafts".into(),
        NameAttribute::Flagged => "\\Flagged".into(),
        NameAttribute::Junk => "\\Junk".into(),
        NameAttribute::Sent => "\\Sent".into(),
        NameAttribute::Trash => "\\Trash".into(),
        NameAttribute::Extension(s) => s.to_string(),
        _ => "\\Unknown".into(),
    }
}

fn folder_from(r: &ResponseData) -> Option<Folder> {
    let Response::MailboxData(MailboxDatum::List(l)) = r.parsed() else {
        return None;
    };
    let attributes: Vec<String> = l.name_attributes.iter().map(attr_name).collect();
    let special_use = attributes
        .iter()
        .find_map(|a| SpecialUse::from_attribute(a));
    Some(Folder {
        name: utf7::decode_lossy(&l.name),
        raw_name: l.name.to_string(),
        delimiter: l.delimiter.as_ref().and_then(|d| d.chars().next()),
        special_use,
        attributes,
    })
}

fn status_from(r: &ResponseData) -> Option<(String, Vec<StatusAttribute>)> {
    match r.parsed() {
        Response::MailboxData(MailboxDatum::Status { mailbox, status }) => {
            Some((mailbox.to_string(), status.clone()))
        }
        _ => None,
    }
}

fn folder_status(server: &str, folder: &str, attrs: &[StatusAttribute]) -> Result<FolderStatus> {
    let (mut messages, mut uid_next, mut uid_validity, mut highest_modseq) =
        (None, None, None, None);
    for a in attrs {
        match a {
            StatusAttribute::Messages(n) => messages = Some(*n),
            StatusAttribute::UidNext(n) => uid_next = Some(*n),
            StatusAttribute::UidValidity(n) => uid_validity = Some(*n),
            StatusAttribute::HighestModSeq(n) => highest_modseq = Some(*n),
            _ => {}
        }
    }
    match (messages, uid_next, uid_validity) {
        (Some(messages), Some(uid_next), Some(uid_validity)) => Ok(FolderStatus {
            messages,
            uid_next,
            uid_validity,
            // 0 means "no mod-sequences kept" (RFC 7162 §3.1.2.1).
            highest_modseq: highest_modseq.filter(|&m| m > 0),
        }),
        _ => Err(ImapError::Protocol {
            server: server.to_string(),
            step: format!("STATUS {folder:?}"),
            detail: "the answer lacks MESSAGES, UIDNEXT or UIDVALIDITY".into(),
        }),
    }
}

/// Converts one FETCH response; `None` for unsolicited ones (no UID, or no body when a body
/// was asked for: a flag change the server reports on its own).
fn fetched(attrs: &[AttributeValue<'_>], items: FetchItems) -> Option<FetchedMessage> {
    let mut m = FetchedMessage {
        uid: 0,
        flags: Vec::new(),
        internal_date: None,
        size: None,
        modseq: None,
        body: None,
        header: None,
    };
    let (mut saw_body, mut saw_header) = (false, false);
    for a in attrs {
        match a {
            AttributeValue::Uid(u) => m.uid = *u,
            AttributeValue::Flags(f) => {
                m.flags = f
                    .iter()
                    .filter(|x| !x.eq_ignore_ascii_case("\\Recent"))
                    .map(|x| x.to_string())
                    .collect()
            }
            AttributeValue::InternalDate(d) => m.internal_date = parse_internal_date(d),
            AttributeValue::Rfc822Size(n) => m.size = Some(*n),
            AttributeValue::ModSeq(n) => m.modseq = Some(*n),
            AttributeValue::BodySection {
                section: None,
                data,
                ..
            }
            | AttributeValue::Rfc822(data) => {
                saw_body = true;
                m.body = data.as_ref().map(|d| d.to_vec());
            }
            AttributeValue::BodySection {
                section: Some(SectionPath::Full(MessageSection::Header)),
                data,
                ..
            }
            | AttributeValue::Rfc822Header(data) => {
                saw_header = true;
                m.header = data.as_ref().map(|d| d.to_vec());
            }
            _ => {}
        }
    }
    if m.uid == 0 || (items.body && !saw_body) || (items.header && !saw_header) {
        return None;
    }
    Some(m)
}

/// Messages of a UID FETCH, read one at a time as they arrive (see
/// [`Session::uid_fetch_stream`]). Dropping it early is allowed: the rest of the answer is read
/// off before the session's next command.
pub struct FetchStream<'a> {
    session: &'a mut Session,
    items: FetchItems,
    set: UidSet,
    chunks: VecDeque<UidSet>,
    current: Option<String>,
    step: String,
}

impl FetchStream<'_> {
    /// The next message, or `None` when the whole set has been read.
    pub async fn next(&mut self) -> Result<Option<FetchedMessage>> {
        loop {
            let tag = match &self.current {
                Some(t) => t.clone(),
                None => {
                    let Some(chunk) = self.chunks.pop_front() else {
                        return Ok(None);
                    };
                    let cmd = format!("UID FETCH {chunk} {}", self.items.to_command());
                    let server = self.session.conn.server.clone();
                    let ctx = Ctx {
                        server: &server,
                        command: "UID FETCH",
                        folder: self.session.selected.as_deref(),
                        ..Ctx::default()
                    };
                    let tag = self
                        .session
                        .conn
                        .send(&[Part::Text(&cmd)], &self.step, &ctx)
                        .await?;
                    self.current = Some(tag.clone());
                    tag
                }
            };
            let r = self.session.conn.read(&self.step).await?;
            match r.parsed() {
                Response::Fetch(_, attrs) => {
                    if let Some(m) = fetched(attrs, self.items) {
                        // `n:*` also matches the highest UID when it is below n.
                        if self.set.contains(m.uid) {
                            return Ok(Some(m));
                        }
                    }
                }
                Response::Done {
                    tag: t,
                    status,
                    outcome,
                } if t.0 == tag => {
                    self.current = None;
                    if *status != Status::Ok {
                        let st = crate::response::StatusText::from_parts(
                            status,
                            outcome.code.as_ref(),
                            outcome.information.as_deref(),
                        );
                        let server = self.session.conn.server.clone();
                        let ctx = Ctx {
                            server: &server,
                            command: "UID FETCH",
                            folder: self.session.selected.as_deref(),
                            ..Ctx::default()
                        };
                        return Err(classify(&ctx, &st));
                    }
                }
                _ => {}
            }
        }
    }
}

impl Drop for FetchStream<'_> {
    fn drop(&mut self) {
        if let Some(tag) = self.current.take() {
            self.session.conn.abandon(tag);
        }
    }
}

impl Session {
    pub(crate) fn new(conn: Conn, user: String) -> Self {
        Session {
            conn,
            user,
            selected: None,
        }
    }

    fn server(&self) -> String {
        self.conn.server.clone()
    }

    /// The mailbox owner this session acts for.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// `host:port`.
    pub fn server_label(&self) -> &str {
        &self.conn.server
    }

    /// Capabilities after login.
    pub fn capabilities(&self) -> &Capabilities {
        &self.conn.caps
    }

    /// The server's certificate, when encrypted.
    pub fn certificate(&self) -> Option<&CertificateInfo> {
        self.conn.certificate.as_ref()
    }

    /// The selected folder's UTF-8 name.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// Bytes received and sent on this connection so far (after TLS decryption).
    pub fn traffic(&self) -> (u64, u64) {
        let t = self.conn.transport_ref();
        (t.bytes_in(), t.bytes_out())
    }

    /// Asks the server for its capabilities again.
    pub async fn refresh_capabilities(&mut self) -> Result<&Capabilities> {
        self.conn.refresh_capabilities().await?;
        Ok(&self.conn.caps)
    }

    /// NOOP: keeps the connection alive and checks it works.
    pub async fn noop(&mut self) -> Result<()> {
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: "NOOP",
            ..Ctx::default()
        };
        self.conn.simple("NOOP", &ctx).await.map(|_| ())
    }

    /// LOGOUT and close. Errors are ignored: the connection is going away anyway.
    pub async fn logout(mut self) {
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: "LOGOUT",
            ..Ctx::default()
        };
        let _ = self.conn.run(&[Part::Text("LOGOUT")], "LOGOUT", &ctx).await;
        self.conn.shutdown().await;
    }

    /// ID (RFC 2971): tells the server who we are, returns what it says about itself.
    /// `None` when the server has no ID capability.
    pub async fn id(&mut self, ours: &[(&str, &str)]) -> Result<Option<HashMap<String, String>>> {
        if !self.conn.caps.id() {
            return Ok(None);
        }
        let list = if ours.is_empty() {
            "NIL".to_string()
        } else {
            let mut parts = Vec::new();
            for (k, v) in ours {
                if !quotable(k) || !quotable(v) {
                    return Err(ImapError::InvalidInput {
                        what: "ID field".into(),
                        reason: format!("{k:?} / {v:?} must be 7-bit text"),
                    });
                }
                parts.push(format!("{} {}", quote(k), quote(v)));
            }
            format!("({})", parts.join(" "))
        };
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: "ID",
            ..Ctx::default()
        };
        let reply = self.conn.simple(&format!("ID {list}"), &ctx).await?;
        for r in &reply.untagged {
            if let Response::Id(map) = r.parsed() {
                return Ok(Some(
                    map.as_ref()
                        .map(|m| {
                            m.iter()
                                .map(|(k, v)| (k.to_string(), v.to_string()))
                                .collect()
                        })
                        .unwrap_or_default(),
                ));
            }
        }
        Ok(Some(HashMap::new()))
    }

    /// ENABLE (RFC 5161), e.g. `CONDSTORE`; returns what the server enabled.
    pub async fn enable(&mut self, extensions: &[&str]) -> Result<Vec<String>> {
        if !self.conn.caps.enable() || extensions.is_empty() {
            return Ok(Vec::new());
        }
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: "ENABLE",
            ..Ctx::default()
        };
        let reply = self
            .conn
            .simple(&format!("ENABLE {}", extensions.join(" ")), &ctx)
            .await?;
        let mut out = Vec::new();
        for r in &reply.untagged {
            if let Response::Capabilities(c) = r.parsed() {
                out.extend(capability_atoms(c).raw);
            }
        }
        Ok(out)
    }

    /// The namespaces (RFC 2342). Without NAMESPACE: one personal namespace with an empty
    /// prefix and the separator of `LIST "" ""`.
    pub async fn namespaces(&mut self) -> Result<Namespaces> {
        let server = self.server();
        if self.conn.caps.namespace() {
            let ctx = Ctx {
                server: &server,
                command: "NAMESPACE",
                ..Ctx::default()
            };
            self.conn.transport().take_diverted();
            self.conn.simple("NAMESPACE", &ctx).await?;
            for raw in self.conn.transport().take_diverted() {
                if let Some(ns) = parse_namespace(&raw) {
                    return Ok(ns);
                }
            }
            return Err(ImapError::Protocol {
                server,
                step: "NAMESPACE".into(),
                detail: "no readable NAMESPACE answer".into(),
            });
        }
        let ctx = Ctx {
            server: &server,
            command: "LIST",
            ..Ctx::default()
        };
        let reply = self.conn.simple("LIST \"\" \"\"", &ctx).await?;
        let delimiter = reply
            .untagged
            .iter()
            .find_map(folder_from)
            .and_then(|f| f.delimiter);
        Ok(Namespaces {
            personal: vec![Namespace {
                prefix: String::new(),
                delimiter,
            }],
            other_users: Vec::new(),
            shared: Vec::new(),
        })
    }

    fn list_command(&self, lsub: bool, status: bool) -> String {
        let caps = &self.conn.caps;
        if lsub {
            return "LSUB \"\" \"*\"".into();
        }
        let mut ret = Vec::new();
        if caps.special_use() && caps.has("LIST-EXTENDED") {
            ret.push("SPECIAL-USE".to_string());
        }
        if status {
            ret.push(format!("STATUS {}", self.status_items()));
        }
        if ret.is_empty() {
            "LIST \"\" \"*\"".into()
        } else {
            format!("LIST \"\" \"*\" RETURN ({})", ret.join(" "))
        }
    }

    fn status_items(&self) -> &'static str {
        if self.conn.caps.condstore() {
            "(MESSAGES UIDNEXT UIDVALIDITY HIGHESTMODSEQ)"
        } else {
            "(MESSAGES UIDNEXT UIDVALIDITY)"
        }
    }

    /// Every folder (LIST, with SPECIAL-USE attributes where offered).
    pub async fn list(&mut self) -> Result<Vec<Folder>> {
        let server = self.server();
        let cmd = self.list_command(false, false);
        let ctx = Ctx {
            server: &server,
            command: "LIST",
            ..Ctx::default()
        };
        let reply = self.conn.simple(&cmd, &ctx).await?;
        Ok(reply.untagged.iter().filter_map(folder_from).collect())
    }

    /// Subscribed folders (LSUB).
    pub async fn lsub(&mut self) -> Result<Vec<Folder>> {
        let server = self.server();
        let cmd = self.list_command(true, false);
        let ctx = Ctx {
            server: &server,
            command: "LSUB",
            ..Ctx::default()
        };
        let reply = self.conn.simple(&cmd, &ctx).await?;
        Ok(reply.untagged.iter().filter_map(folder_from).collect())
    }

    /// Every folder with its status in one round trip where the server has LIST-STATUS, else
    /// LIST and pipelined STATUS commands. Folders that cannot be selected have no status.
    pub async fn list_with_status(&mut self) -> Result<Vec<FolderWithStatus>> {
        let server = self.server();
        if self.conn.caps.list_status() {
            let cmd = self.list_command(false, true);
            let ctx = Ctx {
                server: &server,
                command: "LIST",
                ..Ctx::default()
            };
            let reply = self.conn.simple(&cmd, &ctx).await?;
            let folders: Vec<Folder> = reply.untagged.iter().filter_map(folder_from).collect();
            let mut statuses: HashMap<String, Vec<StatusAttribute>> =
                reply.untagged.iter().filter_map(status_from).collect();
            let mut out = Vec::new();
            let mut missing = Vec::new();
            for folder in folders {
                let status = match statuses.remove(&folder.raw_name) {
                    Some(a) => Some(folder_status(&server, &folder.name, &a)?),
                    None => {
                        if folder.selectable() {
                            missing.push(out.len());
                        }
                        None
                    }
                };
                out.push(FolderWithStatus { folder, status });
            }
            // A server may leave out STATUS for some folders; ask for those one by one.
            for i in missing {
                let name = out[i].folder.name.clone();
                out[i].status = Some(self.status(&name).await?);
            }
            return Ok(out);
        }
        let folders = self.list().await?;
        let names: Vec<String> = folders
            .iter()
            .filter(|f| f.selectable())
            .map(|f| f.name.clone())
            .collect();
        let mut statuses: HashMap<String, Result<FolderStatus>> = names
            .iter()
            .cloned()
            .zip(self.status_many(&names).await?)
            .collect();
        let mut out = Vec::new();
        for folder in folders {
            let status = match statuses.remove(&folder.name) {
                Some(r) => Some(r?),
                None => None,
            };
            out.push(FolderWithStatus { folder, status });
        }
        Ok(out)
    }

    /// STATUS of one folder.
    pub async fn status(&mut self, folder: &str) -> Result<FolderStatus> {
        self.status_many(&[folder.to_string()])
            .await?
            .pop()
            .unwrap_or_else(|| {
                Err(ImapError::Protocol {
                    server: self.server(),
                    step: "STATUS".into(),
                    detail: "no answer".into(),
                })
            })
    }

    /// STATUS of several folders, pipelined (one round trip per 64 folders); one result each,
    /// in order.
    pub async fn status_many(&mut self, folders: &[String]) -> Result<Vec<Result<FolderStatus>>> {
        let server = self.server();
        let items = self.status_items();
        let mut results = Vec::with_capacity(folders.len());
        for batch in folders.chunks(PIPELINE_DEPTH) {
            let mut tags = Vec::new();
            for name in batch {
                let cmd = format!("STATUS {} {items}", quote(&utf7::encode(name)));
                let ctx = Ctx {
                    server: &server,
                    command: "STATUS",
                    folder: Some(name),
                    ..Ctx::default()
                };
                tags.push(
                    self.conn
                        .write_command(&[Part::Text(&cmd)], "STATUS", &ctx)
                        .await?,
                );
            }
            self.conn.flush_commands("STATUS").await?;
            let (untagged, done) = self.conn.collect_all(&tags, "STATUS").await?;
            let mut by_name: HashMap<String, Vec<StatusAttribute>> =
                untagged.iter().filter_map(status_from).collect();
            for (name, tag) in batch.iter().zip(&tags) {
                let ctx = Ctx {
                    server: &server,
                    command: "STATUS",
                    folder: Some(name),
                    ..Ctx::default()
                };
                let raw = utf7::encode(name);
                let raw = if raw.eq_ignore_ascii_case("INBOX") {
                    "INBOX".to_string()
                } else {
                    raw
                };
                results.push(match done.get(tag) {
                    Some(st) if st.status == "OK" => match by_name.remove(&raw) {
                        Some(a) => folder_status(&server, name, &a),
                        None => Err(ImapError::Protocol {
                            server: server.clone(),
                            step: format!("STATUS {name:?}"),
                            detail: "the server sent no STATUS data".into(),
                        }),
                    },
                    Some(st) => Err(classify(&ctx, st)),
                    None => Err(ImapError::Protocol {
                        server: server.clone(),
                        step: "STATUS".into(),
                        detail: "no tagged answer".into(),
                    }),
                });
            }
        }
        Ok(results)
    }

    async fn open(&mut self, folder: &str, read_only: bool) -> Result<SelectedFolder> {
        let server = self.server();
        let verb = if read_only { "EXAMINE" } else { "SELECT" };
        let mut cmd = format!("{verb} {}", quote(&utf7::encode(folder)));
        if self.conn.caps.condstore() {
            cmd.push_str(" (CONDSTORE)");
        }
        let ctx = Ctx {
            server: &server,
            command: verb,
            folder: Some(folder),
            ..Ctx::default()
        };
        self.selected = None;
        let reply = self.conn.simple(&cmd, &ctx).await?;
        let mut sel = SelectedFolder {
            name: folder.to_string(),
            exists: 0,
            uid_validity: 0,
            uid_next: None,
            highest_modseq: None,
            flags: Vec::new(),
            permanent_flags: Vec::new(),
            read_only,
        };
        let mut have_validity = false;
        for r in &reply.untagged {
            match r.parsed() {
                Response::MailboxData(MailboxDatum::Exists(n)) => sel.exists = *n,
                Response::MailboxData(MailboxDatum::Flags(f)) => {
                    sel.flags = f.iter().map(|x| x.to_string()).collect()
                }
                Response::Data {
                    status: Status::Ok,
                    outcome,
                } => match &outcome.code {
                    Some(ResponseCode::UidValidity(v)) => {
                        sel.uid_validity = *v;
                        have_validity = true;
                    }
                    Some(ResponseCode::UidNext(v)) => sel.uid_next = Some(*v),
                    Some(ResponseCode::HighestModSeq(v)) => sel.highest_modseq = Some(*v),
                    Some(ResponseCode::PermanentFlags(f)) => {
                        sel.permanent_flags = f.iter().map(|x| x.to_string()).collect()
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        if let Some(t) = &reply.tagged {
            if let Response::Done { outcome, .. } = t.parsed() {
                if matches!(outcome.code, Some(ResponseCode::ReadOnly)) {
                    sel.read_only = true;
                }
            }
        }
        if !have_validity {
            return Err(ImapError::Protocol {
                server,
                step: format!("{verb} {folder:?}"),
                detail: "the server sent no UIDVALIDITY".into(),
            });
        }
        self.selected = Some(folder.to_string());
        Ok(sel)
    }

    /// SELECT (read-write; with CONDSTORE where offered).
    pub async fn select(&mut self, folder: &str) -> Result<SelectedFolder> {
        self.open(folder, false).await
    }

    /// EXAMINE (read-only: nothing changes, not even `\Recent`).
    pub async fn examine(&mut self, folder: &str) -> Result<SelectedFolder> {
        self.open(folder, true).await
    }

    fn need_selected(&self, what: &str) -> Result<()> {
        if self.selected.is_none() {
            return Err(ImapError::InvalidInput {
                what: what.into(),
                reason: "no folder is selected; call select or examine first".into(),
            });
        }
        Ok(())
    }

    /// UID FETCH of a set, streamed: one command per (long) set, messages handed over as they
    /// arrive, so memory holds one message at a time. The folder must be selected.
    pub fn uid_fetch_stream(&mut self, set: &UidSet, items: FetchItems) -> Result<FetchStream<'_>> {
        self.need_selected("UID FETCH")?;
        let step = format!(
            "UID FETCH in {:?}",
            self.selected.as_deref().unwrap_or_default()
        );
        Ok(FetchStream {
            session: self,
            items,
            set: set.clone(),
            chunks: set.chunks(MAX_SET_LEN).into(),
            current: None,
            step,
        })
    }

    /// UID FETCH of a set, collected.
    pub async fn uid_fetch(
        &mut self,
        set: &UidSet,
        items: FetchItems,
    ) -> Result<Vec<FetchedMessage>> {
        let mut stream = self.uid_fetch_stream(set, items)?;
        let mut out = Vec::new();
        while let Some(m) = stream.next().await? {
            out.push(m);
        }
        Ok(out)
    }

    /// UID FETCH (FLAGS MODSEQ) with the CONDSTORE modifier CHANGEDSINCE (RFC 7162 §3.1.4):
    /// only the messages of `set` whose flags changed after `modseq`. The folder must be
    /// selected and the server must offer CONDSTORE.
    pub async fn uid_fetch_flags_changed_since(
        &mut self,
        set: &UidSet,
        modseq: u64,
    ) -> Result<Vec<FetchedMessage>> {
        self.need_selected("UID FETCH CHANGEDSINCE")?;
        if !self.conn.caps.condstore() {
            return Err(ImapError::InvalidInput {
                what: "UID FETCH CHANGEDSINCE".into(),
                reason: "the server does not offer CONDSTORE".into(),
            });
        }
        let items = FetchItems {
            flags: true,
            modseq: true,
            ..FetchItems::default()
        };
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: "UID FETCH",
            folder: self.selected.as_deref(),
            ..Ctx::default()
        };
        let mut out = Vec::new();
        for chunk in set.chunks(MAX_SET_LEN) {
            let cmd = format!(
                "UID FETCH {chunk} {} (CHANGEDSINCE {modseq})",
                items.to_command()
            );
            let reply = self
                .conn
                .run_ok(&[Part::Text(&cmd)], "UID FETCH CHANGEDSINCE", &ctx)
                .await?;
            for r in &reply.untagged {
                if let Response::Fetch(_, attrs) = r.parsed() {
                    if let Some(m) = fetched(attrs, items) {
                        if set.contains(m.uid) {
                            out.push(m);
                        }
                    }
                }
            }
        }
        Ok(out)
    }

    /// UID SEARCH with raw criteria (e.g. `UID 100:*` or `SINCE 1-Jan-2020`).
    pub async fn uid_search(&mut self, criteria: &str) -> Result<Vec<u32>> {
        self.need_selected("UID SEARCH")?;
        if !quotable(criteria) {
            return Err(ImapError::InvalidInput {
                what: "search criteria".into(),
                reason: "must be 7-bit text without line breaks".into(),
            });
        }
        self.search_parts(&[Part::Text(&format!("UID SEARCH {criteria}"))])
            .await
    }

    async fn search_parts(&mut self, parts: &[Part<'_>]) -> Result<Vec<u32>> {
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: "UID SEARCH",
            folder: self.selected.as_deref(),
            ..Ctx::default()
        };
        let reply = self.conn.run_ok(parts, "UID SEARCH", &ctx).await?;
        let mut uids = Vec::new();
        for r in &reply.untagged {
            if let Response::MailboxData(MailboxDatum::Search(v)) = r.parsed() {
                uids.extend_from_slice(v);
            }
        }
        uids.sort_unstable();
        uids.dedup();
        Ok(uids)
    }

    /// UID SEARCH HEADER `name` `value` in the selected folder. Servers match substrings,
    /// case-insensitively: check the header of each hit when an exact match matters.
    pub async fn uid_search_header(&mut self, name: &str, value: &str) -> Result<Vec<u32>> {
        self.need_selected("UID SEARCH")?;
        if !name.chars().all(is_atom_char) || name.is_empty() {
            return Err(ImapError::InvalidInput {
                what: "header name".into(),
                reason: format!("{name:?} is not a header field name"),
            });
        }
        if value.contains(['\r', '\n', '\0']) {
            return Err(ImapError::InvalidInput {
                what: "header value".into(),
                reason: "it contains a line break or NUL".into(),
            });
        }
        if quotable(value) {
            let cmd = format!("UID SEARCH HEADER {} {}", quote(name), quote(value));
            self.search_parts(&[Part::Text(&cmd)]).await
        } else {
            let cmd = format!("UID SEARCH CHARSET UTF-8 HEADER {} ", quote(name));
            self.search_parts(&[Part::Text(&cmd), Part::Literal(value.as_bytes())])
                .await
        }
    }

    fn append_limit(&self) -> Option<u64> {
        self.conn.caps.append_limit().flatten()
    }

    fn too_big(&self, size: usize) -> Option<ImapError> {
        let limit = self.append_limit()?;
        (size as u64 > limit).then(|| ImapError::TooBig {
            server: self.server(),
            size: size as u64,
            limit: Some(limit),
            server_text: format!("the server announces APPENDLIMIT={limit}"),
        })
    }

    /// ` (flags) "date" ` between the folder and the literal.
    fn append_head(m: &AppendMessage<'_>) -> String {
        let mut head = format!(" {}", flag_list(m.flags));
        if let Some(d) = &m.internal_date {
            head.push(' ');
            head.push_str(&format_internal_date(d));
        }
        head.push(' ');
        head
    }

    /// APPEND one message with its flags and INTERNALDATE. Returns the new UID where the
    /// server has UIDPLUS (APPENDUID), else `None`.
    pub async fn append(
        &mut self,
        folder: &str,
        flags: &[String],
        internal_date: Option<DateTime<FixedOffset>>,
        bytes: &[u8],
    ) -> Result<Option<AppendUid>> {
        let m = AppendMessage {
            flags,
            internal_date,
            bytes,
        };
        if let Some(e) = self.too_big(bytes.len()) {
            return Err(e);
        }
        let server = self.server();
        let limit = self.append_limit();
        let ctx = Ctx {
            server: &server,
            command: "APPEND",
            folder: Some(folder),
            size: Some(bytes.len() as u64),
            limit,
            ..Ctx::default()
        };
        let cmd = format!("APPEND {}", quote(&utf7::encode(folder)));
        let head = Self::append_head(&m);
        let reply = self
            .conn
            .run_ok(
                &[Part::Text(&cmd), Part::Text(&head), Part::Literal(bytes)],
                "APPEND",
                &ctx,
            )
            .await?;
        Ok(appenduid(&reply))
    }

    /// APPEND several messages to one folder as fast as the server allows: one MULTIAPPEND
    /// command where offered (all or nothing: on a refusal each message is tried alone, to
    /// learn which one failed), else pipelined APPENDs with LITERAL+, else one by one.
    ///
    /// The outer error is for the connection (it cannot go on); the inner results are per
    /// message, in order.
    pub async fn append_many(
        &mut self,
        folder: &str,
        messages: &[AppendMessage<'_>],
    ) -> Result<Vec<Result<Option<AppendUid>>>> {
        if messages.len() <= 1 || (!self.conn.caps.multiappend() && !self.conn.caps.literal_plus())
        {
            return self.append_each(folder, messages).await;
        }
        if messages
            .iter()
            .any(|m| self.too_big(m.bytes.len()).is_some())
        {
            return self.append_each(folder, messages).await;
        }
        let server = self.server();
        let limit = self.append_limit();
        let total: u64 = messages.iter().map(|m| m.bytes.len() as u64).sum();
        if self.conn.caps.multiappend() {
            let ctx = Ctx {
                server: &server,
                command: "APPEND",
                folder: Some(folder),
                size: Some(total),
                limit,
                ..Ctx::default()
            };
            let cmd = format!("APPEND {}", quote(&utf7::encode(folder)));
            let heads: Vec<String> = messages.iter().map(|m| Self::append_head(m)).collect();
            let mut parts = vec![Part::Text(&cmd)];
            for (m, head) in messages.iter().zip(&heads) {
                parts.push(Part::Text(head));
                parts.push(Part::Literal(m.bytes));
            }
            let reply = match self.conn.run(&parts, "APPEND", &ctx).await {
                Ok(r) => r,
                // A BYE (overloaded, throttled) ends the connection as well: no fallback on it.
                Err(e) if e.is_fatal_to_connection() || e.is_retryable() => return Err(e),
                Err(e) => {
                    // A synchronizing literal was refused: nothing was stored.
                    tracing::debug!("MULTIAPPEND refused ({e}); appending one by one");
                    return self.append_each(folder, messages).await;
                }
            };
            if reply.is_ok() {
                let uids = appenduids(&reply, messages.len());
                return Ok(uids.into_iter().map(Ok).collect());
            }
            let err = classify(&ctx, &reply.status);
            if matches!(err, ImapError::Throttled { .. }) {
                return Err(err);
            }
            tracing::debug!("MULTIAPPEND refused ({err}); appending one by one");
            return self.append_each(folder, messages).await;
        }
        self.append_pipelined(folder, messages).await
    }

    /// APPEND several messages as separate commands sent back to back (with LITERAL+ nothing
    /// waits for the server between messages), then reads all answers: one result per message,
    /// in order. Without LITERAL+ the messages go one by one.
    pub async fn append_pipelined(
        &mut self,
        folder: &str,
        messages: &[AppendMessage<'_>],
    ) -> Result<Vec<Result<Option<AppendUid>>>> {
        if !self.conn.caps.literal_plus() {
            // A synchronizing literal waits for `+`, which cannot be told apart from answers to
            // the commands already in flight without more bookkeeping than it is worth.
            return self.append_each(folder, messages).await;
        }
        let server = self.server();
        let limit = self.append_limit();
        let mut results = Vec::with_capacity(messages.len());
        for batch in messages.chunks(PIPELINE_DEPTH) {
            let mut tags = Vec::new();
            let cmd = format!("APPEND {}", quote(&utf7::encode(folder)));
            for m in batch {
                let ctx = Ctx {
                    server: &server,
                    command: "APPEND",
                    folder: Some(folder),
                    size: Some(m.bytes.len() as u64),
                    limit,
                    ..Ctx::default()
                };
                let head = Self::append_head(m);
                tags.push(
                    self.conn
                        .write_command(
                            &[Part::Text(&cmd), Part::Text(&head), Part::Literal(m.bytes)],
                            "APPEND",
                            &ctx,
                        )
                        .await?,
                );
            }
            self.conn.flush_commands("APPEND").await?;
            let (_, done) = self.conn.collect_all(&tags, "APPEND").await?;
            for (m, tag) in batch.iter().zip(&tags) {
                let ctx = Ctx {
                    server: &server,
                    command: "APPEND",
                    folder: Some(folder),
                    size: Some(m.bytes.len() as u64),
                    limit,
                    ..Ctx::default()
                };
                results.push(match done.get(tag) {
                    Some(st) if st.status == "OK" => {
                        Ok(if st.code.as_deref() == Some("APPENDUID") {
                            single_appenduid(&st.code_args)
                        } else {
                            None
                        })
                    }
                    Some(st) => Err(classify(&ctx, st)),
                    None => Err(ImapError::Protocol {
                        server: server.clone(),
                        step: "APPEND".into(),
                        detail: "no tagged answer".into(),
                    }),
                });
            }
        }
        Ok(results)
    }

    async fn append_each(
        &mut self,
        folder: &str,
        messages: &[AppendMessage<'_>],
    ) -> Result<Vec<Result<Option<AppendUid>>>> {
        let mut out = Vec::with_capacity(messages.len());
        for m in messages {
            match self.append(folder, m.flags, m.internal_date, m.bytes).await {
                Err(e) if e.is_fatal_to_connection() || e.is_retryable() => return Err(e),
                r => out.push(r),
            }
        }
        Ok(out)
    }

    async fn folder_command(&mut self, verb: &'static str, folder: &str) -> Result<()> {
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: verb,
            folder: Some(folder),
            ..Ctx::default()
        };
        let cmd = format!("{verb} {}", quote(&utf7::encode(folder)));
        self.conn.simple(&cmd, &ctx).await.map(|_| ())
    }

    /// CREATE a folder (UTF-8 full name with the server's separator). Parents are created by
    /// the server as needed (RFC 3501 §6.3.3).
    pub async fn create(&mut self, folder: &str) -> Result<()> {
        self.folder_command("CREATE", folder).await
    }

    /// DELETE a folder.
    pub async fn delete(&mut self, folder: &str) -> Result<()> {
        if self.selected.as_deref() == Some(folder) {
            self.selected = None;
        }
        self.folder_command("DELETE", folder).await
    }

    /// SUBSCRIBE to a folder.
    pub async fn subscribe(&mut self, folder: &str) -> Result<()> {
        self.folder_command("SUBSCRIBE", folder).await
    }

    /// UNSUBSCRIBE from a folder.
    pub async fn unsubscribe(&mut self, folder: &str) -> Result<()> {
        self.folder_command("UNSUBSCRIBE", folder).await
    }

    /// UID STORE of flags (silently: no FETCH answers) in the selected folder.
    pub async fn store_flags(
        &mut self,
        set: &UidSet,
        change: FlagChange,
        flags: &[String],
    ) -> Result<()> {
        self.need_selected("UID STORE")?;
        let op = match change {
            FlagChange::Add => "+FLAGS.SILENT",
            FlagChange::Remove => "-FLAGS.SILENT",
            FlagChange::Replace => "FLAGS.SILENT",
        };
        let server = self.server();
        let ctx = Ctx {
            server: &server,
            command: "UID STORE",
            folder: self.selected.as_deref(),
            ..Ctx::default()
        };
        for chunk in set.chunks(MAX_SET_LEN) {
            let cmd = format!("UID STORE {chunk} {op} {}", flag_list(flags));
            self.conn.simple(&cmd, &ctx).await?;
        }
        Ok(())
    }

    /// Leaves the selected folder without expunging (UNSELECT where offered, else CLOSE after
    /// EXAMINE semantics are not guaranteed: CLOSE expunges `\Deleted` in a read-write folder).
    pub async fn unselect(&mut self) -> Result<()> {
        if self.selected.is_none() {
            return Ok(());
        }
        let server = self.server();
        let verb = if self.conn.caps.has("UNSELECT") {
            "UNSELECT"
        } else {
            "CLOSE"
        };
        let ctx = Ctx {
            server: &server,
            command: verb,
            ..Ctx::default()
        };
        self.conn.simple(verb, &ctx).await?;
        self.selected = None;
        Ok(())
    }
}

fn appenduid(reply: &Reply) -> Option<AppendUid> {
    if reply.status.code.as_deref() == Some("APPENDUID") {
        single_appenduid(&reply.status.code_args)
    } else {
        None
    }
}

/// The UIDs of a MULTIAPPEND, one per message when the server's set has the right size.
fn appenduids(reply: &Reply, count: usize) -> Vec<Option<AppendUid>> {
    if reply.status.code.as_deref() == Some("APPENDUID") {
        if let Some((uid_validity, uids)) = parse_appenduid(&reply.status.code_args) {
            if uids.len() == count {
                return uids
                    .into_iter()
                    .map(|uid| Some(AppendUid { uid_validity, uid }))
                    .collect();
            }
        }
    }
    vec![None; count]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_dates() {
        let d = parse_internal_date(" 7-Jul-1996 02:44:25 -0700").unwrap();
        assert_eq!(format_internal_date(&d), "\"07-Jul-1996 02:44:25 -0700\"");
        assert_eq!(parse_internal_date("\"bad\""), None);
    }

    #[test]
    fn flags_for_append() {
        let flags = vec![
            "\\Seen".to_string(),
            "\\Recent".to_string(),
            "$Forwarded".to_string(),
            "bad flag".to_string(),
            "Junk".to_string(),
        ];
        assert_eq!(flag_list(&flags), "(\\Seen $Forwarded Junk)");
        assert_eq!(flag_list(&[]), "()");
    }

    #[test]
    fn uid_sets() {
        let s = UidSet::from_uids([5, 1, 2, 3, 9, 10, 3]);
        assert_eq!(s.to_string(), "1:3,5,9:10");
        assert_eq!(UidSet::from_uid(7).to_string(), "7:*");
        assert_eq!(UidSet::all().to_string(), "1:*");
        assert!(UidSet::from_uid(7).contains(4_000_000));
        assert!(!UidSet::from_uid(7).contains(6));
        let many = UidSet::from_uids((1..20_000).step_by(2));
        let chunks = many.chunks(MAX_SET_LEN);
        assert!(chunks.len() > 1);
        assert!(chunks.iter().all(|c| c.to_string().len() <= MAX_SET_LEN));
        let total: usize = chunks.iter().map(|c| c.ranges().len()).sum();
        assert_eq!(total, many.ranges().len());
    }
}
