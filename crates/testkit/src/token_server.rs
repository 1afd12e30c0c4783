//! An OAuth 2.0 authorization server on loopback, for tests: the grants Ferry uses, checked the
//! way Microsoft and Google document them, with tokens that expire after a few seconds, and an
//! introspection endpoint for Dovecot's `oauth2` passdb.
//!
//! - `POST /{tenant}/oauth2/v2.0/token`, `grant_type=client_credentials`: a client secret, or a
//!   client assertion (RS256 JWT, `aud` this endpoint, `iss` = `sub` = the client ID, `x5t#S256`
//!   or `x5t` naming the registered certificate, signature checked against its public key).
//!   Also `authorization_code` (PKCE S256 checked) and `refresh_token` for interactive sign-in.
//! - `GET /{tenant}/oauth2/v2.0/authorize`: signs the configured admin in at once and redirects
//!   to the `redirect_uri` with a code (no page: the "browser" of tests follows the redirect).
//! - `POST /google/token`, `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`: the service
//!   account's RS256 assertion (`iss`, `sub`, `scope`, `aud`, `exp`), signature checked.
//! - `POST /introspect/{mailbox}` (`token=…`): RFC 7662 answer, `active` only when the token is
//!   unexpired and grants that mailbox; `username` is the mailbox.
//!
//! Errors are answered as the providers do: Microsoft's `error` with `error_codes` (AADSTS),
//! Google's `invalid_grant` / `unauthorized_client`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use serde_json::{json, Value};

/// An RSA key pair and a self-signed certificate for it, made for one test.
#[derive(Clone)]
pub struct TestKey {
    /// PKCS#8 PEM (`BEGIN PRIVATE KEY`): what a service account's JSON key holds.
    pub private_pem: String,
    /// The certificate (PEM) to "upload" to an app registration.
    pub certificate_pem: String,
    certificate_der: Vec<u8>,
    /// PKCS#1 RSAPublicKey DER: what signatures are checked against.
    public_der: Vec<u8>,
}

impl TestKey {
    pub fn generate() -> TestKey {
        use openssl::asn1::Asn1Time;
        use openssl::hash::MessageDigest;
        use openssl::pkey::PKey;
        use openssl::rsa::Rsa;
        use openssl::x509::{X509NameBuilder, X509};
        let rsa = Rsa::generate(2048).expect("RSA key");
        let public_der = rsa.public_key_to_der_pkcs1().expect("public key");
        let key = PKey::from_rsa(rsa).expect("key");
        let private_pem =
            String::from_utf8(key.private_key_to_pem_pkcs8().expect("PKCS#8")).expect("PEM");
        let mut name = X509NameBuilder::new().expect("name");
        name.append_entry_by_text("CN", "Ferry test app")
            .expect("CN");
        let name = name.build();
        let mut cert = X509::builder().expect("cert");
        cert.set_version(2).expect("version");
        cert.set_subject_name(&name).expect("subject");
        cert.set_issuer_name(&name).expect("issuer");
        cert.set_pubkey(&key).expect("pubkey");
        cert.set_not_before(&Asn1Time::days_from_now(0).expect("time"))
            .expect("not before");
        cert.set_not_after(&Asn1Time::days_from_now(365).expect("time"))
            .expect("not after");
        cert.sign(&key, MessageDigest::sha256()).expect("sign");
        let cert = cert.build();
        TestKey {
            private_pem,
            certificate_pem: String::from_utf8(cert.to_pem().expect("pem")).expect("PEM"),
            certificate_der: cert.to_der().expect("der"),
            public_der,
        }
    }

    fn sha256_thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA256,
            &self.certificate_der,
        ))
    }

    fn sha1_thumbprint(&self) -> String {
        URL_SAFE_NO_PAD.encode(ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.certificate_der,
        ))
    }

    fn verifies(&self, signed: &[u8], signature: &[u8]) -> bool {
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            &self.public_der,
        )
        .verify(signed, signature)
        .is_ok()
    }
}

/// A Microsoft Entra app registration in a tenant.
struct App {
    tenant: String,
    client_id: String,
    secret: Option<String>,
    certificate: Option<TestKey>,
    /// Mailboxes the app's service principal has FullAccess to.
    mailboxes: BTreeSet<String>,
}

