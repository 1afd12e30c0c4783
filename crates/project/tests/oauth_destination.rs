//! Microsoft 365 and Google Workspace as the Destination screen takes them: the app's sign-in
//! checked in words (tenant, application ID, the secret's value and not its ID, key files that are
//! what they say), the secret read from the field or the chosen files into the vault and never into
//! the project file, and the check of every planned mailbox through the test kit's token server
//! and an OAuth-only Dovecot reached through the loopback endpoints a test gives.

mod common;

use std::time::Duration;

use common::FileVaultHost;
use ferry_oauth::{MicrosoftCredentialKind, OAuthSettings};
use ferry_project::destination::PresetId;
use ferry_project::phases::destination::{
    choose, choose_with_oauth, oauth_secret, oauth_settings, DestinationChoice, OAuthEndpoints,
    OAuthInputError, OAuthSignIn,
};
use ferry_project::phases::{self, PhaseError};
use ferry_project::project::{Project, ProjectError};
use ferry_testkit::{Dovecot, Preset, TestKey, TokenServer};
use ferry_vault::Secret;

const TENANT: &str = "contoso.example";
const APP: &str = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
const SECRET: &str = "Qx8~app.secret_value-7f3aZ";

fn secret_sign_in(tenant: &str, client_id: &str) -> OAuthSignIn {
    OAuthSignIn::MicrosoftSecret {
        tenant: tenant.into(),
        client_id: client_id.into(),
    }
}

fn input_error(r: Result<(OAuthSettings, Secret), OAuthInputError>) -> String {
    r.map(|_| ()).unwrap_err().to_string()
}

