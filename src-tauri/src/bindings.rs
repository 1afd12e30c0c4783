//! The TypeScript types of everything that crosses IPC, generated from the Rust types with ts-rs
//! into `ui/src/bindings/` and checked in. The test below fails when the checked-in files drift
//! from the Rust types; `FERRY_UPDATE_BINDINGS=1 cargo test -p ferry-app bindings` rewrites them.
//! (The app's own types derive `TS` without `#[ts(export)]`: exporting happens here, into the UI,
//! rather than into a `bindings/` folder beside each crate.)

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use ts_rs::TS;

use crate::{AppView, CommandError, HostInfo};

/// `ui/src/bindings/`, from this crate's folder.
pub fn ui_bindings_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../ui/src/bindings")
}

/// Writes the bindings of every command's arguments and results (and the types they use) to `dir`.
pub fn export_to(dir: &Path) -> Result<(), ts_rs::ExportError> {
    // The roots: what commands return, take, or fail with. ts-rs follows their fields.
    AppView::export_all_to(dir)?;
    HostInfo::export_all_to(dir)?;
    CommandError::export_all_to(dir)?;
    ferry_project::jobs::JobEvent::export_all_to(dir)?;
    ferry_project::phases::destination::DestinationChoice::export_all_to(dir)?;
    ferry_project::plan::AccountChange::export_all_to(dir)?;
    ferry_project::credentials::CheckReport::export_all_to(dir)?;
    ferry_imap::CertificateInfo::export_all_to(dir)?;
    ferry_project::review::Review::export_all_to(dir)?;
    ferry_cutover::dns::DnsReport::export_all_to(dir)?;
    ferry_project::phases::cutover::DnsSettings::export_all_to(dir)?;
    ferry_project::phases::profiles::ProfilesChoice::export_all_to(dir)?;
    ferry_project::profiles::ExportReport::export_all_to(dir)?;
    ferry_project::phases::cutover::QuarantineTarget::export_all_to(dir)?;
    ferry_cutover::quarantine::QuarantineArchive::export_all_to(dir)?;
    crate::commands_phases::DecommissionScreen::export_all_to(dir)?;
    crate::commands_phases::OpenWhat::export_all_to(dir)?;
    crate::commands_phases::ResolveWay::export_all_to(dir)?;
    ferry_project::review::MessageRef::export_all_to(dir)?;
    crate::host::VaultStatus::export_all_to(dir)?;
    ferry_project::phases::credentials::ImportPreview::export_all_to(dir)?;
    ferry_project::phases::credentials::PasswordImport::export_all_to(dir)?;
    ferry_project::phases::destination::OAuthSignIn::export_all_to(dir)?;
    crate::commands_oauth::OAuthFile::export_all_to(dir)?;
    ferry_project::phases::sync::SourceImap::export_all_to(dir)?;
    Ok(())
}

/// The `.ts` files of a folder, by name.
pub fn read_ts_files(dir: &Path) -> std::io::Result<BTreeMap<String, String>> {
    let mut files = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.ends_with(".ts") {
            files.insert(name, std::fs::read_to_string(entry.path())?);
        }
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checked_in_bindings_match_the_rust_types() {
        let fresh = tempfile::tempdir().unwrap();
        export_to(fresh.path()).unwrap();
        let generated = read_ts_files(fresh.path()).unwrap();
        assert!(generated.contains_key("Inventory.ts"), "{generated:?}");
        let target = ui_bindings_dir();
        if std::env::var_os("FERRY_UPDATE_BINDINGS").is_some() {
            std::fs::create_dir_all(&target).unwrap();
            for old in read_ts_files(&target).unwrap().keys() {
                std::fs::remove_file(target.join(old)).unwrap();
            }
            for (name, text) in &generated {
                std::fs::write(target.join(name), text).unwrap();
            }
        }
        let checked_in = read_ts_files(&target).unwrap_or_default();
        let stale: Vec<_> = generated
            .iter()
            .filter(|(name, text)| checked_in.get(*name) != Some(text))
            .map(|(name, _)| name.as_str())
            .chain(
                checked_in
                    .keys()
                    .filter(|name| !generated.contains_key(*name))
                    .map(String::as_str),
            )
            .collect();
        assert!(
            stale.is_empty(),
            "ui/src/bindings/ is out of date with the Rust types ({stale:?}). Regenerate: \
             FERRY_UPDATE_BINDINGS=1 cargo test -p ferry-app bindings, then commit ui/src/bindings/"
        );
    }
}
