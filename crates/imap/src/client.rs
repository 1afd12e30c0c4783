//! Connecting (TCP, TLS or STARTTLS, greeting) and logging in.

use std::time::Duration;

use async_imap::imap_proto::{Response, ResponseCode, Status};
use base64::Engine as _;
use secrecy::zeroize::Zeroizing;
use secrecy::{ExposeSecret, SecretString};
use tokio::net::TcpStream;

use crate::conn::{capability_atoms, quotable, quote, Conn, Part};
use crate::error::{CertificateInfo, ImapError, Result};
use crate::oauth::{
    parse_error_challenge, AccessToken, AccessTokenSource, OAuthRefusal, RefusalKind,
    TokenMechanism,
};
use crate::response::{classify, classify_bye, Ctx, StatusText};
use crate::session::Session;
use crate::tls;
use crate::transport::{Inner, Transport};
use crate::types::{
    AuthMethod, Capabilities, Credentials, Endpoint, LoginSecret, Security, Timeouts,
};

/// A connected, not yet authenticated IMAP connection.
pub struct Client {
    conn: Conn,
    greeting: String,
    preauth: bool,
    endpoint: Endpoint,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.conn.server)
            .field("greeting", &self.greeting)
            .finish()
    }
}

async fn with_timeout<T>(
    limit: Duration,
    server: &str,
    step: &str,
    fut: impl std::future::Future<Output = Result<T>>,
) -> Result<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(ImapError::Timeout {
            server: server.to_string(),
            step: step.to_string(),
            after: limit,
        }),
    }
}

async fn tcp_connect(endpoint: &Endpoint, timeouts: &Timeouts) -> Result<TcpStream> {
    let server = endpoint.label();
    let addrs: Vec<std::net::SocketAddr> =
        with_timeout(timeouts.connect, &server, "DNS lookup", async {
            tokio::net::lookup_host((endpoint.host.as_str(), endpoint.port))
                .await
                .map(|a| a.collect())
                .map_err(|e| ImapError::Unreachable {
                    server: server.clone(),
                    reason: format!("cannot resolve {:?}: {e}", endpoint.host),
                })
        })
        .await?;
    if addrs.is_empty() {
        return Err(ImapError::Unreachable {
            server,
            reason: format!("{:?} has no address", endpoint.host),
        });
    }
    let mut last = None;
    for addr in addrs {
        match tokio::time::timeout(timeouts.connect, TcpStream::connect(addr)).await {
            Ok(Ok(s)) => {
                // Commands are small and latency-bound; Nagle would delay pipelined ones.
                let _ = s.set_nodelay(true);
                return Ok(s);
            }
            Ok(Err(e)) => {
                last = Some(ImapError::Unreachable {
                    server: server.clone(),
                    reason: format!("{addr}: {e}"),
                })
            }
            Err(_) => {
                last = Some(ImapError::Timeout {
                    server: server.clone(),
                    step: format!("TCP connect to {addr}"),
                    after: timeouts.connect,
                })
            }
        }
    }
    Err(last.unwrap_or(ImapError::Unreachable {
        server,
        reason: "no address to connect to".into(),
    }))
}

async fn tls_handshake(
    endpoint: &Endpoint,
    timeouts: &Timeouts,
    tcp: TcpStream,
) -> Result<(Inner, CertificateInfo)> {
    let server = endpoint.label();
    let (config, seen) = tls::client_config(&server, endpoint.pinned_sha256.as_deref())?;
    let name = rustls::pki_types::ServerName::try_from(endpoint.host.clone()).map_err(|e| {
        ImapError::InvalidInput {
            what: "host name".into(),
            reason: format!("{:?}: {e}", endpoint.host),
        }
    })?;
    let connector = tokio_rustls::TlsConnector::from(config);
    let stream = with_timeout(timeouts.tls, &server, "TLS handshake", async {
        connector
            .connect(name, tcp)
            .await
            .map_err(|e| tls::handshake_error(&server, &seen, e))
    })
    .await?;
    let cert = tls::accepted_certificate(&seen).ok_or_else(|| ImapError::Tls {
        server: server.clone(),
        reason: "the server presented no certificate".into(),
    })?;
    Ok((Inner::Tls(Box::new(stream)), cert))
}

