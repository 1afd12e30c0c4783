//! OAuth sign-in against a real Dovecot whose `oauth2` passdb asks the test kit's token server:
//! each grant with XOAUTH2 and OAUTHBEARER, and each failure its own error with advice.

use std::sync::Arc;
use std::time::Duration;

use ferry_imap::{
    AccessTokenSource, AuthMethod, Credentials, Endpoint, ImapError, RefusalKind, Timeouts,
    TokenErrorKind,
};
use ferry_oauth::{AppCredential, GoogleServiceAccount, MicrosoftApp};
use ferry_testkit::{Dovecot, Preset, TestKey, TokenServer};
use secrecy::SecretString;

const TENANT: &str = "contoso.onmicrosoft.com";
const APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
const SECRET: &str = "Qv~8Q~test-secret-value";
const SERVICE_ACCOUNT: &str = "ferry@ferry-test.iam.gserviceaccount.com";

fn timeouts() -> Timeouts {
    Timeouts::all(Duration::from_secs(20))
}

fn endpoint(server: &Dovecot) -> Endpoint {
    Endpoint::tls(server.host(), server.imaps_port()).pinned(server.cert_sha256())
}

fn setup(lifetime: Duration) -> (TokenServer, Dovecot) {
    let tokens = TokenServer::start(lifetime);
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    tokens.grant_mailbox(APP, "alice");
    let server = Dovecot::builder(Preset::Modern).oauth2(&tokens).start();
    (tokens, server)
}

fn microsoft_secret(tokens: &TokenServer, secret: &str) -> Arc<MicrosoftApp> {
    Arc::new(
        MicrosoftApp::new(
            TENANT,
            APP,
            AppCredential::Secret(SecretString::from(secret.to_string())),
            Some(&tokens.microsoft_token_url(TENANT)),
        )
        .unwrap(),
    )
}

async fn sign_in(
    server: &Dovecot,
    source: Arc<dyn AccessTokenSource>,
    user: &str,
    method: AuthMethod,
) -> Result<ferry_imap::Session, ImapError> {
    let creds = Credentials {
        method,
        ..Credentials::oauth(user, source)
    };
    ferry_imap::connect_and_login(&endpoint(server), &creds, timeouts()).await
}

#[tokio::test]
async fn microsoft_client_secret_both_mechanisms() {
    let (tokens, server) = setup(Duration::from_secs(60));
    let source = microsoft_secret(&tokens, SECRET);
    for method in [
        AuthMethod::XOAuth2,
        AuthMethod::OAuthBearer,
        AuthMethod::Auto,
    ] {
        let mut session = sign_in(&server, source.clone(), "alice", method)
            .await
            .unwrap_or_else(|e| panic!("{method:?}: {e}\n{}", server.log()));
        assert_eq!(session.user(), "alice");
        let inbox = session.status("INBOX").await.unwrap();
        assert_eq!(inbox.messages, 0);
        session.logout().await;
    }
    // One token served the three logins; Dovecot checked it at each.
    assert_eq!(tokens.tokens_issued(), 1);
    assert_eq!(tokens.introspections(), 3);
    // Dovecot offers both: the automatic choice is OAUTHBEARER, the standard.
    let log = server.log();
    assert_eq!(log.matches("method=XOAUTH2").count(), 1, "{log}");
    assert_eq!(log.matches("method=OAUTHBEARER").count(), 2, "{log}");
}

#[tokio::test]
async fn microsoft_certificate_both_mechanisms() {
    let tokens = TokenServer::start(Duration::from_secs(60));
    let key = TestKey::generate();
    tokens.add_app_with_certificate(TENANT, APP, &key);
    tokens.grant_mailbox(APP, "alice");
    tokens.grant_mailbox(APP, "bob");
    let server = Dovecot::builder(Preset::Modern).oauth2(&tokens).start();
    let source = Arc::new(
        MicrosoftApp::new(
            TENANT,
            APP,
            AppCredential::certificate(&key.private_pem, &key.certificate_pem).unwrap(),
            Some(&tokens.microsoft_token_url(TENANT)),
        )
        .unwrap(),
    );
    for (user, method) in [
        ("alice", AuthMethod::XOAuth2),
        ("bob", AuthMethod::OAuthBearer),
    ] {
        let session = sign_in(&server, source.clone(), user, method)
            .await
            .unwrap_or_else(|e| panic!("{user} {method:?}: {e}"));
        assert_eq!(session.user(), user);
        session.logout().await;
    }
    // One app token for both mailboxes.
    assert_eq!(tokens.tokens_issued(), 1);

    // A key whose certificate was never uploaded to the app.
    let other = TestKey::generate();
    let wrong = Arc::new(
        MicrosoftApp::new(
            TENANT,
            APP,
            AppCredential::certificate(&other.private_pem, &other.certificate_pem).unwrap(),
            Some(&tokens.microsoft_token_url(TENANT)),
        )
        .unwrap(),
    );
    let err = sign_in(&server, wrong, "alice", AuthMethod::Auto)
        .await
        .unwrap_err();
    let ImapError::TokenUnavailable { error, .. } = &err else {
        panic!("expected no token, got {err}");
    };
    assert_eq!(error.kind, TokenErrorKind::WrongKey, "{err}");
    assert_eq!(err.kind(), "token_unavailable");
    assert_eq!(err.advice(), TokenErrorKind::WrongKey.advice());
}

