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
    for method in [AuthMethod::XOAuth2, AuthMethod::OAuthBearer, AuthMethod::Auto] {
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
}
