//! OAuth 2.0 sign-in: where access tokens come from ([`AccessTokenSource`]), the SASL messages of
//! `XOAUTH2` and `OAUTHBEARER` (RFC 7628), and the server's error challenge (base64 JSON) read
//! into an [`OAuthRefusal`] with advice.
//!
//! Tokens are secrets: [`AccessToken`]'s `Debug` prints no token, and nothing here logs one.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use ts_rs::TS;

/// A bearer token for IMAP, with when it stops working.
#[derive(Clone)]
pub struct AccessToken {
    token: SecretString,
    expires_at: SystemTime,
}

impl AccessToken {
    pub fn new(token: SecretString, expires_at: SystemTime) -> Self {
        AccessToken { token, expires_at }
    }
    pub fn secret(&self) -> &SecretString {
        &self.token
    }
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }
    /// Whether it is still valid `margin` from now.
    pub fn valid_for(&self, margin: Duration) -> bool {
        SystemTime::now() + margin < self.expires_at
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessToken")
            .field("token", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Whose rules a token follows: picks the advice for a refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum OAuthProvider {
    /// Microsoft identity platform (Exchange Online).
    Microsoft,
    /// Google (Gmail, Google Workspace).
    Google,
    /// Any other authorization server.
    Other,
}

/// Why no token could be had.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum TokenErrorKind {
    /// The client secret is wrong or expired.
    WrongClientSecret,
    /// The key that signed the assertion is not the app's (Microsoft: the certificate is not
    /// uploaded to the app; Google: the service account's key was deleted or is another's).
    WrongKey,
    /// The application (client) ID is not known to that tenant / project.
    UnknownClient,
    /// The tenant (directory) is not found.
    WrongTenant,
    /// The mailbox user is not known to the provider.
    UnknownUser,
    /// An admin has not consented to the permission, or the delegation lacks the scope.
    ConsentMissing,
    /// The interactive sign-in was cancelled, refused or timed out.
    SignInFailed,
    /// The key, secret or settings stored for this sign-in are unusable (malformed key, ...).
    BadSettings,
    /// The token endpoint could not be reached or failed on its side.
    ProviderUnavailable,
    /// The provider refused for another reason (its words are in the message).
    Refused,
}

impl TokenErrorKind {
    /// One sentence telling the admin what to do.
    pub fn advice(self) -> &'static str {
        match self {
            TokenErrorKind::WrongClientSecret => {
                "Create a new client secret for the app (Certificates & secrets in its registration) and store its value in Ferry; the secret's ID is not the secret."
            }
            TokenErrorKind::WrongKey => {
                "Store the private key that belongs to the app: for Microsoft 365, upload the certificate of the stored key to the app registration (Certificates & secrets); for Google Workspace, create a new JSON key for the service account and store it in Ferry."
            }
            TokenErrorKind::UnknownClient => {
                "Check the application (client) ID: copy it from the app's overview page, in the same tenant or Cloud project."
            }
            TokenErrorKind::WrongTenant => {
                "Check the tenant (directory) ID or domain: it is on the overview page of the organisation's Microsoft Entra admin center."
            }
            TokenErrorKind::UnknownUser => {
                "Check the mailbox address: it must be a user of the organisation (its primary address), spelled as the provider knows it."
            }
            TokenErrorKind::ConsentMissing => {
                "Grant the permission: for Microsoft 365, admin consent for IMAP.AccessAsApp on the app's API permissions page; for Google Workspace, domain-wide delegation of https://mail.google.com/ to the service account's client ID in the Admin console."
            }
            TokenErrorKind::SignInFailed => {
                "Sign in again in the browser window Ferry opens, with an administrator account, and accept the requested access."
            }
            TokenErrorKind::BadSettings => {
                "Store the secret or private key again exactly as the provider gave it (a PEM private key, or the service account's JSON key file)."
            }
            TokenErrorKind::ProviderUnavailable => {
                "Check the internet connection and that this computer may reach the provider's sign-in service, then retry."
            }
            TokenErrorKind::Refused => {
                "Read the provider's answer; it names what is wrong with the app's set-up."
            }
        }
    }

    /// Whether retrying later, unchanged, can succeed.
    pub fn is_retryable(self) -> bool {
        self == TokenErrorKind::ProviderUnavailable
    }
}

/// A failed token fetch: what kind, and the details (provider's error code and description,
/// which app, which endpoint; never a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TokenError {
    pub kind: TokenErrorKind,
    pub message: String,
}

impl TokenError {
    pub fn new(kind: TokenErrorKind, message: impl Into<String>) -> Self {
        TokenError {
            kind,
            message: message.into(),
        }
    }
}

/// The future a token source returns.
pub type TokenFuture<'a> =
    Pin<Box<dyn Future<Output = Result<AccessToken, TokenError>> + Send + 'a>>;

