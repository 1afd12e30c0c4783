//! Builds the profiles of one user: which payloads go to which devices, their stable UUIDs and
//! identifiers, and the words the person installing reads.

use crate::model::{
    HostSettings, NativeAccount, Organization, ProfileOptions, ProfilePassword, ProfileUser,
    Security, Target,
};
use crate::payload::{
    self, payload_dict, Common, EasPayload, EwsPayload, GooglePayload, MailPayload, ProfileDoc,
};
use crate::ProfileError;
use uuid::Uuid;

/// Namespace of every UUID Ferry puts into a profile (a fixed random value: changing it would make
/// every device see re-exported profiles as new ones).
const UUID_NAMESPACE: Uuid = Uuid::from_u128(0x5c0e_7f4a_2d91_4b6e_a3f8_19c4_d2b7_e065);

/// One payload inside a profile, as listed in the manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadInfo {
    pub payload_type: &'static str,
    pub identifier: String,
    pub uuid: Uuid,
}

/// One finished profile: the bytes to write and what is in them.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `ProfileUser::key` of its user.
    pub user_key: String,
    pub address: String,
    pub target: Target,
    /// File name to write it under (no directory), e.g. "bmueller.mobileconfig".
    pub file_name: String,
    pub identifier: String,
    pub uuid: Uuid,
    pub payloads: Vec<PayloadInfo>,
    /// True when the file holds the account's password in clear (the admin asked for it).
    pub contains_password: bool,
    /// True once [`Profile::sign`] replaced the plist by a CMS SignedData.
    pub signed: bool,
    /// The XML plist, or after signing the DER-encoded CMS SignedData that embeds it.
    pub bytes: Vec<u8>,
}

impl Profile {
    /// Replaces the plist by a CMS SignedData that embeds it.
    pub fn sign(&mut self, signer: &crate::Signer) -> Result<(), ProfileError> {
        if self.signed {
            return Ok(());
        }
        self.bytes = signer.sign(&self.bytes)?;
        self.signed = true;
        Ok(())
    }
}

/// What to build for one user.
#[derive(Debug)]
pub struct ProfileRequest {
    pub user: ProfileUser,
    /// Only when the admin asked for passwords in this export.
    pub password: Option<ProfilePassword>,
}

/// Builds the profiles of every user, and checks that no two of them would share a file name or
/// an identifier (which would make one replace the other on a device).
pub fn build_all(
    migration: &str,
    org: &Organization,
    host: &HostSettings,
    requests: &[ProfileRequest],
    options: &ProfileOptions,
) -> Result<Vec<Profile>, ProfileError> {
    let mut all = Vec::new();
    let mut seen = std::collections::HashMap::new();
    for request in requests {
        for profile in build_user(
            migration,
            org,
            host,
            &request.user,
            request.password.as_ref(),
            options,
        )? {
            if let Some(other) = seen.insert(profile.file_name.clone(), profile.user_key.clone()) {
                return Err(ProfileError::Collision {
                    first: other,
                    second: profile.user_key.clone(),
                    file_name: profile.file_name.clone(),
                });
            }
            all.push(profile);
        }
    }
    Ok(all)
}

