//! Plain data types of the public API.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::oauth::AccessTokenSource;

/// How the TCP connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Security {
    /// Implicit TLS from the first byte (port 993).
    Tls,
    /// Plain TCP, then STARTTLS before anything else (port 143). Refused if the server does not offer it.
    StartTls,
    /// No encryption at all. Only when asked for explicitly (tests, a local socket tunnel).
    Plain,
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Endpoint {
    /// Host name or IP address; also the name the certificate must carry (unless pinned).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// TLS, STARTTLS or plain.
    pub security: Security,
    /// SHA-256 of the one leaf certificate to accept instead of a system-trusted one (hex,
    /// any case, `:` separators allowed). Trusts exactly that certificate, nothing else.
    pub pinned_sha256: Option<String>,
}

impl Endpoint {
    /// Implicit TLS on the given port, system roots.
    pub fn tls(host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            host: host.into(),
            port,
            security: Security::Tls,
            pinned_sha256: None,
        }
    }

    /// STARTTLS on the given port, system roots.
    pub fn starttls(host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            security: Security::StartTls,
            ..Endpoint::tls(host, port)
        }
    }

    /// Plain TCP (no encryption).
    pub fn plain(host: impl Into<String>, port: u16) -> Self {
        Endpoint {
            security: Security::Plain,
            ..Endpoint::tls(host, port)
        }
    }

    /// Trust exactly the certificate with this SHA-256 fingerprint.
    pub fn pinned(mut self, sha256: impl Into<String>) -> Self {
        self.pinned_sha256 = Some(sha256.into());
        self
    }

    /// `host:port`, for messages.
    pub fn label(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// Limits on every network step. A step that exceeds its limit fails with
/// [`ImapError::Timeout`](crate::ImapError::Timeout) and the connection is dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP connect (per resolved address).
    pub connect: Duration,
    /// TLS handshake.
    pub tls: Duration,
    /// The server's greeting after connecting.
    pub greeting: Duration,
    /// Longest silence while a command is under way: no byte received (or no byte accepted
    /// for sending) for this long fails the command. A large FETCH that keeps streaming is
    /// never cut by it.
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(15),
            tls: Duration::from_secs(20),
            greeting: Duration::from_secs(30),
            idle: Duration::from_secs(120),
        }
    }
}

impl Timeouts {
    /// The same limit for every step.
    pub fn all(limit: Duration) -> Self {
        Timeouts {
            connect: limit,
            tls: limit,
            greeting: limit,
            idle: limit,
        }
    }
}

/// How to log in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AuthMethod {
    /// Chosen by the server's capabilities: AUTHENTICATE PLAIN where offered (with the
    /// authorization identity when `login_as` is set), else LOGIN (with Dovecot's
    /// `user*master` form when `login_as` is set).
    #[default]
    Auto,
    /// The LOGIN command.
    Login,
    /// AUTHENTICATE PLAIN (RFC 4616); with `login_as`, as authorization identity.
    Plain,
    /// Dovecot master user: LOGIN `login_as*user` with the master user's password.
    DovecotMaster,
    /// AUTHENTICATE XOAUTH2 (Google's and Microsoft's form), with an OAuth secret.
    #[serde(rename = "xoauth2")]
    XOAuth2,
    /// AUTHENTICATE OAUTHBEARER (RFC 7628), with an OAuth secret.
    #[serde(rename = "oauthbearer")]
    OAuthBearer,
}

/// What proves who logs in: a password, or OAuth 2.0 access tokens from a source that renews
/// them. `Debug` prints neither.
#[derive(Clone)]
pub enum LoginSecret {
    /// LOGIN / AUTHENTICATE PLAIN with this password.
    Password(SecretString),
    /// AUTHENTICATE OAUTHBEARER or XOAUTH2 with a token from this source, fetched per login.
    OAuth(Arc<dyn AccessTokenSource>),
}

impl fmt::Debug for LoginSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoginSecret::Password(_) => f.write_str("Password(<redacted>)"),
            LoginSecret::OAuth(source) => write!(f, "OAuth({})", source.describe()),
        }
    }
}

impl From<SecretString> for LoginSecret {
    fn from(password: SecretString) -> Self {
        LoginSecret::Password(password)
    }
}