/// Gives access tokens for IMAP sign-in, one per mailbox user (Microsoft's app tokens serve every
/// mailbox; Google's service-account tokens are per user). Implementations cache tokens and
/// renew them before they expire.
pub trait AccessTokenSource: Send + Sync {
    /// A token for signing in as `user`, valid for a while yet.
    fn token<'a>(&'a self, user: &'a str) -> TokenFuture<'a>;
    /// The server refused `user`'s token: drop it from any cache, so that the next
    /// [`AccessTokenSource::token`] fetches a new one.
    fn forget(&self, user: &str);
    /// Who issues the tokens, for messages, e.g. "Microsoft 365 app 1f0c… in tenant contoso.com".
    fn describe(&self) -> String;
    /// Whose rules apply (chooses the advice for refusals).
    fn provider(&self) -> OAuthProvider;
}

/// What the server's error challenge says, read into a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum RefusalKind {
    /// The token is not valid for this server (another tenant or audience, revoked, malformed).
    InvalidToken,
    /// The token had expired, and no new one could be used.
    TokenExpired,
    /// The token lacks a scope the server needs: consent or delegation missing.
    ConsentMissing,
    /// A valid token (fresh, or too young to have expired) was refused for this mailbox: the app
    /// may not open it (Microsoft: no FullAccess for the app's service principal, or no such
    /// mailbox).
    MailboxPermissionMissing,
    /// The server found the request malformed.
    BadRequest,
}

/// A refused OAuth sign-in: the kind, and the challenge's fields as the server sent them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct OAuthRefusal {
    pub kind: RefusalKind,
    /// The challenge's `status` (`401`, `invalid_token`, `insufficient_scope`, ...), if any.
    pub status: Option<String>,
    /// The scope the server asks for, if it said.
    pub scope: Option<String>,
}

impl OAuthRefusal {
    /// What the kind means, in words.
    pub fn describe(&self) -> &'static str {
        match self.kind {
            RefusalKind::InvalidToken => "the access token is not valid for this server",
            RefusalKind::TokenExpired => "the access token has expired",
            RefusalKind::ConsentMissing => "the access token lacks a permission the server needs",
            RefusalKind::MailboxPermissionMissing => {
                "a valid access token was refused for this mailbox"
            }
            RefusalKind::BadRequest => "the server found the sign-in request malformed",
        }
    }

    /// One sentence telling the admin what to do, for this provider.
    pub fn advice(&self, provider: OAuthProvider) -> &'static str {
        match (self.kind, provider) {
            (RefusalKind::InvalidToken, OAuthProvider::Microsoft) => {
                "Check the tenant ID (the token must come from the tenant that holds the mailboxes) and that the app has the Office 365 Exchange Online permission IMAP.AccessAsApp."
            }
            (RefusalKind::InvalidToken, OAuthProvider::Google) => {
                "Check that the service account belongs to this Google Workspace domain and that IMAP is enabled for the user (Admin console, Gmail, End User Access)."
            }
            (RefusalKind::InvalidToken, OAuthProvider::Other) => {
                "Check that the token comes from the authorization server this mail server trusts."
            }
            (RefusalKind::TokenExpired, _) => {
                "The access token expired and could not be renewed; sign in again (interactive sign-in) or check the app's secret, then retry."
            }
            (RefusalKind::ConsentMissing, OAuthProvider::Microsoft) => {
                "Grant admin consent for IMAP.AccessAsApp (Office 365 Exchange Online) on the app's API permissions page."
            }
            (RefusalKind::ConsentMissing, OAuthProvider::Google) => {
                "Add the scope https://mail.google.com/ to the service account's domain-wide delegation in the Admin console (Security, API controls)."
            }
            (RefusalKind::ConsentMissing, OAuthProvider::Other) => {
                "Grant the application the mail scope the server names."
            }
            (RefusalKind::MailboxPermissionMissing, OAuthProvider::Microsoft) => {
                "Give the app access to this mailbox: in Exchange Online PowerShell, register the app's service principal once (New-ServicePrincipal) and run Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess; also check that the mailbox exists in the app's tenant."
            }
            (RefusalKind::MailboxPermissionMissing, OAuthProvider::Google) => {
                "Check that the user exists and has Gmail with IMAP enabled, and that domain-wide delegation grants https://mail.google.com/."
            }
            (RefusalKind::MailboxPermissionMissing, OAuthProvider::Other) => {
                "Give the signed-in account access to this mailbox on the server, and check that the mailbox exists."
            }
            (RefusalKind::BadRequest, _) => {
                "The server did not understand the sign-in; report the server's software and this message."
            }
        }
    }
}

/// Reads the error challenge of a refused XOAUTH2 / OAUTHBEARER exchange (base64 of a JSON
/// object such as `{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}`).
/// `None` when the text is not such a challenge.
pub fn parse_error_challenge(base64_text: &str) -> Option<OAuthRefusal> {
    let raw = base64::engine::general_purpose::STANDARD
        .decode(base64_text.trim())
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&raw).ok()?;
    let object = value.as_object()?;
    let text = |k: &str| {
        object.get(k).and_then(|v| match v {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
    };
    let status = text("status");
    let kind = match status.as_deref().map(str::to_ascii_lowercase).as_deref() {
        Some("403" | "insufficient_scope") => RefusalKind::ConsentMissing,
        Some("400" | "invalid_request") => RefusalKind::BadRequest,
        // 401 / invalid_token, and anything else a server may invent: the token was not taken.
        _ => RefusalKind::InvalidToken,
    };
    Some(OAuthRefusal {
        kind,
        status,
        scope: text("scope"),
    })
}

/// The SASL mechanism used for a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenMechanism {
    XOAuth2,
    OAuthBearer,
}