/// Reads the greeting; returns (text, preauth).
async fn greeting(conn: &mut Conn) -> Result<(String, bool)> {
    let server = conn.server.clone();
    let limit = conn.timeouts.greeting;
    let r = with_timeout(limit, &server, "greeting", conn.read("greeting")).await;
    let r = match r {
        Ok(r) => r,
        Err(e) => {
            conn.mark_broken(e.to_string());
            return Err(e);
        }
    };
    match r.parsed() {
        Response::Data { status, outcome } => {
            let st = StatusText::from_parts(
                status,
                outcome.code.as_ref(),
                outcome.information.as_deref(),
            );
            if let Some(ResponseCode::Capabilities(c)) = &outcome.code {
                conn.caps = capability_atoms(c);
            }
            match status {
                Status::Ok => Ok((st.full(), false)),
                Status::PreAuth => Ok((st.full(), true)),
                Status::Bye => Err(classify_bye(&server, "greeting", &st)),
                _ => Err(ImapError::Protocol {
                    server,
                    step: "greeting".into(),
                    detail: format!("unexpected greeting: {}", st.full()),
                }),
            }
        }
        other => Err(ImapError::Protocol {
            server,
            step: "greeting".into(),
            detail: format!("unexpected greeting: {other:?}"),
        }),
    }
}

impl Client {
    /// Connects: TCP (with `timeouts.connect`), TLS or STARTTLS (with `timeouts.tls`), the
    /// greeting (with `timeouts.greeting`), and the capabilities.
    pub async fn connect(endpoint: &Endpoint, timeouts: Timeouts) -> Result<Client> {
        let server = endpoint.label();
        let plain = endpoint.security == Security::Plain;
        if plain {
            crate::transport::refuse_plain_to_remote(&server, &endpoint.host, None)?;
        }
        let tcp = tcp_connect(endpoint, &timeouts).await?;
        if plain {
            let peer = tcp.peer_addr().ok().map(|a| a.ip());
            crate::transport::refuse_plain_to_remote(&server, &endpoint.host, peer)?;
        }
        let (mut conn, greeting_text, preauth) = match endpoint.security {
            Security::Tls => {
                let (inner, cert) = tls_handshake(endpoint, &timeouts, tcp).await?;
                let mut conn = Conn::new(Transport::new(inner, timeouts.idle), server, timeouts);
                conn.certificate = Some(cert);
                let (g, p) = greeting(&mut conn).await?;
                (conn, g, p)
            }
            Security::Plain => {
                let mut conn = Conn::new(
                    Transport::new(Inner::Plain(tcp), timeouts.idle),
                    server,
                    timeouts,
                );
                let (g, p) = greeting(&mut conn).await?;
                (conn, g, p)
            }
            Security::StartTls => {
                let mut plain = Conn::new(
                    Transport::new(Inner::Plain(tcp), timeouts.idle),
                    server.clone(),
                    timeouts,
                );
                let (_, preauth) = greeting(&mut plain).await?;
                if preauth {
                    return Err(ImapError::Tls {
                        server,
                        reason: "the server pre-authenticated the connection before STARTTLS"
                            .into(),
                    });
                }
                if plain.caps.raw.is_empty() {
                    plain.refresh_capabilities().await?;
                }
                if !plain.caps.starttls() {
                    return Err(ImapError::Tls {
                        server,
                        reason: "the server does not offer STARTTLS on this port".into(),
                    });
                }
                let ctx = Ctx {
                    server: &server,
                    command: "STARTTLS",
                    ..Ctx::default()
                };
                plain.simple("STARTTLS", &ctx).await?;
                let Inner::Plain(tcp) = plain.framed.into_inner().into_inner() else {
                    return Err(ImapError::Tls {
                        server,
                        reason: "STARTTLS on a connection that is already encrypted".into(),
                    });
                };
                let (inner, cert) = tls_handshake(endpoint, &timeouts, tcp).await?;
                let mut conn = Conn::new(Transport::new(inner, timeouts.idle), server, timeouts);
                conn.certificate = Some(cert);
                // Capabilities from before TLS must not be trusted (RFC 3501 §6.2.1).
                conn.refresh_capabilities().await?;
                (conn, String::new(), false)
            }
        };
        if conn.caps.raw.is_empty() && !preauth {
            conn.refresh_capabilities().await?;
        }
        Ok(Client {
            conn,
            greeting: greeting_text,
            preauth,
            endpoint: endpoint.clone(),
        })
    }