fn google_setup(tokens: &TokenServer, delegated: bool) -> (TestKey, Arc<GoogleServiceAccount>) {
    let key = TestKey::generate();
    tokens.add_service_account(SERVICE_ACCOUNT, &key, delegated);
    tokens.add_google_user("alice");
    tokens.add_google_user("bob");
    let file = tokens.service_account_key_file(SERVICE_ACCOUNT, &key);
    let source = Arc::new(GoogleServiceAccount::from_key_file(&file, None).unwrap());
    (key, source)
}

#[tokio::test]
async fn google_service_account_both_mechanisms() {
    let tokens = TokenServer::start(Duration::from_secs(60));
    let (_key, source) = google_setup(&tokens, true);
    let server = Dovecot::builder(Preset::Modern).oauth2(&tokens).start();
    for (user, method) in [
        ("alice", AuthMethod::XOAuth2),
        ("alice", AuthMethod::OAuthBearer),
        ("bob", AuthMethod::XOAuth2),
        ("bob", AuthMethod::OAuthBearer),
    ] {
        let session = sign_in(&server, source.clone(), user, method)
            .await
            .unwrap_or_else(|e| panic!("{user} {method:?}: {e}\n{}", server.log()));
        assert_eq!(session.user(), user);
        session.logout().await;
    }
    // One token per mailbox (sub = the user), each reused.
    assert_eq!(tokens.tokens_issued(), 2);
    // A token is for its own mailbox only: alice's token does not open bob's.
    let alice_token = source.token("alice").await.unwrap();
    let stuck = Arc::new(FixedToken(alice_token));
    let err = sign_in(&server, stuck, "bob", AuthMethod::Auto)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "oauth_refused", "{err}");
}

/// Always the same token: a source that cannot renew.
struct FixedToken(ferry_imap::AccessToken);

impl AccessTokenSource for FixedToken {
    fn token<'a>(&'a self, _user: &'a str) -> ferry_imap::TokenFuture<'a> {
        let t = self.0.clone();
        Box::pin(async move { Ok(t) })
    }
    fn forget(&self, _user: &str) {}
    fn describe(&self) -> String {
        "a fixed token".into()
    }
    fn provider(&self) -> ferry_imap::OAuthProvider {
        ferry_imap::OAuthProvider::Other
    }
}

/// Serves a token the server already considers expired first (as a cache would that trusted its
/// clock), then the real source's.
struct StaleFirst {
    stale: std::sync::Mutex<Option<ferry_imap::AccessToken>>,
    real: Arc<MicrosoftApp>,
    forgotten: std::sync::atomic::AtomicU32,
}

impl AccessTokenSource for StaleFirst {
    fn token<'a>(&'a self, user: &'a str) -> ferry_imap::TokenFuture<'a> {
        let stale = self.stale.lock().unwrap().take();
        Box::pin(async move {
            match stale {
                Some(t) => Ok(t),
                None => self.real.token(user).await,
            }
        })
    }
    fn forget(&self, user: &str) {
        self.forgotten
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.real.forget(user);
    }
    fn describe(&self) -> String {
        self.real.describe()
    }
    fn provider(&self) -> ferry_imap::OAuthProvider {
        self.real.provider()
    }
}

