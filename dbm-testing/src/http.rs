//! A real HTTP/1.1 client for tests of the health routes: one GET per connection, with
//! hyper, so the server under test is reached over a socket like any scraper or probe.

use std::net::SocketAddr;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;

/// What a GET returned.
#[derive(Debug, Clone)]
pub struct HttpReply {
    /// The status code.
    pub status: u16,
    /// The `Content-Type` header (empty when absent).
    pub content_type: String,
    /// The body, as text.
    pub body: String,
}

impl HttpReply {
    /// The body parsed as JSON.
    ///
    /// # Panics
    /// When the body is not JSON (the panic shows it).
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("{e}: {}", self.body))
    }
}

/// `GET path` from `addr`, with an `Accept` header when given.
///
/// # Panics
/// When the connection or the exchange fails: in a test that is the failure.
pub async fn http_get(addr: SocketAddr, path: &str, accept: Option<&str>) -> HttpReply {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("connect to {addr}: {e}"));
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("HTTP handshake");
    tokio::spawn(conn);
    let mut req = hyper::Request::get(path).header("host", addr.to_string());
    if let Some(a) = accept {
        req = req.header("accept", a);
    }
    let resp = sender
        .send_request(req.body(Empty::<Bytes>::new()).expect("request"))
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = resp.status().as_u16();
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    HttpReply {
        status,
        content_type,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
