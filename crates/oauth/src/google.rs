//! Google service account with domain-wide delegation: per mailbox, an RS256-signed JWT
//! (`iss` the service account, `sub` the user, `scope` `https://mail.google.com/`, `aud` the
//! token endpoint) exchanged with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`.
//!
//! Documented at <https://developers.google.com/identity/protocols/oauth2/service-account>
//! ("Preparing to make an authorized API call", "HTTP/REST").

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use serde_json::json;

use ferry_imap::{AccessTokenSource, OAuthProvider, TokenError, TokenErrorKind, TokenFuture};

use crate::cache::{read_answer, ErrorAnswer, TokenCache};
use crate::http::{post_form, Endpoint};
use crate::jwt::{now_unix, SigningKey};

/// Full IMAP access to Gmail.
pub const GMAIL_SCOPE: &str = "https://mail.google.com/";
/// Google's token endpoint.
pub const TOKEN_ENDPOINT: &str = "https://oauth2.googleapis.com/token";

/// The fields Ferry uses of a service account's JSON key file.
#[derive(Deserialize)]
struct KeyFile {
    #[serde(rename = "type")]
    kind: String,
    client_email: String,
    private_key: SecretString,
    #[serde(default)]
    private_key_id: Option<String>,
    #[serde(default)]
    token_uri: Option<String>,
}

/// Tokens of a Google service account, one per mailbox.
pub struct GoogleServiceAccount {
    client_email: String,
    key_id: Option<String>,
    key: SigningKey,
    endpoint: Endpoint,
    cache: TokenCache,
}

impl GoogleServiceAccount {
    /// From the JSON key file Google gives for the service account. `token_url` overrides the
    /// file's `token_uri` (tests).
    pub fn from_key_file(
        json: &str,
        token_url: Option<&str>,
    ) -> Result<GoogleServiceAccount, TokenError> {
        let bad = |reason: String| {
            TokenError::new(
                TokenErrorKind::BadSettings,
                format!("the service account's key file {reason}"),
            )
        };
        let file: KeyFile = serde_json::from_str(json)
            .map_err(|e| bad(format!("is not a service account JSON key ({e})")))?;
        if file.kind != "service_account" {
            return Err(bad(format!(
                "is of type {:?}, not \"service_account\"",
                file.kind
            )));
        }
        let url = token_url
            .map(str::to_string)
            .or(file.token_uri)
            .unwrap_or_else(|| TOKEN_ENDPOINT.to_string());
        Ok(GoogleServiceAccount {
            key: SigningKey::from_pem(
                file.private_key.expose_secret(),
                "the service account's private key",
            )?,
            client_email: file.client_email,
            key_id: file.private_key_id,
            endpoint: Endpoint::parse(&url, "token endpoint")?,
            cache: TokenCache::default(),
        })
    }

    /// The service account's address (what the Admin console's delegation names by client ID).
    pub fn client_email(&self) -> &str {
        &self.client_email
    }

    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    async fn fetch(&self, user: &str) -> Result<(ferry_imap::AccessToken, Duration), TokenError> {
        let now = now_unix();
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = &self.key_id {
            header["kid"] = json!(kid);
        }
        let claims = json!({
            "iss": self.client_email,
            "sub": user,
            "scope": GMAIL_SCOPE,
            "aud": self.endpoint.as_str(),
            "iat": now,
            "exp": now + 3600,
        });
        let assertion = SecretString::from(self.key.sign(&header, &claims)?);
        let answer = post_form(
            &self.endpoint,
            &[
                ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
                ("assertion", assertion.expose_secret()),
            ],
        )
        .await?;
        let (token, lifetime, _) = read_answer(
            self.endpoint.as_str(),
            answer.status,
            &answer.body,
            classify,
        )?;
        Ok((token, lifetime))
    }
}

/// Google's answers, as listed under "Error codes" of the service-account guide.
fn classify(e: &ErrorAnswer) -> TokenErrorKind {
    let description = e.error_description.to_ascii_lowercase();
    match e.error.as_str() {
        // "Client is unauthorized to retrieve access tokens using this method, or client not
        // authorized for any of the scopes requested."
        "unauthorized_client" => TokenErrorKind::ConsentMissing,
        "invalid_grant" if description.contains("invalid email or user id") => {
            TokenErrorKind::UnknownUser
        }
        "invalid_grant" if description.contains("signature") => TokenErrorKind::WrongKey,
        "invalid_client" => TokenErrorKind::UnknownClient,
        "access_denied" => TokenErrorKind::ConsentMissing,
        "temporarily_unavailable" | "server_error" => TokenErrorKind::ProviderUnavailable,
        _ => TokenErrorKind::Refused,
    }
}

impl AccessTokenSource for GoogleServiceAccount {
    fn token<'a>(&'a self, user: &'a str) -> TokenFuture<'a> {
        Box::pin(async move { self.cache.get(user, || self.fetch(user)).await })
    }

    fn forget(&self, user: &str) {
        self.cache.forget(user);
    }

    fn describe(&self) -> String {
        format!("Google service account {}", self.client_email)
    }

    fn provider(&self) -> OAuthProvider {
        OAuthProvider::Google
    }
}
