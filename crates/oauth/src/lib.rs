//! # ferry-oauth: access tokens for IMAP sign-in without users' passwords
//!
//! Token sources ([`ferry_imap::AccessTokenSource`]) for the hosts that take only OAuth 2.0:
//!
//! - [`MicrosoftApp`]: the Microsoft identity platform's client-credentials grant, with a client
//!   secret or a certificate (client assertion signed with the app's key); one app token for every
//!   mailbox the app was given.
//! - [`GoogleServiceAccount`]: a service account with domain-wide delegation; one RS256-signed
//!   assertion per mailbox (`sub` = the user).
//! - [`interactive::sign_in`]: an administrator signs in in the system browser (authorization
//!   code with PKCE, loopback redirect); the admin's token opens the mailboxes granted to them.
//!
//! Tokens live in memory only, are renewed before they expire, and one fetch runs at a time per
//! key ([`TokenCache`]). Client secrets and private keys live in the vault ([`store_secret`],
//! [`token_source`]); the project file holds only [`OAuthSettings`], which has none.
//!
//! ```no_run
//! # async fn demo(vault: &dyn ferry_vault::Vault) -> Result<(), Box<dyn std::error::Error>> {
//! use ferry_oauth::{token_source, MicrosoftCredentialKind, OAuthSettings};
//! let settings = OAuthSettings::MicrosoftApp {
//!     tenant: "contoso.onmicrosoft.com".into(),
//!     client_id: "00001111-aaaa-2222-bbbb-3333cccc4444".into(),
//!     credential: MicrosoftCredentialKind::ClientSecret,
//!     token_url: None,
//! };
//! let source = token_source(&settings, vault)?;
//! let creds = ferry_imap::Credentials::oauth("jdoe@contoso.com", source);
//! let endpoint = ferry_imap::Endpoint::tls("outlook.office365.com", 993);
//! let session = ferry_imap::connect_and_login(&endpoint, &creds, Default::default()).await?;
//! # drop(session); Ok(()) }
//! ```

pub mod cache;
pub mod google;
pub mod http;
pub mod interactive;
pub mod jwt;
pub mod microsoft;

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use ferry_imap::{
    AccessTokenSource, Credentials, Endpoint, ImapError, OAuthProvider, Timeouts, TokenError,
    TokenErrorKind,
};
use ferry_vault::{Secret, Vault, VaultError};

pub use cache::{TokenCache, REFRESH_MARGIN};
pub use google::GoogleServiceAccount;
pub use interactive::{
    sign_in, BrowserOpener, InteractiveConfig, InteractiveSignIn, SystemBrowser,
};
pub use microsoft::{AppCredential, MicrosoftApp};

/// How a Microsoft 365 app proves itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum MicrosoftCredentialKind {
    /// A client secret's value.
    ClientSecret,
    /// A certificate uploaded to the app, with its private key (PEM, stored together).
    Certificate,
}

/// What the project file keeps about an OAuth sign-in: no secret, only where to find it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum OAuthSettings {
    /// A Microsoft Entra app registration with `IMAP.AccessAsApp`.
    MicrosoftApp {
        /// Tenant ID (a GUID) or primary domain.
        tenant: String,
        /// Application (client) ID.
        client_id: String,
        credential: MicrosoftCredentialKind,
        /// Another token endpoint than Microsoft's (tests).
        #[serde(default)]
        token_url: Option<String>,
    },
    /// A Google Cloud service account with domain-wide delegation.
    GoogleServiceAccount {
        /// The service account's address, `name@project.iam.gserviceaccount.com`.
        client_email: String,
        /// Another token endpoint than the key file's (tests).
        #[serde(default)]
        token_url: Option<String>,
    },
}

impl OAuthSettings {
    pub fn provider(&self) -> OAuthProvider {
        match self {
            OAuthSettings::MicrosoftApp { .. } => OAuthProvider::Microsoft,
            OAuthSettings::GoogleServiceAccount { .. } => OAuthProvider::Google,
        }
    }

    /// The vault key of this sign-in's secret: a synthetic host `oauth:<tenant or account>` and
    /// a user naming the kind of secret.
    pub fn vault_key(&self) -> (String, String) {
        match self {
            OAuthSettings::MicrosoftApp {
                tenant,
                client_id,
                credential,
                ..
            } => (
                format!("oauth:{}", tenant.trim().to_ascii_lowercase()),
                match credential {
                    MicrosoftCredentialKind::ClientSecret => format!("client-secret:{client_id}"),
                    MicrosoftCredentialKind::Certificate => format!("certificate:{client_id}"),
                },
            ),
            OAuthSettings::GoogleServiceAccount { client_email, .. } => (
                format!("oauth:{}", client_email.trim().to_ascii_lowercase()),
                "service-account-key".to_string(),
            ),
        }
    }