/// A Google service account.
struct ServiceAccount {
    client_email: String,
    key: TestKey,
    /// Whether the Admin console delegates `https://mail.google.com/` to it.
    delegated: bool,
}

/// A public client for the interactive sign-in, and the admin who signs in.
struct PublicClient {
    tenant: String,
    client_id: String,
    admin: String,
    mailboxes: BTreeSet<String>,
    /// The admin declines the requested access on the consent page.
    declines: bool,
}

/// What a token grants.
#[derive(Clone)]
struct Issued {
    mailboxes: BTreeSet<String>,
    scope: String,
    expires: Instant,
}

struct PendingCode {
    client_id: String,
    redirect_uri: String,
    challenge: String,
    admin: String,
    mailboxes: BTreeSet<String>,
}

#[derive(Default)]
struct State {
    lifetime: Duration,
    apps: Vec<App>,
    accounts: Vec<ServiceAccount>,
    clients: Vec<PublicClient>,
    users: BTreeSet<String>,
    tokens: HashMap<String, Issued>,
    codes: HashMap<String, PendingCode>,
    refresh: HashMap<String, (String, BTreeSet<String>)>,
}

/// Counters a test can read.
#[derive(Default)]
struct Counters {
    tokens_issued: AtomicU64,
    token_requests: AtomicU64,
    introspections: AtomicU64,
}

/// The server; stops when dropped.
pub struct TokenServer {
    port: u16,
    state: Arc<Mutex<State>>,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// The scope an introspection answer carries for an app token (Exchange's role).
pub const APP_SCOPE: &str = "IMAP.AccessAsApp";

impl TokenServer {
    /// Starts on an ephemeral loopback port; tokens live `lifetime`.
    pub fn start(lifetime: Duration) -> TokenServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("token server port");
        listener.set_nonblocking(true).expect("nonblocking");
        let port = listener.local_addr().expect("addr").port();
        let state = Arc::new(Mutex::new(State {
            lifetime,
            ..State::default()
        }));
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (state, counters, stop) = (state.clone(), counters.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            let (state, counters) = (state.clone(), counters.clone());
                            std::thread::spawn(move || serve(stream, port, &state, &counters));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                            std::thread::sleep(Duration::from_millis(2))
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        };
        TokenServer {
            port,
            state,
            counters,
            stop,
            thread: Some(thread),
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
    /// Microsoft's token endpoint for `tenant`, on this server.
    pub fn microsoft_token_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/token", self.base_url())
    }
    pub fn microsoft_authorize_url(&self, tenant: &str) -> String {
        format!("{}/{tenant}/oauth2/v2.0/authorize", self.base_url())
    }
    pub fn google_token_url(&self) -> String {
        format!("{}/google/token", self.base_url())
    }
    /// The introspection URL Dovecot's passdb for `mailbox` uses.
    pub fn introspection_url(&self, mailbox: &str) -> String {
        format!("{}/introspect/{mailbox}", self.base_url())
    }

    /// Registers an app with a client secret.
    pub fn add_app_with_secret(&self, tenant: &str, client_id: &str, secret: &str) {
        self.add_app(tenant, client_id, Some(secret.to_string()), None);
    }
    /// Registers an app with a certificate credential.
    pub fn add_app_with_certificate(&self, tenant: &str, client_id: &str, key: &TestKey) {
        self.add_app(tenant, client_id, None, Some(key.clone()));
    }
    fn add_app(
        &self,
        tenant: &str,
        client_id: &str,
        secret: Option<String>,
        cert: Option<TestKey>,
    ) {
        self.state.lock().unwrap().apps.push(App {
            tenant: tenant.into(),
            client_id: client_id.into(),
            secret,
            certificate: cert,
            mailboxes: BTreeSet::new(),
        });
    }
    /// `Add-MailboxPermission -AccessRights FullAccess` for the app's service principal.
    pub fn grant_mailbox(&self, client_id: &str, mailbox: &str) {
        let mut s = self.state.lock().unwrap();
        for app in s.apps.iter_mut().filter(|a| a.client_id == client_id) {
            app.mailboxes.insert(mailbox.to_string());
        }
        for c in s.clients.iter_mut().filter(|c| c.client_id == client_id) {
            c.mailboxes.insert(mailbox.to_string());
        }
    }
    /// A user of the Google Workspace domain.
    pub fn add_google_user(&self, user: &str) {
        self.state.lock().unwrap().users.insert(user.to_string());
    }
    /// A service account; `delegated`: whether `https://mail.google.com/` is delegated to it.
    pub fn add_service_account(&self, client_email: &str, key: &TestKey, delegated: bool) {
        self.state.lock().unwrap().accounts.push(ServiceAccount {
            client_email: client_email.into(),
            key: key.clone(),
            delegated,
        });
    }
    /// A public client for interactive sign-in; `admin` signs in and opens its own mailbox and
    /// those granted with [`TokenServer::grant_mailbox`].
    pub fn add_public_client(&self, tenant: &str, client_id: &str, admin: &str) {
        self.state.lock().unwrap().clients.push(PublicClient {
            tenant: tenant.into(),
            client_id: client_id.into(),
            admin: admin.into(),
            mailboxes: BTreeSet::from([admin.to_string()]),
            declines: false,
        });
    }
    /// From now on the admin declines the consent page of `client_id`'s sign-in.
    pub fn decline_consent(&self, client_id: &str) {
        let mut s = self.state.lock().unwrap();
        for c in s.clients.iter_mut().filter(|c| c.client_id == client_id) {
            c.declines = true;
        }
    }

