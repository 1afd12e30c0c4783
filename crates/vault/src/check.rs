//! Login checks: for every account, log in to each server with the password from the vault (or
//! the admin's), several at once within a limit, and say per account what happened and what to do.
//!
//! Dovecot and most servers answer a wrong password and an unknown user with the same words, on
//! purpose. With an admin / master login Ferry can still tell them apart: when the admin's login
//! works for one account on a server, a refusal for another account on that server means that user
//! does not exist there.

use std::collections::BTreeMap;
use std::time::Duration;

use ferry_imap::{AuthMethod, CertificateInfo, Credentials, Endpoint, ImapError, Timeouts};
use futures::stream::{self, StreamExt};
use serde::{Deserialize, Serialize};
use ts_rs::TS;

use crate::{Secret, Vault, VaultError};

/// Which server of the migration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Side {
    Source,
    Destination,
}

impl Side {
    pub fn name(self) -> &'static str {
        match self {
            Side::Source => "source",
            Side::Destination => "destination",
        }
    }
}

/// How Ferry logs in on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case", tag = "kind")]
#[ts(export)]
pub enum LoginMethod {
    /// Each user with their own password (from the vault, keyed by the server and the user).
    UserPassword,
    /// One admin account acts for every user, so the admin needs no user's password.
    Admin { admin_user: String, form: AdminForm },
}

/// The two ways servers let an admin open a user's mailbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum AdminForm {
    /// SASL PLAIN with the user as authorization identity (RFC 4616): Dovecot, Cyrus, Zimbra.
    PlainAuthzid,
    /// Dovecot's master-user login `user*admin`.
    DovecotMaster,
}

/// One server and the way to log in there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct Server {
    pub endpoint: Endpoint,
    pub login: LoginMethod,
}

/// One login to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
#[ts(export)]
pub struct LoginTarget {
    /// The account as the admin knows it (its address), for the report.
    pub account: String,
    pub side: Side,
    /// The user name on that server.
    pub user: String,
}

/// What a login attempt came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
#[ts(export)]
pub enum Status {
    Ok,
    /// No password in the vault for this login.
    MissingPassword,
    WrongPassword,
    NoSuchUser,
    /// The admin login works but may not act as this user.
    NotAuthorized,
    AccountDisabled,
    CertificateProblem,
    /// TLS could not be set up, or the server wants it and it was not used.
    TlsProblem,
    Unreachable,
    Throttled,
    TooManyConnections,
    /// Anything else the server or the vault said.
    Failed,
}

impl Status {
    pub fn label(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::MissingPassword => "no password",
            Status::WrongPassword => "wrong password",
            Status::NoSuchUser => "no such user",
            Status::NotAuthorized => "admin not allowed",
            Status::AccountDisabled => "account disabled",
            Status::CertificateProblem => "certificate problem",
            Status::TlsProblem => "TLS problem",
            Status::Unreachable => "unreachable",
            Status::Throttled => "throttled",
            Status::TooManyConnections => "too many connections",
            Status::Failed => "failed",
        }
    }
}

/// The outcome for one account on one side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[ts(export)]
pub struct LoginCheck {
    pub account: String,
    pub side: Side,
    /// `host:port`.
    pub server: String,
    /// The user name Ferry authenticated as (the admin for admin logins).
    pub login: String,
    /// The mailbox an admin login acts for.
    pub login_as: Option<String>,
    pub status: Status,
    /// What happened, in a sentence (never containing a password).
    pub message: String,
    /// What to do about it; empty when all is well.
    pub advice: String,
    /// The refused certificate, for `certificate_problem`: compare its fingerprint, then pin it.
    pub certificate: Option<CertificateInfo>,
    /// The server's suggested wait, for `throttled`.
    pub wait_ms: Option<u64>,
}

/// Options of a check run.
#[derive(Debug, Clone, Copy)]
pub struct CheckOptions {
    /// At most this many logins at the same time.
    pub parallel: usize,
    pub timeouts: Timeouts,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            parallel: 4,
            timeouts: Timeouts::all(Duration::from_secs(20)),
        }
    }
}

/// A login ready to run: the password is fetched from the vault beforehand (the vault is
/// synchronous), so the network part runs without touching it.
struct Prepared {
    target: LoginTarget,
    endpoint: Endpoint,
    credentials: Credentials,
    admin: bool,
}