    /// What the secret is, in words ("the client secret of app …").
    pub fn secret_name(&self) -> String {
        match self {
            OAuthSettings::MicrosoftApp {
                client_id,
                credential: MicrosoftCredentialKind::ClientSecret,
                ..
            } => format!("the client secret of app {client_id}"),
            OAuthSettings::MicrosoftApp {
                client_id,
                credential: MicrosoftCredentialKind::Certificate,
                ..
            } => format!("the private key and certificate of app {client_id}"),
            OAuthSettings::GoogleServiceAccount { client_email, .. } => {
                format!("the JSON key of service account {client_email}")
            }
        }
    }
}

/// Setting up a token source failed.
#[derive(Debug, thiserror::Error)]
pub enum OAuthSetupError {
    #[error("{what} is not in the vault ({vault}); store it first")]
    NotStored { what: String, vault: String },
    #[error("the vault could not be read or written: {0}")]
    Vault(#[from] VaultError),
    #[error("{0}")]
    Settings(#[from] TokenError),
}

impl OAuthSetupError {
    /// One sentence telling the admin what to do.
    pub fn advice(&self) -> &'static str {
        match self {
            OAuthSetupError::NotStored { .. } => {
                "Store the client secret, the certificate's private key, or the service account's JSON key in Ferry's vault (destination phase)."
            }
            OAuthSetupError::Vault(_) => {
                "Unlock the vault (or check its file's permissions) and try again."
            }
            OAuthSetupError::Settings(e) => e.kind.advice(),
        }
    }
}

fn build(settings: &OAuthSettings, secret: &str) -> Result<Arc<dyn AccessTokenSource>, TokenError> {
    Ok(match settings {
        OAuthSettings::MicrosoftApp {
            tenant,
            client_id,
            credential,
            token_url,
        } => {
            let credential = match credential {
                MicrosoftCredentialKind::ClientSecret => {
                    if secret.trim().is_empty() {
                        return Err(TokenError::new(
                            TokenErrorKind::BadSettings,
                            "the client secret is empty",
                        ));
                    }
                    AppCredential::Secret(secrecy::SecretString::from(secret.trim().to_string()))
                }
                MicrosoftCredentialKind::Certificate => AppCredential::certificate(secret, secret)?,
            };
            Arc::new(MicrosoftApp::new(
                tenant,
                client_id,
                credential,
                token_url.as_deref(),
            )?)
        }
        OAuthSettings::GoogleServiceAccount {
            client_email,
            token_url,
        } => {
            let account = GoogleServiceAccount::from_key_file(secret, token_url.as_deref())?;
            if !account
                .client_email()
                .eq_ignore_ascii_case(client_email.trim())
            {
                return Err(TokenError::new(
                    TokenErrorKind::BadSettings,
                    format!(
                        "the key file is for {}, not for {client_email}",
                        account.client_email()
                    ),
                ));
            }
            Arc::new(account)
        }
    })
}

/// Checks `secret` (the client secret; the PEM private key followed by the PEM certificate; or
/// the service account's JSON key file) against `settings`, then stores it in the vault.
pub fn store_secret(
    vault: &dyn Vault,
    settings: &OAuthSettings,
    secret: &Secret,
) -> Result<(), OAuthSetupError> {
    build(settings, secret.expose())?;
    let (host, user) = settings.vault_key();
    vault.set(&host, &user, secret)?;
    Ok(())
}

/// The token source for `settings`, its secret read from the vault.
pub fn token_source(
    settings: &OAuthSettings,
    vault: &dyn Vault,
) -> Result<Arc<dyn AccessTokenSource>, OAuthSetupError> {
    let (host, user) = settings.vault_key();
    let secret = vault
        .get(&host, &user)?
        .ok_or_else(|| OAuthSetupError::NotStored {
            what: settings.secret_name(),
            vault: vault.describe(),
        })?;
    Ok(build(settings, secret.expose())?)
}

/// The sign-in check of one planned mailbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct MailboxCheck {
    pub mailbox: String,
    pub ok: bool,
    /// The error's kind (`oauth_refused`, `token_unavailable`, ...), when not ok.
    pub kind: Option<String>,
    /// What happened, in words.
    pub message: String,
    /// What to do, when not ok.
    pub advice: Option<String>,
}

