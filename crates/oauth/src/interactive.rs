//! Interactive admin sign-in in the system browser: authorization code with PKCE (S256,
//! RFC 7636), redirected to a loopback address on a random port (RFC 8252 §7.3). The admin's own
//! token then opens the mailboxes the admin was granted (Microsoft: FullAccess; Google: only
//! the admin's own mailbox). The refresh token stays in memory, like the access tokens.
//!
//! Documented at <https://learn.microsoft.com/en-us/entra/identity-platform/v2-oauth2-auth-code-flow>
//! and <https://developers.google.com/identity/protocols/oauth2/native-app>.

use std::sync::Mutex;
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SecureRandom as _;
use secrecy::{ExposeSecret, SecretString};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use ferry_imap::{
    AccessToken, AccessTokenSource, OAuthProvider, TokenError, TokenErrorKind, TokenFuture,
};

use crate::cache::{read_answer, ErrorAnswer, TokenCache};
use crate::http::{post_form, Endpoint};

/// Opens a URL in the system browser; the app and the CLI supply it.
pub trait BrowserOpener: Send + Sync {
    /// Opens `url`; the error is shown to the admin.
    fn open(&self, url: &str) -> Result<(), String>;
}

/// The system's browser: `open` on macOS, `xdg-open` elsewhere. The URL holds no secret (the
/// PKCE challenge and the state are not secrets), so it may travel in the command line.
pub struct SystemBrowser;

impl BrowserOpener for SystemBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        let program = if cfg!(target_os = "macos") {
            "open"
        } else {
            "xdg-open"
        };
        let status = std::process::Command::new(program)
            .arg(url)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .map_err(|e| {
                format!("{program} could not be started ({e}); open this address yourself: {url}")
            })?;
        if status.success() {
            Ok(())
        } else {
            Err(format!(
                "{program} failed ({status}); open this address yourself: {url}"
            ))
        }
    }
}

/// Where and how to sign in.
#[derive(Clone)]
pub struct InteractiveConfig {
    pub provider: OAuthProvider,
    pub client_id: String,
    /// Google's desktop-app clients have a (not confidential) secret; Microsoft's public clients none.
    pub client_secret: Option<SecretString>,
    pub authorize_url: String,
    pub token_url: String,
    pub scope: String,
    /// Pre-fills the account in the sign-in page.
    pub login_hint: Option<String>,
    /// How long to wait for the admin to finish in the browser.
    pub timeout: Duration,
}

impl InteractiveConfig {
    /// Microsoft 365: delegated `IMAP.AccessAsUser.All`, with a refresh token.
    pub fn microsoft(tenant: &str, client_id: &str) -> Self {
        InteractiveConfig {
            provider: OAuthProvider::Microsoft,
            client_id: client_id.to_string(),
            client_secret: None,
            authorize_url: format!(
                "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize"
            ),
            token_url: crate::microsoft::token_endpoint(tenant),
            scope: "https://outlook.office.com/IMAP.AccessAsUser.All offline_access".into(),
            login_hint: None,
            timeout: Duration::from_secs(300),
        }
    }

    /// Google: the full Gmail scope, for the signed-in account's own mailbox.
    pub fn google(client_id: &str, client_secret: SecretString) -> Self {
        InteractiveConfig {
            provider: OAuthProvider::Google,
            client_id: client_id.to_string(),
            client_secret: Some(client_secret),
            authorize_url: "https://accounts.google.com/o/oauth2/v2/auth".into(),
            token_url: crate::google::TOKEN_ENDPOINT.into(),
            scope: crate::google::GMAIL_SCOPE.into(),
            login_hint: None,
            timeout: Duration::from_secs(300),
        }
    }
}

/// A finished sign-in: gives the admin's token, renewed with the refresh token.
pub struct InteractiveSignIn {
    config: InteractiveConfig,
    endpoint: Endpoint,
    refresh_token: Mutex<Option<SecretString>>,
    cache: TokenCache,
}

