//! One HTTP request per token fetch: HTTPS with the system's roots, or plain HTTP to loopback
//! only (the test kit's token server). No connection pool: tokens are fetched rarely.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use url::Url;

use ferry_imap::{TokenError, TokenErrorKind};

/// How long one token request may take, connect to last byte.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A checked endpoint: `https://…`, or `http://` to a loopback address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint(Url);

impl Endpoint {
    /// Parses and checks `url`; `what` names it in the error ("token endpoint").
    pub fn parse(url: &str, what: &str) -> Result<Endpoint, TokenError> {
        let bad = |reason: String| {
            TokenError::new(
                TokenErrorKind::BadSettings,
                format!("the {what} {url:?} {reason}"),
            )
        };
        let parsed = Url::parse(url).map_err(|e| bad(format!("is not a URL ({e})")))?;
        let host = parsed.host_str().ok_or_else(|| bad("has no host".into()))?;
        match parsed.scheme() {
            "https" => {}
            "http" if is_loopback(host) => {}
            "http" => {
                return Err(bad(
                    "must use https (plain http only to this computer)".into()
                ))
            }
            other => return Err(bad(format!("uses {other:?}, not https"))),
        }
        Ok(Endpoint(parsed))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    pub fn url(&self) -> &Url {
        &self.0
    }
}

pub(crate) fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn tls_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let loaded = rustls_native_certs::load_native_certs();
            for e in &loaded.errors {
                tracing::warn!("loading a system root certificate failed: {e}");
            }
            roots.add_parsable_certificates(loaded.certs);
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// An HTTP answer: status and body.
pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
}

/// POSTs an `application/x-www-form-urlencoded` body. The body may hold secrets: it is never
/// logged, and errors name only the endpoint.
pub async fn post_form(endpoint: &Endpoint, form: &[(&str, &str)]) -> Result<Response, TokenError> {
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(form)
        .finish();
    match tokio::time::timeout(REQUEST_TIMEOUT, send(endpoint, body)).await {
        Ok(r) => r,
        Err(_) => Err(TokenError::new(
            TokenErrorKind::ProviderUnavailable,
            format!(
                "{} did not answer within {} s",
                endpoint.as_str(),
                REQUEST_TIMEOUT.as_secs()
            ),
        )),
    }
}

async fn send(endpoint: &Endpoint, body: String) -> Result<Response, TokenError> {
    let url = endpoint.url();
    let unavailable = |what: String| {
        TokenError::new(
            TokenErrorKind::ProviderUnavailable,
            format!("{}: {what}", endpoint.as_str()),
        )
    };
    let host = url.host_str().unwrap_or_default().to_string();
    let port = url.port_or_known_default().unwrap_or(443);
    let tcp =
        tokio::net::TcpStream::connect((host.trim_start_matches('[').trim_end_matches(']'), port))
            .await
            .map_err(|e| unavailable(format!("cannot connect: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let host_header = match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.clone(),
    };
    let path = match url.query() {
        Some(q) => format!("{}?{q}", url.path()),
        None => url.path().to_string(),
    };
    let request = hyper::Request::post(path)
        .header(hyper::header::HOST, host_header)
        .header(
            hyper::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .header(hyper::header::ACCEPT, "application/json")
        .header(hyper::header::USER_AGENT, "Ferry")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| unavailable(format!("cannot build the request: {e}")))?;
    if url.scheme() == "https" {
        let name = rustls_pki_types::ServerName::try_from(
            host.trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
        )
        .map_err(|e| unavailable(format!("bad host name: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(tls_config())
            .connect(name, tcp)
            .await
            .map_err(|e| unavailable(format!("TLS handshake failed: {e}")))?;
        exchange(TokioIo::new(tls), request, &unavailable).await
    } else {
        exchange(TokioIo::new(tcp), request, &unavailable).await
    }
}

async fn exchange<T>(
    io: T,
    request: hyper::Request<Full<Bytes>>,
    unavailable: &(dyn Fn(String) -> TokenError + Sync),
) -> Result<Response, TokenError>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
        .await
        .map_err(|e| unavailable(format!("HTTP handshake failed: {e}")))?;
    let driver = tokio::spawn(connection);
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| unavailable(format!("request failed: {e}")))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| unavailable(format!("reading the answer failed: {e}")))?
            .to_bytes()
            .to_vec();
        Ok(Response { status, body })
    }
    .await;
    driver.abort();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_https_or_loopback() {
        assert!(
            Endpoint::parse("https://login.microsoftonline.com/x/oauth2/v2.0/token", "t").is_ok()
        );
        assert!(Endpoint::parse("http://127.0.0.1:8080/token", "t").is_ok());
        assert!(Endpoint::parse("http://[::1]:8080/token", "t").is_ok());
        let err = Endpoint::parse("http://example.com/token", "token endpoint").unwrap_err();
        assert_eq!(err.kind, TokenErrorKind::BadSettings);
        assert_eq!(
            err.message,
            "the token endpoint \"http://example.com/token\" must use https (plain http only to this computer)"
        );
        assert!(Endpoint::parse("ftp://example.com/", "t").is_err());
    }
}