/// Builds the profiles of one user: one for every device when the host is plain IMAP, else one
/// for Macs and one for iPhones/iPads, since Apple's native account payloads differ between them.
pub fn build_user(
    migration: &str,
    org: &Organization,
    host: &HostSettings,
    user: &ProfileUser,
    password: Option<&ProfilePassword>,
    options: &ProfileOptions,
) -> Result<Vec<Profile>, ProfileError> {
    check_user(user)?;
    if migration.trim().is_empty() {
        return Err(ProfileError::Empty {
            what: "migration id",
            user: user.key.clone(),
        });
    }
    let base = base_identifier(org, user)?;
    let kinds: Vec<(Target, Vec<Kind>)> = match &host.native {
        None => vec![(Target::Any, vec![Kind::Imap])],
        Some(NativeAccount::Exchange { .. }) => {
            let extra = |k: Kind| {
                if options.imap_with_native {
                    vec![k, Kind::Imap]
                } else {
                    vec![k]
                }
            };
            vec![
                (Target::Mac, extra(Kind::Ews)),
                (Target::IPhoneIPad, extra(Kind::Eas)),
            ]
        }
        Some(NativeAccount::Google) => {
            let ios = if options.imap_with_native {
                vec![Kind::Google, Kind::Imap]
            } else {
                vec![Kind::Google]
            };
            // No Google payload exists for macOS: Macs get the IMAP account.
            vec![(Target::Mac, vec![Kind::Imap]), (Target::IPhoneIPad, ios)]
        }
    };
    kinds
        .into_iter()
        .map(|(target, kinds)| {
            build_one(migration, org, host, user, password, &base, target, &kinds)
        })
        .collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Imap,
    Ews,
    Eas,
    Google,
}

impl Kind {
    fn payload_type(self) -> &'static str {
        match self {
            Kind::Imap => payload::MAIL,
            Kind::Ews => payload::EWS,
            Kind::Eas => payload::EAS,
            Kind::Google => payload::GOOGLE,
        }
    }
    fn slug(self) -> &'static str {
        match self {
            Kind::Imap => "imap",
            Kind::Ews => "ews",
            Kind::Eas => "eas",
            Kind::Google => "google",
        }
    }
}