fn random_urlsafe(bytes: usize) -> Result<String, TokenError> {
    let mut buf = vec![0u8; bytes];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .map_err(|_| {
            TokenError::new(
                TokenErrorKind::SignInFailed,
                "the system's random number generator failed",
            )
        })?;
    Ok(URL_SAFE_NO_PAD.encode(buf))
}

fn failed(message: impl Into<String>) -> TokenError {
    TokenError::new(TokenErrorKind::SignInFailed, message)
}

/// The PKCE pair: verifier (43 characters) and its S256 challenge.
pub fn pkce_pair() -> Result<(SecretString, String), TokenError> {
    let verifier = random_urlsafe(32)?;
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ));
    Ok((SecretString::from(verifier), challenge))
}

/// Runs the sign-in: opens the browser at the provider's page and waits for the redirect to
/// `http://127.0.0.1:<random port>/`, then exchanges the code.
pub async fn sign_in(
    config: InteractiveConfig,
    browser: &dyn BrowserOpener,
) -> Result<InteractiveSignIn, TokenError> {
    let authorize = Endpoint::parse(&config.authorize_url, "sign-in page")?;
    let endpoint = Endpoint::parse(&config.token_url, "token endpoint")?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .map_err(|e| {
            failed(format!(
                "cannot listen on this computer for the sign-in: {e}"
            ))
        })?;
    let port = listener
        .local_addr()
        .map_err(|e| failed(format!("cannot listen for the sign-in: {e}")))?
        .port();
    let redirect_uri = format!("http://127.0.0.1:{port}/");
    let (verifier, challenge) = pkce_pair()?;
    let state = random_urlsafe(16)?;
    let mut url = authorize.url().clone();
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("client_id", &config.client_id)
            .append_pair("response_type", "code")
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("scope", &config.scope)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .append_pair("state", &state);
        if config.provider == OAuthProvider::Google {
            q.append_pair("access_type", "offline");
        }
        if let Some(hint) = &config.login_hint {
            q.append_pair("login_hint", hint);
        }
    }
    browser
        .open(url.as_str())
        .map_err(|e| failed(format!("cannot open the browser for the sign-in: {e}")))?;
    let code = tokio::time::timeout(config.timeout, wait_for_code(&listener, &state))
        .await
        .map_err(|_| {
            let secs = config.timeout.as_secs();
            failed(if secs >= 120 {
                format!("the sign-in was not finished within {} minutes", secs / 60)
            } else {
                format!("the sign-in was not finished within {secs} seconds")
            })
        })??;
    let mut form = vec![
        ("client_id", config.client_id.as_str()),
        ("grant_type", "authorization_code"),
        ("code", code.expose_secret()),
        ("redirect_uri", redirect_uri.as_str()),
        ("code_verifier", verifier.expose_secret()),
    ];
    if let Some(secret) = &config.client_secret {
        form.push(("client_secret", secret.expose_secret()));
    }
    let answer = post_form(&endpoint, &form).await?;
    let (token, lifetime, refresh) =
        read_answer(endpoint.as_str(), answer.status, &answer.body, classify)?;
    let signed_in = InteractiveSignIn {
        config,
        endpoint,
        refresh_token: Mutex::new(refresh.map(SecretString::from)),
        cache: TokenCache::default(),
    };
    signed_in.cache.put(ADMIN_KEY, token, lifetime);
    Ok(signed_in)
}

/// The admin's token serves every mailbox the admin may open: one cache key.
const ADMIN_KEY: &str = "";

fn classify(e: &ErrorAnswer) -> TokenErrorKind {
    match e.error.as_str() {
        "invalid_grant" | "access_denied" | "interaction_required" => TokenErrorKind::SignInFailed,
        "invalid_client" | "unauthorized_client" => TokenErrorKind::UnknownClient,
        "consent_required" => TokenErrorKind::ConsentMissing,
        "temporarily_unavailable" | "server_error" => TokenErrorKind::ProviderUnavailable,
        _ => TokenErrorKind::Refused,
    }
}