/// Who logs in. `Debug` never prints the password or a token.
#[derive(Clone)]
pub struct Credentials {
    /// The authenticating user (for admin / master logins: the admin or master user; for OAuth:
    /// the mailbox, named in the SASL message).
    pub user: String,
    /// The password, or where access tokens come from.
    pub secret: LoginSecret,
    /// The mailbox owner to act as (admin / master logins), or `None` for a user's own login.
    pub login_as: Option<String>,
    /// How to log in.
    pub method: AuthMethod,
}

impl Credentials {
    /// A user's own login, method chosen by capabilities.
    pub fn new(user: impl Into<String>, password: SecretString) -> Self {
        Credentials {
            user: user.into(),
            secret: LoginSecret::Password(password),
            login_as: None,
            method: AuthMethod::Auto,
        }
    }

    /// An OAuth 2.0 sign-in to `user`'s mailbox with tokens from `source` (OAUTHBEARER where
    /// offered, else XOAUTH2).
    pub fn oauth(user: impl Into<String>, source: Arc<dyn AccessTokenSource>) -> Self {
        Credentials {
            user: user.into(),
            secret: LoginSecret::OAuth(source),
            login_as: None,
            method: AuthMethod::Auto,
        }
    }

    /// An admin / master login acting as `target`.
    pub fn admin(
        admin: impl Into<String>,
        password: SecretString,
        target: impl Into<String>,
        method: AuthMethod,
    ) -> Self {
        Credentials {
            user: admin.into(),
            secret: LoginSecret::Password(password),
            login_as: Some(target.into()),
            method,
        }
    }

    /// The mailbox this login opens.
    pub fn mailbox_owner(&self) -> &str {
        self.login_as.as_deref().unwrap_or(&self.user)
    }

    /// The password, for password logins.
    pub fn password(&self) -> Option<&SecretString> {
        match &self.secret {
            LoginSecret::Password(p) => Some(p),
            LoginSecret::OAuth(_) => None,
        }
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("secret", &self.secret)
            .field("login_as", &self.login_as)
            .field("method", &self.method)
            .finish()
    }
}

/// What the server says it can do (from the greeting, after login, or CAPABILITY).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct Capabilities {
    /// Every capability atom, upper-case, e.g. `IMAP4REV1`, `AUTH=PLAIN`, `APPENDLIMIT=1000`.
    pub raw: BTreeSet<String>,
}

impl Capabilities {
    /// Builds from capability atoms (any case).
    pub fn from_atoms<I, S>(atoms: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Capabilities {
            raw: atoms
                .into_iter()
                .map(|a| a.as_ref().to_ascii_uppercase())
                .collect(),
        }
    }

    /// Whether the exact capability (case-insensitive) is offered.
    pub fn has(&self, cap: &str) -> bool {
        self.raw.contains(&cap.to_ascii_uppercase())
    }

    /// SASL mechanisms offered (`AUTH=...`).
    pub fn auth_mechanisms(&self) -> Vec<String> {
        self.raw
            .iter()
            .filter_map(|c| c.strip_prefix("AUTH=").map(str::to_string))
            .collect()
    }

    /// `LOGINDISABLED`: LOGIN refused on this connection (usually: not encrypted yet).
    pub fn login_disabled(&self) -> bool {
        self.has("LOGINDISABLED")
    }
    /// RFC 6154 SPECIAL-USE.
    pub fn special_use(&self) -> bool {
        self.has("SPECIAL-USE")
    }
    /// RFC 7162 CONDSTORE (or QRESYNC, which implies it).
    pub fn condstore(&self) -> bool {
        self.has("CONDSTORE") || self.has("QRESYNC")
    }
    /// RFC 7162 QRESYNC.
    pub fn qresync(&self) -> bool {
        self.has("QRESYNC")
    }
    /// RFC 4315 UIDPLUS (APPENDUID / COPYUID).
    pub fn uidplus(&self) -> bool {
        self.has("UIDPLUS")
    }
    /// RFC 7888 LITERAL+ (non-synchronizing literals of any size).
    pub fn literal_plus(&self) -> bool {
        self.has("LITERAL+")
    }
    /// RFC 7888 LITERAL- (non-synchronizing literals up to 4096 bytes).
    pub fn literal_minus(&self) -> bool {
        self.has("LITERAL-")
    }
    /// RFC 3502 MULTIAPPEND.
    pub fn multiappend(&self) -> bool {
        self.has("MULTIAPPEND")
    }
    /// RFC 7889 APPENDLIMIT: `Some(Some(n))` for a server-wide limit, `Some(None)` when
    /// announced without a value (per-mailbox limits), `None` when not announced.
    pub fn append_limit(&self) -> Option<Option<u64>> {
        if self.has("APPENDLIMIT") {
            return Some(None);
        }
        self.raw
            .iter()
            .find_map(|c| c.strip_prefix("APPENDLIMIT="))
            .map(|v| v.parse().ok())
    }
    /// RFC 5819 LIST-STATUS.
    pub fn list_status(&self) -> bool {
        self.has("LIST-STATUS")
    }
    /// RFC 2342 NAMESPACE.
    pub fn namespace(&self) -> bool {
        self.has("NAMESPACE")
    }
    /// RFC 6851 MOVE.
    pub fn move_(&self) -> bool {
        self.has("MOVE")
    }
    /// RFC 4978 COMPRESS=DEFLATE.
    pub fn compress(&self) -> bool {
        self.has("COMPRESS=DEFLATE")
    }
    /// RFC 2971 ID.
    pub fn id(&self) -> bool {
        self.has("ID")
    }
    /// RFC 4959 SASL-IR (initial response with AUTHENTICATE).
    pub fn sasl_ir(&self) -> bool {
        self.has("SASL-IR")
    }
    /// RFC 5161 ENABLE.
    pub fn enable(&self) -> bool {
        self.has("ENABLE")
    }
    /// RFC 2595 STARTTLS.
    pub fn starttls(&self) -> bool {
        self.has("STARTTLS")
    }
}