impl TokenMechanism {
    /// OAUTHBEARER where offered (the standard; Gmail), else XOAUTH2 (Exchange Online offers
    /// only it); `None` when the server offers neither. `offered`: the `AUTH=` mechanisms.
    pub(crate) fn preferred(offered: &[String]) -> Option<TokenMechanism> {
        let has = |m: &str| offered.iter().any(|o| o.eq_ignore_ascii_case(m));
        if has("OAUTHBEARER") {
            Some(TokenMechanism::OAuthBearer)
        } else if has("XOAUTH2") {
            Some(TokenMechanism::XOAuth2)
        } else {
            None
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            TokenMechanism::XOAuth2 => "XOAUTH2",
            TokenMechanism::OAuthBearer => "OAUTHBEARER",
        }
    }

    /// The client's first message, base64 (a secret: it holds the token).
    pub(crate) fn initial_response(self, user: &str, token: &SecretString) -> Zeroizing<String> {
        let token = token.expose_secret();
        let message = Zeroizing::new(match self {
            // Google's and Microsoft's documented form.
            TokenMechanism::XOAuth2 => format!("user={user}\x01auth=Bearer {token}\x01\x01"),
            // RFC 7628 §3.1: GS2 header with the authorization identity, then key=value pairs.
            TokenMechanism::OAuthBearer => {
                format!("n,a={},\x01auth=Bearer {token}\x01\x01", gs2_escape(user))
            }
        });
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(message.as_bytes()))
    }

    /// What the client answers to an error challenge before the server's final NO: an empty
    /// line for XOAUTH2, the dummy `%x01` for OAUTHBEARER (RFC 7628 §3.2.3).
    pub(crate) fn challenge_reply(self) -> &'static [u8] {
        match self {
            TokenMechanism::XOAuth2 => b"",
            TokenMechanism::OAuthBearer => b"AQ==",
        }
    }
}

/// RFC 5801 §4: `,` and `=` in a GS2 name are written `=2C` and `=3D`.
fn gs2_escape(user: &str) -> String {
    user.replace('=', "=3D").replace(',', "=2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b64(s: &str) -> String {
        base64::engine::general_purpose::STANDARD.encode(s)
    }

    #[test]
    fn challenges_become_kinds() {
        let r = parse_error_challenge(&b64(
            r#"{"status":"401","schemes":"bearer","scope":"https://mail.google.com/"}"#,
        ))
        .unwrap();
        assert_eq!(r.kind, RefusalKind::InvalidToken);
        assert_eq!(r.status.as_deref(), Some("401"));
        assert_eq!(r.scope.as_deref(), Some("https://mail.google.com/"));
        let r = parse_error_challenge(&b64(r#"{"status":"insufficient_scope","scope":"mail"}"#))
            .unwrap();
        assert_eq!(r.kind, RefusalKind::ConsentMissing);
        let r = parse_error_challenge(&b64(r#"{"status":400}"#)).unwrap();
        assert_eq!(r.kind, RefusalKind::BadRequest);
        assert_eq!(r.status.as_deref(), Some("400"));
        assert_eq!(parse_error_challenge("not base64!"), None);
        assert_eq!(parse_error_challenge(&b64("[1,2]")), None);
    }

    #[test]
    fn initial_responses_as_documented() {
        let token = SecretString::from("ya29.tok".to_string());
        let decode = |s: &str| {
            String::from_utf8(base64::engine::general_purpose::STANDARD.decode(s).unwrap()).unwrap()
        };
        assert_eq!(
            decode(&TokenMechanism::XOAuth2.initial_response("a@b.c", &token)),
            "user=a@b.c\x01auth=Bearer ya29.tok\x01\x01"
        );
        assert_eq!(
            decode(&TokenMechanism::OAuthBearer.initial_response("x,y=z@b.c", &token)),
            "n,a=x=2Cy=3Dz@b.c,\x01auth=Bearer ya29.tok\x01\x01"
        );
    }

    #[test]
    fn oauthbearer_preferred_xoauth2_otherwise() {
        let offered = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            TokenMechanism::preferred(&offered(&["PLAIN", "XOAUTH2", "OAUTHBEARER"])),
            Some(TokenMechanism::OAuthBearer)
        );
        // Exchange Online: `AUTH=PLAIN AUTH=XOAUTH2`.
        assert_eq!(
            TokenMechanism::preferred(&offered(&["PLAIN", "XOAUTH2"])),
            Some(TokenMechanism::XOAuth2)
        );
        assert_eq!(
            TokenMechanism::preferred(&offered(&["PLAIN", "LOGIN"])),
            None
        );
    }

    #[test]
    fn debug_hides_the_token() {
        let t = AccessToken::new(
            SecretString::from("very-secret-token".to_string()),
            SystemTime::now(),
        );
        assert!(!format!("{t:?}").contains("very-secret-token"));
    }
}
