//! Builds the profiles of one user: which payloads go to which devices, their stable UUIDs and
//! identifiers, and the words the person installing reads.

use crate::model::{
    HostSettings, ImapSignIn, NativeAccount, Organization, ProfileOptions, ProfilePassword,
    ProfileUser, Prompt, Security, Target,
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
    /// What the person installing is asked for (empty when nothing: the password is inside).
    pub asks_for: Vec<Prompt>,
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

/// Builds the profiles of every user, and checks that no two users would share a file name or
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
/// for Macs and one for iPhones/iPads, since Apple's native account payloads differ between them
/// (and Macs get none where the host offers Apple Mail no way in that lasts: Exchange Online
/// without EWS). Every profile of the user has the same `PayloadIdentifier`, whatever the host,
/// so installing a re-export replaces the profile a device has.
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
    let identifier = base_identifier(org, user)?;
    let imap_possible = host.imap_sign_in.is_some();
    if options.imap_with_native && host.native.is_some() && !imap_possible {
        return Err(ProfileError::ImapRefused {
            host: host.name.clone(),
        });
    }
    let with_imap = |mut kinds: Vec<Kind>| {
        if options.imap_with_native {
            kinds.push(Kind::Imap);
        }
        kinds
    };
    let kinds: Vec<(Target, Vec<Kind>)> = match &host.native {
        None if !imap_possible => {
            return Err(ProfileError::NothingToSetUp {
                host: host.name.clone(),
            })
        }
        None => vec![(Target::Any, vec![Kind::Imap])],
        Some(NativeAccount::Exchange { ews_on_mac, .. }) => vec![
            (
                Target::Mac,
                with_imap(if *ews_on_mac { vec![Kind::Ews] } else { vec![] }),
            ),
            (Target::IPhoneIPad, with_imap(vec![Kind::Eas])),
        ],
        // No Google payload exists for macOS: Macs get the IMAP account (with an app password).
        Some(NativeAccount::Google) => vec![
            (
                Target::Mac,
                if imap_possible {
                    vec![Kind::Imap]
                } else {
                    vec![]
                },
            ),
            (Target::IPhoneIPad, with_imap(vec![Kind::Google])),
        ],
    };
    let profiles = kinds
        .into_iter()
        .filter(|(_, kinds)| !kinds.is_empty())
        .map(|(target, kinds)| {
            build_one(
                migration,
                org,
                host,
                user,
                password,
                &identifier,
                target,
                &kinds,
            )
        })
        .collect::<Result<Vec<_>, _>>()?;
    // A password was asked for but the host signs in on its own page everywhere: say so rather
    // than hand back profiles that silently hold none.
    if password.is_some() && !profiles.iter().any(|p| p.contains_password) {
        return Err(ProfileError::PasswordNotTaken {
            user: user.key.clone(),
            host: host.name.clone(),
        });
    }
    Ok(profiles)
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

/// What signing in to one payload's account takes, and the sentence that tells the person.
fn prompt_of(host: &HostSettings, kind: Kind) -> Option<Prompt> {
    let exchange_oauth = matches!(
        host.native,
        Some(NativeAccount::Exchange { oauth: true, .. })
    );
    match kind {
        Kind::Imap => match host.imap_sign_in {
            Some(ImapSignIn::Password) => Some(Prompt::Password),
            Some(ImapSignIn::AppPassword { .. }) => Some(Prompt::AppPassword),
            None => None,
        },
        Kind::Ews | Kind::Eas if exchange_oauth => Some(Prompt::HostSignIn),
        Kind::Ews | Kind::Eas => Some(Prompt::Password),
        Kind::Google => Some(Prompt::HostSignIn),
    }
}

/// The sentences of the profile's description that say what the person is asked for.
fn sign_in_sentences(
    host: &HostSettings,
    kinds: &[Kind],
    password_included: &[Kind],
) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |s: String| {
        if !out.contains(&s) {
            out.push(s);
        }
    };
    for &kind in kinds {
        let included = password_included.contains(&kind);
        match (prompt_of(host, kind), kind) {
            (Some(Prompt::AppPassword), _) if included => push(
                "This profile holds your app password: keep the file private and delete it once \
                 installed."
                    .into(),
            ),
            (Some(Prompt::Password), _) if included => push(
                "This profile holds your password: keep the file private and delete it once \
                 installed."
                    .into(),
            ),
            (Some(Prompt::Password), _) => push(format!(
                "While installing, you are asked for your password for {}.",
                host.name
            )),
            (Some(Prompt::AppPassword), _) => {
                let (requires, page) = match &host.imap_sign_in {
                    Some(ImapSignIn::AppPassword { requires, page }) => (requires, page),
                    _ => (&None, &None),
                };
                let mut s = format!(
                    "While installing, you are asked for a password: enter an app password for \
                     {name}, not your usual password, which {name} refuses for mail apps.",
                    name = host.name
                );
                if let Some(page) = page {
                    s.push_str(&format!(" Make one at {page}"));
                    match requires {
                        Some(r) => s.push_str(&format!("; it can be made only when {r}.")),
                        None => s.push('.'),
                    }
                } else if let Some(r) = requires {
                    s.push_str(&format!(" It can be made only when {r}."));
                }
                push(s)
            }
            (Some(Prompt::HostSignIn), Kind::Google) => push(
                "After installing, you are asked to sign in to your Google account on Google's \
                 own page; no password goes into this profile."
                    .into(),
            ),
            (Some(Prompt::HostSignIn), _) => push(format!(
                "After installing, you are asked to sign in on {}'s own page (your usual sign-in, \
                 with its second step if you have one); no password goes into this profile.",
                host.name
            )),
            (None, _) => {}
        }
        if kind == Kind::Ews
            && matches!(
                host.native,
                Some(NativeAccount::Exchange { oauth: true, .. })
            )
        {
            push(
                "Mail on the Mac reaches this account through Exchange Web Services, which \
                 Microsoft switches off in Exchange Online on 1 April 2027; after that, use \
                 Outlook for Mac."
                    .into(),
            );
        }
    }
    out
}

