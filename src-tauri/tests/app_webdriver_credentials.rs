//! The real app importing the passwords from a file the admin already has. The fixture's copy is
//! discovered and a real Dovecot from the test kit (on 127.0.0.1, with the plan's users) chosen as
//! the new host, through the project's own phases; then on Credentials the admin types the file's
//! path (WebDriver cannot drive the system's open dialog): a missing file is refused in words; the
//! preview lists each password's row and what happens to it (one account not in the migration, one
//! left out of it, a line Ferry cannot read), with no password on the page; the import stores
//! them (the password table shows them stored); the offer to delete the file is taken and the file
//! is gone from the disk; Check logins then shows every account signing in. No password is in the
//! migration file. Screenshots go to `artifacts/app-e2e/credentials-import-*.png`.
//!
//!   (cd ui && npm run build)
//!   xvfb-run -a cargo test -p ferry-app --features custom-protocol --test app_webdriver_credentials -- --ignored

mod common;

use common::{
    click, scroll_to, shot, text, tid, type_into, wait_for, wait_text, AppEnv, Driver, PrepHost,
};
use fantoccini::{Client, Locator};
use ferry_project::plan::AccountKind;

/// A login check's words on the screen and its status code.
async fn status(c: &Client, css: &str) -> (String, String) {
    let shown = wait_text(c, css, "a login check", |t| !t.is_empty()).await;
    let code = wait_for(c, css).await.attr("data-status").await.unwrap();
    (shown, code.unwrap_or_default())
}

/// The preview table's row of a line as the admin reads it: the name in the file, the account,
/// its new address, what happens (the badge) and why.
async fn row(c: &Client, line: usize) -> [String; 5] {
    let tr = tid(&format!("import-row-{line}-destination"));
    let cell = |id: &str| format!("{tr} {}", tid(id));
    [
        text(c, &cell("import-user")).await,
        text(c, &cell("import-account")).await,
        text(c, &cell("import-new-address")).await,
        text(c, &cell("import-action")).await,
        text(c, &cell("import-note")).await,
    ]
}