/// One namespace: a prefix and its hierarchy separator (RFC 2342).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Namespace {
    /// Prefix as sent by the server, decoded to UTF-8 (e.g. `""` or `"INBOX."`).
    pub prefix: String,
    /// Hierarchy separator, if the namespace has a hierarchy.
    pub delimiter: Option<char>,
}

/// The server's namespaces. Without the NAMESPACE capability, `personal` holds one entry with an
/// empty prefix and the separator from `LIST "" ""`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Namespaces {
    /// The user's own folders.
    pub personal: Vec<Namespace>,
    /// Other users' folders.
    pub other_users: Vec<Namespace>,
    /// Shared folders.
    pub shared: Vec<Namespace>,
}

impl Namespaces {
    /// The first personal namespace (where new folders go), or an empty prefix.
    pub fn personal_prefix(&self) -> &str {
        self.personal
            .first()
            .map(|n| n.prefix.as_str())
            .unwrap_or("")
    }
    /// The first personal namespace's separator.
    pub fn personal_delimiter(&self) -> Option<char> {
        self.personal.first().and_then(|n| n.delimiter)
    }
}

/// RFC 6154 special-use roles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum SpecialUse {
    /// `\All`
    All,
    /// `\Archive`
    Archive,
    /// `\Drafts`
    Drafts,
    /// `\Flagged`
    Flagged,
    /// `\Junk`
    Junk,
    /// `\Sent`
    Sent,
    /// `\Trash`
    Trash,
    /// `\Important` (RFC 8457)
    Important,
}

impl SpecialUse {
    /// From a LIST attribute such as `\Sent` (case-insensitive).
    pub fn from_attribute(attr: &str) -> Option<Self> {
        Some(match attr.to_ascii_lowercase().as_str() {
            "\\all" => SpecialUse::All,
            "\\archive" => SpecialUse::Archive,
            "\\drafts" => SpecialUse::Drafts,
            "\\flagged" => SpecialUse::Flagged,
            "\\junk" => SpecialUse::Junk,
            "\\sent" => SpecialUse::Sent,
            "\\trash" => SpecialUse::Trash,
            "\\important" => SpecialUse::Important,
            _ => return None,
        })
    }
    /// The LIST attribute, e.g. `\Sent`.
    pub fn attribute(self) -> &'static str {
        match self {
            SpecialUse::All => "\\All",
            SpecialUse::Archive => "\\Archive",
            SpecialUse::Drafts => "\\Drafts",
            SpecialUse::Flagged => "\\Flagged",
            SpecialUse::Junk => "\\Junk",
            SpecialUse::Sent => "\\Sent",
            SpecialUse::Trash => "\\Trash",
            SpecialUse::Important => "\\Important",
        }
    }
}

/// One folder from LIST / LSUB.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Folder {
    /// Full name in UTF-8 with the server's separator and prefix (e.g. `INBOX.Entwürfe`). Pass
    /// this to every method that takes a folder.
    pub name: String,
    /// Full name as on the wire (modified UTF-7).
    pub raw_name: String,
    /// Hierarchy separator (`None`: flat).
    pub delimiter: Option<char>,
    /// RFC 6154 role, if the server marks one.
    pub special_use: Option<SpecialUse>,
    /// All LIST attributes as sent (e.g. `\HasNoChildren`, `\Noselect`).
    pub attributes: Vec<String>,
}

