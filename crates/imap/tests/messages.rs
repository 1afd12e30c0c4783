//! APPEND with flags and dates, UID FETCH in batches, search, limits: read back through the server.

mod common;

use chrono::{DateTime, FixedOffset, TimeZone};
use common::*;
use ferry_imap::{AppendMessage, FetchItems, FlagChange, ImapError, Session, UidSet};
use ferry_testkit::{Dovecot, Preset};

fn date(h: i32) -> DateTime<FixedOffset> {
    FixedOffset::east_opt(h * 3600)
        .unwrap()
        .with_ymd_and_hms(2019, 3, 7, 9, 5, 42)
        .unwrap()
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

async fn read_back(s: &mut Session, folder: &str, uid: u32) -> ferry_imap::FetchedMessage {
    s.examine(folder).await.expect("examine");
    let mut got = s
        .uid_fetch(&UidSet::from_uids([uid]), FetchItems::FULL)
        .await
        .expect("fetch");
    assert_eq!(got.len(), 1, "uid {uid} in {folder}");
    got.remove(0)
}

#[tokio::test]
async fn append_with_flags_and_date_reads_back_byte_identical() {
    for (preset, user, folder) in [
        (Preset::Modern, "alice", "Archive/Ablage 2019"),
        (Preset::Prefixed, "bob", "INBOX.Entwürfe"),
        (Preset::OldMac, "asmith", "Gesendete Objekte"),
    ] {
        let server = Dovecot::start(preset);
        let mut s = login(&server, user).await;
        s.create(folder).await.expect("create");
        let raw = message(7, 20_000);
        let flags = strings(&["\\Seen", "\\Flagged", "$Forwarded", "\\Recent"]);
        let when = date(2);
        let appended = s
            .append(folder, &flags, Some(when), &raw)
            .await
            .expect("append")
            .expect("Dovecot has UIDPLUS: APPENDUID");
        let st = s.status(folder).await.unwrap();
        assert_eq!(appended.uid_validity, st.uid_validity);
        assert_eq!(st.uid_next, appended.uid + 1);

        // Through the server's own view (the test kit's client).
        let stored = server.messages(user, folder);
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].uid, appended.uid);
        assert_eq!(stored[0].bytes, raw, "{preset:?}: bytes differ");
        assert_eq!(stored[0].internal_date, when.timestamp());
        let mut f = stored[0].flags.clone();
        f.sort();
        assert_eq!(f, strings(&["$Forwarded", "\\Flagged", "\\Seen"]));

        // Through ours: same bytes, flags, date, size.
        let m = read_back(&mut s, folder, appended.uid).await;
        assert_eq!(m.body.as_deref(), Some(&raw[..]));
        // The same instant (Dovecot keeps the time, not the zone it was given in).
        assert_eq!(m.internal_date, Some(when));
        assert_eq!(m.size, Some(raw.len() as u32));
        let mut f = m.flags.clone();
        f.sort();
        assert_eq!(f, strings(&["$Forwarded", "\\Flagged", "\\Seen"]));

        // Found again by Message-ID.
        assert_eq!(
            s.uid_search_header("Message-ID", "<ferry-7@test.example>")
                .await
                .unwrap(),
            vec![appended.uid]
        );
        assert!(s
            .uid_search_header("Message-ID", "<nobody@test.example>")
            .await
            .unwrap()
            .is_empty());
        // A non-ASCII search value goes as a UTF-8 literal.
        assert_eq!(
            s.uid_search_header("From", "Jörg").await.unwrap(),
            vec![appended.uid]
        );
    }
}