    /// The JSON key file Google gives for a service account.
    pub fn service_account_key_file(&self, client_email: &str, key: &TestKey) -> String {
        json!({
            "type": "service_account",
            "project_id": "ferry-test",
            "private_key_id": "0123456789abcdef",
            "private_key": key.private_pem,
            "client_email": client_email,
            "client_id": "100000000000000000001",
            "token_uri": self.google_token_url(),
        })
        .to_string()
    }

    /// Expires every token issued so far, as the provider would once their life is over (lets a
    /// test expire a token on the server while the client still thinks it young).
    pub fn expire_issued_tokens(&self) {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for issued in state.tokens.values_mut() {
            issued.expires = now;
        }
    }

    /// Tokens issued so far (every grant).
    pub fn tokens_issued(&self) -> u64 {
        self.counters.tokens_issued.load(Ordering::Relaxed)
    }
    /// Token requests so far, granted or not.
    pub fn token_requests(&self) -> u64 {
        self.counters.token_requests.load(Ordering::Relaxed)
    }
    /// Introspection requests so far (one per Dovecot AUTHENTICATE).
    pub fn introspections(&self) -> u64 {
        self.counters.introspections.load(Ordering::Relaxed)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A "browser" for tests: requests the sign-in page and follows its redirect to Ferry's loopback
/// listener, as a browser would after the admin signed in.
pub fn follow_redirect(url: &str) -> Result<(), String> {
    let (status, headers, _) = http_get(url)?;
    if status != 302 {
        return Err(format!(
            "the sign-in page answered {status}, not a redirect"
        ));
    }
    let location = headers
        .get("location")
        .ok_or("the redirect has no Location")?;
    let (status, _, _) = http_get(location)?;
    if status != 200 {
        return Err(format!("the redirect target answered {status}"));
    }
    Ok(())
}

/// A first line (or status), headers with lower-case names, and a body.
type Message<First> = (First, BTreeMap<String, String>, Vec<u8>);

fn http_get(url: &str) -> Result<Message<u16>, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("not a loopback http URL: {url}"))?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let path = if path.is_empty() { "/" } else { path };
    let mut stream = TcpStream::connect(authority).map_err(|e| format!("{authority}: {e}"))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\n\r\n"
    )
    .map_err(|e| e.to_string())?;
    let mut reader = BufReader::new(stream);
    read_message(&mut reader)
        .map(|(line, headers, body)| {
            let status = line
                .split(' ')
                .nth(1)
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            (status, headers, body)
        })
        .ok_or_else(|| "no HTTP answer".to_string())
}

/// Reads a request or response: first line, headers (lower-case names), body by Content-Length.
fn read_message(reader: &mut impl BufRead) -> Option<Message<String>> {
    let mut first = String::new();
    reader.read_line(&mut first).ok()?;
    if first.is_empty() {
        return None;
    }
    let mut headers = BTreeMap::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).ok()?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers
        .get("content-length")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    Some((first.trim_end().to_string(), headers, body))
}