impl Folder {
    /// Whether the folder can hold messages (not `\Noselect` / `\NonExistent`).
    pub fn selectable(&self) -> bool {
        !self.attributes.iter().any(|a| {
            a.eq_ignore_ascii_case("\\Noselect") || a.eq_ignore_ascii_case("\\NonExistent")
        })
    }

    /// The name split at the separator.
    pub fn segments(&self) -> Vec<&str> {
        match self.delimiter {
            Some(d) => self.name.split(d).collect(),
            None => vec![self.name.as_str()],
        }
    }
}

/// STATUS of a folder (or the LIST-STATUS answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FolderStatus {
    /// Number of messages.
    pub messages: u32,
    /// The UID the next message will get.
    pub uid_next: u32,
    /// UIDVALIDITY: when it changes, every UID of the folder means something else.
    pub uid_validity: u32,
    /// CONDSTORE HIGHESTMODSEQ (`None` without CONDSTORE, or when the folder has no mod-sequences).
    #[ts(type = "number | null")]
    pub highest_modseq: Option<u64>,
}

/// A folder as returned by [`Session::list_with_status`](crate::Session::list_with_status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct FolderWithStatus {
    /// The folder.
    pub folder: Folder,
    /// Its status; `None` for folders that cannot be selected.
    pub status: Option<FolderStatus>,
}

/// What SELECT / EXAMINE reports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct SelectedFolder {
    /// The folder's UTF-8 name.
    pub name: String,
    /// Number of messages (EXISTS).
    pub exists: u32,
    /// UIDVALIDITY.
    pub uid_validity: u32,
    /// UIDNEXT, when the server sent it.
    pub uid_next: Option<u32>,
    /// HIGHESTMODSEQ, with CONDSTORE.
    #[ts(type = "number | null")]
    pub highest_modseq: Option<u64>,
    /// FLAGS: flags and keywords defined in the folder.
    pub flags: Vec<String>,
    /// PERMANENTFLAGS (contains `\*` when new keywords may be created).
    pub permanent_flags: Vec<String>,
    /// Opened with EXAMINE, or the server made it read-only.
    pub read_only: bool,
}

/// A set of UIDs, sent as compact ranges (`1:500,502,510:*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UidSet {
    /// Inclusive ranges; `u32::MAX` as end stands for `*`.
    ranges: Vec<(u32, u32)>,
}

impl UidSet {
    /// Every message (`1:*`).
    pub fn all() -> Self {
        UidSet {
            ranges: vec![(1, u32::MAX)],
        }
    }

    /// From `first` to the highest UID (`first:*`). Note that `n:*` always includes the highest
    /// existing UID even when it is below `n` (RFC 3501); results are filtered accordingly.
    pub fn from_uid(first: u32) -> Self {
        UidSet {
            ranges: vec![(first.max(1), u32::MAX)],
        }
    }

    /// One inclusive range.
    pub fn range(first: u32, last: u32) -> Self {
        let (a, b) = if first <= last {
            (first, last)
        } else {
            (last, first)
        };
        UidSet {
            ranges: vec![(a.max(1), b.max(1))],
        }
    }

    /// From single UIDs, merged into ranges (order and duplicates do not matter).
    pub fn from_uids(uids: impl IntoIterator<Item = u32>) -> Self {
        let mut v: Vec<u32> = uids.into_iter().filter(|&u| u > 0).collect();
        v.sort_unstable();
        v.dedup();
        let mut ranges: Vec<(u32, u32)> = Vec::new();
        for u in v {
            match ranges.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(u) => *end = u,
                _ => ranges.push((u, u)),
            }
        }
        UidSet { ranges }
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }

    /// Whether `uid` is in the set (`*` counts as unbounded).
    pub fn contains(&self, uid: u32) -> bool {
        self.ranges.iter().any(|&(a, b)| a <= uid && uid <= b)
    }

    /// The ranges, `u32::MAX` standing for `*`.
    pub fn ranges(&self) -> &[(u32, u32)] {
        &self.ranges
    }

    /// Splits into sets whose wire form stays below `max_len` bytes (command line limits).
    pub fn chunks(&self, max_len: usize) -> Vec<UidSet> {
        let mut out = Vec::new();
        let mut cur = Vec::new();
        let mut len = 0;
        for &r in &self.ranges {
            let piece = range_to_string(r).len() + 1;
            if !cur.is_empty() && len + piece > max_len {
                out.push(UidSet {
                    ranges: std::mem::take(&mut cur),
                });
                len = 0;
            }
            cur.push(r);
            len += piece;
        }
        if !cur.is_empty() {
            out.push(UidSet { ranges: cur });
        }
        out
    }
}

