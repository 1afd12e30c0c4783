//! `ferry sync --allow-plaintext` with an accounts file: plain TCP stays with the loopback URL it
//! was allowed for; a host the file names elsewhere is refused with the file and line, before
//! any connection or state file (the real binary, a real file).

use std::process::Command;

#[test]
fn a_host_named_in_the_accounts_file_never_gets_plain_tcp() {
    let dir = tempfile::tempdir().unwrap();
    let accounts = dir.path().join("accounts.txt");
    std::fs::write(
        &accounts,
        "127.0.0.1:1143;jdoe;pw1;localhost:2143;jane;pw2\nmail.example.com;asmith;pw3;127.0.0.1:2143;arthur;pw4\n",
    )
    .unwrap();
    let state = dir.path().join("state");
    let out = Command::new(env!("CARGO_BIN_EXE_ferry"))
        .args(["sync", "--allow-plaintext", "--accounts"])
        .arg(&accounts)
        .args([
            "--source",
            "imap://127.0.0.1:1143",
            "--dest",
            "imap://127.0.0.1:2143",
        ])
        .env("FERRY_STATE_DIR", &state)
        .env_remove("FERRY_SOURCE_PASSWORD")
        .env_remove("FERRY_DEST_PASSWORD")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        format!(
            "ferry: {}, line 2: mail.example.com is not this computer, and plain connections (without TLS) are only allowed to a loopback address (127.0.0.1, ::1, localhost); use imaps:// or imap:// (STARTTLS) without --allow-plaintext for this host",
            accounts.display()
        )
    );
    assert!(!state.exists(), "nothing may be created before the refusal");
}
