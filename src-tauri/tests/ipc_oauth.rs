//! Microsoft 365 and Google Workspace through Tauri's IPC layer on the mock runtime (no display):
//! `choose_oauth_destination` with the argument names and shapes the UI sends, the key files read
//! in Rust (never by the web view), the refusals as the UI receives them (code and words), the
//! secret in the vault under the key the syncs read and in no answer, and `check_logins` signing
//! in to every mailbox through the test kit's token server and an OAuth-only Dovecot (the app's
//! loopback override `FERRY_OAUTH_*`, set only in the last step). The harness is tests/mock_app's.

mod mock_app;

use std::time::Duration;

use ferry_testkit::{Dovecot, Preset, TestKey, TokenServer};
use mock_app::start;
use serde_json::{json, Value};

const TENANT: &str = "contoso.example";
const APP: &str = "6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b";
const SECRET: &str = "Qx8~app.secret_value-7f3aZ";

/// One test: the loopback override is process-wide, so it is set only after the steps that
/// check the providers' own hosts.
#[test]
fn the_apps_sign_in_through_ipc_one_way_checked_in_words_then_every_mailbox_checked() {
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

    let app = start(dir.path());
    app.invoke(
        "discover",
        json!({ "source": { "kind": "copy", "root": old.server_root().display().to_string() } }),
    )
    .unwrap();
    let plan = app.invoke("app_view", json!({})).unwrap()["plan"].clone();
    for a in plan.as_array().unwrap() {
        let address = a["source_address"].as_str().unwrap();
        app.invoke(
            "change_account",
            json!({ "sourceAddress": address, "change": { "change": "included", "value": planned.contains(&address) } }),
        )
        .unwrap();
    }

    // Refusals in words, with the code the UI branches on; nothing chosen.
    let err = app
        .invoke(
            "choose_oauth_destination",
            json!({ "signIn": { "kind": "microsoft_secret", "tenant": "contoso", "client_id": APP }, "clientSecret": SECRET }),
        )
        .unwrap_err();
    assert_eq!(err["code"], "invalid");
    assert_eq!(
        err["message"],
        "\"contoso\" is not a tenant. Enter the organisation's primary domain (for example contoso.onmicrosoft.com) or its Directory (tenant) ID, which looks like 00001111-aaaa-2222-bbbb-3333cccc4444."
    );
    let key = TestKey::generate();
    let other = TestKey::generate();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cert_file = write("app.crt", &key.certificate_pem);
    let key_file = write("app.key", &key.private_pem);
    let other_key = write("other.key", &other.private_pem);
    let certificate = |key_file: &str| {
        json!({ "signIn": { "kind": "microsoft_certificate", "tenant": TENANT, "client_id": APP,
            "certificate_file": cert_file, "key_file": key_file }, "clientSecret": null })
    };
    let err = app
        .invoke("choose_oauth_destination", certificate(&other_key))
        .unwrap_err();
    assert_eq!(err["code"], "invalid");
    assert_eq!(
        err["message"],
        format!("The private key in {other_key} does not belong to the certificate in {cert_file}. Choose the key the certificate was made with.")
    );
    let view = app.invoke("app_view", json!({})).unwrap();
    assert_eq!(view["oauth"], Value::Null);
    assert_eq!(view["destination"], Value::Null);

    // The certificate: read from the files into the vault; the view names the app, not the key.
    let view = app
        .invoke("choose_oauth_destination", certificate(&key_file))
        .unwrap();
    assert_eq!(
        view["oauth"],
        json!({ "kind": "microsoft_app", "tenant": TENANT, "client_id": APP, "credential": "certificate", "token_url": null })
    );
    assert_eq!(view["destination"]["preset"], "microsoft365");
    assert_eq!(
        view["destination"]["imap"],
        json!({ "host": "outlook.office365.com", "port": 993, "security": "tls" })
    );
    assert_eq!(
        app.stored(&format!("oauth:{TENANT}"), &format!("certificate:{APP}")),
        Some(format!(
            "{}\n{}",
            key.private_pem.trim_end(),
            key.certificate_pem.trim_end()
        ))
    );
    assert!(!view.to_string().contains("PRIVATE KEY"));

    // Google: the service account's JSON key names the account.
    let json_key =
        tokens.service_account_key_file("ferry@ferry-test.iam.gserviceaccount.com", &key);
    let json_file = write("ferry-test-0123.json", &json_key);
    let view = app
        .invoke(
            "choose_oauth_destination",
            json!({ "signIn": { "kind": "google_service_account", "key_file": json_file }, "clientSecret": null }),
        )
        .unwrap();
    assert_eq!(
        view["oauth"],
        json!({ "kind": "google_service_account", "client_email": "ferry@ferry-test.iam.gserviceaccount.com", "token_url": null })
    );
    assert_eq!(view["destination"]["preset"], "googleWorkspace");
    assert_eq!(
        app.stored(
            "oauth:ferry@ferry-test.iam.gserviceaccount.com",
            "service-account-key"
        ),
        Some(json_key)
    );

    // Microsoft 365 at the test kit's servers, the secret typed: every mailbox checked.
    std::env::set_var(
        "FERRY_OAUTH_IMAP",
        format!("127.0.0.1:{}", new.imaps_port()),
    );
    std::env::set_var("FERRY_OAUTH_IMAP_SHA256", new.cert_sha256());
    std::env::set_var(
        "FERRY_OAUTH_TOKEN_URL",
        format!("{}/{{tenant}}/oauth2/v2.0/token", tokens.base_url()),
    );
    let view = app
        .invoke(
            "choose_oauth_destination",
            json!({ "signIn": { "kind": "microsoft_secret", "tenant": TENANT, "client_id": APP }, "clientSecret": SECRET }),
        )
        .unwrap();
    assert!(!view.to_string().contains(SECRET));
    assert_eq!(
        view["destination"]["imap"],
        json!({ "host": "127.0.0.1", "port": new.imaps_port(), "security": "tls" })
    );
    assert_eq!(
        app.stored(&format!("oauth:{TENANT}"), &format!("client-secret:{APP}")),
        Some(SECRET.to_string())
    );
    let report = app.invoke("check_logins", json!({})).unwrap();
    assert!(!report.to_string().contains(SECRET));
    let view = app.invoke("app_view", json!({})).unwrap();
    let checks: Vec<(String, String)> = view["login_checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["side"] == "destination")
        .map(|c| {
            (
                c["account"].as_str().unwrap().to_string(),
                c["status"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let mut checks = checks;
    checks.sort();
    assert_eq!(
        checks,
        vec![
            ("arthur.smith@example.com".to_string(), "ok".to_string()),
            (
                "bjoern.mueller@example.org".to_string(),
                "failed".to_string()
            ),
            ("jane.doe@example.com".to_string(), "ok".to_string()),
        ]
    );
    let refused = view["login_checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["account"] == "bjoern.mueller@example.org")
        .unwrap();
    assert_eq!(
        refused["advice"],
        "Give the app access to this mailbox: in Exchange Online PowerShell, register the app's service principal once (New-ServicePrincipal) and run Add-MailboxPermission -Identity <mailbox> -User <service principal ID> -AccessRights FullAccess; also check that the mailbox exists in the app's tenant."
    );
}
