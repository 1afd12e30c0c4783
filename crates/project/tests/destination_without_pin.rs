//! A new host with a publicly signed certificate needs no pin: choosing it without one must
//! leave every later phase working. (The pin was stored as JSON null and read back as a string:
//! every login check and sync to such a host stopped with "the migration file could not be read".)

mod common;

use common::FileVaultHost;
use ferry_project::destination::PresetId;
use ferry_project::phases;
use ferry_project::project::Project;
use ferry_testkit::{Dovecot, Preset};

#[tokio::test(flavor = "multi_thread")]
async fn a_host_chosen_without_a_pin_is_checked_by_its_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "jane-new")
        .start();
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let path = dir.path().join("migration.ferry");
    let mut project = common::project_to(&path, &host, &old, &new, &["jane.doe@example.com"]);
    phases::destination::choose(
        &mut project,
        &host,
        &phases::destination::DestinationChoice {
            preset: PresetId::GenericImap,
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(new.imaps_port()),
            imap_security: None,
            smtp_host: None,
            pinned_sha256: None,
        },
    )
    .unwrap();
    let dest = project.destination().unwrap().unwrap();
    let endpoint = phases::sync::destination_endpoint(&project, &dest).unwrap();
    assert_eq!(endpoint.pinned_sha256, None);

    phases::credentials::set_destination_password(
        &project,
        &host,
        "jane.doe@example.com",
        &ferry_vault::Secret::from("jane-new".to_string()),
    )
    .unwrap();
    // The test kit's certificate is self-signed: without a pin the check reaches the host and
    // reports the certificate, per account, instead of failing on the project file.
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    let statuses: Vec<_> = report
        .results
        .iter()
        .map(|r| (r.account.as_str(), r.status))
        .collect();
    assert_eq!(
        statuses,
        vec![(
            "jane.doe@example.com",
            ferry_vault::check::Status::CertificateProblem
        )]
    );
    drop(project);
    // Chosen again with the pin: the same check signs in.
    let mut project = Project::open(&path).unwrap();
    phases::destination::choose(
        &mut project,
        &host,
        &phases::destination::DestinationChoice {
            preset: PresetId::GenericImap,
            imap_host: Some("127.0.0.1".into()),
            imap_port: Some(new.imaps_port()),
            imap_security: None,
            smtp_host: None,
            pinned_sha256: Some(new.cert_sha256()),
        },
    )
    .unwrap();
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    assert_eq!(report.ok, 1, "{report:?}");
}