fn serve(stream: TcpStream, port: u16, state: &Mutex<State>, counters: &Counters) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(match stream.try_clone() {
        Ok(s) => s,
        Err(_) => return,
    });
    let mut out = stream;
    // Dovecot's HTTP client keeps connections open: answer requests until it closes.
    while let Some((line, _headers, body)) = read_message(&mut reader) {
        let mut parts = line.split(' ');
        let method = parts.next().unwrap_or("");
        let target = parts.next().unwrap_or("");
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(&body).into_owned().collect();
        let query: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .into_owned()
            .collect();
        let mut s = state.lock().unwrap();
        let (status, extra, reply) = route(method, path, &query, &form, port, &mut s, counters);
        drop(s);
        let body = reply.to_string();
        let head = format!(
            "HTTP/1.1 {status} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}\r\n",
            if status < 300 { "OK" } else if status < 400 { "Found" } else { "Error" },
            body.len()
        );
        if out.write_all(head.as_bytes()).is_err() || out.write_all(body.as_bytes()).is_err() {
            return;
        }
    }
}

type Reply = (u16, String, Value);

fn ms_error(error: &str, code: u64, description: &str) -> Reply {
    (
        if error == "invalid_client" { 401 } else { 400 },
        String::new(),
        json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {description}"),
            "error_codes": [code],
        }),
    )
}

fn google_error(error: &str, description: &str) -> Reply {
    (
        if error == "invalid_client" { 401 } else { 400 },
        String::new(),
        json!({"error": error, "error_description": description}),
    )
}

fn random_token(prefix: &str) -> String {
    use ring::rand::SecureRandom as _;
    let mut buf = [0u8; 24];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        .expect("random");
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(buf))
}

fn issue(
    s: &mut State,
    counters: &Counters,
    mailboxes: BTreeSet<String>,
    scope: &str,
) -> (String, u64) {
    let token = random_token("tok-");
    s.tokens.insert(
        token.clone(),
        Issued {
            mailboxes,
            scope: scope.to_string(),
            expires: Instant::now() + s.lifetime,
        },
    );
    counters.tokens_issued.fetch_add(1, Ordering::Relaxed);
    (token, s.lifetime.as_secs().max(1))
}

/// A JWT's header and claims, once its signature verified with `key`.
fn verified_jwt(jwt: &str, key: &TestKey) -> Option<(Value, Value)> {
    let (header_claims, signature) = jwt.rsplit_once('.')?;
    let (header, claims) = header_claims.split_once('.')?;
    let signature = URL_SAFE_NO_PAD.decode(signature).ok()?;
    if !key.verifies(header_claims.as_bytes(), &signature) {
        return None;
    }
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).ok()?).ok()?;
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).ok()?).ok()?;
    (header["alg"] == "RS256").then_some((header, claims))
}

