//! What OAuth sign-in costs next to a password login (its own test binary: no other test of
//! this crate runs beside it and skews the times).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ferry_imap::{AccessTokenSource, AuthMethod, Credentials, Endpoint, Timeouts};
use ferry_oauth::{AppCredential, MicrosoftApp};
use ferry_testkit::{Dovecot, Preset, TokenServer};
use secrecy::SecretString;

const TENANT: &str = "contoso.onmicrosoft.com";
const APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
const SECRET: &str = "Qv~8Q~test-secret-value";

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

/// Logins with a cached token against password logins on the same server: sign-in with OAuth
/// adds no measurable time (Dovecot's introspection call on loopback is the only extra step).
#[tokio::test]
async fn oauth_sign_in_with_a_cached_token_costs_what_a_password_login_costs() {
    let tokens = TokenServer::start(Duration::from_secs(3600));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    tokens.grant_mailbox(APP, "alice");
    let server = Dovecot::builder(Preset::Modern).oauth2(&tokens).start();
    let endpoint = Endpoint::tls(server.host(), server.imaps_port()).pinned(server.cert_sha256());
    let app: Arc<dyn AccessTokenSource> = Arc::new(
        MicrosoftApp::new(
            TENANT,
            APP,
            AppCredential::Secret(SecretString::from(SECRET.to_string())),
            Some(&tokens.microsoft_token_url(TENANT)),
        )
        .unwrap(),
    );
    app.token("alice").await.unwrap();
    let password = Credentials::new(
        "alice",
        SecretString::from(server.password("alice").to_string()),
    );
    let oauth = Credentials {
        method: AuthMethod::OAuthBearer,
        ..Credentials::oauth("alice", app.clone())
    };
    let rounds = 25;
    let (mut with_password, mut with_token) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        // Interleaved, so that both see the same machine load.
        for (creds, times) in [(&password, &mut with_password), (&oauth, &mut with_token)] {
            let t = Instant::now();
            let session = ferry_imap::connect_and_login(&endpoint, creds, Timeouts::default())
                .await
                .unwrap();
            times.push(t.elapsed());
            session.logout().await;
        }
    }
    let (p, o) = (median(with_password), median(with_token));
    eprintln!(
        "connect + login, median of {rounds}: password {:.2} ms, OAuth (cached token) {:.2} ms",
        p.as_secs_f64() * 1000.0,
        o.as_secs_f64() * 1000.0
    );
    assert_eq!(
        tokens.tokens_issued(),
        1,
        "every login used the cached token"
    );
    assert_eq!(tokens.introspections(), rounds as u64);
    // No measurable cost: within the noise of a TLS handshake on a shared machine.
    assert!(
        o <= p + p / 2 + Duration::from_millis(5),
        "OAuth {o:?} against password {p:?}"
    );
}