#[tokio::test]
async fn expired_token_is_retried_once_with_a_new_one() {
    // Tokens live 16 s: one younger than 4 s is not dropped when refused. The first token is
    // made older than that, then expired on the server; the new one has 4 s to serve the second
    // login (0.5 s with a 2 s life was too short on a loaded CI machine).
    let (tokens, server) = setup(Duration::from_secs(16));
    let real = microsoft_secret(&tokens, SECRET);
    let old = real.token("alice").await.unwrap();
    // The server's token expired; locally it still looks valid (clocks differ).
    tokio::time::sleep(Duration::from_millis(4100)).await;
    tokens.expire_issued_tokens();
    let pretend_valid = ferry_imap::AccessToken::new(
        old.secret().clone(),
        std::time::SystemTime::now() + Duration::from_secs(600),
    );
    let source = Arc::new(StaleFirst {
        stale: std::sync::Mutex::new(Some(pretend_valid)),
        real: real.clone(),
        forgotten: Default::default(),
    });
    for method in [AuthMethod::XOAuth2, AuthMethod::OAuthBearer] {
        *source.stale.lock().unwrap() = Some(ferry_imap::AccessToken::new(
            old.secret().clone(),
            std::time::SystemTime::now() + Duration::from_secs(600),
        ));
        let session = sign_in(&server, source.clone(), "alice", method)
            .await
            .unwrap_or_else(|e| panic!("{method:?}: {e}\n{}", server.log()));
        assert_eq!(session.user(), "alice");
        session.logout().await;
    }
    // Refused once per login, each time tried again on the same connection with the current
    // token: the first login had the expired one dropped and a new one fetched; the second
    // found that new one, too young to be dropped, and used it.
    assert_eq!(
        source.forgotten.load(std::sync::atomic::Ordering::Relaxed),
        2
    );
    assert_eq!(tokens.tokens_issued(), 2);
    assert_eq!(tokens.introspections(), 4);

    // A source that cannot renew: the refusal says the token expired.
    let expired = ferry_imap::AccessToken::new(old.secret().clone(), std::time::SystemTime::now());
    let err = sign_in(
        &server,
        Arc::new(FixedToken(expired)),
        "alice",
        AuthMethod::Auto,
    )
    .await
    .unwrap_err();
    let ImapError::OAuthRefused { refusal, .. } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(refusal.kind, RefusalKind::TokenExpired, "{err}");
}

#[tokio::test]
async fn each_failure_has_its_own_error_and_advice() {
    let tokens = TokenServer::start(Duration::from_secs(60));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    tokens.grant_mailbox(APP, "alice");
    let (_key, google) = google_setup(&tokens, true);
    let server = Dovecot::builder(Preset::Modern).oauth2(&tokens).start();

    // Wrong client secret: refused at the token endpoint.
    let err = sign_in(
        &server,
        microsoft_secret(&tokens, "not-the-secret"),
        "alice",
        AuthMethod::Auto,
    )
    .await
    .unwrap_err();
    let ImapError::TokenUnavailable { error, .. } = &err else {
        panic!("expected no token, got {err}");
    };
    assert_eq!(error.kind, TokenErrorKind::WrongClientSecret);
    assert_eq!(
        err.to_string(),
        format!(
            "no access token for \"alice\" from Microsoft 365 app {APP} in tenant {TENANT}: {} refused: invalid_client (AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.)",
            tokens.microsoft_token_url(TENANT)
        )
    );
    assert!(!err.to_string().contains("not-the-secret"));
    assert_eq!(err.advice(), TokenErrorKind::WrongClientSecret.advice());

    // Unknown user: Google's token endpoint does not know the mailbox.
    let err = sign_in(&server, google.clone(), "carol", AuthMethod::Auto)
        .await
        .unwrap_err();
    let ImapError::TokenUnavailable { error, .. } = &err else {
        panic!("expected no token, got {err}");
    };
    assert_eq!(error.kind, TokenErrorKind::UnknownUser, "{err}");
    assert!(
        err.to_string()
            .ends_with("refused: invalid_grant (Invalid email or User ID)"),
        "{err}"
    );

    // Missing permission: a valid app token, but the app was not given bob's mailbox.
    let err = sign_in(
        &server,
        microsoft_secret(&tokens, SECRET),
        "bob",
        AuthMethod::Auto,
    )
    .await
    .unwrap_err();
    let ImapError::OAuthRefused {
        refusal,
        provider,
        user,
        ..
    } = &err
    else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(user, "bob");
    assert_eq!(*provider, ferry_imap::OAuthProvider::Microsoft);
    assert_eq!(refusal.kind, RefusalKind::MailboxPermissionMissing, "{err}");
    assert!(
        err.advice().contains("Add-MailboxPermission"),
        "{}",
        err.advice()
    );

    // Wrong tenant.
    let source = Arc::new(
        MicrosoftApp::new(
            "fabrikam.onmicrosoft.com",
            APP,
            AppCredential::Secret(SecretString::from(SECRET.to_string())),
            Some(&tokens.microsoft_token_url("fabrikam.onmicrosoft.com")),
        )
        .unwrap(),
    );
    let err = sign_in(&server, source, "alice", AuthMethod::Auto)
        .await
        .unwrap_err();
    let ImapError::TokenUnavailable { error, .. } = &err else {
        panic!("expected no token, got {err}");
    };
    assert_eq!(error.kind, TokenErrorKind::WrongTenant, "{err}");

    // Delegation without the Gmail scope.
    let tokens2 = TokenServer::start(Duration::from_secs(60));
    let (_key, undelegated) = google_setup(&tokens2, false);
    let err = sign_in(&server, undelegated, "alice", AuthMethod::Auto)
        .await
        .unwrap_err();
    let ImapError::TokenUnavailable { error, .. } = &err else {
        panic!("expected no token, got {err}");
    };
    assert_eq!(error.kind, TokenErrorKind::ConsentMissing, "{err}");
    assert!(err.advice().contains("https://mail.google.com/"));
}

