//! Shared helpers of the integration tests.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub const JDOE: &str = "3F2A6C1E-8B4D-4E7A-9C21-5D0B7E6F1A23";
pub const ASMITH: &str = "9B7E4D52-1C3A-4F68-A2E9-0C5D8B1F7E46";
pub const BMUELLER: &str = "C41D09F8-6E2B-4A3C-8D7F-2B9E5A0C6D18";
pub const JUNKMAIL: &str = "5E8F1B3A-2D4C-4B6E-9A71-3C0D2E4F6A85";

/// A writable, materialized copy of fixtures/macos-server-5 (the test kit's); returns its
/// `.../Data/mail` folder.
pub fn materialized(tmp: &Path) -> PathBuf {
    ferry_testkit::materialize_fixture(tmp).join("Library/Server/Mail/Data/mail")
}

/// Every file and directory under `root`: relative path -> (is_dir, mtime, bytes of files).
pub type Snapshot = BTreeMap<PathBuf, (bool, SystemTime, Option<Vec<u8>>)>;

pub fn snapshot(root: &Path) -> Snapshot {
    let mut out = Snapshot::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_path_buf();
            if meta.is_dir() {
                stack.push(path.clone());
                out.insert(rel, (true, meta.modified().unwrap(), None));
            } else if meta.file_type().is_symlink() {
                out.insert(
                    rel,
                    (
                        false,
                        meta.modified().unwrap(),
                        Some(
                            std::fs::read_link(&path)
                                .unwrap()
                                .into_os_string()
                                .into_encoded_bytes(),
                        ),
                    ),
                );
            } else {
                out.insert(
                    rel,
                    (
                        false,
                        meta.modified().unwrap(),
                        Some(std::fs::read(&path).unwrap()),
                    ),
                );
            }
        }
    }
    out
}