fn unverified_header(jwt: &str) -> Value {
    jwt.split('.')
        .next()
        .and_then(|h| URL_SAFE_NO_PAD.decode(h).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

fn now_unix() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

#[allow(clippy::too_many_arguments)]
fn route(
    method: &str,
    path: &str,
    query: &HashMap<String, String>,
    form: &HashMap<String, String>,
    port: u16,
    s: &mut State,
    counters: &Counters,
) -> Reply {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match (method, segments.as_slice()) {
        ("POST", [tenant, "oauth2", "v2.0", "token"]) => {
            counters.token_requests.fetch_add(1, Ordering::Relaxed);
            microsoft_token(tenant, form, port, s, counters)
        }
        ("GET", [tenant, "oauth2", "v2.0", "authorize"]) => authorize(tenant, query, s),
        ("POST", ["google", "token"]) => {
            counters.token_requests.fetch_add(1, Ordering::Relaxed);
            google_token(form, port, s, counters)
        }
        ("POST", ["introspect", mailbox]) => {
            counters.introspections.fetch_add(1, Ordering::Relaxed);
            let active = form
                .get("token")
                .and_then(|t| s.tokens.get(t))
                .filter(|i| i.expires > Instant::now() && i.mailboxes.contains(*mailbox));
            match active {
                Some(i) => (
                    200,
                    String::new(),
                    json!({"active": true, "username": mailbox, "scope": i.scope}),
                ),
                None => (200, String::new(), json!({"active": false})),
            }
        }
        _ => (404, String::new(), json!({"error": "not_found"})),
    }
}

fn microsoft_token(
    tenant: &str,
    form: &HashMap<String, String>,
    port: u16,
    s: &mut State,
    counters: &Counters,
) -> Reply {
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let known_tenant =
        s.apps.iter().any(|a| a.tenant == tenant) || s.clients.iter().any(|c| c.tenant == tenant);
    if !known_tenant {
        return ms_error(
            "invalid_request",
            90002,
            &format!("Tenant '{tenant}' not found."),
        );
    }
    match get("grant_type") {
        "client_credentials" => {
            if get("scope") != "https://outlook.office365.com/.default" {
                return ms_error(
                    "invalid_scope",
                    1002012,
                    "The provided value for scope is not valid.",
                );
            }
            let Some(app) = s
                .apps
                .iter()
                .find(|a| a.tenant == tenant && a.client_id == get("client_id"))
            else {
                return ms_error(
                    "unauthorized_client",
                    700016,
                    &format!(
                        "Application with identifier '{}' was not found in the directory.",
                        get("client_id")
                    ),
                );
            };
            let authenticated = if let Some(assertion) = form.get("client_assertion") {
                if get("client_assertion_type")
                    != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
                {
                    return ms_error("invalid_request", 50027, "Invalid client assertion type.");
                }
                let Some(cert) = &app.certificate else {
                    return ms_error(
                        "invalid_client",
                        700027,
                        "The app has no certificate credential.",
                    );
                };
                let header = unverified_header(assertion);
                let names_cert = header["x5t#S256"] == cert.sha256_thumbprint()
                    || header["x5t"] == cert.sha1_thumbprint();
                if !names_cert {
                    return ms_error(
                        "invalid_client",
                        700027,
                        "Client assertion contains an invalid signature. Key was not found.",
                    );
                }
                let Some((_, claims)) = verified_jwt(assertion, cert) else {
                    return ms_error(
                        "invalid_client",
                        700027,
                        "Client assertion contains an invalid signature.",
                    );
                };
                let endpoint = format!("http://127.0.0.1:{port}/{tenant}/oauth2/v2.0/token");
                let now = now_unix();
                if claims["aud"] != endpoint.as_str()
                    || claims["iss"] != app.client_id.as_str()
                    || claims["sub"] != app.client_id.as_str()
                    || claims["jti"].as_str().is_none_or(str::is_empty)
                {
                    return ms_error(
                        "invalid_client",
                        700021,
                        "Client assertion audience, issuer or subject is not valid.",
                    );
                }
                if claims["exp"].as_i64().is_none_or(|e| e < now)
                    || claims["nbf"].as_i64().is_some_and(|n| n > now + 5)
                {
                    return ms_error(
                        "invalid_client",
                        700024,
                        "Client assertion is not within its valid time range.",
                    );
                }
                true
            } else {
                app.secret
                    .as_deref()
                    .is_some_and(|s| s == get("client_secret"))
            };
            if !authenticated {
                return ms_error(
                    "invalid_client",
                    7000215,
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.",
                );
            }
            let mailboxes = app.mailboxes.clone();
            let (token, expires_in) = issue(s, counters, mailboxes, APP_SCOPE);
            (
                200,
                String::new(),
                json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token}),
            )
        }
        "authorization_code" => {
            let Some(pending) = s.codes.remove(get("code")) else {
                return ms_error(
                    "invalid_grant",
                    70008,
                    "The provided authorization code is expired or invalid.",
                );
            };
            let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
                &ring::digest::SHA256,
                get("code_verifier").as_bytes(),
            ));
            if pending.client_id != get("client_id")
                || pending.redirect_uri != get("redirect_uri")
                || pending.challenge != challenge
            {
                return ms_error("invalid_grant", 501481, "The Code_Verifier does not match the code_challenge supplied in the authorization request.");
            }
            let (token, expires_in) = issue(
                s,
                counters,
                pending.mailboxes.clone(),
                "IMAP.AccessAsUser.All",
            );
            let refresh = random_token("refresh-");
            s.refresh
                .insert(refresh.clone(), (pending.admin, pending.mailboxes));
            (
                200,
                String::new(),
                json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token, "refresh_token": refresh}),
            )
        }
        "refresh_token" => {
            let Some((_, mailboxes)) = s.refresh.get(get("refresh_token")).cloned() else {
                return ms_error("invalid_grant", 70000, "The refresh token is invalid.");
            };
            let (token, expires_in) = issue(s, counters, mailboxes, "IMAP.AccessAsUser.All");
            (
                200,
                String::new(),
                json!({"token_type": "Bearer", "expires_in": expires_in, "access_token": token}),
            )
        }
        other => ms_error(
            "unsupported_grant_type",
            70003,
            &format!("The app requested an unsupported grant type '{other}'."),
        ),
    }
}

