//! Property tests standing in for `cargo fuzz` (nightly only): every parser gets arbitrary bytes
//! and mutated copies of the fixture's real files. Properties: no panic; an error names the file
//! it was given and a line inside the input.
//!
//! Case count: `FERRY_FUZZ_CASES` (default 300, kept small for CI). A long run:
//! `FERRY_FUZZ_CASES=200000 cargo test -p ferry-discover --release --test parsers_fuzz`.

mod common;

use ferry_discover::{dscl, mutf7, plists, postfix, serveradmin, store, ParseError};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("FERRY_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300)
}

fn fixture(rel: &str) -> Vec<u8> {
    std::fs::read(
        common::shared_dir()
            .join("fixtures/macos-server-5")
            .join(rel),
    )
    .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Real inputs, one per parser (index = parser number in `run_parser`), read once.
fn seeds() -> &'static [Vec<u8>] {
    static SEEDS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    SEEDS.get_or_init(load_seeds)
}

fn load_seeds() -> Vec<Vec<u8>> {
    let mail = "Library/Server/Mail/Data/mail/";
    vec![
        fixture("commands/serveradmin-settings-mail.txt"),
        fixture("Library/Server/Mail/Config/postfix/main.cf"),
        fixture("Library/Server/Mail/Config/postfix/virtual_users"),
        fixture("Library/Server/Mail/Config/postfix/aliases"),
        fixture("commands/dscl-readall-Users.txt"),
        fixture("commands/dscl-list-Users-GeneratedUID.txt"),
        fixture("Library/Server/Mail/Data/db/.mailusersettings.plist"),
        fixture("Library/Server/Mail/Config/MailServicesOther.plist"),
        fixture(&format!(
            "{mail}3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23/maildirsize"
        )),
        fixture("Library/Server/Mail/Config/dovecot/partition_map.conf"),
        fixture(&format!(
            "{mail}C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18/subscriptions"
        )),
        b"Entw&APw-rfe Kunden.&BBIERQQ+BDQETwRJBDgENQ-.R&-D.&ZeVnLIqe-".to_vec(),
        fixture("commands/serveradmin-fullstatus-mail.txt"),
    ]
}

const PARSERS: usize = 13;

/// Runs parser `n` on `bytes`; returns the error, if any. Panics are the bug we look for.
fn run_parser(n: usize, bytes: &[u8]) -> Option<ParseError> {
    const F: &str = "input-file";
    let text = String::from_utf8_lossy(bytes);
    match n {
        0 | 12 => serveradmin::parse(F, &text).err(),
        1 => match postfix::MainCf::parse(F, &text) {
            Err(e) => Some(e),
            Ok(m) => {
                // Expansion is where loops and bad `${` hide: expand every parameter.
                let mut first = None;
                for line in text.lines() {
                    if let Some((name, _)) = line.split_once('=') {
                        if let Err(e) = m.get(name.trim()) {
                            first = first.or(Some(e));
                        }
                    }
                }
                first
            }
        },
        2 => postfix::parse_table(F, &text).err(),
        3 => postfix::parse_aliases(F, &text).err(),
        4 => dscl::parse_readall(F, &text).err(),
        5 => dscl::parse_list(F, &text).err(),
        6 => plists::parse_mail_user_settings(F, bytes).err(),
        7 => plists::parse_junk_accounts(F, bytes).err(),
        8 => store::parse_maildirsize(F, &text).err(),
        9 => store::parse_partition_map(F, &text).err(),
        10 => store::parse_subscriptions(F, &text).err(),
        11 => {
            // mUTF-7 returns a plain reason; wrap it to check the same way.
            let r = store::folder_name(&text).err();
            let _ = mutf7::decode(&text);
            r.map(|m| ParseError::new(F, 1, m))
        }
        _ => unreachable!(),
    }
}

fn check(n: usize, bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Some(e) = run_parser(n, bytes) {
        prop_assert_eq!(&e.file, "input-file", "parser {} lost the file name", n);
        let lines = String::from_utf8_lossy(bytes).lines().count().max(1);
        // Plist errors may be about the whole file (line 0); text parsers always give a line.
        let plist = n == 6 || n == 7;
        prop_assert!(
            e.line <= lines && (plist || e.line >= 1),
            "parser {} gave line {} for a {}-line input: {}",
            n,
            e.line,
            lines,
            e
        );
        prop_assert!(!e.message.is_empty());
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Replace(usize, u8),
    Insert(usize, Vec<u8>),
    Delete(usize, usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    // Bytes that matter to the grammars, plus anything.
    let interesting = prop_oneof![
        Just(b'"'),
        Just(b'\\'),
        Just(b'='),
        Just(b':'),
        Just(b'$'),
        Just(b'{'),
        Just(b'}'),
        Just(b'&'),
        Just(b'-'),
        Just(b'\n'),
        Just(b'\t'),
        Just(b' '),
        Just(b'<'),
        Just(b'>'),
        any::<u8>(),
    ];
    prop_oneof![
        (any::<usize>(), interesting.clone()).prop_map(|(p, b)| Mutation::Replace(p, b)),
        (any::<usize>(), prop::collection::vec(interesting, 1..8))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), 1usize..40).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), 1usize..80).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
    ]
}

fn apply(mut data: Vec<u8>, muts: &[Mutation]) -> Vec<u8> {
    for m in muts {
        let len = data.len().max(1);
        match m {
            Mutation::Replace(p, b) => {
                if !data.is_empty() {
                    let i = p % data.len();
                    data[i] = *b;
                }
            }
            Mutation::Insert(p, b) => {
                let i = p % (data.len() + 1);
                data.splice(i..i, b.iter().copied());
            }
            Mutation::Delete(p, n) => {
                let i = p % len;
                let end = (i + n).min(data.len());
                if i < end {
                    data.drain(i..end);
                }
            }
            Mutation::Duplicate(p, n) => {
                let i = p % len;
                let end = (i + n).min(data.len());
                if i < end {
                    let piece: Vec<u8> = data[i..end].to_vec();
                    data.splice(i..i, piece);
                }
            }
        }
    }
    data
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(n in 0..PARSERS, bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        check(n, &bytes)?;
    }

    #[test]
    fn mutated_real_files_never_panic(n in 0..PARSERS, muts in prop::collection::vec(mutation(), 1..6)) {
        let seed = seeds()[n].clone();
        let data = apply(seed, &muts);
        check(n, &data)?;
    }

    #[test]
    fn line_shaped_noise_never_panics(
        n in 0..PARSERS,
        lines in prop::collection::vec("[ \\t]{0,2}[-A-Za-z0-9_:=$\"\\\\{}()&+,.@#|/ ]{0,40}", 0..30),
    ) {
        let text = lines.join("\n");
        check(n, text.as_bytes())?;
    }
}

#[test]
fn real_files_parse() {
    for (n, seed) in seeds().iter().enumerate() {
        assert!(
            run_parser(n, seed).is_none(),
            "parser {n} rejects its real fixture file: {:?}",
            run_parser(n, seed)
        );
    }
}