    /// Capabilities before login.
    pub fn capabilities(&self) -> &Capabilities {
        &self.conn.caps
    }

    /// The greeting's text (empty after STARTTLS, where the greeting came before TLS).
    pub fn greeting(&self) -> &str {
        &self.greeting
    }

    /// The server's certificate, when the connection is encrypted.
    pub fn certificate(&self) -> Option<&CertificateInfo> {
        self.conn.certificate.as_ref()
    }

    /// Whether the connection is encrypted.
    pub fn is_encrypted(&self) -> bool {
        self.conn.transport_ref().is_tls()
    }

    /// The endpoint this client connected to.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    fn choose(&self, creds: &Credentials) -> Result<AuthMethod> {
        let caps = &self.conn.caps;
        let plain_offered = caps.auth_mechanisms().iter().any(|m| m == "PLAIN");
        let tls_required = || ImapError::TlsRequired {
            server: self.conn.server.clone(),
            server_text: "the server disables login on unencrypted connections (LOGINDISABLED)"
                .into(),
        };
        let encrypted = self.is_encrypted();
        match creds.method {
            AuthMethod::Auto => {
                if plain_offered {
                    Ok(AuthMethod::Plain)
                } else if !caps.login_disabled() {
                    Ok(if creds.login_as.is_some() {
                        AuthMethod::DovecotMaster
                    } else {
                        AuthMethod::Login
                    })
                } else if !encrypted {
                    Err(tls_required())
                } else {
                    Err(ImapError::NoLoginMethod {
                        server: self.conn.server.clone(),
                        offered: caps.auth_mechanisms().join(" "),
                    })
                }
            }
            AuthMethod::Login | AuthMethod::DovecotMaster
                if caps.login_disabled() && !encrypted =>
            {
                Err(tls_required())
            }
            AuthMethod::Plain if !plain_offered && caps.login_disabled() && !encrypted => {
                Err(tls_required())
            }
            AuthMethod::XOAuth2 | AuthMethod::OAuthBearer => Err(ImapError::InvalidInput {
                what: "login method".into(),
                reason: "OAUTHBEARER and XOAUTH2 sign in with an access token, not a password"
                    .into(),
            }),
            m => Ok(m),
        }
    }

    /// Logs in (see [`AuthMethod`] for how the method is chosen) and returns the session.
    /// An OAuth sign-in whose token is refused is tried once more with a newly fetched token
    /// (the refused one may have expired since it was cached).
    pub async fn login(mut self, creds: &Credentials) -> Result<Session> {
        if self.preauth {
            return Ok(Session::new(self.conn, creds.mailbox_owner().to_string()));
        }
        if creds.user.is_empty() {
            return Err(ImapError::InvalidInput {
                what: "user name".into(),
                reason: "it is empty".into(),
            });
        }
        let result = match &creds.secret {
            LoginSecret::Password(password) => self.login_password(creds, password).await,
            LoginSecret::OAuth(source) => self.login_oauth(creds, source.as_ref()).await,
        };
        let reply = match result {
            Ok(reply) => reply,
            Err(err) => {
                self.conn.shutdown().await;
                return Err(err);
            }
        };
        // Capabilities change after login; servers usually send them with the OK.
        let mut caps = None;
        if let Some(t) = &reply.tagged {
            if let Response::Done {
                outcome:
                    async_imap::imap_proto::Outcome {
                        code: Some(ResponseCode::Capabilities(c)),
                        ..
                    },
                ..
            } = t.parsed()
            {
                caps = Some(capability_atoms(c));
            }
        }
        for r in &reply.untagged {
            if let Response::Capabilities(c) = r.parsed() {
                caps = Some(capability_atoms(c));
            }
        }
        match caps {
            Some(c) => self.conn.caps = c,
            None => self.conn.refresh_capabilities().await?,
        }
        Ok(Session::new(self.conn, creds.mailbox_owner().to_string()))
    }

    /// LOGIN or AUTHENTICATE PLAIN; the server's OK reply, or the refusal as an error.
    async fn login_password(
        &mut self,
        creds: &Credentials,
        password: &SecretString,
    ) -> Result<crate::conn::Reply> {
        for (what, v) in [
            ("user name", creds.user.as_str()),
            ("login_as user", creds.login_as.as_deref().unwrap_or("")),
            ("password", password.expose_secret()),
        ] {
            if v.contains(['\0', '\r', '\n']) {
                return Err(ImapError::InvalidInput {
                    what: what.into(),
                    reason: "it contains a line break or NUL".into(),
                });
            }
        }
        let method = self.choose(creds)?;
        let server = self.conn.server.clone();
        let ctx = Ctx {
            server: &server,
            command: if method == AuthMethod::Plain {
                "AUTHENTICATE PLAIN"
            } else {
                "LOGIN"
            },
            login: Some((creds.user.as_str(), creds.login_as.as_deref())),
            ..Ctx::default()
        };
        let reply = match method {
            AuthMethod::Plain => self.authenticate_plain(creds, password, &ctx).await?,
            AuthMethod::DovecotMaster => {
                // Dovecot's master user form: `target*master` with the master's password.
                let target = creds.login_as.as_deref().unwrap_or(&creds.user);
                let user = if creds.login_as.is_some() {
                    format!("{target}*{}", creds.user)
                } else {
                    creds.user.clone()
                };
                self.login_command(&user, password, &ctx).await?
            }
            _ => {
                let user = match &creds.login_as {
                    Some(target) => format!("{target}*{}", creds.user),
                    None => creds.user.clone(),
                };
                self.login_command(&user, password, &ctx).await?
            }
        };
        if !reply.is_ok() {
            return Err(classify(&ctx, &reply.status));
        }
        Ok(reply)
    }

    /// OAUTHBEARER or XOAUTH2 with a token from `source`; once more with a new token when the
    /// first is refused.
    async fn login_oauth(
        &mut self,
        creds: &Credentials,
        source: &dyn AccessTokenSource,
    ) -> Result<crate::conn::Reply> {
        if creds.login_as.is_some() {
            return Err(ImapError::InvalidInput {
                what: "OAuth sign-in".into(),
                reason: "a token names the mailbox itself; sign in with the mailbox as user".into(),
            });
        }
        // \x01 separates the fields of both SASL messages.
        if creds.user.contains(['\0', '\r', '\n', '\x01']) {
            return Err(ImapError::InvalidInput {
                what: "user name".into(),
                reason: "it contains a line break or control character".into(),
            });
        }
        let mechanism = self.choose_token_mechanism(creds.method)?;
        let server = self.conn.server.clone();
        let user = creds.user.as_str();
        let command = format!("AUTHENTICATE {}", mechanism.name());
        let ctx = Ctx {
            server: &server,
            command: &command,
            login: Some((user, None)),
            ..Ctx::default()
        };
        let issuer = source.describe();
        let unavailable = |error| ImapError::TokenUnavailable {
            user: user.to_string(),
            issuer: issuer.clone(),
            error,
        };
        let first = source.token(user).await.map_err(unavailable)?;
        let (reply, challenge) = self
            .authenticate_token(mechanism, user, &first, &ctx)
            .await?;
        if reply.is_ok() {
            return Ok(reply);
        }
        if !is_token_refusal(&reply.status) {
            return Err(classify(&ctx, &reply.status));
        }
        source.forget(user);
        let fresh = source.token(user).await.map_err(unavailable)?;
        let renewed = fresh.secret().expose_secret() != first.secret().expose_secret();
        let (reply, challenge, kind_if_invalid) = if renewed {
            let (reply, challenge) = self
                .authenticate_token(mechanism, user, &fresh, &ctx)
                .await?;
            if reply.is_ok() {
                return Ok(reply);
            }
            if !is_token_refusal(&reply.status) {
                return Err(classify(&ctx, &reply.status));
            }
            // A token fetched a moment ago was refused: not an expiry.
            (reply, challenge, RefusalKind::MailboxPermissionMissing)
        } else if first.valid_for(Duration::ZERO) {
            // The source kept its token (too young to have expired): refused for this mailbox.
            (reply, challenge, RefusalKind::MailboxPermissionMissing)
        } else {
            (reply, challenge, RefusalKind::TokenExpired)
        };
        let mut refusal = challenge.unwrap_or(OAuthRefusal {
            kind: RefusalKind::InvalidToken,
            status: None,
            scope: None,
        });
        if refusal.kind == RefusalKind::InvalidToken {
            refusal.kind = kind_if_invalid;
        }
        Err(ImapError::OAuthRefused {
            server: server.clone(),
            user: user.to_string(),
            issuer: issuer.clone(),
            provider: source.provider(),
            refusal: Box::new(refusal),
            server_text: reply.status.full(),
        })
    }

    fn choose_token_mechanism(&self, method: AuthMethod) -> Result<TokenMechanism> {
        let offered = self.conn.caps.auth_mechanisms();
        match method {
            AuthMethod::OAuthBearer => Ok(TokenMechanism::OAuthBearer),
            AuthMethod::XOAuth2 => Ok(TokenMechanism::XOAuth2),
            AuthMethod::Auto => {
                TokenMechanism::preferred(&offered).ok_or_else(|| ImapError::NoLoginMethod {
                    server: self.conn.server.clone(),
                    offered: offered.join(" "),
                })
            }
            AuthMethod::Login | AuthMethod::Plain | AuthMethod::DovecotMaster => {
                Err(ImapError::InvalidInput {
                    what: "login method".into(),
                    reason: "an access token signs in with OAUTHBEARER or XOAUTH2, not with a password method".into(),
                })
            }
        }
    }

    /// One AUTHENTICATE exchange with a token: the final reply, and the error challenge the
    /// server sent before refusing, if any.
    async fn authenticate_token(
        &mut self,
        mechanism: TokenMechanism,
        user: &str,
        token: &AccessToken,
        ctx: &Ctx<'_>,
    ) -> Result<(crate::conn::Reply, Option<OAuthRefusal>)> {
        let encoded = mechanism.initial_response(user, token.secret());
        let tag = if self.conn.caps.sasl_ir() {
            let line = Zeroizing::new(format!("AUTHENTICATE {} {}", mechanism.name(), &*encoded));
            self.conn
                .send(&[Part::Text(&line)], "AUTHENTICATE", ctx)
                .await?
        } else {
            let line = format!("AUTHENTICATE {}", mechanism.name());
            self.conn
                .send(&[Part::Text(&line)], "AUTHENTICATE", ctx)
                .await?
        };
        let mut sent = self.conn.caps.sasl_ir();
        let mut challenge = None;
        let mut untagged = Vec::new();
        loop {
            let r = self.conn.read("AUTHENTICATE").await?;
            match r.parsed() {
                Response::Continue(outcome) => {
                    if sent {
                        // An error challenge: read it, then answer so the server sends its NO.
                        challenge = outcome
                            .information
                            .as_deref()
                            .and_then(parse_error_challenge);
                        self.conn
                            .send_line(mechanism.challenge_reply(), "AUTHENTICATE")
                            .await?;
                    } else {
                        self.conn
                            .send_line(encoded.as_bytes(), "AUTHENTICATE")
                            .await?;
                        sent = true;
                    }
                }
                Response::Done {
                    tag: t,
                    status,
                    outcome,
                } if t.0 == tag => {
                    let status = StatusText::from_parts(
                        status,
                        outcome.code.as_ref(),
                        outcome.information.as_deref(),
                    );
                    return Ok((
                        crate::conn::Reply {
                            untagged,
                            status,
                            tagged: Some(r),
                        },
                        challenge,
                    ));
                }
                _ => untagged.push(r),
            }
        }
    }

    async fn login_command(
        &mut self,
        user: &str,
        password: &SecretString,
        ctx: &Ctx<'_>,
    ) -> Result<crate::conn::Reply> {
        let password = password.expose_secret();
        let user_q = quote(user);
        let pass_q = Zeroizing::new(quote(password));
        let mut parts = vec![Part::Text("LOGIN ")];
        if quotable(user) {
            parts.push(Part::Text(&user_q));
        } else {
            parts.push(Part::Literal(user.as_bytes()));
        }
        parts.push(Part::Text(" "));
        if quotable(password) {
            parts.push(Part::Text(&pass_q));
        } else {
            parts.push(Part::Literal(password.as_bytes()));
        }
        self.conn.run(&parts, "LOGIN", ctx).await
    }

    async fn authenticate_plain(
        &mut self,
        creds: &Credentials,
        password: &SecretString,
        ctx: &Ctx<'_>,
    ) -> Result<crate::conn::Reply> {
        // RFC 4616: authzid NUL authcid NUL passwd; authzid empty for a user's own login.
        let mut message = Zeroizing::new(Vec::new());
        if let Some(target) = &creds.login_as {
            message.extend_from_slice(target.as_bytes());
        }
        message.push(0);
        message.extend_from_slice(creds.user.as_bytes());
        message.push(0);
        message.extend_from_slice(password.expose_secret().as_bytes());
        let encoded = Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&*message));
        if self.conn.caps.sasl_ir() {
            let line = Zeroizing::new(format!("AUTHENTICATE PLAIN {}", &*encoded));
            return self
                .conn
                .run(&[Part::Text(&line)], "AUTHENTICATE", ctx)
                .await;
        }
        let tag = self
            .conn
            .send(&[Part::Text("AUTHENTICATE PLAIN")], "AUTHENTICATE", ctx)
            .await?;
        let mut sent = false;
        let mut untagged = Vec::new();
        loop {
            let r = self.conn.read("AUTHENTICATE").await?;
            match r.parsed() {
                Response::Continue(_) => {
                    if sent {
                        // A second challenge makes no sense for PLAIN: cancel (RFC 3501 §6.2.2).
                        self.conn.send_line(b"*", "AUTHENTICATE").await?;
                    } else {
                        self.conn
                            .send_line(encoded.as_bytes(), "AUTHENTICATE")
                            .await?;
                        sent = true;
                    }
                }
                Response::Done {
                    tag: t,
                    status,
                    outcome,
                } if t.0 == tag => {
                    let status = StatusText::from_parts(
                        status,
                        outcome.code.as_ref(),
                        outcome.information.as_deref(),
                    );
                    return Ok(crate::conn::Reply {
                        untagged,
                        status,
                        tagged: Some(r),
                    });
                }
                _ => untagged.push(r),
            }
        }
    }
}