#[allow(clippy::too_many_arguments)] // one private step of build_user, all of whose inputs it needs
fn build_one(
    migration: &str,
    org: &Organization,
    host: &HostSettings,
    user: &ProfileUser,
    password: Option<&ProfilePassword>,
    identifier: &str,
    target: Target,
    kinds: &[Kind],
) -> Result<Profile, ProfileError> {
    let uuid = stable_uuid(migration, &user.key, target, "profile");
    let exchange_oauth = matches!(
        host.native,
        Some(NativeAccount::Exchange { oauth: true, .. })
    );
    let mut password_included = Vec::new();
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
                Kind::Ews => format!(
                    "Connects {} to {} (Exchange Web Services).",
                    user.address,
                    exchange_host(host)
                ),
                Kind::Eas => format!(
                    "Connects {} to {} (Exchange ActiveSync), with all past mail.",
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
                if with_password.is_some() {
                    password_included.push(kind);
                }
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
                // Apple: "Don't specify a password if OAuth is true".
                let with_password = secret.filter(|_| !exchange_oauth);
                if with_password.is_some() {
                    password_included.push(kind);
                }
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
                            oauth: exchange_oauth,
                            username,
                            password: with_password,
                        },
                    )
                } else {
                    payload_dict(
                        &common,
                        &EasPayload {
                            mail_past_days: 0,
                            address,
                            host: host_name,
                            ssl: true,
                            oauth: exchange_oauth,
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
    let contains_password = !password_included.is_empty();
    let mut asks_for: Vec<Prompt> = kinds
        .iter()
        .filter(|k| !password_included.contains(k))
        .filter_map(|&k| prompt_of(host, k))
        .collect();
    asks_for.sort();
    asks_for.dedup();
    let sign_in = sign_in_sentences(host, kinds, &password_included).join(" ");
    // The same sentences as a consent dialog: read before installing, not only in the details.
    let consent_text = (!sign_in.is_empty())
        .then(|| std::collections::BTreeMap::from([("default", sign_in.clone())]));
    let doc = ProfileDoc {
        payload_type: "Configuration",
        payload_version: 1,
        identifier: identifier.to_string(),
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
        consent_text,
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
        identifier: identifier.to_string(),
        uuid,
        payloads: infos,
        contains_password,
        asks_for,
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

/// `com.example.ferry.mail.<user>`: reverse DNS of the organization's domain, then the user; the
/// same for every host and device family, so any re-export replaces what a device has.
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
