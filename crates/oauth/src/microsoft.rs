//! Microsoft identity platform, client-credentials grant: one app token (scope
//! `https://outlook.office365.com/.default`, role `IMAP.AccessAsApp`) for every mailbox the app
//! was given access to; the mailbox is named in the SASL message.
//!
//! Documented at <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-client-creds-grant-flow>
//! (secret and certificate requests) and
//! <https://learn.microsoft.com/en-us/entra/identity-platform/certificate-credentials> (the
//! client assertion: `aud` the token endpoint, `iss` = `sub` = the client ID, `x5t#S256`).

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;

use ferry_imap::{AccessTokenSource, OAuthProvider, TokenError, TokenErrorKind, TokenFuture};

use crate::cache::{read_answer, ErrorAnswer, TokenCache};
use crate::http::{post_form, Endpoint};
use crate::jwt::{now_unix, SigningKey, Thumbprints};

/// The scope of an app token for Exchange Online IMAP.
pub const EXCHANGE_SCOPE: &str = "https://outlook.office365.com/.default";

/// The token endpoint of a tenant.
pub fn token_endpoint(tenant: &str) -> String {
    format!("https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token")
}

/// How the app proves it is itself.
pub enum AppCredential {
    /// A client secret (its value, not its ID).
    Secret(SecretString),
    /// A certificate uploaded to the app registration, and its private key.
    Certificate {
        key: Box<SigningKey>,
        thumbprints: Thumbprints,
    },
}

impl AppCredential {
    /// From PEM texts: the private key and the certificate uploaded to the app.
    /// The key must be the certificate's (else Microsoft would refuse every assertion it signs).
    pub fn certificate(key_pem: &str, certificate_pem: &str) -> Result<AppCredential, TokenError> {
        let key = SigningKey::from_pem(key_pem, "the app's private key")?;
        let der = crate::jwt::certificate_der(certificate_pem)?;
        if !crate::jwt::key_matches_certificate(&key, &der) {
            return Err(TokenError::new(
                TokenErrorKind::BadSettings,
                "the private key does not belong to the certificate (its public key is not the certificate's)",
            ));
        }
        Ok(AppCredential::Certificate {
            key: Box::new(key),
            thumbprints: Thumbprints::from_der(&der),
        })
    }
}

/// Tokens of a Microsoft 365 app registration, for every mailbox.
pub struct MicrosoftApp {
    tenant: String,
    client_id: String,
    credential: AppCredential,
    endpoint: Endpoint,
    scope: String,
    cache: TokenCache,
}

/// The app token serves every mailbox: one cache key.
const APP_KEY: &str = "";

impl MicrosoftApp {
    /// `token_url`: `None` for Microsoft's own endpoint of `tenant`.
    pub fn new(
        tenant: &str,
        client_id: &str,
        credential: AppCredential,
        token_url: Option<&str>,
    ) -> Result<MicrosoftApp, TokenError> {
        for (what, v) in [("tenant", tenant), ("application (client) ID", client_id)] {
            if v.trim().is_empty() || v.contains(['/', '?', '#', ' ']) {
                return Err(TokenError::new(
                    TokenErrorKind::BadSettings,
                    format!("the {what} {v:?} is empty or not an ID or domain"),
                ));
            }
        }
        let url = token_url
            .map(str::to_string)
            .unwrap_or_else(|| token_endpoint(tenant));
        Ok(MicrosoftApp {
            tenant: tenant.trim().to_string(),
            client_id: client_id.trim().to_string(),
            credential,
            endpoint: Endpoint::parse(&url, "token endpoint")?,
            scope: EXCHANGE_SCOPE.to_string(),
            cache: TokenCache::default(),
        })
    }

