//! A TDS 7.4 test server over a real TCP socket, so that the SQL Server driver is proven
//! on the wire without a SQL Server (none runs on our machines).
//!
//! Two modes:
//! - [`TdsServer::engine`]: requests run on SQLite files (one per database) behind the
//!   TDS wire, with a small translation of the T-SQL dbm sends (`@Pn`, `TOP n`,
//!   `NVARCHAR(max)`, `sp_getapplock` emulated per session, transactions with their
//!   ENVCHANGEs, `@@SPID`, `XACT_STATE()`, `WAITFOR DELAY`, `KILL`). It proves dbm's wire,
//!   state and error handling, not SQL Server's semantics.
//! - [`TdsServer::scripted`]: replies chosen by the exact SQL text a test expects, so every
//!   statement the driver emits is asserted verbatim, and failures are staged on purpose:
//!   an error token, the socket closed mid-result, a stall until ATTENTION, a late
//!   acknowledgement.
//!
//! Every request is recorded ([`TdsServer::requests`]) with its decoded parameters.
//! Logins need the user `sa` and the password [`TdsServer::PASSWORD`]; anything else is
//! refused with error 18456. There is no TLS: clients connect with
//! `encrypt=DANGER_PLAINTEXT`.
//!
//! ```
//! # tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap().block_on(async {
//! let server = dbm_testing::tds::TdsServer::engine().await;
//! assert!(server.url("master").starts_with("mssql://sa:"));
//! # });
//! ```

mod decode;
mod engine;
mod login;
mod packet;
mod script;
mod session;
mod storage;
mod tokens;
mod translate;
mod types;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use tokio::net::TcpListener;
use tokio::task::AbortHandle;

use engine::Engine;
pub use script::{Action, Script};
use session::serve;
pub use tokens::Column;
pub use types::{TdsType, TdsValue};

/// A request as the server received it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Request {
    /// The session (`@@SPID`) that sent it.
    pub spid: u16,
    /// A SQL batch (`simple_query`) or an RPC (`sp_executesql`).
    pub kind: RequestKind,
    /// The SQL text (the `@stmt` of an RPC).
    pub sql: String,
    /// The `@P1..` parameters of an RPC, decoded.
    pub params: Vec<Param>,
}

/// How a request came.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// A SQL batch message.
    Batch,
    /// An RPC (`sp_executesql`).
    Rpc,
}

/// One decoded RPC parameter.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Param {
    /// Its name (`@P1`).
    pub name: String,
    /// Its declared wire type.
    pub ty: TdsType,
    /// Its value.
    pub value: TdsValue,
}

enum Mode {
    Engine(Arc<Engine>),
    Scripted(Arc<Script>),
}

struct Shared {
    mode: Mode,
    requests: Mutex<Vec<Request>>,
    sessions: Mutex<HashMap<u16, AbortHandle>>,
    next_spid: AtomicU16,
    logins: AtomicU16,
    attentions: AtomicU16,
}

/// A running test server; stops when dropped.
pub struct TdsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: tokio::task::JoinHandle<()>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for TdsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TdsServer")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Drop for TdsServer {
    fn drop(&mut self) {
        self.accept.abort();
        for (_, h) in self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain()
        {
            h.abort();
        }
    }
}

impl TdsServer {
    /// The password of the `sa` login.
    pub const PASSWORD: &'static str = "Tds-Test-Pw1";

    /// An engine-mode server on a free port of 127.0.0.1, with an empty `master`.
    ///
    /// # Panics
    /// When no port or temporary directory can be had.
    pub async fn engine() -> TdsServer {
        let dir = tempfile::tempdir().expect("temp dir");
        let engine = Engine::new(dir.path().to_path_buf());
        Self::start(Mode::Engine(Arc::new(engine)), Some(dir)).await
    }

    /// A scripted server: each request gets the actions its exact SQL text is scripted
    /// with, and an error naming the text when it has none.
    pub async fn scripted(script: Script) -> TdsServer {
        Self::start(Mode::Scripted(Arc::new(script)), None).await
    }

    async fn start(mode: Mode, dir: Option<tempfile::TempDir>) -> TdsServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("local address");
        let shared = Arc::new(Shared {
            mode,
            requests: Mutex::new(Vec::new()),
            sessions: Mutex::new(HashMap::new()),
            next_spid: AtomicU16::new(51),
            logins: AtomicU16::new(0),
            attentions: AtomicU16::new(0),
        });
        let s = shared.clone();
        let accept = tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let spid = s.next_spid.fetch_add(1, Ordering::SeqCst);
                let shared = s.clone();
                let task = tokio::spawn(async move {
                    if let Err(e) = serve(shared.clone(), socket, spid).await {
                        tracing::warn!(spid, error = %e, "TDS test server: session ended with an error");
                    }
                    shared
                        .sessions
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .remove(&spid);
                    if let Mode::Engine(e) = &shared.mode {
                        e.release_all(spid);
                    }
                });
                s.sessions
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .insert(spid, task.abort_handle());
            }
        });
        TdsServer {
            addr,
            shared,
            accept,
            _dir: dir,
        }
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A dbm URL for `database` as `sa` (plaintext: the server has no TLS).
    pub fn url(&self, database: &str) -> String {
        format!(
            "mssql://sa:{}@127.0.0.1:{}/{database}?encrypt=DANGER_PLAINTEXT",
            Self::PASSWORD,
            self.addr.port()
        )
    }

    /// Every request received so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.shared
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The SQL text of every request received so far.
    pub fn sql_log(&self) -> Vec<String> {
        self.requests().into_iter().map(|r| r.sql).collect()
    }

    /// How many sessions are connected now.
    pub fn sessions(&self) -> usize {
        self.shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .len()
    }

    /// How many logins succeeded so far.
    pub fn logins(&self) -> u16 {
        self.shared.logins.load(Ordering::SeqCst)
    }

    /// How many ATTENTION messages arrived so far.
    pub fn attentions(&self) -> u16 {
        self.shared.attentions.load(Ordering::SeqCst)
    }

    /// Ends a session from the server side (as `KILL` does).
    pub fn kill(&self, spid: u16) {
        if let Some(h) = self
            .shared
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&spid)
        {
            h.abort();
        }
    }
}
