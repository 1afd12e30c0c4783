//! Phase 2 on the project: the new host (a preset, or another IMAP host), its certificate, and
//! the account plan (address mapping, include / exclude, how each account is read).

use crate::destination::{Destination, PresetId, Security};
use crate::host::ProjectHost;
use crate::phases::sync::{SourceImap, DESTINATION_PIN_SETTING, SOURCE_IMAP_SETTING};
use crate::phases::PhaseError;
use crate::plan::{AccountChange, PlannedAccount};
use crate::project::{Project, ProjectError, RunOutcome};

/// What the admin chose for the new host.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct DestinationChoice {
    pub preset: PresetId,
    /// The IMAP host (only for another IMAP host; the presets know theirs).
    pub imap_host: Option<String>,
    pub imap_port: Option<u16>,
    pub imap_security: Option<Security>,
    /// The SMTP host for the profiles (defaults to the IMAP host).
    pub smtp_host: Option<String>,
    /// SHA-256 of the host's certificate when it is not signed by a known authority (a test
    /// server, a self-hosted one): the admin compared it and accepted exactly that one.
    pub pinned_sha256: Option<String>,
}

/// Sets the destination from the admin's choice and logs it.
pub fn choose(
    project: &mut Project,
    host: &dyn ProjectHost,
    choice: &DestinationChoice,
) -> Result<Destination, PhaseError> {
    let mut destination = match choice.preset {
        PresetId::GenericImap => {
            let imap = choice
                .imap_host
                .as_deref()
                .map(str::trim)
                .filter(|h| !h.is_empty())
                .ok_or_else(|| {
                    PhaseError::NotReady(
                        "Enter the host name of the new IMAP server (for example imap.example.com)."
                            .into(),
                    )
                })?;
            let smtp = choice.smtp_host.as_deref().unwrap_or(imap);
            Destination::generic(imap, smtp)
        }
        preset => Destination::preset(preset),
    };
    if let Some(port) = choice.imap_port {
        destination.imap.port = port;
    }
    if let Some(security) = choice.imap_security {
        destination.imap.security = security;
    }
    let now = host.now().timestamp();
    let run = project.log_run(
        "destination",
        now,
        &serde_json::to_value(choice).unwrap_or_default(),
    )?;
    project.set_destination(&destination)?;
    project.set_setting(
        DESTINATION_PIN_SETTING,
        &choice
            .pinned_sha256
            .as_ref()
            .map(|p| p.replace(':', "").to_ascii_lowercase()),
    )?;
    // A host chosen here signs in with passwords: an app's sign-in set for an earlier choice is
    // forgotten (choose_with_oauth sets the new one after this).
    project.set_setting(
        crate::phases::sync::OAUTH_SETTING,
        &None::<ferry_oauth::OAuthSettings>,
    )?;
    project.end_run(
        run,
        now,
        RunOutcome::Succeeded,
        &serde_json::json!({ "summary": format!("{} at {}:{}", destination.name, destination.imap.host, destination.imap.port) }),
    )?;
    Ok(destination)
}

/// Sets the old server's IMAP service, for accounts read over IMAP instead of from the store on
/// disk (a copy made before the last mail arrived, or a store Ferry cannot read). The host is
/// trimmed and the pinned fingerprint kept as lowercase hex; a connection without encryption is
/// accepted only to this computer (ferry-imap refuses it elsewhere, so it is refused here, when
/// the admin can still choose TLS). Returns what was kept.
pub fn set_source_imap(project: &mut Project, imap: &SourceImap) -> Result<SourceImap, PhaseError> {
    let host = imap.host.trim();
    if host.is_empty() {
        return Err(PhaseError::NotReady(
            "Enter the old server's host name (for example mail.example.com).".into(),
        ));
    }
    if imap.port == 0 {
        return Err(ProjectError::Invalid(
            "The port must be a number from 1 to 65535 (IMAP over TLS uses 993).".into(),
        )
        .into());
    }
    if imap.security == Security::Plain && !crate::sync::is_loopback(host) {
        return Err(ProjectError::Invalid(format!(
            "Ferry does not send passwords without encryption across the network, and {host} is not this computer. Choose TLS (port 993) or STARTTLS (port 143)."
        ))
        .into());
    }
    let pin = match imap.security {
        Security::Plain => None,
        _ => imap
            .pinned_sha256
            .as_deref()
            .map(|p| p.trim().replace(':', "").to_ascii_lowercase())
            .filter(|p| !p.is_empty()),
    };
    if let Some(p) = &pin {
        if p.len() != 64 || !p.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(ProjectError::Invalid(
                "The certificate fingerprint must be a SHA-256 digest: 64 hexadecimal digits."
                    .into(),
            )
            .into());
        }
    }
    let kept = SourceImap {
        host: host.to_string(),
        port: imap.port,
        security: imap.security,
        pinned_sha256: pin,
    };
    project.set_setting(SOURCE_IMAP_SETTING, &kept)?;
    Ok(kept)
}

