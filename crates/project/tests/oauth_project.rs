//! The migration project to a host that takes only OAuth 2.0 (a Dovecot whose `oauth2` passdb
//! asks the test kit's token server, as Microsoft 365 would): the app's secret goes into the
//! vault, the login check signs in to every planned mailbox and says which one the app may not
//! open, and the sync job copies every message exactly once with no user password anywhere.

mod common;

use std::time::Duration;

use common::{digests, FileVaultHost};
use ferry_oauth::{MicrosoftCredentialKind, OAuthSettings};
use ferry_project::jobs::{JobControl, JobKind};
use ferry_project::phases;
use ferry_testkit::{Dovecot, Preset, TokenServer};
use ferry_vault::Secret;

const TENANT: &str = "contoso.example";
const APP: &str = "ferry-app";
const SECRET: &str = "app-secret-7f3a";

#[tokio::test(flavor = "multi_thread")]
async fn a_migration_to_an_oauth_only_host() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let tokens = TokenServer::start(Duration::from_secs(30));
    tokens.add_app_with_secret(TENANT, APP, SECRET);
    let granted = ["jane.doe@example.com", "arthur.smith@example.com"];
    let new = {
        let mut b = Dovecot::builder(Preset::Modern);
        for user in granted.iter().chain(&["bjoern.mueller@example.org"]) {
            b = b.user(user, "unused-password");
        }
        b.oauth2(&tokens).start()
    };
    for mailbox in granted {
        tokens.grant_mailbox(APP, mailbox);
    }
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let path = dir.path().join("migration.ferry");
    let mut project = common::project_to(
        &path,
        &host,
        &old,
        &new,
        &[
            "jane.doe@example.com",
            "arthur.smith@example.com",
            "bjoern.mueller@example.org",
        ],
    );
    let settings = OAuthSettings::MicrosoftApp {
        tenant: TENANT.into(),
        client_id: APP.into(),
        credential: MicrosoftCredentialKind::ClientSecret,
        token_url: Some(tokens.microsoft_token_url(TENANT)),
    };
    phases::destination::set_oauth(
        &mut project,
        &host,
        &settings,
        Some(&Secret::new(SECRET.into())),
    )
    .unwrap();
    // The project file holds no secret.
    let bytes = std::fs::read(&path).unwrap();
    assert!(!bytes.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()));

    // Every planned mailbox signed into; the one the app was not granted says so.
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    let by_account: Vec<(String, bool)> = report
        .results
        .iter()
        .map(|r| {
            (
                r.account.clone(),
                r.status == ferry_vault::check::Status::Ok,
            )
        })
        .collect();
    assert_eq!(
        by_account,
        vec![
            ("jane.doe@example.com".to_string(), true),
            ("arthur.smith@example.com".to_string(), true),
            ("bjoern.mueller@example.org".to_string(), false),
        ]
    );
    let refused = &report.results[2];
    assert!(!refused.advice.is_empty(), "{refused:?}");

    // Sync only the granted mailboxes; exactly once, no password used.
    project
        .update_account(
            "bjoern.mueller@example.org",
            &ferry_project::plan::AccountChange::Included(false),
        )
        .unwrap();
    drop(project);
    let control = JobControl::new(JobKind::InitialSync);
    let job = phases::sync::run(&path, &host, &control, std::sync::Arc::new(|_| {}), None)
        .await
        .unwrap();
    assert!(job.not_started.is_empty(), "{:?}", job.not_started);
    assert_eq!(job.report.failed, 0, "{}", job.summary);
    assert!(job.report.copied > 0);
    let again = phases::sync::run(&path, &host, &control, std::sync::Arc::new(|_| {}), None)
        .await
        .unwrap();
    assert_eq!(again.report.copied, 0, "{}", again.summary);
    for (address, login) in [
        ("jane.doe@example.com", "jdoe"),
        ("arthur.smith@example.com", "asmith"),
    ] {
        assert_eq!(digests(&new, address), digests(&old, login), "{address}");
    }
    assert!(tokens.tokens_issued() >= 1);
}
