//! A password file the admin already has, read against the migration's plan: each password
//! matched to a planned account (by its new address, its login on the new host, its old address
//! or its short name) or left aside with why, bad lines by number and never by content; the
//! import stores exactly the matched passwords under the key the syncs read (a login check
//! against a real Dovecot signs in with them), logs the run without a secret, and the file is
//! overwritten and deleted afterwards.

mod common;

use std::path::{Path, PathBuf};

use common::FileVaultHost;
use ferry_project::destination::LoginName;
use ferry_project::phases;
use ferry_project::phases::credentials::{
    delete_password_file, import_password_file, preview_password_file, ImportAction, ImportPreview,
    MatchedBy, PasswordFileError, PASSWORD_IMPORT_PHASE,
};
use ferry_project::plan::AccountChange;
use ferry_project::project::{Project, RunOutcome};
use ferry_testkit::{Dovecot, Preset};
use ferry_vault::check::{Side, Status};

const INCLUDED: [&str; 3] = [
    "jane.doe@example.com",
    "arthur.smith@example.com",
    "bjoern.mueller@example.org",
];

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Each row as (line, side, user, account, matched by, action, first line, note).
type Row = (
    usize,
    Side,
    &'static str,
    Option<&'static str>,
    Option<MatchedBy>,
    ImportAction,
    Option<usize>,
    String,
);

fn rows(preview: &ImportPreview) -> Vec<Row> {
    preview
        .rows
        .iter()
        .map(|r| {
            (
                r.line,
                r.side,
                &*r.user.clone().leak(),
                r.account.clone().map(|a| &*a.leak()),
                r.matched_by,
                r.action,
                r.first_line,
                r.note.clone(),
            )
        })
        .collect()
}

fn bad(preview: &ImportPreview) -> Vec<(usize, &str)> {
    preview
        .bad_lines
        .iter()
        .map(|b| (b.line, b.reason.as_str()))
        .collect()
}

/// Nothing of a password (nor of a bad line's content) is in what the screen gets.
fn assert_no_secret(preview: &impl serde::Serialize, secrets: &[&str]) {
    let json = serde_json::to_string(preview).unwrap();
    for secret in secrets {
        assert!(!json.contains(secret), "{secret:?} is in {json}");
    }
}

