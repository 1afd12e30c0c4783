//! `serveradmin` and `dscl` run with a clean environment: the real code path (LiveCommands,
//! as on the old Mac) with stand-in scripts that record their environment and print the
//! fixture's saved outputs. Ferry's environment holds the passwords it was given.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use ferry_discover::{discover, LiveCommands, SavedOutputs};

const SECRETS: [(&str, &str); 4] = [
    ("FERRY_SOURCE_PASSWORD", "src-pw-4711"),
    ("FERRY_DEST_PASSWORD", "dst-pw-4712"),
    ("FERRY_VAULT_PASSPHRASE", "vault-pass-4713"),
    ("FERRY_P12_PASSWORD", "p12-pass-4714"),
];

/// A script that writes its environment to `dump` and prints `output`.
fn stand_in(dir: &Path, name: &str, dump: &Path, output: &Path) -> String {
    let path = dir.join(name);
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\n/usr/bin/env > '{}'\n/bin/cat '{}'\n",
            dump.display(),
            output.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path.display().to_string()
}

fn names(dump: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(dump).unwrap();
    for (_, value) in SECRETS {
        assert!(!text.contains(value), "a secret reached the child: {text}");
    }
    let mut names: Vec<String> = text
        .lines()
        .filter_map(|l| l.split_once('=').map(|(n, _)| n.to_string()))
        .collect();
    names.sort();
    names
}

#[test]
fn serveradmin_and_dscl_get_no_secret_from_the_environment() {
    // Only this test in this binary changes the environment.
    for (name, value) in SECRETS {
        std::env::set_var(name, value);
    }
    std::env::set_var("LANG", "C.UTF-8");
    let tmp = tempfile::tempdir().unwrap();
    let root = common::materialize(tmp.path());
    let saved = root.join("commands");
    let bin = tmp.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    let (sa_env, dscl_env) = (
        tmp.path().join("serveradmin.env"),
        tmp.path().join("dscl.env"),
    );
    let live = LiveCommands {
        serveradmin: vec![stand_in(
            &bin,
            "serveradmin",
            &sa_env,
            &saved.join("serveradmin-settings-mail.txt"),
        )],
        dscl: stand_in(
            &bin,
            "dscl",
            &dscl_env,
            &saved.join("dscl-readall-Users.txt"),
        ),
        nodes: vec!["/Local/Default".into()],
        limit: Duration::from_secs(30),
    };
    let inventory = discover(&root, &live).expect("discovery with the live commands");
    // The same inventory as from the saved outputs (the stand-ins print them).
    let from_saved = discover(&root, &SavedOutputs::new(&root)).unwrap();
    assert_eq!(inventory.accounts, from_saved.accounts);

    let mut expected: Vec<String> = ["PATH", "LANG"]
        .into_iter()
        .chain(
            ["HOME", "USER", "LOGNAME", "TMPDIR", "LC_ALL", "LC_CTYPE"]
                .into_iter()
                .filter(|n| std::env::var_os(n).is_some()),
        )
        .map(str::to_string)
        .collect();
    // sh sets PWD itself.
    expected.push("PWD".into());
    expected.sort();
    assert_eq!(names(&sa_env), expected);
    assert_eq!(names(&dscl_env), expected);
}