#[allow(clippy::too_many_arguments)] // one private step of build_user, all of whose inputs it needs
fn build_one(
    migration: &str,
    org: &Organization,
    host: &HostSettings,
    user: &ProfileUser,
    password: Option<&ProfilePassword>,
    base: &str,
    target: Target,
    kinds: &[Kind],
) -> Result<Profile, ProfileError> {
    let identifier = format!("{base}.{}", target.slug());
    let uuid = stable_uuid(migration, &user.key, target, "profile");
    let oauth_only = kinds.iter().all(|k| match k {
        Kind::Google => true,
        Kind::Ews | Kind::Eas => matches!(
            host.native,
            Some(NativeAccount::Exchange { oauth: true, .. })
        ),
        Kind::Imap => false,
    });
    let mut contains_password = false;
    let mut content = Vec::new();
    let mut infos = Vec::new();
    for &kind in kinds {
        let common = Common {
            payload_type: kind.payload_type(),
            payload_version: 1,
            identifier: format!("{identifier}.{}", kind.slug()),
            uuid: upper(stable_uuid(
                migration,
                &user.key,
                target,
                kind.payload_type(),
            )),
            display_name: match kind {
                Kind::Imap => format!("Mail account {}", user.address),
                Kind::Ews | Kind::Eas => format!("Exchange account {}", user.address),
                Kind::Google => format!("Google account {}", user.address),
            },
            description: match kind {
                Kind::Imap => format!(
                    "Receives mail for {} from {} (IMAP) and sends it through {} (SMTP).",
                    user.address, host.imap.incoming.host, host.imap.outgoing.host
                ),
                Kind::Ews | Kind::Eas => format!(
                    "Connects {} to {} (Exchange).",
                    user.address,
                    exchange_host(host)
                ),
                Kind::Google => format!(
                    "Adds the Google account {}; you sign in to Google after installing.",
                    user.address
                ),
            },
            organization: org.name.clone(),
        };
        infos.push(PayloadInfo {
            payload_type: kind.payload_type(),
            identifier: common.identifier.clone(),
            uuid: stable_uuid(migration, &user.key, target, kind.payload_type()),
        });
        let secret = password.map(|p| &p.0);
        let plist_err = |source| ProfileError::Plist {
            user: user.key.clone(),
            source,
        };
        content.push(match kind {
            Kind::Imap => {
                let imap = &host.imap;
                let with_password = secret.filter(|_| {
                    imap.incoming.auth != crate::model::MailAuth::None
                        || imap.outgoing.auth != crate::model::MailAuth::None
                });
                contains_password |= with_password.is_some();
                payload_dict(
                    &common,
                    &MailPayload {
                        account_type: "EmailTypeIMAP",
                        account_description: format!("{} ({})", org.name, user.address),
                        account_name: user.display_name.clone(),
                        address: user.address.clone(),
                        in_host: imap.incoming.host.clone(),
                        in_port: i64::from(imap.incoming.port),
                        in_ssl: imap.incoming.security != Security::None,
                        in_username: user.login.clone(),
                        in_auth: imap.incoming.auth.apple_name(),
                        in_path_prefix: imap.path_prefix.clone().filter(|p| !p.is_empty()),
                        in_password: with_password,
                        out_host: imap.outgoing.host.clone(),
                        out_port: i64::from(imap.outgoing.port),
                        out_ssl: imap.outgoing.security != Security::None,
                        out_username: user.login.clone(),
                        out_auth: imap.outgoing.auth.apple_name(),
                        out_password: with_password,
                        out_same_password: with_password.is_none().then_some(true),
                    },
                )
                .map_err(plist_err)?
            }
            Kind::Ews | Kind::Eas => {
                let oauth = matches!(
                    host.native,
                    Some(NativeAccount::Exchange { oauth: true, .. })
                );
                // Apple: "Don't specify a password if OAuth is true".
                let with_password = secret.filter(|_| !oauth);
                contains_password |= with_password.is_some();
                let (address, host_name, username) = (
                    user.address.clone(),
                    exchange_host(host).to_string(),
                    user.login.clone(),
                );
                let made = if kind == Kind::Ews {
                    payload_dict(
                        &common,
                        &EwsPayload {
                            address,
                            host: host_name,
                            ssl: true,
                            oauth,
                            username,
                            password: with_password,
                        },
                    )
                } else {
                    payload_dict(
                        &common,
                        &EasPayload {
                            address,
                            host: host_name,
                            ssl: true,
                            oauth,
                            username,
                            password: with_password,
                        },
                    )
                };
                made.map_err(plist_err)?
            }
            Kind::Google => payload_dict(
                &common,
                &GooglePayload {
                    account_description: format!("{} ({})", org.name, user.address),
                    account_name: user.display_name.clone(),
                    address: user.address.clone(),
                },
            )
            .map_err(plist_err)?,
        });
    }
    let sign_in = if contains_password {
        "This profile contains the password of the account: keep the file private and delete it once installed."
    } else if oauth_only {
        "After installing, sign in with your password when asked."
    } else {
        "You will be asked for your password while installing."
    };
    let doc = ProfileDoc {
        payload_type: "Configuration",
        payload_version: 1,
        identifier: identifier.clone(),
        uuid: upper(uuid),
        display_name: match target {
            Target::Any => format!("{} mail: {}", org.name, user.address),
            _ => format!("{} mail ({}): {}", org.name, target.human(), user.address),
        },
        description: format!(
            "Sets up the mail account {address} of {name} on {host}, the new mail service of {org}. \
             For {devices}. {sign_in}",
            address = user.address,
            name = user.display_name,
            host = host.name,
            org = org.name,
            devices = target.human(),
        ),
        organization: org.name.clone(),
        // Mail accounts live in the user's scope on macOS; iOS has only one.
        scope: (target == Target::Mac).then_some("User"),
        target_device_type: target.device_type(),
        content,
    };
    let mut bytes = Vec::new();
    plist::to_writer_xml(&mut bytes, &doc).map_err(|source| ProfileError::Plist {
        user: user.key.clone(),
        source,
    })?;
    let file_name = match target {
        Target::Any => format!("{}.mobileconfig", file_stem(&user.key)),
        _ => format!("{}-{}.mobileconfig", file_stem(&user.key), target.slug()),
    };
    Ok(Profile {
        user_key: user.key.clone(),
        address: user.address.clone(),
        target,
        file_name,
        identifier,
        uuid,
        payloads: infos,
        contains_password,
        signed: false,
        bytes,
    })
}