#[test]
fn a_preview_matches_each_rule_says_why_not_and_shows_no_password() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::start(Preset::Modern);
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let mut project = common::project_to(
        &dir.path().join("migration.ferry"),
        &host,
        &old,
        &new,
        &INCLUDED,
    );
    // bmueller moves to another address: his old one is then only his old one
    project
        .update_account(
            "bjoern.mueller@example.org",
            &AccountChange::DestAddress("bjoern@example.net".into()),
        )
        .unwrap();

    // A plain list: the new host's passwords.
    let plain = write(
        dir.path(),
        "passwords.csv",
        "address,password\n\
         JANE.DOE@example.com,Pw-Jane-1\n\
         bjoern.mueller@example.org,Pw-Bjoern-1\n\
         nobody@example.com,Pw-Nobody-1\n\
         marta.wolf@example.com,Pw-Marta-1\n\
         jane.doe@example.com,Pw-Jane-2\n\
         \n\
         # a comment\n\
         broken-line-Pw-Broken-Secret\n\
         no-at-sign,Pw-NoAt-Secret\n\
         bjoern@example.net,\n",
    );
    let preview = preview_password_file(&project, &plain).unwrap();
    assert_eq!(preview.file, plain.display().to_string());
    assert_eq!(preview.format, "plain list (address,password)");
    assert_eq!(
        rows(&preview),
        vec![
            (
                2,
                Side::Destination,
                "JANE.DOE@example.com",
                Some("jane.doe@example.com"),
                Some(MatchedBy::NewAddress),
                ImportAction::Store,
                None,
                "Its password on the new host.".into()
            ),
            (
                3,
                Side::Destination,
                "bjoern.mueller@example.org",
                Some("bjoern.mueller@example.org"),
                Some(MatchedBy::OldAddress),
                ImportAction::Store,
                None,
                "Its password on the new host.".into()
            ),
            (
                4,
                Side::Destination,
                "nobody@example.com",
                None,
                None,
                ImportAction::NotInMigration,
                None,
                "No account of this migration is called nobody@example.com.".into()
            ),
            (
                5,
                Side::Destination,
                "marta.wolf@example.com",
                Some("marta.wolf@example.com"),
                Some(MatchedBy::NewAddress),
                ImportAction::Excluded,
                None,
                "marta.wolf@example.com is left out of the migration (include it in step 2 to use this line).".into()
            ),
            (
                6,
                Side::Destination,
                "jane.doe@example.com",
                Some("jane.doe@example.com"),
                Some(MatchedBy::NewAddress),
                ImportAction::Duplicate,
                Some(2),
                "Line 2 already gives this password.".into()
            ),
        ]
    );
    assert_eq!(
        preview.rows[1].new_address.as_deref(),
        Some("bjoern@example.net")
    );
    assert_eq!(
        bad(&preview),
        vec![
            (9, "expected 2 fields separated by ',', found 1"),
            (10, "the address has no '@'"),
            (11, "the password is empty"),
        ]
    );
    assert_eq!((preview.to_store, preview.skipped), (2, 3));
    assert_eq!(preview.not_in_file, vec!["arthur.smith@example.com"]);
    assert_no_secret(
        &preview,
        &[
            "Pw-Jane-1",
            "Pw-Bjoern-1",
            "Pw-Nobody-1",
            "Pw-Marta-1",
            "Pw-Jane-2",
            "Pw-Broken-Secret",
            "broken-line",
            "Pw-NoAt-Secret",
            "no-at-sign",
        ],
    );

    // imapsync: both sides on a line; the old server's password is not needed for an account
    // read from the server's disk; the new host's login matched by the short name.
    let imapsync = write(
        dir.path(),
        "imapsync.txt",
        "mail.example.com;asmith;Src-Arthur-1;imap.new.example;asmith;Dst-Arthur-1;\n\
         mail.example.com;jdoe;Src-Jane-1;imap.new.example;jane.doe;Dst-Jane-1\n\
         mail.example.com;jdoe;Src-Jane-2;imap.new.example;Dst-Jane-2\n",
    );
    let preview = preview_password_file(&project, &imapsync).unwrap();
    assert_eq!(
        preview.format,
        "imapsync (host1;user1;password1;host2;user2;password2)"
    );
    let disk = |who: &str| {
        format!("This is the old server's password, and Ferry reads {who}'s mail from the server's disk.")
    };
    assert_eq!(
        rows(&preview),
        vec![
            (
                1,
                Side::Source,
                "asmith",
                Some("arthur.smith@example.com"),
                Some(MatchedBy::ShortName),
                ImportAction::NotNeeded,
                None,
                disk("arthur.smith@example.com")
            ),
            (
                1,
                Side::Destination,
                "asmith",
                Some("arthur.smith@example.com"),
                Some(MatchedBy::ShortName),
                ImportAction::Store,
                None,
                "Its password on the new host.".into()
            ),
            (
                2,
                Side::Source,
                "jdoe",
                Some("jane.doe@example.com"),
                Some(MatchedBy::ShortName),
                ImportAction::NotNeeded,
                None,
                disk("jane.doe@example.com")
            ),
            // the new host's login is the full address: "jane.doe" names no account
            (
                2,
                Side::Destination,
                "jane.doe",
                None,
                None,
                ImportAction::NotInMigration,
                None,
                "No account of this migration is called jane.doe.".into()
            ),
        ]
    );
    assert_eq!(
        bad(&preview),
        vec![(
            3,
            "expected 6 fields separated by ';' (host1;user1;password1;host2;user2;password2), found 5"
        )]
    );
    assert_no_secret(
        &preview,
        &[
            "Src-Arthur-1",
            "Dst-Arthur-1",
            "Src-Jane-1",
            "Dst-Jane-1",
            "Src-Jane-2",
            "Dst-Jane-2",
        ],
    );

    // A host whose login is the part before the '@': "jane.doe" is now jane's login there.
    let mut dest = project.destination().unwrap().unwrap();
    dest.login = LoginName::LocalPart;
    project.set_destination(&dest).unwrap();
    let preview = preview_password_file(&project, &imapsync).unwrap();
    assert_eq!(
        (
            preview.rows[3].account.as_deref(),
            preview.rows[3].matched_by,
            preview.rows[3].action
        ),
        (
            Some("jane.doe@example.com"),
            Some(MatchedBy::DestinationLogin),
            ImportAction::Store
        )
    );

    // Microsoft's CSV holds the old server's logins: not needed for accounts read from disk.
    let microsoft = write(
        dir.path(),
        "microsoft.csv",
        "EmailAddress,UserName,Password\r\njane.doe@example.com,jdoe,Ms-Jane-1\r\n",
    );
    let preview = preview_password_file(&project, &microsoft).unwrap();
    assert_eq!(
        rows(&preview),
        vec![(
            2,
            Side::Source,
            "jdoe",
            Some("jane.doe@example.com"),
            Some(MatchedBy::ShortName),
            ImportAction::NotNeeded,
            None,
            disk("jane.doe@example.com")
        )]
    );
    assert_eq!((preview.to_store, preview.skipped), (0, 1));
    assert_eq!(preview.not_in_file, INCLUDED.to_vec());

    // Files that cannot be used say what to do, without system error codes.
    let unknown = write(dir.path(), "notes.txt", "# passwords\njust some words\n");
    let empty = write(dir.path(), "empty.csv", "\n# nothing yet\n");
    let missing = dir.path().join("gone.csv");
    let messages: Vec<String> = [&unknown, &empty, &missing, &dir.path().to_path_buf()]
        .iter()
        .map(|p| preview_password_file(&project, p).unwrap_err().to_string())
        .collect();
    assert_eq!(
        messages,
        vec![
            format!("Ferry cannot tell what kind of list {} is: line 2 fits none of the formats it reads. Save the list in one of the formats described here, then choose it again.", unknown.display()),
            format!("{} holds no passwords: it has only blank lines or lines starting with #.", empty.display()),
            format!("Ferry cannot read {}: there is no such file (was it moved or deleted?).", missing.display()),
            format!("Ferry cannot read {}: it is a folder, not a file.", dir.path().display()),
        ]
    );
    let err = preview_password_file(&project, Path::new("passwords.csv")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "Give the password file's full path (it starts with /); passwords.csv is not one."
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_stores_the_keys_the_syncs_read_and_the_logins_work() {
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::builder(Preset::Modern)
        .user("jane.doe@example.com", "Imp-Jane-7")
        .user("arthur.smith@example.com", "Imp-Arthur-7")
        .user("bjoern@example.net", "Imp-Bjoern-7")
        .start();
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let path = dir.path().join("migration.ferry");
    let mut project = common::project_to(&path, &host, &old, &new, &INCLUDED);
    project
        .update_account(
            "bjoern.mueller@example.org",
            &AccountChange::DestAddress("bjoern@example.net".into()),
        )
        .unwrap();

    // A file whose lines all fall aside stores nothing and logs nothing.
    let useless = write(
        dir.path(),
        "useless.csv",
        "nobody@example.com,Imp-Nobody-7\nmarta.wolf@example.com,Imp-Marta-7\n",
    );
    let err = import_password_file(&mut project, &host, &useless).unwrap_err();
    assert!(
        matches!(err, PasswordFileError::NothingToStore { .. }),
        "{err:?}"
    );
    assert_eq!(project.last_run(PASSWORD_IMPORT_PHASE).unwrap(), None);

    // jane by her new address, bjoern by his old one; arthur's line has a wrong password;
    // one line nobody's, one duplicate, one bad.
    let file = write(
        dir.path(),
        "passwords.csv",
        "jane.doe@example.com,Imp-Jane-7\n\
         bjoern.mueller@example.org,Imp-Bjoern-7\n\
         arthur.smith@example.com,Imp-Arthur-WRONG\n\
         nobody@example.com,Imp-Nobody-7\n\
         Jane.Doe@example.com,Imp-Jane-Second\n\
         Imp-Bad-Line-Secret\n",
    );
    let imported = import_password_file(&mut project, &host, &file).unwrap();
    assert_eq!(imported.stored, 3);
    assert_eq!(
        imported.summary,
        "3 passwords stored from passwords.csv (2 skipped, 1 line unreadable)"
    );
    let actions: Vec<(usize, ImportAction, String)> = imported
        .preview
        .rows
        .iter()
        .map(|r| (r.line, r.action, r.note.clone()))
        .collect();
    let stored = "Its password on the new host.".to_string();
    assert_eq!(
        actions,
        vec![
            (1, ImportAction::Stored, stored.clone()),
            (2, ImportAction::Stored, stored.clone()),
            (3, ImportAction::Stored, stored),
            (
                4,
                ImportAction::NotInMigration,
                "No account of this migration is called nobody@example.com.".into()
            ),
            (
                5,
                ImportAction::Duplicate,
                "Line 1 already gives this password.".into()
            ),
        ]
    );
    assert_eq!(
        bad(&imported.preview),
        vec![(6, "expected 2 fields separated by ',', found 1")]
    );
    assert_eq!(
        imported.stored_in,
        common::open_vault(&dir.path().join("vault"))
            .unwrap()
            .describe()
    );
    let secrets = [
        "Imp-Jane-7",
        "Imp-Bjoern-7",
        "Imp-Arthur-WRONG",
        "Imp-Nobody-7",
        "Imp-Jane-Second",
        "Imp-Bad-Line-Secret",
    ];
    assert_no_secret(&imported, &secrets);

    // Under the key the syncs read: (the new host, the login there).
    let vault = common::open_vault(&dir.path().join("vault")).unwrap();
    for (user, password) in [
        ("jane.doe@example.com", "Imp-Jane-7"),
        ("bjoern@example.net", "Imp-Bjoern-7"),
        ("arthur.smith@example.com", "Imp-Arthur-WRONG"),
    ] {
        assert_eq!(
            vault
                .get("127.0.0.1", user)
                .unwrap()
                .map(|s| s.expose().to_string()),
            Some(password.to_string()),
            "{user}"
        );
    }
    assert!(vault
        .get("127.0.0.1", "nobody@example.com")
        .unwrap()
        .is_none());

    // The run is in the phase log, without a password.
    let run = project.last_run(PASSWORD_IMPORT_PHASE).unwrap().unwrap();
    assert_eq!(run.outcome, RunOutcome::Succeeded);
    assert_eq!(
        run.result["summary"],
        "3 passwords stored from passwords.csv (2 skipped, 1 line unreadable)"
    );
    assert_eq!(
        run.result["stored"],
        serde_json::json!([
            { "line": 1, "side": "destination", "account": "jane.doe@example.com" },
            { "line": 2, "side": "destination", "account": "bjoern.mueller@example.org" },
            { "line": 3, "side": "destination", "account": "arthur.smith@example.com" },
        ])
    );
    drop(project);
    let project_bytes = std::fs::read(&path).unwrap();
    for secret in secrets {
        assert!(
            !project_bytes
                .windows(secret.len())
                .any(|w| w == secret.as_bytes()),
            "{secret} in the project file"
        );
    }

    // The login check signs in with what the import stored.
    let mut project = Project::open(&path).unwrap();
    let report = phases::credentials::check_logins(&mut project, &host)
        .await
        .unwrap();
    let statuses: Vec<(&str, Side, Status)> = report
        .results
        .iter()
        .map(|r| (r.account.as_str(), r.side, r.status))
        .collect();
    assert_eq!(
        statuses,
        vec![
            ("jane.doe@example.com", Side::Destination, Status::Ok),
            (
                "arthur.smith@example.com",
                Side::Destination,
                Status::WrongPassword
            ),
            ("bjoern.mueller@example.org", Side::Destination, Status::Ok),
        ]
    );

    // Then the file goes: overwritten and deleted.
    delete_password_file(&file).unwrap();
    assert!(!file.exists());
    // A second delete, and a symbolic link, are refused in words.
    let again = delete_password_file(&file).unwrap_err().to_string();
    assert_eq!(
        again,
        format!(
            "Ferry could not delete {}: there is no such file (was it moved or deleted?). Delete it yourself: it still holds passwords in clear.",
            file.display()
        )
    );
    let target = write(dir.path(), "keep.txt", "the admin's own file\n");
    let link = dir.path().join("link.csv");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    let refused = delete_password_file(&link).unwrap_err().to_string();
    assert_eq!(
        refused,
        format!(
            "Ferry did not delete {}: it is a symbolic link, and Ferry never overwrites a file through a link (it could point at any file). Delete the file it points to yourself: it still holds passwords in clear.",
            link.display()
        )
    );
    assert_eq!(
        std::fs::read_to_string(&target).unwrap(),
        "the admin's own file\n"
    );
}

#[test]
fn an_imapsync_import_counts_passwords_skipped_not_lines() {
    // Each imapsync line gives two passwords; for accounts read from the server's disk the old
    // server's is not needed. Both lines were used: the summary must not say "2 lines skipped".
    let dir = tempfile::tempdir().unwrap();
    let old = Dovecot::start(Preset::OldMac);
    let new = Dovecot::start(Preset::Modern);
    let host = FileVaultHost {
        vault_file: dir.path().join("vault"),
    };
    let mut project = common::project_to(
        &dir.path().join("migration.ferry"),
        &host,
        &old,
        &new,
        &INCLUDED,
    );
    let file = write(
        dir.path(),
        "imapsync.txt",
        "mail.example.com;asmith;Src-Arthur-3;imap.new.example;asmith;Dst-Arthur-3\n\
         mail.example.com;jdoe;Src-Jane-3;imap.new.example;jane.doe@example.com;Dst-Jane-3\n\
         mail.example.com;jdoe;Src-Jane-4;imap.new.example;Dst-Jane-4\n",
    );
    let imported = import_password_file(&mut project, &host, &file).unwrap();
    assert_eq!(
        (imported.stored, imported.preview.skipped),
        (2, 2),
        "{:?}",
        imported.preview.rows
    );
    assert_eq!(
        imported.summary,
        "2 passwords stored from imapsync.txt (2 skipped, 1 line unreadable)"
    );
    let run = project.last_run(PASSWORD_IMPORT_PHASE).unwrap().unwrap();
    assert_eq!(run.result["summary"], imported.summary);
}
