//! Tokens in memory only, per key (a mailbox user, or one key for an app token that serves every
//! mailbox), renewed before they expire; one fetch at a time per key.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Deserialize;

use ferry_imap::{AccessToken, TokenError, TokenErrorKind};

/// How long before its expiry a token is renewed, at most; a short-lived token is renewed when
/// a fifth of its life is left, so that a login never starts with a token about to expire.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(5 * 60);

/// A cached token with when it was fetched and how long it lives.
struct Cached {
    token: AccessToken,
    margin: Duration,
    fetched: Instant,
    lifetime: Duration,
}

#[derive(Default)]
struct Slot {
    token: Mutex<Option<Cached>>,
    fetching: tokio::sync::Mutex<()>,
}

/// A token younger than this is not dropped when a server refuses it: it cannot have expired,
/// so the refusal is about the mailbox, and fetching anew for every refused mailbox would hammer
/// the token endpoint (Microsoft blocks clients that ask in a loop, AADSTS50196).
fn keep_at_least(lifetime: Duration) -> Duration {
    Duration::from_secs(60).min(lifetime / 4)
}

/// The cache. Cloning shares it.
#[derive(Clone, Default)]
pub struct TokenCache {
    slots: Arc<Mutex<HashMap<String, Arc<Slot>>>>,
    fetches: Arc<std::sync::atomic::AtomicU64>,
}

impl TokenCache {
    fn slot(&self, key: &str) -> Arc<Slot> {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        slots.entry(key.to_string()).or_default().clone()
    }

    fn fresh(slot: &Slot) -> Option<AccessToken> {
        let guard = slot.token.lock().unwrap_or_else(|e| e.into_inner());
        let cached = guard.as_ref()?;
        cached
            .token
            .valid_for(cached.margin)
            .then(|| cached.token.clone())
    }

    /// The cached token for `key` if it is not due for renewal, else a new one from `fetch`
    /// (which returns the token and its lifetime). Concurrent callers for one key wait for one
    /// fetch.
    pub async fn get<F, Fut>(&self, key: &str, fetch: F) -> Result<AccessToken, TokenError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(AccessToken, Duration), TokenError>>,
    {
        let slot = self.slot(key);
        if let Some(t) = Self::fresh(&slot) {
            return Ok(t);
        }
        let _one_fetch = slot.fetching.lock().await;
        if let Some(t) = Self::fresh(&slot) {
            return Ok(t);
        }
        let (token, lifetime) = fetch().await?;
        self.store(&slot, token.clone(), lifetime);
        Ok(token)
    }

    /// Stores a token fetched elsewhere (the interactive sign-in's first token).
    pub fn put(&self, key: &str, token: AccessToken, lifetime: Duration) {
        self.store(&self.slot(key), token, lifetime);
    }

    fn store(&self, slot: &Slot, token: AccessToken, lifetime: Duration) {
        *slot.token.lock().unwrap_or_else(|e| e.into_inner()) = Some(Cached {
            token,
            margin: REFRESH_MARGIN.min(lifetime / 5),
            fetched: Instant::now(),
            lifetime,
        });
        self.fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// The server refused `key`'s token: drop it, unless it was fetched moments ago (a quarter
    /// of its life, at most a minute), when it cannot have expired.
    pub fn forget(&self, key: &str) {
        let slot = self.slot(key);
        let mut guard = slot.token.lock().unwrap_or_else(|e| e.into_inner());
        if guard
            .as_ref()
            .is_some_and(|c| c.fetched.elapsed() >= keep_at_least(c.lifetime))
        {
            *guard = None;
        }
    }

    /// How many tokens were fetched so far (for tests and the bench).
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }
}

/// A token endpoint's success answer (RFC 6749 §5.1).
#[derive(Deserialize)]
pub(crate) struct TokenAnswer {
    pub access_token: String,
    #[serde(default)]
    pub expires_in: Option<serde_json::Value>,
    #[serde(default)]
    pub refresh_token: Option<String>,
}

/// A token endpoint's error answer (RFC 6749 §5.2, with Microsoft's `error_codes`).
#[derive(Deserialize, Default)]
pub(crate) struct ErrorAnswer {
    #[serde(default)]
    pub error: String,
    #[serde(default)]
    pub error_description: String,
    #[serde(default)]
    pub error_codes: Vec<u64>,
}

/// Reads a token endpoint's answer: the token and its lifetime, or the provider's error passed
/// to `classify` (which picks the kind) with its words in the message.
pub(crate) fn read_answer(
    endpoint: &str,
    status: u16,
    body: &[u8],
    classify: impl Fn(&ErrorAnswer) -> TokenErrorKind,
) -> Result<(AccessToken, Duration, Option<String>), TokenError> {
    if (200..300).contains(&status) {
        let answer: TokenAnswer = serde_json::from_slice(body).map_err(|e| {
            TokenError::new(
                TokenErrorKind::ProviderUnavailable,
                format!("{endpoint} answered without a usable token ({e})"),
            )
        })?;
        // Google and Microsoft send a number; some servers send a string.
        let seconds = match &answer.expires_in {
            Some(serde_json::Value::Number(n)) => n.as_u64(),
            Some(serde_json::Value::String(s)) => s.parse().ok(),
            _ => None,
        }
        .unwrap_or(3600);
        let lifetime = Duration::from_secs(seconds);
        let token = AccessToken::new(
            secrecy::SecretString::from(answer.access_token),
            SystemTime::now() + lifetime,
        );
        return Ok((token, lifetime, answer.refresh_token));
    }
    let error: ErrorAnswer = serde_json::from_slice(body).unwrap_or_default();
    if error.error.is_empty() {
        let kind = if status >= 500 {
            TokenErrorKind::ProviderUnavailable
        } else {
            TokenErrorKind::Refused
        };
        return Err(TokenError::new(
            kind,
            format!("{endpoint} answered HTTP {status} without an OAuth error"),
        ));
    }
    let kind = classify(&error);
    let description = error.error_description.lines().next().unwrap_or("").trim();
    Err(TokenError::new(
        kind,
        format!(
            "{endpoint} refused: {}{}",
            error.error,
            if description.is_empty() {
                String::new()
            } else {
                format!(" ({description})")
            }
        ),
    ))
}