/// Whether a refused AUTHENTICATE is about the token (rather than throttling, an outage or a
/// connection limit, which have their own kinds).
fn is_token_refusal(status: &StatusText) -> bool {
    status.status == "NO"
        && matches!(
            status.code.as_deref(),
            None | Some("AUTHENTICATIONFAILED" | "AUTHORIZATIONFAILED" | "EXPIRED")
        )
        && !crate::response::is_throttle_text(&status.text)
}

/// Connects and logs in: the usual way to get a [`Session`].
pub async fn connect_and_login(
    endpoint: &Endpoint,
    creds: &Credentials,
    timeouts: Timeouts,
) -> Result<Session> {
    Client::connect(endpoint, timeouts)
        .await?
        .login(creds)
        .await
}

/// The certificate an endpoint presents, trusted or not: what the admin compares and pins.
/// Plain endpoints have none (`Tls` error).
pub async fn probe_certificate(endpoint: &Endpoint, timeouts: Timeouts) -> Result<CertificateInfo> {
    if endpoint.security == Security::Plain {
        return Err(ImapError::Tls {
            server: endpoint.label(),
            reason: "a plain connection has no certificate".into(),
        });
    }
    match Client::connect(endpoint, timeouts).await {
        Ok(client) => client.certificate().cloned().ok_or_else(|| ImapError::Tls {
            server: endpoint.label(),
            reason: "the server presented no certificate".into(),
        }),
        Err(ImapError::UntrustedCertificate { cert, .. }) => Ok(*cert),
        Err(e) => Err(e),
    }
}