#[tokio::test]
async fn many_messages_in_one_round_trip() {
    let server = Dovecot::start(Preset::Modern);
    let mut s = login(&server, "alice").await;
    let raws: Vec<Vec<u8>> = (0..60).map(|n| message(n, 500 + n * 97)).collect();
    let flags = [
        strings(&["\\Seen"]),
        strings(&[]),
        strings(&["\\Answered", "Junk"]),
    ];
    let msgs: Vec<AppendMessage<'_>> = raws
        .iter()
        .enumerate()
        .map(|(n, r)| AppendMessage {
            flags: &flags[n % 3],
            internal_date: Some(date((n % 5) as i32 - 2)),
            bytes: r,
        })
        .collect();
    // MULTIAPPEND (Dovecot offers it) for the first half, LITERAL+ pipelining for the rest.
    let (a, b) = msgs.split_at(30);
    let mut results = s.append_many("INBOX", a).await.expect("multiappend");
    results.extend(s.append_pipelined("INBOX", b).await.expect("pipelined"));
    let uids: Vec<u32> = results
        .into_iter()
        .map(|r| r.expect("appended").expect("APPENDUID").uid)
        .collect();
    let mut sorted = uids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 60, "distinct UIDs");

    // One UID FETCH for all (sparse set sent as ranges), streamed.
    let sel = s.examine("INBOX").await.unwrap();
    assert_eq!(sel.exists, 60);
    assert!(sel.read_only);
    let set = UidSet::from_uids(uids.iter().copied());
    let mut stream = s.uid_fetch_stream(&set, FetchItems::FULL).unwrap();
    let mut seen = 0;
    while let Some(m) = stream.next().await.unwrap() {
        let i = uids
            .iter()
            .position(|&u| u == m.uid)
            .expect("asked-for UID");
        assert_eq!(m.body.as_deref(), Some(&raws[i][..]));
        assert_eq!(m.internal_date, Some(date((i % 5) as i32 - 2)));
        let mut want = flags[i % 3].clone();
        want.sort();
        let mut got = m.flags.clone();
        got.sort();
        assert_eq!(got, want, "message {i}");
        seen += 1;
    }
    drop(stream);
    assert_eq!(seen, 60);

    // Headers only, for identity; `n:*` past the end yields nothing.
    let heads = s
        .uid_fetch(&UidSet::all(), FetchItems::HEADER)
        .await
        .unwrap();
    assert_eq!(heads.len(), 60);
    assert!(heads.iter().all(|m| m.body.is_none()
        && m.header
            .as_ref()
            .is_some_and(|h| h.starts_with(b"Message-ID: <ferry-"))));
    let past = s
        .uid_fetch(&UidSet::from_uid(sorted[59] + 1), FetchItems::META)
        .await
        .unwrap();
    assert!(past.is_empty(), "{past:?}");

    // Flags change on the destination, then read back.
    s.select("INBOX").await.unwrap();
    s.store_flags(
        &UidSet::from_uids([uids[1]]),
        FlagChange::Add,
        &strings(&["\\Flagged", "$Label1"]),
    )
    .await
    .unwrap();
    let m = s
        .uid_fetch(&UidSet::from_uids([uids[1]]), FetchItems::META)
        .await
        .unwrap();
    assert!(
        m[0].flags.contains(&"$Label1".to_string()),
        "{:?}",
        m[0].flags
    );

    // A stream dropped half-way leaves the session usable.
    let mut stream = s
        .uid_fetch_stream(&UidSet::all(), FetchItems::FULL)
        .unwrap();
    stream.next().await.unwrap().unwrap();
    drop(stream);
    assert_eq!(s.status("INBOX").await.unwrap().messages, 60);
    s.noop().await.unwrap();
}

#[tokio::test]
async fn size_and_quota_limits() {
    let server = Dovecot::builder(Preset::Modern)
        .max_message_size(50_000)
        .quota_bytes("alice", 120_000)
        .start();
    let mut s = login(&server, "alice").await;
    assert_eq!(s.capabilities().append_limit(), Some(Some(50_000)));
    let big = message(1, 60_000);
    match s.append("INBOX", &[], None, &big).await {
        Err(ImapError::TooBig { size, limit, .. }) => {
            assert_eq!(size, big.len() as u64);
            assert_eq!(limit, Some(50_000));
        }
        other => panic!("{other:?}"),
    }
    let fits = message(2, 40_000);
    let mut outcome = None;
    for _ in 0..5 {
        if let Err(e) = s.append("INBOX", &[], None, &fits).await {
            outcome = Some(e);
            break;
        }
    }
    match outcome {
        Some(ImapError::OverQuota { server_text, .. }) => {
            assert!(
                server_text.contains("OVERQUOTA") || server_text.to_lowercase().contains("quota")
            )
        }
        other => panic!("expected OverQuota, got {other:?}"),
    }
    // In a batch, each message gets its own answer: the batch is refused as a whole by the
    // server, then tried one by one.
    let small = message(3, 1000);
    let batch = [
        AppendMessage {
            flags: &[],
            internal_date: None,
            bytes: &fits,
        },
        AppendMessage {
            flags: &[],
            internal_date: None,
            bytes: &small,
        },
    ];
    let r = s
        .append_many("INBOX", &batch)
        .await
        .expect("connection fine");
    assert!(
        matches!(r[0], Err(ImapError::OverQuota { .. })),
        "{:?}",
        r[0]
    );
    assert!(r[1].is_ok(), "{:?}", r[1]);
    // APPEND to a folder that does not exist.
    match s.append("Nope", &[], None, &small).await {
        Err(ImapError::NoSuchFolder { folder, .. }) => assert_eq!(folder, "Nope"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn fetch_from_the_old_mac_store_matches_the_server() {
    let server = Dovecot::start(Preset::OldMac);
    let mut s = login(&server, "jdoe").await;
    let expected = server.messages("jdoe", "INBOX");
    assert!(!expected.is_empty());
    let sel = s.examine("INBOX").await.unwrap();
    assert_eq!(sel.exists as usize, expected.len());
    let got = s.uid_fetch(&UidSet::all(), FetchItems::FULL).await.unwrap();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.uid, e.uid);
        assert_eq!(g.body.as_deref(), Some(&e.bytes[..]), "uid {}", e.uid);
        assert_eq!(
            g.internal_date.map(|d| d.timestamp()),
            Some(e.internal_date)
        );
        let (mut a, mut b) = (g.flags.clone(), e.flags.clone());
        a.sort();
        b.sort();
        assert_eq!(a, b, "uid {}", e.uid);
    }
}