    /// The cache (shared), e.g. to count fetches.
    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }

    async fn fetch(&self) -> Result<(ferry_imap::AccessToken, Duration), TokenError> {
        let assertion;
        let mut form = vec![
            ("client_id", self.client_id.as_str()),
            ("scope", self.scope.as_str()),
            ("grant_type", "client_credentials"),
        ];
        match &self.credential {
            AppCredential::Secret(secret) => form.push(("client_secret", secret.expose_secret())),
            AppCredential::Certificate { key, thumbprints } => {
                let now = now_unix();
                let header = json!({
                    "alg": "RS256",
                    "typ": "JWT",
                    "x5t": thumbprints.sha1,
                    "x5t#S256": thumbprints.sha256,
                });
                let claims = json!({
                    "aud": self.endpoint.as_str(),
                    "iss": self.client_id,
                    "sub": self.client_id,
                    "jti": uuid::Uuid::new_v4().to_string(),
                    "nbf": now,
                    "iat": now,
                    "exp": now + 600,
                });
                assertion = SecretString::from(key.sign(&header, &claims)?);
                form.push((
                    "client_assertion_type",
                    "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                ));
                form.push(("client_assertion", assertion.expose_secret()));
            }
        }
        let answer = post_form(&self.endpoint, &form).await?;
        let (token, lifetime, _) = read_answer(
            self.endpoint.as_str(),
            answer.status,
            &answer.body,
            classify,
        )?;
        Ok((token, lifetime))
    }
}

/// Microsoft's AADSTS codes, as listed at
/// <https://learn.microsoft.com/en-us/entra/identity-platform/reference-error-codes>.
fn classify(e: &ErrorAnswer) -> TokenErrorKind {
    let code = e.error_codes.first().copied().or_else(|| {
        // The code is also at the start of the description: "AADSTS7000215: ...".
        e.error_description
            .strip_prefix("AADSTS")
            .and_then(|r| r.split(|c: char| !c.is_ascii_digit()).next())
            .and_then(|d| d.parse().ok())
    });
    match code {
        Some(7000215 | 7000222) => TokenErrorKind::WrongClientSecret,
        Some(700027 | 700024 | 700023 | 5002723) => TokenErrorKind::WrongKey,
        Some(700016) => TokenErrorKind::UnknownClient,
        Some(90002 | 900023 | 90072) => TokenErrorKind::WrongTenant,
        Some(65001 | 500011 | 7000112) => TokenErrorKind::ConsentMissing,
        _ => match e.error.as_str() {
            "invalid_client" => TokenErrorKind::WrongClientSecret,
            "unauthorized_client" => TokenErrorKind::UnknownClient,
            "temporarily_unavailable" | "server_error" => TokenErrorKind::ProviderUnavailable,
            _ => TokenErrorKind::Refused,
        },
    }
}

impl AccessTokenSource for MicrosoftApp {
    fn token<'a>(&'a self, _user: &'a str) -> TokenFuture<'a> {
        Box::pin(async move { self.cache.get(APP_KEY, || self.fetch()).await })
    }

    fn forget(&self, _user: &str) {
        self.cache.forget(APP_KEY);
    }

    fn describe(&self) -> String {
        format!(
            "Microsoft 365 app {} in tenant {}",
            self.client_id, self.tenant
        )
    }

    fn provider(&self) -> OAuthProvider {
        OAuthProvider::Microsoft
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aadsts_codes_pick_the_kind() {
        let e = |codes: Vec<u64>, error: &str, description: &str| ErrorAnswer {
            error: error.into(),
            error_description: description.into(),
            error_codes: codes,
        };
        assert_eq!(
            classify(&e(vec![7000215], "invalid_client", "")),
            TokenErrorKind::WrongClientSecret
        );
        assert_eq!(
            classify(&e(
                vec![],
                "invalid_request",
                "AADSTS90002: Tenant 'x' not found."
            )),
            TokenErrorKind::WrongTenant
        );
        assert_eq!(
            classify(&e(vec![700016], "unauthorized_client", "")),
            TokenErrorKind::UnknownClient
        );
        assert_eq!(
            classify(&e(vec![700027], "invalid_client", "")),
            TokenErrorKind::WrongKey
        );
        assert_eq!(
            classify(&e(vec![], "invalid_scope", "")),
            TokenErrorKind::Refused
        );
    }
}