fn strings<const N: usize>(a: [&str; N]) -> [String; N] {
    a.map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs a display, tauri-driver and WebKitWebDriver; run by scripts/test under xvfb-run"]
async fn a_password_file_is_previewed_imported_deleted_and_every_login_works() {
    let tmp = tempfile::tempdir().unwrap();
    let root = ferry_testkit::materialize_fixture(&tmp.path().join("fixture"));
    let project_dir = tmp.path().join("project");
    let project_path = project_dir.join(ferry_project::project::FILE_NAME);
    let vault = tmp.path().join("passwords.ferry-vault");

    // --- Discover and Destination, as the main real-app test clicks them ------------------------
    let prep = PrepHost {
        vault: vault.clone(),
    };
    let mut project = common::discover_copy(&project_path, &prep, &root);
    let movers: Vec<_> = project
        .plan()
        .unwrap()
        .into_iter()
        .filter(|a| a.included && a.present && a.kind == AccountKind::User)
        .collect();
    let logins: Vec<&str> = movers.iter().map(|a| a.login.as_str()).collect();
    assert_eq!(
        logins,
        ["jdoe", "asmith", "bmueller"],
        "the fixture's movers"
    );
    let password = |login: &str| format!("creds-e2e-{login}-Pw7");
    let mut builder = ferry_testkit::Dovecot::builder(ferry_testkit::Preset::Modern);
    for account in &movers {
        builder = builder.user(&account.dest_address, &password(&account.login));
    }
    let server = builder.start();
    common::choose_loopback_host(&mut project, &prep, &server, server.imaps_port());
    drop(project);
    assert_eq!(server.host(), "127.0.0.1");

    // The admin's list: jane by her new address, arthur and bjoern in other capitals;
    // marta (not moving: no mail store), somebody who is no account, and a line without a comma.
    let desktop = tmp.path().join("Desktop");
    std::fs::create_dir_all(&desktop).unwrap();
    let file = desktop.join("passwords.csv");
    let others = ["Marta-Not-Moving-1", "Nobody-Pw-1", "no-comma-Secret-1"];
    std::fs::write(
        &file,
        format!(
            "address,password\n\
             jane.doe@example.com,{}\n\
             Arthur.Smith@Example.com,{}\n\
             marta.wolf@example.com,{}\n\
             nobody@example.com,{}\n\
             this line has no comma {}\n\
             BJOERN.MUELLER@example.org,{}\n",
            password("jdoe"),
            password("asmith"),
            others[0],
            others[1],
            others[2],
            password("bmueller"),
        ),
    )
    .unwrap();
    let mut secrets: Vec<String> = logins.iter().map(|l| password(l)).collect();
    secrets.extend(others.iter().map(|s| s.to_string()));

    let driver = Driver::start(&AppEnv::new(&project_dir, &vault));
    let c = driver.session().await;
    click(&c, &tid("phase-credentials")).await;
    wait_for(&c, &tid("password-import")).await;
    assert_eq!(
        text(&c, &format!("{} h2", tid("password-import"))).await,
        "Import passwords from a file"
    );
    assert_eq!(
        text(&c, &tid("import-choose")).await,
        "Import a password file…"
    );
    assert_eq!(
        text(&c, &format!("{} h2", tid("passwords"))).await,
        "Passwords on 127.0.0.1 (0 of 3 sign in)"
    );
    shot(&c, "credentials-import-01-section.png").await;

    // --- A path that is not there: said in words, nothing to import -----------------------------
    let gone = desktop.join("passwrods.csv");
    type_into(&c, &tid("import-path"), &gone.display().to_string()).await;
    click(&c, &tid("import-preview")).await;
    assert_eq!(
        text(&c, &tid("import-error")).await,
        format!(
            "That did not work: Ferry cannot read {}: there is no such file (was it moved or deleted?).",
            gone.display()
        )
    );
    assert!(c.find(Locator::Css(&tid("import-run"))).await.is_err());
    scroll_to(&c, &tid("password-import")).await;
    shot(&c, "credentials-import-02-no-such-file.png").await;

    // --- The preview: every password's row, exactly; nothing stored yet --------------------------
    type_into(&c, &tid("import-path"), &file.display().to_string()).await;
    click(&c, &tid("import-preview")).await;
    wait_for(&c, &tid("import-table")).await;
    assert!(c.find(Locator::Css(&tid("import-error"))).await.is_err());
    assert_eq!(
        text(&c, &tid("import-file")).await,
        "Preview of passwords.csv"
    );
    assert_eq!(
        text(&c, &tid("import-counts")).await,
        "3 passwords to store, 2 skipped, 1 line Ferry cannot read"
    );
    let will = "Will be stored";
    let new_host = "Its password on the new host.";
    let expected = |action: &str| {
        [
            (
                2,
                strings([
                    "jane.doe@example.com",
                    "jane.doe@example.com",
                    "jane.doe@example.com",
                    action,
                    new_host,
                ]),
            ),
            (
                3,
                strings([
                    "Arthur.Smith@Example.com",
                    "arthur.smith@example.com",
                    "arthur.smith@example.com",
                    action,
                    new_host,
                ]),
            ),
            (
                4,
                strings([
                    "marta.wolf@example.com",
                    "marta.wolf@example.com",
                    "marta.wolf@example.com",
                    "Skipped",
                    "marta.wolf@example.com is left out of the migration (include it in step 2 to use this line).",
                ]),
            ),
            (
                5,
                strings([
                    "nobody@example.com",
                    "—",
                    "—",
                    "Skipped",
                    "No account of this migration is called nobody@example.com.",
                ]),
            ),
            (
                7,
                strings([
                    "BJOERN.MUELLER@example.org",
                    "bjoern.mueller@example.org",
                    "bjoern.mueller@example.org",
                    action,
                    new_host,
                ]),
            ),
        ]
    };
    let rows_now = c
        .find_all(Locator::Css(&format!("{} tbody > tr", tid("import-table"))))
        .await
        .unwrap();
    assert_eq!(rows_now.len(), 5, "one row per password read");
    for (line, want) in expected(will) {
        assert_eq!(row(&c, line).await, want, "line {line}");
    }
    assert_eq!(
        text(&c, &tid("bad-line-6")).await,
        "Line 6: expected 2 fields separated by ',', found 1."
    );
    assert!(
        c.find(Locator::Css(&tid("import-missing"))).await.is_err(),
        "every moving account is in the file"
    );
    assert_eq!(text(&c, &tid("import-run")).await, "Import 3 passwords");
    let page = c.source().await.unwrap();
    for secret in &secrets {
        assert!(!page.contains(secret.as_str()), "{secret} is on the page");
    }
    assert!(!vault.exists(), "a preview stores nothing");
    scroll_to(&c, &tid("import-file")).await;
    shot(&c, "credentials-import-03-preview.png").await;

    // --- The import: stored; the table shows them stored; the offer to delete the file ----------
    click(&c, &tid("import-run")).await;
    wait_for(&c, &tid("delete-offer")).await;
    assert_eq!(
        text(&c, &tid("import-done")).await,
        format!(
            "3 passwords stored from passwords.csv (2 skipped, 1 line unreadable). Ferry keeps them in the encrypted file {} (scrypt + XChaCha20-Poly1305; open it with your passphrase).",
            vault.display()
        )
    );
    assert_eq!(
        text(&c, &tid("import-counts")).await,
        "3 passwords stored, 2 skipped, 1 line Ferry cannot read"
    );
    for (line, want) in expected("Stored") {
        assert_eq!(row(&c, line).await, want, "line {line} after the import");
    }
    assert_eq!(
        text(&c, &format!("{} h2", tid("delete-offer"))).await,
        "The file still holds these passwords in clear. Delete it now?"
    );
    assert!(c.find(Locator::Css(&tid("import-choose"))).await.is_err());
    for login in &logins {
        let field = format!("{} {}", tid(&format!("cred-{login}")), tid("password"));
        assert_eq!(
            wait_for(&c, &field)
                .await
                .attr("placeholder")
                .await
                .unwrap()
                .as_deref(),
            Some("Stored (type to replace)"),
            "{login}"
        );
    }
    assert!(file.exists(), "nothing is deleted before the admin says so");
    scroll_to(&c, &tid("import-done")).await;
    shot(&c, "credentials-import-04-delete-offer.png").await;

    // --- Delete the file: gone from the disk; Check logins is next --------------------------------
    click(&c, &tid("delete-file")).await;
    assert_eq!(
        text(&c, &tid("file-fate")).await,
        format!(
            "Deleted {}: it was overwritten, then removed.",
            file.display()
        )
    );
    assert!(!file.exists(), "the password file is still on the disk");
    assert_eq!(std::fs::read_dir(&desktop).unwrap().count(), 0);
    assert!(c.find(Locator::Css(&tid("delete-offer"))).await.is_err());
    assert_eq!(
        text(&c, &tid("import-next")).await,
        "Next: click Check logins below to see that each password works."
    );
    assert_eq!(
        wait_for(&c, &tid("check-logins"))
            .await
            .attr("class")
            .await
            .unwrap()
            .as_deref(),
        Some("primary")
    );
    scroll_to(&c, &tid("file-fate")).await;
    shot(&c, "credentials-import-05-deleted.png").await;

    // --- Check logins: every account signs in with the imported password -------------------------
    click(&c, &tid("check-logins")).await;
    for login in &logins {
        let css = format!("{} {}", tid(&format!("cred-{login}")), tid("check-status"));
        assert_eq!(
            status(&c, &css).await,
            ("Signs in".to_string(), "ok".to_string()),
            "{login}"
        );
    }
    wait_text(&c, &format!("{} h2", tid("passwords")), "3 of 3", |t| {
        t == "Passwords on 127.0.0.1 (3 of 3 sign in)"
    })
    .await;
    // the pointer to Check logins is gone; the file's fate stays said
    assert!(c.find(Locator::Css(&tid("import-next"))).await.is_err());
    assert_eq!(
        text(&c, &tid("file-fate")).await,
        format!(
            "Deleted {}: it was overwritten, then removed.",
            file.display()
        )
    );
    scroll_to(&c, &tid("file-fate")).await;
    shot(&c, "credentials-import-06-checked.png").await;

    // no password on the page, in the migration file or in clear in the password file
    let page = c.source().await.unwrap();
    let project_bytes = std::fs::read(&project_path).unwrap();
    let vault_bytes = std::fs::read(&vault).unwrap();
    for secret in &secrets {
        assert!(!page.contains(secret.as_str()), "{secret} is on the page");
        for (what, bytes) in [("migration", &project_bytes), ("password", &vault_bytes)] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in clear in the {what} file"
            );
        }
    }
    c.close().await.unwrap();
}