fn credentials_for(
    vault: &dyn Vault,
    server: &Server,
    target: &LoginTarget,
) -> Result<(Credentials, bool), Box<LoginCheck>> {
    let host = &server.endpoint.host;
    let (auth_user, login_as, method) = match &server.login {
        LoginMethod::UserPassword => (target.user.clone(), None, AuthMethod::Auto),
        LoginMethod::Admin { admin_user, form } => (
            admin_user.clone(),
            Some(target.user.clone()),
            match form {
                AdminForm::PlainAuthzid => AuthMethod::Plain,
                AdminForm::DovecotMaster => AuthMethod::DovecotMaster,
            },
        ),
    };
    let failed = |status: Status, message: String, advice: String| LoginCheck {
        account: target.account.clone(),
        side: target.side,
        server: server.endpoint.label(),
        login: auth_user.clone(),
        login_as: login_as.clone(),
        status,
        message,
        advice,
        certificate: None,
        wait_ms: None,
    };
    let secret: Secret = match vault.get(host, &auth_user) {
        Ok(Some(secret)) => secret,
        Ok(None) => {
            return Err(Box::new(failed(
                Status::MissingPassword,
                format!("no password stored for {auth_user} at {host}"),
                format!("Enter the password of {auth_user} at {host}, or import a password file."),
            )))
        }
        Err(err) => return Err(Box::new(vault_failure(&failed, &err))),
    };
    let admin = login_as.is_some();
    Ok((
        Credentials {
            user: auth_user.clone(),
            secret: secret.to_secret_string().into(),
            login_as: login_as.clone(),
            method,
        },
        admin,
    ))
}

fn vault_failure(
    failed: &dyn Fn(Status, String, String) -> LoginCheck,
    err: &VaultError,
) -> LoginCheck {
    failed(
        Status::Failed,
        format!("the password store did not answer: {err}"),
        "Open the password store (unlock the keyring, check the passphrase) and run the check again."
            .into(),
    )
}

fn classify(err: &ImapError) -> Status {
    match err {
        ImapError::AuthFailed { .. } => Status::WrongPassword,
        ImapError::NotAuthorized { .. } => Status::NotAuthorized,
        ImapError::AccountDisabled { .. } => Status::AccountDisabled,
        ImapError::UntrustedCertificate { .. } => Status::CertificateProblem,
        ImapError::TlsRequired { .. } | ImapError::Tls { .. } | ImapError::NoLoginMethod { .. } => {
            Status::TlsProblem
        }
        ImapError::Unreachable { .. }
        | ImapError::Timeout { .. }
        | ImapError::ConnectionLost { .. }
        | ImapError::ServerUnavailable { .. } => Status::Unreachable,
        ImapError::Throttled { .. } => Status::Throttled,
        ImapError::TooManyConnections { .. } => Status::TooManyConnections,
        _ => Status::Failed,
    }
}

async fn run_one(job: Prepared, timeouts: Timeouts) -> (LoginCheck, bool) {
    let result = ferry_imap::connect_and_login(&job.endpoint, &job.credentials, timeouts).await;
    let mut check = LoginCheck {
        account: job.target.account.clone(),
        side: job.target.side,
        server: job.endpoint.label(),
        login: job.credentials.user.clone(),
        login_as: job.credentials.login_as.clone(),
        status: Status::Ok,
        message: String::new(),
        advice: String::new(),
        certificate: None,
        wait_ms: None,
    };
    match result {
        Ok(session) => {
            session.logout().await;
            check.message = match &check.login_as {
                Some(target) => format!("{} logged in as {target}", check.login),
                None => format!("{} logged in", check.login),
            };
        }
        Err(err) => {
            let report = err.report();
            check.status = classify(&err);
            check.message = report.message;
            check.advice = report.advice;
            check.wait_ms = report.wait_ms;
            if let Some(cert) = report.certificate {
                check.advice = format!(
                    "Compare SHA-256 {} with the certificate on the server (e.g. `openssl x509 -noout \
                     -fingerprint -sha256 -in` its certificate file). If they match, pin it for the {}; \
                     if not, do not connect: someone may be in between.",
                    cert.sha256,
                    job.target.side.name()
                );
                check.certificate = Some(cert);
            }
            if check.status == Status::WrongPassword {
                check.message = if job.admin {
                    format!(
                        "{} refused the admin login {} acting as {}: wrong admin password, or no such user",
                        check.server,
                        check.login,
                        job.target.user
                    )
                } else {
                    format!(
                        "{} refused {}: wrong password, or no such user (the server does not say which)",
                        check.server, check.login
                    )
                };
                check.advice = if job.admin {
                    "Check the admin password, and that the user exists on this server.".into()
                } else {
                    "Check the password and enter it again, and check that the user name is right for this server.".into()
                };
            }
        }
    }
    (check, job.admin)
}