struct TestBrowser;

impl ferry_oauth::BrowserOpener for TestBrowser {
    fn open(&self, url: &str) -> Result<(), String> {
        // A browser shows the page while Ferry waits: follow the redirect on another thread.
        let url = url.to_string();
        std::thread::spawn(move || ferry_testkit::follow_redirect(&url).expect("sign-in redirect"));
        Ok(())
    }
}

#[tokio::test]
async fn interactive_admin_sign_in_opens_granted_mailboxes() {
    let tokens = TokenServer::start(Duration::from_secs(2));
    tokens.add_public_client(TENANT, APP, "admin");
    tokens.grant_mailbox(APP, "alice");
    let server = Dovecot::builder(Preset::Modern)
        .user("admin", "Admin-pw-1")
        .oauth2(&tokens)
        .start();
    let mut config = ferry_oauth::InteractiveConfig::microsoft(TENANT, APP);
    config.authorize_url = tokens.microsoft_authorize_url(TENANT);
    config.token_url = tokens.microsoft_token_url(TENANT);
    config.timeout = Duration::from_secs(20);
    let signed_in = Arc::new(ferry_oauth::sign_in(config, &TestBrowser).await.unwrap());
    for user in ["admin", "alice"] {
        let session = sign_in(&server, signed_in.clone(), user, AuthMethod::Auto)
            .await
            .unwrap_or_else(|e| panic!("{user}: {e}"));
        session.logout().await;
    }
    // Not granted: bob.
    let err = sign_in(&server, signed_in.clone(), "bob", AuthMethod::Auto)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "oauth_refused", "{err}");
    // After the token expired, the refresh token gives a new one.
    let issued = tokens.tokens_issued();
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let session = sign_in(&server, signed_in.clone(), "alice", AuthMethod::Auto)
        .await
        .unwrap();
    session.logout().await;
    assert_eq!(tokens.tokens_issued(), issued + 1);
}

#[tokio::test]
async fn a_session_outlives_its_token_and_nothing_prints_the_token() {
    let (tokens, server) = setup(Duration::from_secs(1));
    let source = microsoft_secret(&tokens, SECRET);
    let token = source.token("alice").await.unwrap();
    let mut session = sign_in(&server, source.clone(), "alice", AuthMethod::Auto)
        .await
        .unwrap();
    // Dovecot (like the hosts) checks the token at AUTHENTICATE only.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(!token.valid_for(Duration::ZERO));
    assert_eq!(session.status("INBOX").await.unwrap().messages, 0);
    session.logout().await;

    use secrecy::ExposeSecret;
    let secret = token.secret().expose_secret().to_string();
    let creds = Credentials::oauth("alice", source.clone());
    for printed in [format!("{creds:?}"), format!("{token:?}")] {
        assert!(!printed.contains(&secret), "{printed}");
        assert!(!printed.contains(SECRET), "{printed}");
    }
    assert_eq!(
        format!("{creds:?}"),
        format!("Credentials {{ user: \"alice\", secret: OAuth(Microsoft 365 app {APP} in tenant {TENANT}), login_as: None, method: Auto }}")
    );
    let refused = sign_in(&server, source, "bob", AuthMethod::Auto)
        .await
        .unwrap_err();
    for printed in [format!("{refused:?}"), refused.to_string()] {
        assert!(
            !printed.contains(&secret) && !printed.contains(SECRET),
            "{printed}"
        );
    }
}

#[tokio::test]
async fn a_declined_interactive_sign_in_says_so() {
    let tokens = TokenServer::start(Duration::from_secs(60));
    tokens.add_public_client(TENANT, APP, "admin");
    tokens.decline_consent(APP);
    let mut config = ferry_oauth::InteractiveConfig::microsoft(TENANT, APP);
    config.authorize_url = tokens.microsoft_authorize_url(TENANT);
    config.token_url = tokens.microsoft_token_url(TENANT);
    config.timeout = Duration::from_secs(20);
    let err = ferry_oauth::sign_in(config, &TestBrowser)
        .await
        .err()
        .unwrap();
    assert_eq!(err.kind, TokenErrorKind::SignInFailed);
    assert_eq!(
        err.message,
        "the sign-in was refused: access_denied (AADSTS65004: User declined to consent to access the app.)"
    );
    assert_eq!(tokens.tokens_issued(), 0);
}