/// The old server's IMAP service as set, if it is.
pub fn source_imap(project: &Project) -> Result<Option<SourceImap>, PhaseError> {
    Ok(project.setting(SOURCE_IMAP_SETTING)?)
}

/// Changes one account of the plan and returns the plan.
pub fn change_account(
    project: &mut Project,
    source_address: &str,
    change: &AccountChange,
) -> Result<Vec<PlannedAccount>, PhaseError> {
    project.update_account(source_address, change)?;
    Ok(project.plan()?)
}

/// Signs in to the new host with OAuth 2.0 (Microsoft 365 app, Google service account): the
/// settings go into the project, the secret into the vault (checked before it is stored).
pub fn set_oauth(
    project: &mut Project,
    host: &dyn ProjectHost,
    settings: &ferry_oauth::OAuthSettings,
    secret: Option<&ferry_vault::Secret>,
) -> Result<(), PhaseError> {
    if let Some(secret) = secret {
        let vault = host.open_vault()?;
        ferry_oauth::store_secret(vault.as_ref(), settings, secret)
            .map_err(|e| PhaseError::Vault(format!("{e}. {}", e.advice())))?;
    }
    project.set_setting(crate::phases::sync::OAUTH_SETTING, settings)?;
    Ok(())
}

// --- Microsoft 365 and Google Workspace: the app's sign-in, as the Destination screen takes it ---

pub use ferry_oauth::{MicrosoftCredentialKind, OAuthSettings};

/// How Ferry signs in to Microsoft 365 or Google Workspace, as the admin entered it. It holds no
/// secret: a client secret comes apart (typed, one way), and key files are named by their path
/// and read here, never by the web view.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, ts_rs::TS)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[ts(export)]
pub enum OAuthSignIn {
    /// A Microsoft Entra app registration with a client secret.
    MicrosoftSecret { tenant: String, client_id: String },
    /// A Microsoft Entra app registration with a certificate: its PEM file and the PEM private
    /// key's file (the same file when it holds both).
    MicrosoftCertificate {
        tenant: String,
        client_id: String,
        certificate_file: String,
        key_file: String,
    },
    /// A Google Cloud service account with domain-wide delegation: its JSON key file.
    GoogleServiceAccount { key_file: String },
}

impl OAuthSignIn {
    /// The preset this sign-in is for.
    pub fn preset(&self) -> PresetId {
        match self {
            OAuthSignIn::MicrosoftSecret { .. } | OAuthSignIn::MicrosoftCertificate { .. } => {
                PresetId::Microsoft365
            }
            OAuthSignIn::GoogleServiceAccount { .. } => PresetId::GoogleWorkspace,
        }
    }
}

/// Other servers than Microsoft's or Google's, for tests and rehearsals on loopback (the app reads
/// them from the environment: `FERRY_OAUTH_IMAP`, `FERRY_OAUTH_IMAP_SHA256`,
/// `FERRY_OAUTH_TOKEN_URL`). Empty for the real hosts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OAuthEndpoints {
    /// The IMAP server (TLS) instead of the preset's: host and port.
    pub imap: Option<(String, u16)>,
    /// That server's certificate, when no known authority signed it (SHA-256, hex).
    pub imap_sha256: Option<String>,
    /// The token endpoint instead of the provider's; `{tenant}` stands for the tenant entered.
    pub token_url: Option<String>,
}

/// What is wrong with the sign-in the admin entered, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthInputError {
    #[error("Enter the tenant: the organisation's primary domain (for example contoso.onmicrosoft.com) or its Directory (tenant) ID from the overview page of Microsoft Entra.")]
    NoTenant,
    #[error("\"{0}\" is not a tenant. Enter the organisation's primary domain (for example contoso.onmicrosoft.com) or its Directory (tenant) ID, which looks like 00001111-aaaa-2222-bbbb-3333cccc4444.")]
    Tenant(String),
    #[error("Enter the application (client) ID from the overview page of the app registration in Microsoft Entra.")]
    NoClientId,
    #[error("\"{0}\" is not an application (client) ID. Copy it from the overview page of the app registration; it looks like 00001111-aaaa-2222-bbbb-3333cccc4444.")]
    ClientId(String),
    #[error("Paste the client secret's value (Certificates & secrets in the app registration; it is shown only once, when the secret is created).")]
    NoSecret,
    #[error("That is the client secret's ID, not its value. Paste the Value column of the secret (shown only once, when it is created; if it is gone, create a new secret).")]
    SecretId,
    #[error("Choose the {0}.")]
    NoFile(&'static str),
    #[error("Ferry cannot read the {what} {path}: {reason}.")]
    Unreadable {
        what: &'static str,
        path: String,
        reason: String,
    },
    #[error("{0} is not a service account's JSON key. In the Google Cloud console, open the service account, then Keys, Add key, Create new key, JSON, and choose the file it downloads.")]
    NotServiceAccountKey(String),
    #[error("{0} holds no certificate. Choose the certificate you uploaded to the app registration, in PEM form (a text file that starts with -----BEGIN CERTIFICATE-----).")]
    NoCertificate(String),
    #[error("{0} holds no private key. Choose the certificate's private key in PEM form (a text file that starts with -----BEGIN PRIVATE KEY----- or -----BEGIN RSA PRIVATE KEY-----), without a passphrase.")]
    NoPrivateKey(String),
    #[error("The private key in {key} does not belong to the certificate in {certificate}. Choose the key the certificate was made with.")]
    KeyMismatch { key: String, certificate: String },
    #[error("{0}")]
    Unusable(String),
}