/// Checks every target on its side's server, at most `options.parallel` at once. The result keeps
/// the order of `targets`. Targets whose side has no server are skipped (a source read from the
/// store needs no login).
pub async fn check_logins(
    vault: &dyn Vault,
    servers: &BTreeMap<Side, Server>,
    targets: &[LoginTarget],
    options: CheckOptions,
) -> Vec<LoginCheck> {
    let mut results: Vec<Option<(LoginCheck, bool)>> = vec![None; targets.len()];
    let mut jobs = Vec::new();
    for (index, target) in targets.iter().enumerate() {
        let Some(server) = servers.get(&target.side) else {
            continue;
        };
        match credentials_for(vault, server, target) {
            Ok((credentials, admin)) => jobs.push((
                index,
                Prepared {
                    target: target.clone(),
                    endpoint: server.endpoint.clone(),
                    credentials,
                    admin,
                },
            )),
            Err(check) => results[index] = Some((*check, false)),
        }
    }
    let timeouts = options.timeouts;
    let done: Vec<(usize, (LoginCheck, bool))> = stream::iter(jobs)
        .map(|(index, job)| async move { (index, run_one(job, timeouts).await) })
        .buffer_unordered(options.parallel.max(1))
        .collect()
        .await;
    for (index, outcome) in done {
        results[index] = Some(outcome);
    }
    let mut results: Vec<(LoginCheck, bool)> = results.into_iter().flatten().collect();
    tell_unknown_users(&mut results);
    results.into_iter().map(|(check, _)| check).collect()
}

/// Where one admin login on a server worked, the admin's password is right: its refusals for other
/// users on that server mean those users do not exist there. (Dovecot answers a master login for
/// an unknown user with AUTHORIZATIONFAILED, other servers with AUTHENTICATIONFAILED.)
fn tell_unknown_users(results: &mut [(LoginCheck, bool)]) {
    let proven: Vec<(String, String)> = results
        .iter()
        .filter(|(c, admin)| *admin && c.status == Status::Ok)
        .map(|(c, _)| (c.server.clone(), c.login.clone()))
        .collect();
    for (check, admin) in results.iter_mut() {
        if *admin
            && matches!(check.status, Status::WrongPassword | Status::NotAuthorized)
            && proven
                .iter()
                .any(|(server, login)| *server == check.server && *login == check.login)
        {
            let user = check.login_as.clone().unwrap_or_default();
            check.status = Status::NoSuchUser;
            check.message = format!(
                "{} has no user {user}: the admin login {} works for other accounts there but was \
                 refused for this one",
                check.server, check.login
            );
            check.advice = "Create the account on this server, or correct the user name in the address mapping.".into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MemoryVault;

    // Dovecot never throttles, so this kind is checked on the error value ferry-imap produces
    // for Microsoft's "Request is throttled" answers.
    #[test]
    fn throttling_and_busy_servers_have_their_own_status() {
        let throttled = ImapError::Throttled {
            server: "outlook.office365.com:993".into(),
            wait: Some(Duration::from_millis(299_609)),
            asked: Some(Duration::from_millis(299_609)),
            server_text: "Request is throttled.".into(),
        };
        assert_eq!(classify(&throttled), Status::Throttled);
        assert_eq!(throttled.report().wait_ms, Some(299_609));
        let busy = ImapError::ServerUnavailable {
            server: "h:993".into(),
            server_text: "[UNAVAILABLE] try later".into(),
        };
        assert_eq!(classify(&busy), Status::Unreachable);
    }

    #[tokio::test]
    async fn missing_passwords_are_reported_without_a_connection() {
        let vault = MemoryVault::new();
        // Port 9 on loopback: nothing is tried, since no password is stored.
        let servers = BTreeMap::from([(
            Side::Destination,
            Server {
                endpoint: Endpoint::tls("127.0.0.1", 9),
                login: LoginMethod::UserPassword,
            },
        )]);
        let targets = vec![
            LoginTarget {
                account: "jdoe@example.com".into(),
                side: Side::Destination,
                user: "jdoe@example.com".into(),
            },
            LoginTarget {
                account: "jdoe@example.com".into(),
                side: Side::Source,
                user: "jdoe".into(),
            },
        ];
        let results = check_logins(&vault, &servers, &targets, CheckOptions::default()).await;
        assert_eq!(results.len(), 1, "the source has no server: skipped");
        assert_eq!(results[0].status, Status::MissingPassword);
        assert_eq!(
            results[0].advice,
            "Enter the password of jdoe@example.com at 127.0.0.1, or import a password file."
        );
    }
}