#[test]
fn what_the_admin_entered_is_checked_in_words() {
    let none = OAuthEndpoints::default();
    let s = Secret::new(SECRET.into());
    let check = |sign_in: OAuthSignIn, secret: Option<&Secret>| {
        input_error(oauth_secret(&sign_in, secret, &none))
    };
    assert_eq!(
        check(secret_sign_in("contoso", APP), Some(&s)),
        "\"contoso\" is not a tenant. Enter the organisation's primary domain (for example contoso.onmicrosoft.com) or its Directory (tenant) ID, which looks like 00001111-aaaa-2222-bbbb-3333cccc4444."
    );
    assert_eq!(
        check(secret_sign_in(" ", APP), Some(&s)),
        "Enter the tenant: the organisation's primary domain (for example contoso.onmicrosoft.com) or its Directory (tenant) ID from the overview page of Microsoft Entra."
    );
    assert_eq!(
        check(secret_sign_in(TENANT, "ferry-app"), Some(&s)),
        "\"ferry-app\" is not an application (client) ID. Copy it from the overview page of the app registration; it looks like 00001111-aaaa-2222-bbbb-3333cccc4444."
    );
    assert_eq!(
        check(secret_sign_in(TENANT, APP), Some(&Secret::new("  ".into()))),
        "Paste the client secret's value (Certificates & secrets in the app registration; it is shown only once, when the secret is created)."
    );
    assert_eq!(
        check(
            secret_sign_in(TENANT, APP),
            Some(&Secret::new("0a1b2c3d-0000-4000-8000-00000000abcd".into()))
        ),
        "That is the client secret's ID, not its value. Paste the Value column of the secret (shown only once, when it is created; if it is gone, create a new secret)."
    );
    // A tenant ID (GUID) and a domain are both tenants; the secret is trimmed.
    let (settings, secret) = oauth_secret(
        &secret_sign_in("72F988BF-86F1-41AF-91AB-2D7CD011DB47", APP),
        Some(&Secret::new(format!(" {SECRET}\n"))),
        &OAuthEndpoints {
            token_url: Some("http://127.0.0.1:9/{tenant}/oauth2/v2.0/token".into()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(secret.expose(), SECRET);
    assert_eq!(
        settings,
        OAuthSettings::MicrosoftApp {
            tenant: "72F988BF-86F1-41AF-91AB-2D7CD011DB47".into(),
            client_id: APP.into(),
            credential: MicrosoftCredentialKind::ClientSecret,
            token_url: Some(
                "http://127.0.0.1:9/72F988BF-86F1-41AF-91AB-2D7CD011DB47/oauth2/v2.0/token".into()
            ),
        }
    );
}

#[test]
fn key_files_are_what_they_say() {
    let dir = tempfile::tempdir().unwrap();
    let none = OAuthEndpoints::default();
    let key = TestKey::generate();
    let other = TestKey::generate();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cert = write("app.crt", &key.certificate_pem);
    let key_file = write("app.key", &key.private_pem);
    let other_key = write("other.key", &other.private_pem);
    let missing = dir.path().join("nowhere.pem").display().to_string();
    let certificate = |certificate_file: &str, key_file: &str| OAuthSignIn::MicrosoftCertificate {
        tenant: TENANT.into(),
        client_id: APP.into(),
        certificate_file: certificate_file.into(),
        key_file: key_file.into(),
    };
    let check = |sign_in: OAuthSignIn| input_error(oauth_secret(&sign_in, None, &none));
    assert_eq!(
        check(certificate("", &key_file)),
        "Choose the certificate file."
    );
    assert_eq!(
        check(certificate(&missing, &key_file)),
        format!("Ferry cannot read the certificate file {missing}: it does not exist.")
    );
    assert_eq!(
        check(certificate(&key_file, &key_file)),
        format!("{key_file} holds no certificate. Choose the certificate you uploaded to the app registration, in PEM form (a text file that starts with -----BEGIN CERTIFICATE-----).")
    );
    assert_eq!(
        check(certificate(&cert, &cert)),
        format!("{cert} holds no private key. Choose the certificate's private key in PEM form (a text file that starts with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----), without a passphrase.")
    );
    assert_eq!(
        check(certificate(&cert, &other_key)),
        format!("The private key in {other_key} does not belong to the certificate in {cert}. Choose the key the certificate was made with.")
    );
    let binary = dir.path().join("app.pfx");
    std::fs::write(&binary, [0x30, 0x82, 0xff, 0xfe, 0x00]).unwrap();
    assert_eq!(
        check(certificate(&cert, &binary.display().to_string())),
        format!("Ferry cannot read the private key file {}: it is not a text file (Ferry reads PEM and JSON files, not binary .cer, .der or .pfx files).", binary.display())
    );
    let (settings, secret) = oauth_secret(&certificate(&cert, &key_file), None, &none).unwrap();
    assert_eq!(
        settings,
        OAuthSettings::MicrosoftApp {
            tenant: TENANT.into(),
            client_id: APP.into(),
            credential: MicrosoftCredentialKind::Certificate,
            token_url: None,
        }
    );
    assert_eq!(
        secret.expose(),
        format!(
            "{}\n{}",
            key.private_pem.trim_end(),
            key.certificate_pem.trim_end()
        )
    );
    // One file holding both is chosen twice.
    let both = write(
        "both.pem",
        &format!("{}{}", key.private_pem, key.certificate_pem),
    );
    oauth_secret(&certificate(&both, &both), None, &none).unwrap();

    // Google: the service account's JSON key names the account.
    let google = |key_file: &str| OAuthSignIn::GoogleServiceAccount {
        key_file: key_file.into(),
    };
    let not_a_key = " is not a service account's JSON key. In the Google Cloud console, open the service account, then Keys, Add key, Create new key, JSON, and choose the file it downloads.";
    assert_eq!(check(google(&cert)), format!("{cert}{not_a_key}"));
    let oauth_client = write(
        "client_secret.json",
        r#"{"installed":{"client_id":"1.apps.googleusercontent.com","client_secret":"x"}}"#,
    );
    assert_eq!(
        check(google(&oauth_client)),
        format!("{oauth_client}{not_a_key}")
    );
    assert_eq!(
        check(google(dir.path().to_str().unwrap())),
        format!(
            "Ferry cannot read the service account's key file {}: it is a folder, not a file.",
            dir.path().display()
        )
    );
    let tokens = TokenServer::start(Duration::from_secs(30));
    let json = tokens.service_account_key_file("ferry@ferry-test.iam.gserviceaccount.com", &key);
    let json_file = write("ferry-test-0123.json", &json);
    let (settings, secret) = oauth_secret(&google(&json_file), None, &none).unwrap();
    assert_eq!(
        settings,
        OAuthSettings::GoogleServiceAccount {
            client_email: "ferry@ferry-test.iam.gserviceaccount.com".into(),
            token_url: None,
        }
    );
    assert_eq!(secret.expose(), json);
}

#[tokio::test(flavor = "multi_thread")]
async fn microsoft_365_with_the_apps_secret_checks_every_mailbox_and_another_host_forgets_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let tokens = TokenServer::start(Duration::from_secs(30));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    let planned = [
        "jane.doe@example.com",
        "arthur.smith@example.com",
        "bjoern.mueller@example.org",
    ];
    let new = {
        let mut b = Dovecot::builder(Preset::Modern);
        for user in planned {
            b = b.user(user, "unused-password");
        }
        b.oauth2(&tokens).start()
    };
    tokens.grant_mailbox(APP, planned[0]);
    tokens.grant_mailbox(APP, planned[1]);
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let path = dir.path().join("migration.ferry");
    let mut project = common::project_to(&path, &host, &old, &new, &planned);
    let endpoints = OAuthEndpoints {
        imap: Some(("127.0.0.1".into(), new.imaps_port())),
        imap_sha256: Some(new.cert_sha256()),
        token_url: Some(format!(
            "{}/{{tenant}}/oauth2/v2.0/token",
            tokens.base_url()
        )),
    };

    // A wrong tenant is refused before anything is stored or chosen.
    let err = choose_with_oauth(
        &mut project,
        &host,
        &secret_sign_in("contoso", APP),
        Some(&Secret::new(SECRET.into())),
        &endpoints,
    )
    .unwrap_err();
    assert!(
        matches!(&err, PhaseError::Project(ProjectError::Invalid(m)) if m.starts_with("\"contoso\" is not a tenant.")),
        "{err}"
    );
    assert_eq!(oauth_settings(&project).unwrap(), None);
    assert_eq!(
        project.destination().unwrap().unwrap().preset,
        PresetId::GenericImap
    );

    let settings = choose_with_oauth(
        &mut project,
        &host,
        &secret_sign_in(TENANT, APP),
        Some(&Secret::new(SECRET.into())),
        &endpoints,
    )
    .unwrap();
    assert_eq!(oauth_settings(&project).unwrap(), Some(settings.clone()));
    let destination = project.destination().unwrap().unwrap();
    assert_eq!(destination.preset, PresetId::Microsoft365);
    assert_eq!(
        (destination.imap.host.as_str(), destination.imap.port),
        ("127.0.0.1", new.imaps_port())
    );
    let (vault_host, vault_user) = settings.vault_key();
    assert_eq!(
        common::open_vault(&host.vault_file)
            .unwrap()
            .get(&vault_host, &vault_user)
            .unwrap()
            .unwrap()
            .expose(),
        SECRET
    );
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));

    // Every planned mailbox signed into; the one the app was not given says what to do.
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    let shown: Vec<(&str, &str, &str)> = report
        .results
        .iter()
        .map(|r| (r.account.as_str(), r.status.label(), r.advice.as_str()))
        .collect();
    let permission = "Give the app access to this mailbox: in Exchange Online PowerShell, register the app's service principal once (New-ServicePrincipal) and run Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess; also check that the mailbox exists in the app's tenant.";
    assert_eq!(
        shown,
        vec![
            ("jane.doe@example.com", "OK", ""),
            ("arthur.smith@example.com", "OK", ""),
            ("bjoern.mueller@example.org", "failed", permission),
        ]
    );

    // Another host (Fastmail) signs in with passwords again: the OAuth sign-in is forgotten.
    choose(
        &mut project,
        &host,
        &DestinationChoice {
            preset: PresetId::Fastmail,
            imap_host: None,
            imap_port: None,
            imap_security: None,
            smtp_host: None,
            pinned_sha256: None,
        },
    )
    .unwrap();
    assert_eq!(oauth_settings(&project).unwrap(), None);
    drop(project);
    assert_eq!(
        oauth_settings(&Project::open(&path).unwrap()).unwrap(),
        None
    );
}