/// Signs in to each mailbox with `source` (then logs out) and says, per mailbox, what is
/// missing. Up to `parallel` sign-ins at once.
pub async fn check_mailboxes(
    endpoint: &Endpoint,
    source: Arc<dyn AccessTokenSource>,
    mailboxes: &[String],
    timeouts: Timeouts,
    parallel: usize,
) -> Vec<MailboxCheck> {
    let semaphore = Arc::new(tokio::sync::Semaphore::new(parallel.max(1)));
    let mut tasks = Vec::new();
    for mailbox in mailboxes {
        let (endpoint, source, mailbox, semaphore) = (
            endpoint.clone(),
            source.clone(),
            mailbox.clone(),
            semaphore.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _permit = semaphore.acquire_owned().await;
            let issuer = source.describe();
            let provider = source.provider();
            let creds = Credentials::oauth(mailbox.clone(), source);
            match ferry_imap::connect_and_login(&endpoint, &creds, timeouts).await {
                Ok(mut session) => {
                    // Exchange Online accepts the sign-in of an app without access to the
                    // mailbox and refuses the first command that opens it: open it once.
                    let opened = session.status("INBOX").await;
                    session.logout().await;
                    match opened {
                        Ok(_) => MailboxCheck {
                            message: format!("{mailbox}: signed in"),
                            mailbox,
                            ok: true,
                            kind: None,
                            advice: None,
                        },
                        Err(err) => {
                            let err = explain_not_connected(err, &mailbox, &issuer, provider);
                            failed_check(mailbox, &err)
                        }
                    }
                }
                Err(err) => failed_check(mailbox, &err),
            }
        }));
    }
    let mut out = Vec::new();
    for (task, mailbox) in tasks.into_iter().zip(mailboxes) {
        out.push(task.await.unwrap_or_else(|e| MailboxCheck {
            mailbox: mailbox.clone(),
            ok: false,
            kind: Some("internal".into()),
            message: format!("{mailbox}: the check stopped unexpectedly ({e})"),
            advice: Some("Run the check again.".into()),
        }));
    }
    out
}

/// Exchange Online's answer to commands after an app signed in to a mailbox it has no access to:
/// `BAD User is authenticated but not connected.` (then BYE).
const NOT_CONNECTED: &str = "User is authenticated but not connected";

/// Whether `err` is Exchange Online's "authenticated but not connected": the sign-in was taken,
/// but the app (or the signed-in administrator) has no access to the mailbox.
pub fn is_mailbox_not_connected(err: &ImapError) -> bool {
    matches!(err, ImapError::Protocol { detail, .. } if detail.contains(NOT_CONNECTED))
}

/// Turns Exchange Online's "authenticated but not connected" into the refusal it means (the
/// mailbox's permission is missing); other errors pass unchanged.
pub fn explain_not_connected(
    err: ImapError,
    mailbox: &str,
    issuer: &str,
    provider: OAuthProvider,
) -> ImapError {
    if !is_mailbox_not_connected(&err) {
        return err;
    }
    let ImapError::Protocol { server, detail, .. } = err else {
        return err;
    };
    ImapError::OAuthRefused {
        server,
        user: mailbox.to_string(),
        issuer: issuer.to_string(),
        provider,
        refusal: Box::new(ferry_imap::OAuthRefusal {
            kind: ferry_imap::RefusalKind::MailboxPermissionMissing,
            status: None,
            scope: None,
        }),
        server_text: detail,
    }
}

fn failed_check(mailbox: String, err: &ImapError) -> MailboxCheck {
    MailboxCheck {
        message: err.to_string(),
        mailbox,
        ok: false,
        kind: Some(err.kind().to_string()),
        advice: Some(err.advice().to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchange_not_connected_is_a_missing_mailbox_permission() {
        let bad = ImapError::Protocol {
            server: "outlook.office365.com:993".into(),
            step: "STATUS".into(),
            detail: "the server answered BAD: User is authenticated but not connected.".into(),
        };
        let err = explain_not_connected(
            bad,
            "jdoe@contoso.com",
            "Microsoft 365 app 1 in tenant contoso.com",
            OAuthProvider::Microsoft,
        );
        assert_eq!(err.kind(), "oauth_refused");
        assert_eq!(
            err.to_string(),
            "outlook.office365.com:993: sign-in to \"jdoe@contoso.com\" with a token from Microsoft 365 app 1 in tenant contoso.com refused: a valid access token was refused for this mailbox (the server answered BAD: User is authenticated but not connected.)"
        );
        assert!(err.advice().contains("Add-MailboxPermission"));
        let other = ImapError::Protocol {
            server: "s".into(),
            step: "STATUS".into(),
            detail: "the server answered BAD: unknown command".into(),
        };
        assert_eq!(
            explain_not_connected(other, "m", "i", OAuthProvider::Microsoft).kind(),
            "protocol"
        );
    }
}