fn authorize(tenant: &str, query: &HashMap<String, String>, s: &mut State) -> Reply {
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    let Some(client) = s
        .clients
        .iter()
        .find(|c| c.tenant == tenant && c.client_id == get("client_id"))
    else {
        return (400, String::new(), json!({"error": "unauthorized_client"}));
    };
    let redirect = get("redirect_uri");
    let loopback =
        redirect.starts_with("http://127.0.0.1:") || redirect.starts_with("http://localhost:");
    if get("response_type") != "code" || get("code_challenge_method") != "S256" || !loopback {
        return (400, String::new(), json!({"error": "invalid_request"}));
    }
    if client.declines {
        let mut location = url::Url::parse(&redirect).expect("checked loopback URL");
        location
            .query_pairs_mut()
            .append_pair("error", "access_denied")
            .append_pair(
                "error_description",
                "AADSTS65004: User declined to consent to access the app.",
            )
            .append_pair("state", &get("state"));
        return (302, format!("Location: {location}\r\n"), json!({}));
    }
    let code = random_token("code-");
    s.codes.insert(
        code.clone(),
        PendingCode {
            client_id: client.client_id.clone(),
            redirect_uri: redirect.clone(),
            challenge: get("code_challenge"),
            admin: client.admin.clone(),
            mailboxes: client.mailboxes.clone(),
        },
    );
    let mut location = url::Url::parse(&redirect).expect("checked loopback URL");
    location
        .query_pairs_mut()
        .append_pair("code", &code)
        .append_pair("state", &get("state"));
    (302, format!("Location: {location}\r\n"), json!({}))
}

fn google_token(
    form: &HashMap<String, String>,
    port: u16,
    s: &mut State,
    counters: &Counters,
) -> Reply {
    if form.get("grant_type").map(String::as_str)
        != Some("urn:ietf:params:oauth:grant-type:jwt-bearer")
    {
        return google_error("unsupported_grant_type", "Invalid grant_type.");
    }
    let assertion = form.get("assertion").map(String::as_str).unwrap_or("");
    // Which account: read the unverified issuer, then verify with that account's key.
    let iss = assertion
        .split('.')
        .nth(1)
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .and_then(|c| c["iss"].as_str().map(str::to_string))
        .unwrap_or_default();
    let Some(account) = s.accounts.iter().find(|a| a.client_email == iss) else {
        return google_error("invalid_client", "The OAuth client was not found.");
    };
    let Some((_, claims)) = verified_jwt(assertion, &account.key) else {
        return google_error("invalid_grant", "Invalid JWT Signature.");
    };
    let now = now_unix();
    let endpoint = format!("http://127.0.0.1:{port}/google/token");
    if claims["aud"] != endpoint.as_str() {
        return google_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.",
        );
    }
    let (Some(iat), Some(exp)) = (claims["iat"].as_i64(), claims["exp"].as_i64()) else {
        return google_error(
            "invalid_grant",
            "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe.",
        );
    };
    if exp < now || exp - iat > 3600 || iat > now + 60 {
        return google_error("invalid_grant", "Invalid JWT: Token must be a short-lived token and in a reasonable timeframe. Check your iat and exp values in the JWT claim.");
    }
    let scope = claims["scope"].as_str().unwrap_or("");
    if !account.delegated || scope != "https://mail.google.com/" {
        return google_error("unauthorized_client", "Client is unauthorized to retrieve access tokens using this method, or client not authorized for any of the scopes requested.");
    }
    let Some(sub) = claims["sub"].as_str().filter(|u| s.users.contains(*u)) else {
        return google_error("invalid_grant", "Invalid email or User ID");
    };
    let (token, expires_in) = issue(
        s,
        counters,
        BTreeSet::from([sub.to_string()]),
        scope.to_string().as_str(),
    );
    (
        200,
        String::new(),
        json!({"access_token": token, "expires_in": expires_in, "token_type": "Bearer"}),
    )
}
