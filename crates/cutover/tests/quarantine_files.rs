//! The quarantine archive in a folder the admin chose: archive files 0600 (they name senders and
//! subjects), a folder Ferry creates 0700, and no symbolic link followed at an archive's name
//! (a planted link to another mbox must not get quarantined mail appended).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ferry_cutover::mailflow;
use ferry_cutover::quarantine::{self, QuarantineMailbox};

fn mailboxes(root: &Path) -> Vec<QuarantineMailbox> {
    let accounts = mailflow::default_accounts(root);
    let training = quarantine::training_accounts(&accounts, &quarantine::TRAINING_ACCOUNTS);
    quarantine::find(root, &training).unwrap()
}

fn mode(path: &Path) -> u32 {
    std::fs::symlink_metadata(path)
        .unwrap()
        .permissions()
        .mode()
        & 0o777
}

const VICTIM: &[u8] =
    b"From me@example.com Thu Jan  1 00:00:00 2026\nSubject: my own archive\n\nkeep me\n";

#[test]
fn archive_files_are_private_and_links_are_not_followed() {
    unsafe { libc::umask(0o022) };
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(tmp.path());
    let found = mailboxes(&root);

    let out = tmp.path().join("archive/quarantine");
    let report = quarantine::archive_to_mbox(&found, &out).unwrap();
    assert_eq!(mode(&out), 0o700);
    assert_eq!(mode(&tmp.path().join("archive")), 0o700);
    for m in &report.mailboxes {
        assert_eq!(mode(Path::new(&m.destination)), 0o600, "{}", m.destination);
    }

    // A second folder with a link where virus.mbox goes, to the admin's own mbox.
    let victim = tmp.path().join("my-archive.mbox");
    std::fs::write(&victim, VICTIM).unwrap();
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out2 = tmp.path().join("archive2");
    std::fs::create_dir(&out2).unwrap();
    let link = out2.join("virus.mbox");
    std::os::unix::fs::symlink(&victim, &link).unwrap();
    let err = quarantine::archive_to_mbox(&found, &out2).unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "cannot write {}: {}; check free space and permissions of the destination folder",
            link.display(),
            ferry_safeio::fs::symlink_refused()
        )
    );
    assert_eq!(std::fs::read(&victim).unwrap(), VICTIM);
    assert_eq!(mode(&victim), 0o644);
}
