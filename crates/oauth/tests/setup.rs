//! Setting a sign-in up from the project's settings and the vault, the per-mailbox check the
//! destination phase shows, and the token cache under concurrent logins.

use std::sync::Arc;
use std::time::Duration;

use ferry_imap::{AccessTokenSource, Endpoint, Timeouts, TokenErrorKind};
use ferry_oauth::{
    check_mailboxes, store_secret, token_source, MicrosoftCredentialKind, OAuthSettings,
    OAuthSetupError,
};
use ferry_testkit::{Dovecot, Preset, TestKey, TokenServer};
use ferry_vault::{MemoryVault, Secret, Vault};

const TENANT: &str = "contoso.onmicrosoft.com";
const APP: &str = "00001111-aaaa-2222-bbbb-3333cccc4444";
const SECRET: &str = "Qv~8Q~test-secret-value";

fn secret_settings(tokens: &TokenServer) -> OAuthSettings {
    OAuthSettings::MicrosoftApp {
        tenant: TENANT.into(),
        client_id: APP.into(),
        credential: MicrosoftCredentialKind::ClientSecret,
        token_url: Some(tokens.microsoft_token_url(TENANT)),
    }
}

#[tokio::test]
async fn secrets_come_from_the_vault_under_a_synthetic_host() {
    let tokens = TokenServer::start(Duration::from_secs(60));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    let key = TestKey::generate();
    tokens.add_app_with_certificate("fabrikam.com", "app-2", &key);
    let vault = MemoryVault::new();
    let settings = secret_settings(&tokens);

    let err = token_source(&settings, &vault)
        .err()
        .expect("nothing stored yet");
    assert!(matches!(err, OAuthSetupError::NotStored { .. }));
    assert_eq!(
        err.to_string(),
        format!(
            "the client secret of app {APP} is not in the vault ({}); store it first",
            vault.describe()
        )
    );

    store_secret(&vault, &settings, &Secret::new(SECRET.into())).unwrap();
    assert_eq!(
        settings.vault_key(),
        (format!("oauth:{TENANT}"), format!("client-secret:{APP}"))
    );
    let stored = vault
        .get(&format!("oauth:{TENANT}"), &format!("client-secret:{APP}"))
        .unwrap();
    assert_eq!(stored.unwrap().expose(), SECRET);
    let source = token_source(&settings, &vault).unwrap();
    source.token("alice").await.unwrap();
    assert_eq!(tokens.tokens_issued(), 1);

    // The certificate credential: the private key and the certificate, one secret.
    let cert = OAuthSettings::MicrosoftApp {
        tenant: "Fabrikam.com".into(),
        client_id: "app-2".into(),
        credential: MicrosoftCredentialKind::Certificate,
        token_url: Some(tokens.microsoft_token_url("fabrikam.com")),
    };
    let both = format!("{}{}", key.private_pem, key.certificate_pem);
    store_secret(&vault, &cert, &Secret::new(both)).unwrap();
    assert_eq!(cert.vault_key().0, "oauth:fabrikam.com");
    token_source(&cert, &vault)
        .unwrap()
        .token("x")
        .await
        .unwrap();
    assert_eq!(tokens.tokens_issued(), 2);
    // A certificate without its key is refused before it is stored.
    let err = store_secret(&vault, &cert, &Secret::new(key.certificate_pem.clone())).unwrap_err();
    let OAuthSetupError::Settings(e) = &err else {
        panic!("{err}");
    };
    assert_eq!(e.kind, TokenErrorKind::BadSettings);
    // Another key with the certificate: refused, saying so, and nothing stored over the good one.
    let other = TestKey::generate();
    let err = store_secret(
        &vault,
        &cert,
        &Secret::new(format!("{}{}", other.private_pem, key.certificate_pem)),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the private key does not belong to the certificate (its public key is not the certificate's)"
    );
    token_source(&cert, &vault).unwrap();

    // Google: the JSON key file, checked against the account the project names.
    let google = OAuthSettings::GoogleServiceAccount {
        client_email: "other@ferry-test.iam.gserviceaccount.com".into(),
        token_url: Some(tokens.google_token_url()),
    };
    let file = tokens.service_account_key_file("ferry@ferry-test.iam.gserviceaccount.com", &key);
    let err = store_secret(&vault, &google, &Secret::new(file)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the key file is for ferry@ferry-test.iam.gserviceaccount.com, not for other@ferry-test.iam.gserviceaccount.com"
    );
    assert_eq!(
        vault
            .get(
                "oauth:other@ferry-test.iam.gserviceaccount.com",
                "service-account-key"
            )
            .unwrap()
            .map(|s| s.expose().to_string()),
        None
    );

    // The settings (what the project file keeps) carry no secret.
    let json = serde_json::to_string(&settings).unwrap();
    assert!(!json.contains(SECRET));
    assert_eq!(
        serde_json::from_str::<OAuthSettings>(&json).unwrap(),
        settings
    );
}

#[tokio::test]
async fn the_check_says_per_mailbox_what_is_missing() {
    let tokens = TokenServer::start(Duration::from_secs(60));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    tokens.grant_mailbox(APP, "alice");
    let server = Dovecot::builder(Preset::Modern).oauth2(&tokens).start();
    let vault = MemoryVault::new();
    let settings = secret_settings(&tokens);
    store_secret(&vault, &settings, &Secret::new(SECRET.into())).unwrap();
    let source = token_source(&settings, &vault).unwrap();
    let endpoint = Endpoint::tls(server.host(), server.imaps_port()).pinned(server.cert_sha256());
    let mailboxes = vec!["alice".to_string(), "bob".to_string(), "carol".to_string()];
    let checks = check_mailboxes(
        &endpoint,
        source,
        &mailboxes,
        Timeouts::all(Duration::from_secs(20)),
        2,
    )
    .await;
    assert_eq!(checks.len(), 3);
    assert_eq!(checks[0].mailbox, "alice");
    assert!(checks[0].ok, "{:?}", checks[0]);
    assert_eq!(checks[0].message, "alice: signed in");
    for (check, who) in checks[1..].iter().zip(["bob", "carol"]) {
        assert_eq!(check.mailbox, who);
        assert!(!check.ok);
        assert_eq!(check.kind.as_deref(), Some("oauth_refused"), "{check:?}");
        let advice = check.advice.as_deref().unwrap();
        assert!(advice.contains("Add-MailboxPermission"), "{advice}");
        assert!(
            check.message.contains(&format!("sign-in to \"{who}\"")),
            "{}",
            check.message
        );
    }
    // Two refused mailboxes did not make Ferry ask for new app tokens in a loop.
    assert_eq!(tokens.tokens_issued(), 1);

    // A wrong secret: every mailbox says so.
    let wrong = OAuthSettings::MicrosoftApp {
        tenant: TENANT.into(),
        client_id: APP.into(),
        credential: MicrosoftCredentialKind::ClientSecret,
        token_url: Some(tokens.microsoft_token_url(TENANT)),
    };
    let vault2 = MemoryVault::new();
    store_secret(&vault2, &wrong, &Secret::new("nope".into())).unwrap();
    let checks = check_mailboxes(
        &endpoint,
        token_source(&wrong, &vault2).unwrap(),
        &mailboxes[..1],
        Timeouts::all(Duration::from_secs(20)),
        1,
    )
    .await;
    assert_eq!(checks[0].kind.as_deref(), Some("token_unavailable"));
    assert_eq!(
        checks[0].advice.as_deref(),
        Some(TokenErrorKind::WrongClientSecret.advice())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_logins_share_one_fetch_and_renew_before_expiry() {
    let tokens = TokenServer::start(Duration::from_secs(2));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    let vault = MemoryVault::new();
    let settings = secret_settings(&tokens);
    store_secret(&vault, &settings, &Secret::new(SECRET.into())).unwrap();
    let source: Arc<dyn AccessTokenSource> = token_source(&settings, &vault).unwrap();
    let mut tasks = Vec::new();
    for i in 0..16 {
        let source = source.clone();
        tasks.push(tokio::spawn(async move {
            source
                .token(&format!("user{i}"))
                .await
                .map(|t| t.expires_at())
        }));
    }
    let mut expiries = Vec::new();
    for t in tasks {
        expiries.push(t.await.unwrap().unwrap());
    }
    assert_eq!(
        tokens.token_requests(),
        1,
        "one fetch for 16 logins at once"
    );
    assert!(expiries.windows(2).all(|w| w[0] == w[1]));
    // 2 s tokens are renewed 0.4 s before they expire: at 1.7 s a new one is fetched.
    tokio::time::sleep(Duration::from_millis(1700)).await;
    let renewed = source.token("user0").await.unwrap();
    assert_eq!(tokens.token_requests(), 2);
    assert!(renewed.valid_for(Duration::from_secs(1)));
    // A refusal right after a fetch keeps the token (it cannot have expired: the refusal is
    // about a mailbox)...
    source.forget("user0");
    source.token("user0").await.unwrap();
    assert_eq!(tokens.token_requests(), 2);
    // ...one after a quarter of its life drops it, and the next login fetches anew.
    tokio::time::sleep(Duration::from_millis(600)).await;
    source.forget("user0");
    source.token("user0").await.unwrap();
    assert_eq!(tokens.token_requests(), 3);
}