impl From<OAuthInputError> for PhaseError {
    fn from(e: OAuthInputError) -> Self {
        PhaseError::Project(crate::project::ProjectError::Invalid(e.to_string()))
    }
}

/// Whether `s` is a GUID (8-4-4-4-12 hexadecimal digits), as Entra's IDs are.
fn is_guid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Whether `s` is a domain name (two labels or more of letters, digits and hyphens).
fn is_domain(s: &str) -> bool {
    let labels: Vec<&str> = s.split('.').collect();
    labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.bytes().any(|b| b.is_ascii_alphabetic()))
}

/// A key file Ferry reads: at most this many bytes (a PEM key or a JSON key is a few KB).
const KEY_FILE_LIMIT: u64 = 1 << 20;

fn read_key_file(
    what: &'static str,
    path: &str,
) -> Result<zeroize::Zeroizing<String>, OAuthInputError> {
    let path = path.trim();
    if path.is_empty() {
        return Err(OAuthInputError::NoFile(what));
    }
    let unreadable = |reason: String| OAuthInputError::Unreadable {
        what,
        path: path.to_string(),
        reason,
    };
    let io_reason = |e: &std::io::Error| match e.kind() {
        std::io::ErrorKind::NotFound => "it does not exist".to_string(),
        std::io::ErrorKind::PermissionDenied => {
            "the system does not allow Ferry to read it".to_string()
        }
        std::io::ErrorKind::IsADirectory => "it is a folder, not a file".to_string(),
        other => format!("the system reported: {other}"),
    };
    let meta = std::fs::metadata(path).map_err(|e| unreadable(io_reason(&e)))?;
    if meta.is_dir() {
        return Err(unreadable("it is a folder, not a file".into()));
    }
    if meta.len() > KEY_FILE_LIMIT {
        return Err(unreadable("it is far larger than a key file".into()));
    }
    let bytes =
        zeroize::Zeroizing::new(std::fs::read(path).map_err(|e| unreadable(io_reason(&e)))?);
    match std::str::from_utf8(&bytes) {
        Ok(text) => Ok(zeroize::Zeroizing::new(text.to_string())),
        Err(_) => Err(unreadable(
            "it is not a text file (Ferry reads PEM and JSON files, not binary .cer, .der or .pfx files)".into(),
        )),
    }
}

fn check_microsoft_ids(tenant: &str, client_id: &str) -> Result<(String, String), OAuthInputError> {
    let tenant = tenant.trim();
    let client_id = client_id.trim();
    if tenant.is_empty() {
        return Err(OAuthInputError::NoTenant);
    }
    if !is_guid(tenant) && !is_domain(tenant) {
        return Err(OAuthInputError::Tenant(tenant.to_string()));
    }
    if client_id.is_empty() {
        return Err(OAuthInputError::NoClientId);
    }
    if !is_guid(client_id) {
        return Err(OAuthInputError::ClientId(client_id.to_string()));
    }
    Ok((tenant.to_string(), client_id.to_string()))
}

