//! One tiberius client: opening it (TLS, login, one routing redirect), running a batch,
//! and stopping the statement it runs: ATTENTION first, `KILL <spid>` from a fresh
//! connection when the server does not acknowledge it.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use dbm_core::{Canceller, Error, ErrorKind, Result, async_trait};
use futures_util::TryStreamExt;
use tiberius::ColumnData;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio_util::compat::{Compat, TokioAsyncWriteCompatExt};

use crate::error::{io_error, map_err};
use crate::options::MssqlOptions;

/// How long a cancelled statement's ATTENTION may wait for the server's acknowledgement.
pub const ATTENTION_WAIT: Duration = Duration::from_secs(2);

/// How long the `KILL` fallback may take, connecting included.
pub const KILL_WAIT: Duration = Duration::from_millis(2500);

pub(crate) type Client = tiberius::Client<Compat<TcpStream>>;

/// Asks the statement running on one connection to stop; the connection sends the
/// ATTENTION (tiberius needs the client for it) and falls back to `KILL`.
pub struct MssqlCanceller {
    pub(crate) spid: i32,
    pub(crate) signal: Arc<watch::Sender<u64>>,
}

impl fmt::Debug for MssqlCanceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MssqlCanceller")
            .field("spid", &self.spid)
            .finish()
    }
}

#[async_trait]
impl Canceller for MssqlCanceller {
    async fn cancel(&self) {
        self.signal.send_modify(|n| *n += 1);
    }
}

/// Opens a client within the connect timeout, following one routing redirect (Azure SQL
/// gateways send one).
pub(crate) async fn open(options: &MssqlOptions) -> Result<Client> {
    dbm_core::ensure_crypto_provider();
    let mut config = options.tiberius_config();
    let (mut host, mut port) = (options.host().to_owned(), options.port());
    for _ in 0..2 {
        let tcp = match tokio::time::timeout(
            options.connect_timeout,
            TcpStream::connect((host.as_str(), port)),
        )
        .await
        {
            Ok(Ok(tcp)) => tcp,
            Ok(Err(e)) => {
                return Err(io_error(e.kind(), &e.to_string(), options).with_operation("connect"));
            }
            Err(_) => {
                return Err(Error::new(
                    ErrorKind::Connection,
                    format!(
                        "no answer from {host}:{port} within {} s",
                        options.connect_timeout.as_secs_f64()
                    ),
                )
                .with_code(dbm_core::ErrorCode::ConnectIo)
                .with_operation("connect")
                .with_hint("check that the server is running and reachable"));
            }
        };
        let _ = tcp.set_nodelay(true);
        match tiberius::Client::connect(config.clone(), tcp.compat_write()).await {
            Ok(c) => return Ok(c),
            Err(tiberius::error::Error::Routing { host: h, port: p }) => {
                tracing::debug!(host = %h, port = p, "SQL Server redirected the connection");
                config.host(&h);
                config.port(p);
                (host, port) = (h, p);
            }
            Err(e) => return Err(map_err(e, options).with_operation("connect")),
        }
    }
    Err(Error::new(
        ErrorKind::Connection,
        format!("{options} redirected the connection more than once"),
    )
    .with_operation("connect"))
}

/// Runs a batch and reads its whole reply.
pub(crate) async fn run_batch(client: &mut Client, sql: &str) -> tiberius::Result<()> {
    let mut stream = client.simple_query(sql).await?;
    while stream.try_next().await?.is_some() {}
    Ok(())
}

/// The first column of the first row of a batch's reply, as an integer.
pub(crate) async fn batch_int(client: &mut Client, sql: &str) -> tiberius::Result<Option<i64>> {
    let row = client.simple_query(sql).await?.into_row().await?;
    Ok(row.and_then(|r| {
        r.into_iter().next().and_then(|d| match d {
            ColumnData::U8(v) => v.map(i64::from),
            ColumnData::I16(v) => v.map(i64::from),
            ColumnData::I32(v) => v.map(i64::from),
            ColumnData::I64(v) => v,
            _ => None,
        })
    }))
}

/// Ends session `spid` from a fresh connection (needs ALTER ANY CONNECTION).
pub(crate) async fn kill(options: &MssqlOptions, spid: i32) -> Result<()> {
    let mut c = open(options).await?;
    run_batch(&mut c, &format!("KILL {spid}"))
        .await
        .map_err(|e| map_err(e, options))?;
    let _ = c.close().await;
    Ok(())
}

/// Stops what `client` is running: ATTENTION within [`ATTENTION_WAIT`], else `KILL`.
/// `Ok` when the server acknowledged the ATTENTION.
pub(crate) async fn stop(
    client: &mut Client,
    options: &MssqlOptions,
    spid: i32,
) -> std::result::Result<(), String> {
    let attention = match tokio::time::timeout(ATTENTION_WAIT, client.cancel_query()).await {
        Ok(Ok(())) => return Ok(()),
        Ok(Err(e)) => format!("ATTENTION failed ({e})"),
        Err(_) => format!(
            "ATTENTION was not acknowledged within {} s",
            ATTENTION_WAIT.as_secs_f64()
        ),
    };
    match tokio::time::timeout(KILL_WAIT, kill(options, spid)).await {
        Ok(Ok(())) => Err(format!("{attention}; session {spid} was ended with KILL")),
        Ok(Err(e)) => Err(format!("{attention}, and KILL {spid} failed: {e}")),
        Err(_) => Err(format!(
            "{attention}, and KILL {spid} did not finish within {} s",
            KILL_WAIT.as_secs_f64()
        )),
    }
}