/// Answers requests on the loopback listener until one carries the code (or an error) for
/// `state`.
async fn wait_for_code(
    listener: &tokio::net::TcpListener,
    state: &str,
) -> Result<SecretString, TokenError> {
    loop {
        let (mut stream, _) = listener
            .accept()
            .await
            .map_err(|e| failed(format!("the sign-in redirect could not be received: {e}")))?;
        let mut head = Vec::new();
        let mut buf = [0u8; 2048];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 16 * 1024 {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }
        }
        let line = String::from_utf8_lossy(&head)
            .lines()
            .next()
            .unwrap_or("")
            .to_string();
        let target = line.split(' ').nth(1).unwrap_or("");
        let query = target.split_once('?').map(|(_, q)| q).unwrap_or("");
        let mut code = None;
        let mut error: Option<String> = None;
        let mut description = None;
        let mut got_state = None;
        for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
            match &*k {
                "code" => code = Some(SecretString::from(v.into_owned())),
                "error" => error = Some(v.into_owned()),
                "error_description" => description = Some(v.into_owned()),
                "state" => got_state = Some(v.into_owned()),
                _ => {}
            }
        }
        let error = error.map(|e| match description {
            Some(d) => format!("{e} ({d})"),
            None => e,
        });
        if code.is_none() && error.is_none() {
            // The browser asking for a favicon, or anything else: not the redirect.
            let _ = stream
                .write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
                .await;
            continue;
        }
        let matches = got_state.as_deref() == Some(state);
        let page = if matches && code.is_some() {
            "Ferry is signed in. You can close this window."
        } else {
            "The sign-in did not succeed. Go back to Ferry to see why."
        };
        let _ = stream
            .write_all(
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{page}",
                    page.len()
                )
                .as_bytes(),
            )
            .await;
        if !matches {
            return Err(failed(
                "the sign-in answer did not belong to this sign-in (state differs); start it again",
            ));
        }
        if let Some(error) = error {
            return Err(failed(format!("the sign-in was refused: {error}")));
        }
        if let Some(code) = code {
            return Ok(code);
        }
    }
}

impl InteractiveSignIn {
    async fn refresh(&self) -> Result<(AccessToken, Duration), TokenError> {
        let refresh = self
            .refresh_token
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
            .ok_or_else(|| {
                failed(
                    "the sign-in has expired and the provider gave no refresh token; sign in again",
                )
            })?;
        let mut form = vec![
            ("client_id", self.config.client_id.as_str()),
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh.expose_secret()),
        ];
        if let Some(secret) = &self.config.client_secret {
            form.push(("client_secret", secret.expose_secret()));
        }
        let answer = post_form(&self.endpoint, &form).await?;
        let (token, lifetime, new_refresh) = read_answer(
            self.endpoint.as_str(),
            answer.status,
            &answer.body,
            classify,
        )?;
        if let Some(r) = new_refresh {
            *self.refresh_token.lock().unwrap_or_else(|e| e.into_inner()) =
                Some(SecretString::from(r));
        }
        Ok((token, lifetime))
    }

    pub fn cache(&self) -> &TokenCache {
        &self.cache
    }
}

impl AccessTokenSource for InteractiveSignIn {
    fn token<'a>(&'a self, _user: &'a str) -> TokenFuture<'a> {
        Box::pin(async move { self.cache.get(ADMIN_KEY, || self.refresh()).await })
    }

    fn forget(&self, _user: &str) {
        self.cache.forget(ADMIN_KEY);
    }

    fn describe(&self) -> String {
        format!(
            "the administrator's sign-in to app {}",
            self.config.client_id
        )
    }

    fn provider(&self) -> OAuthProvider {
        self.config.provider
    }
}