fn range_to_string((a, b): (u32, u32)) -> String {
    let end = |x: u32| {
        if x == u32::MAX {
            "*".to_string()
        } else {
            x.to_string()
        }
    };
    if a == b {
        end(a)
    } else {
        format!("{}:{}", a, end(b))
    }
}

impl fmt::Display for UidSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, &r) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            f.write_str(&range_to_string(r))?;
        }
        Ok(())
    }
}

/// What to fetch for each message. The UID always comes along.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FetchItems {
    /// FLAGS (without `\Recent`, which cannot be copied).
    pub flags: bool,
    /// INTERNALDATE.
    pub internal_date: bool,
    /// RFC822.SIZE.
    pub size: bool,
    /// The whole message, BODY.PEEK[] (does not set `\Seen`).
    pub body: bool,
    /// The header only, BODY.PEEK[HEADER].
    pub header: bool,
    /// MODSEQ (CONDSTORE servers).
    pub modseq: bool,
}

impl FetchItems {
    /// Everything needed to copy a message: flags, date, size and the full body.
    pub const FULL: FetchItems = FetchItems {
        flags: true,
        internal_date: true,
        size: true,
        body: true,
        header: false,
        modseq: false,
    };
    /// Flags, date and size: the cheap listing.
    pub const META: FetchItems = FetchItems {
        flags: true,
        internal_date: true,
        size: true,
        body: false,
        header: false,
        modseq: false,
    };
    /// Flags, date, size and the header: for identity (Message-ID, Date).
    pub const HEADER: FetchItems = FetchItems {
        flags: true,
        internal_date: true,
        size: true,
        body: false,
        header: true,
        modseq: false,
    };

    /// The FETCH attribute list, e.g. `(UID FLAGS BODY.PEEK[])`.
    pub fn to_command(self) -> String {
        let mut items = vec!["UID"];
        if self.flags {
            items.push("FLAGS");
        }
        if self.internal_date {
            items.push("INTERNALDATE");
        }
        if self.size {
            items.push("RFC822.SIZE");
        }
        if self.modseq {
            items.push("MODSEQ");
        }
        if self.header {
            items.push("BODY.PEEK[HEADER]");
        }
        if self.body {
            items.push("BODY.PEEK[]");
        }
        format!("({})", items.join(" "))
    }
}

/// One message from UID FETCH.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchedMessage {
    /// UID in the selected folder.
    pub uid: u32,
    /// Flags and keywords, as sent (`\Seen`, `$Forwarded`, ...), without `\Recent`.
    pub flags: Vec<String>,
    /// INTERNALDATE with the server's time zone offset.
    pub internal_date: Option<DateTime<FixedOffset>>,
    /// RFC822.SIZE.
    pub size: Option<u32>,
    /// MODSEQ.
    pub modseq: Option<u64>,
    /// The full message bytes (BODY[]), exactly as stored.
    pub body: Option<Vec<u8>>,
    /// The header bytes (BODY[HEADER]).
    pub header: Option<Vec<u8>>,
}

/// UIDPLUS answer to APPEND: where the new message went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct AppendUid {
    /// UIDVALIDITY of the destination folder.
    pub uid_validity: u32,
    /// UID of the new message.
    pub uid: u32,
}

/// One message to APPEND.
#[derive(Debug, Clone, Copy)]
pub struct AppendMessage<'a> {
    /// Flags and keywords to set (`\Recent` is dropped: servers refuse it).
    pub flags: &'a [String],
    /// INTERNALDATE to keep.
    pub internal_date: Option<DateTime<FixedOffset>>,
    /// The message, byte for byte.
    pub bytes: &'a [u8],
}

/// How [`Session::store_flags`](crate::Session::store_flags) changes flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagChange {
    /// `+FLAGS.SILENT`
    Add,
    /// `-FLAGS.SILENT`
    Remove,
    /// `FLAGS.SILENT`
    Replace,
}
