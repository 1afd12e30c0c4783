//! Profile export into a folder the admin chose: a symbolic link planted where a profile, the
//! manifest or the combined plist goes is refused, never written through (a profile may hold a
//! password), and its target is left as it was.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use ferry_project::destination::{Destination, PresetId};
use ferry_project::profiles::{accounts_from_inventory, export, ExportRequest};

fn request(out: &Path) -> ExportRequest<'static> {
    let inventory =
        ferry_project::discover::run(&ferry_testkit::fixture_root()).expect("discovery");
    ExportRequest {
        out_dir: out.to_path_buf(),
        migration_id: "mail.example.com".into(),
        organization: ferry_profiles::Organization {
            name: "Example GmbH".into(),
            domain: "example.com".into(),
        },
        destination: Destination::preset(PresetId::Fastmail),
        accounts: accounts_from_inventory(&inventory).0,
        passwords: None,
        signing: None,
        imap_with_native: false,
        ews_on_mac: false,
    }
}

const VICTIM: &[u8] = b"the admin's own file\n";

#[test]
fn a_link_where_an_export_file_goes_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("profiles");
    // A first export names the files.
    let report = export(request(&out)).unwrap();
    let victim = tmp.path().join("victim.txt");
    let mut names: Vec<String> = report.profiles.iter().map(|p| p.file.clone()).collect();
    names.push(report.manifest.clone());
    names.push(report.combined.clone());
    for name in names {
        std::fs::write(&victim, VICTIM).unwrap();
        std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o644)).unwrap();
        let at = out.join(&name);
        std::fs::remove_file(&at).unwrap();
        std::os::unix::fs::symlink(&victim, &at).unwrap();
        let err = export(request(&out)).expect_err(&name).to_string();
        assert_eq!(
            err,
            format!(
                "cannot write {}: {}; check that the folder is writable",
                at.display(),
                ferry_safeio::fs::symlink_refused()
            ),
            "{name}"
        );
        assert_eq!(std::fs::read(&victim).unwrap(), VICTIM, "{name}");
        assert_eq!(
            std::fs::metadata(&victim).unwrap().permissions().mode() & 0o777,
            0o644
        );
        std::fs::remove_file(&at).unwrap();
        export(request(&out)).unwrap();
    }
}