fn exchange_host(host: &HostSettings) -> &str {
    match &host.native {
        Some(NativeAccount::Exchange { host, .. }) => host,
        _ => &host.imap.incoming.host,
    }
}

/// UUID v5 of (migration, user, target, part): the same inputs give the same UUID on every export,
/// so a device replaces the profile it has instead of adding a second one.
pub fn stable_uuid(migration: &str, user_key: &str, target: Target, part: &str) -> Uuid {
    // U+001F (unit separator) cannot occur in any of the parts, so no two inputs collide.
    let seed = format!(
        "{migration}\u{1f}{user_key}\u{1f}{}\u{1f}{part}",
        target.slug()
    );
    Uuid::new_v5(&UUID_NAMESPACE, seed.as_bytes())
}

fn upper(uuid: Uuid) -> String {
    uuid.hyphenated().to_string().to_ascii_uppercase()
}

fn check_user(user: &ProfileUser) -> Result<(), ProfileError> {
    for (what, value) in [
        ("user key", &user.key),
        ("email address", &user.address),
        ("login name", &user.login),
    ] {
        if value.trim().is_empty() {
            return Err(ProfileError::Empty {
                what,
                user: user.key.clone(),
            });
        }
    }
    if !user.address.contains('@') {
        return Err(ProfileError::BadAddress {
            user: user.key.clone(),
            address: user.address.clone(),
        });
    }
    Ok(())
}

/// `com.example.ferry.mail.<user>`: reverse DNS of the organization's domain, then the user.
fn base_identifier(org: &Organization, user: &ProfileUser) -> Result<String, ProfileError> {
    let domain = org.domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    if labels.len() < 2 || !labels.iter().all(label_ok) {
        return Err(ProfileError::BadDomain {
            domain: org.domain.clone(),
        });
    }
    let reversed: Vec<&str> = labels.into_iter().rev().collect();
    Ok(format!(
        "{}.ferry.mail.{}",
        reversed.join("."),
        file_stem(&user.key)
    ))
}

/// The user key reduced to characters safe in file names and reverse-DNS identifiers.
fn file_stem(key: &str) -> String {
    let stem: String = key
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    stem
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_differ_by_every_part_and_repeat_for_the_same_inputs() {
        let a = stable_uuid("m1", "jdoe", Target::Any, payload::MAIL);
        assert_eq!(a, stable_uuid("m1", "jdoe", Target::Any, payload::MAIL));
        assert_eq!(a.get_version_num(), 5);
        for other in [
            stable_uuid("m2", "jdoe", Target::Any, payload::MAIL),
            stable_uuid("m1", "asmith", Target::Any, payload::MAIL),
            stable_uuid("m1", "jdoe", Target::Mac, payload::MAIL),
            stable_uuid("m1", "jdoe", Target::Any, "profile"),
        ] {
            assert_ne!(a, other);
        }
    }

    #[test]
    fn identifiers_are_reverse_dns_of_the_domain() {
        let org = Organization {
            name: "Example".into(),
            domain: "Mail.Example.COM.".into(),
        };
        let user = ProfileUser {
            key: "B.Müller".into(),
            address: "b@example.com".into(),
            display_name: "B".into(),
            login: "b".into(),
        };
        assert_eq!(
            base_identifier(&org, &user).unwrap(),
            "com.example.mail.ferry.mail.b-m-ller"
        );
        for bad in ["localhost", "exa mple.com", "-x.com", "", "a..b"] {
            let org = Organization {
                name: "x".into(),
                domain: bad.into(),
            };
            assert!(matches!(
                base_identifier(&org, &user),
                Err(ProfileError::BadDomain { .. })
            ));
        }
    }
}
