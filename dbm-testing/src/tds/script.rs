//! The scripted mode: each request gets the actions scripted for its exact SQL text.

use std::time::Duration;

use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::mpsc;

use super::session::{Incoming, Out, Session, invalid};
use super::tokens::{Column, DONE_ATTN, DONE_COUNT, DONE_ERROR, DONE_MORE};
use super::types::TdsValue;
use super::{Request, RequestKind};

/// What the server does for one statement of a scripted request.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum Action {
    /// A result set.
    Rows {
        /// Its columns.
        columns: Vec<Column>,
        /// Its rows.
        rows: Vec<Vec<TdsValue>>,
    },
    /// A statement that changed `n` rows.
    Count(u64),
    /// A statement with no result (`SET ...`).
    Done,
    /// An error token.
    Error {
        /// The SQL Server error number (18456, 1205, ...).
        number: i32,
        /// Its class (severity); 20 and above end the connection on a real server.
        class: u8,
        /// Its text.
        message: String,
    },
    /// The start of a transaction (its ENVCHANGE).
    Begin,
    /// A commit (its ENVCHANGE).
    Commit,
    /// A rollback (its ENVCHANGE).
    Rollback,
    /// Sends these columns and rows, then closes the socket in the middle of the reply.
    CloseMidResult {
        /// The columns sent.
        columns: Vec<Column>,
        /// The rows sent before the close.
        rows: Vec<Vec<TdsValue>>,
    },
    /// Sends these columns and rows (none: stalls before the first token), then waits for
    /// the client's ATTENTION and acknowledges it.
    StallUntilAttention {
        /// The columns sent (none: nothing is sent).
        columns: Vec<Column>,
        /// The rows sent before stalling.
        rows: Vec<Vec<TdsValue>>,
    },
    /// Takes this long without reading the socket (a statement that finishes anyway): an
    /// ATTENTION sent meanwhile is acknowledged after the complete reply, in a message of
    /// its own (the late acknowledgement).
    Sleep(Duration),
}

/// The replies of a scripted server, by exact SQL text.
///
/// ```
/// use dbm_testing::tds::{Action, Column, Script, TdsType, TdsValue};
/// let script = Script::new()
///     .on("SELECT 1 AS one", vec![Action::Rows {
///         columns: vec![Column::new("one", TdsType::Int)],
///         rows: vec![vec![TdsValue::Int(1)]],
///     }]);
/// assert_eq!(script.len(), 1);
/// ```
#[derive(Debug, Clone, Default)]
pub struct Script {
    rules: Vec<(String, Vec<Action>)>,
}

impl Script {
    /// No rules: every request gets an error naming its text.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replies to the request whose SQL is exactly `sql` with `actions`, one per statement.
    pub fn on(mut self, sql: impl Into<String>, actions: Vec<Action>) -> Self {
        self.rules.push((sql.into(), actions));
        self
    }

    /// How many rules there are.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    fn find(&self, sql: &str) -> Option<&[Action]> {
        self.rules
            .iter()
            .rev()
            .find(|(s, _)| s == sql)
            .map(|(_, a)| a.as_slice())
    }
}

/// Performs the script for one request. `false` when the connection must close.
pub(crate) async fn perform(
    script: &Script,
    request: &Request,
    session: &mut Session,
    rx: &mut mpsc::UnboundedReceiver<Incoming>,
    w: &mut OwnedWriteHalf,
) -> std::io::Result<bool> {
    let rpc = request.kind == RequestKind::Rpc;
    let mut out = Out::new(w, session.packet_size, session.spid);
    let Some(actions) = script.find(&request.sql) else {
        out.reply.error(
            50000,
            16,
            &format!(
                "scripted test server: nothing scripted for `{}`",
                request.sql
            ),
        );
        end(&mut out, rpc, DONE_ERROR, 0);
        out.finish().await?;
        return Ok(true);
    };
    let n = actions.len();
    let mut descriptor = u64::from(session.spid) << 32;
    for (i, action) in actions.iter().enumerate() {
        let more = if i + 1 < n { DONE_MORE } else { 0 };
        match action {
            Action::Rows { columns, rows } => {
                out.reply.col_metadata(columns);
                for r in rows {
                    out.reply.row(columns, r).map_err(invalid)?;
                }
                statement_done(&mut out, rpc, DONE_COUNT | more, rows.len() as u64);
            }
            Action::Count(c) => statement_done(&mut out, rpc, DONE_COUNT | more, *c),
            Action::Done => statement_done(&mut out, rpc, more, 0),
            Action::Error {
                number,
                class,
                message,
            } => {
                out.reply.error(*number, *class, message);
                statement_done(&mut out, rpc, DONE_ERROR | more, 0);
            }
            Action::Begin => {
                descriptor += 1;
                out.reply.env_begin(descriptor);
                statement_done(&mut out, rpc, more, 0);
            }
            Action::Commit => {
                out.reply.env_commit(descriptor);
                statement_done(&mut out, rpc, more, 0);
            }
            Action::Rollback => {
                out.reply.env_rollback(descriptor);
                statement_done(&mut out, rpc, more, 0);
            }
            Action::CloseMidResult { columns, rows } => {
                out.reply.col_metadata(columns);
                for r in rows {
                    out.reply.row(columns, r).map_err(invalid)?;
                }
                out.send_partial().await?;
                return Ok(false);
            }
            Action::StallUntilAttention { columns, rows } => {
                if !columns.is_empty() {
                    out.reply.col_metadata(columns);
                    for r in rows {
                        out.reply.row(columns, r).map_err(invalid)?;
                    }
                    out.send_partial().await?;
                }
                loop {
                    let incoming = rx.recv().await;
                    let closed = incoming.is_none();
                    if session.note(incoming) || closed {
                        break;
                    }
                }
                out.reply.done(DONE_ATTN, 0);
                out.finish().await?;
                return Ok(true);
            }
            Action::Sleep(d) => tokio::time::sleep(*d).await,
        }
    }
    end(&mut out, rpc, 0, 0);
    out.finish().await?;
    Ok(true)
}

fn statement_done(out: &mut Out<'_>, rpc: bool, status: u16, rows: u64) {
    if rpc {
        out.reply.done_in_proc(status | DONE_MORE, rows);
    } else {
        out.reply.done(status, rows);
    }
}

/// The end of the reply: nothing more for a batch (its last DONE ended it), RETURNSTATUS
/// and DONEPROC for an RPC. A batch without statements gets a DONE.
fn end(out: &mut Out<'_>, rpc: bool, status: u16, rows: u64) {
    if rpc {
        out.reply.return_status(0);
        out.reply.done_proc(status, rows);
    } else if out.reply.bytes.is_empty() || status != 0 {
        out.reply.done(status, rows);
    }
}