/// Checks what the admin entered, reads the key files, and returns the project's settings and the
/// secret for the vault (the client secret; the PEM private key followed by the PEM certificate;
/// or the service account's JSON key). Nothing is stored.
pub fn oauth_secret(
    sign_in: &OAuthSignIn,
    client_secret: Option<&ferry_vault::Secret>,
    endpoints: &OAuthEndpoints,
) -> Result<(ferry_oauth::OAuthSettings, ferry_vault::Secret), OAuthInputError> {
    use ferry_oauth::{MicrosoftCredentialKind, OAuthSettings};
    let token_url = |tenant: &str| {
        endpoints
            .token_url
            .as_ref()
            .map(|u| u.replace("{tenant}", tenant))
    };
    match sign_in {
        OAuthSignIn::MicrosoftSecret { tenant, client_id } => {
            let (tenant, client_id) = check_microsoft_ids(tenant, client_id)?;
            let secret = client_secret
                .map(|s| s.expose().trim())
                .filter(|s| !s.is_empty())
                .ok_or(OAuthInputError::NoSecret)?;
            if is_guid(secret) {
                return Err(OAuthInputError::SecretId);
            }
            Ok((
                OAuthSettings::MicrosoftApp {
                    token_url: token_url(&tenant),
                    tenant,
                    client_id,
                    credential: MicrosoftCredentialKind::ClientSecret,
                },
                ferry_vault::Secret::new(secret.to_string()),
            ))
        }
        OAuthSignIn::MicrosoftCertificate {
            tenant,
            client_id,
            certificate_file,
            key_file,
        } => {
            let (tenant, client_id) = check_microsoft_ids(tenant, client_id)?;
            let certificate = read_key_file("certificate file", certificate_file)?;
            let key = read_key_file("private key file", key_file)?;
            let der = ferry_oauth::jwt::certificate_der(&certificate)
                .map_err(|_| OAuthInputError::NoCertificate(certificate_file.trim().into()))?;
            let signing = ferry_oauth::jwt::SigningKey::from_pem(&key, "the private key")
                .map_err(|_| OAuthInputError::NoPrivateKey(key_file.trim().into()))?;
            if !ferry_oauth::jwt::key_matches_certificate(&signing, &der) {
                return Err(OAuthInputError::KeyMismatch {
                    key: key_file.trim().into(),
                    certificate: certificate_file.trim().into(),
                });
            }
            Ok((
                OAuthSettings::MicrosoftApp {
                    token_url: token_url(&tenant),
                    tenant,
                    client_id,
                    credential: MicrosoftCredentialKind::Certificate,
                },
                ferry_vault::Secret::new(format!("{}\n{}", key.trim_end(), certificate.trim_end())),
            ))
        }
        OAuthSignIn::GoogleServiceAccount { key_file } => {
            let text = read_key_file("service account's key file", key_file)?;
            let not_key = || OAuthInputError::NotServiceAccountKey(key_file.trim().into());
            let json: serde_json::Value = serde_json::from_str(&text).map_err(|_| not_key())?;
            let field = |k: &str| {
                json.get(k)
                    .and_then(|v| v.as_str())
                    .filter(|v| !v.is_empty())
            };
            if field("type") != Some("service_account") || field("private_key").is_none() {
                return Err(not_key());
            }
            let client_email = field("client_email").ok_or_else(not_key)?.to_string();
            Ok((
                OAuthSettings::GoogleServiceAccount {
                    client_email,
                    token_url: endpoints.token_url.clone(),
                },
                ferry_vault::Secret::new(text.to_string()),
            ))
        }
    }
}

/// Chooses Microsoft 365 or Google Workspace with the app's sign-in: checks what the admin
/// entered, stores the secret in the vault (checked before it is stored), sets the destination
/// and keeps the sign-in's settings (never the secret) in the project. Returns the settings.
pub fn choose_with_oauth(
    project: &mut Project,
    host: &dyn ProjectHost,
    sign_in: &OAuthSignIn,
    client_secret: Option<&ferry_vault::Secret>,
    endpoints: &OAuthEndpoints,
) -> Result<ferry_oauth::OAuthSettings, PhaseError> {
    let (settings, secret) = oauth_secret(sign_in, client_secret, endpoints)?;
    let vault = host.open_vault()?;
    ferry_oauth::store_secret(vault.as_ref(), &settings, &secret).map_err(|e| match e {
        ferry_oauth::OAuthSetupError::Settings(t) => PhaseError::from(OAuthInputError::Unusable(
            format!("{}. {}", capitalized(&t.message), t.kind.advice()),
        )),
        other => PhaseError::Vault(format!("{other}. {}", other.advice())),
    })?;
    let choice = DestinationChoice {
        preset: sign_in.preset(),
        imap_host: None,
        imap_port: endpoints.imap.as_ref().map(|(_, port)| *port),
        imap_security: None,
        smtp_host: None,
        pinned_sha256: endpoints.imap_sha256.clone(),
    };
    choose(project, host, &choice)?;
    if let Some((imap_host, _)) = &endpoints.imap {
        if let Some(mut destination) = project.destination()? {
            destination.imap.host = imap_host.clone();
            project.set_destination(&destination)?;
        }
    }
    project.set_setting(crate::phases::sync::OAUTH_SETTING, &settings)?;
    Ok(settings)
}

fn capitalized(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// The destination's OAuth sign-in, if it has one.
pub fn oauth_settings(project: &Project) -> Result<Option<ferry_oauth::OAuthSettings>, PhaseError> {
    Ok(project.setting(crate::phases::sync::OAUTH_SETTING)?)
}
