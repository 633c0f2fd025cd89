//! Streaming results: rows as they arrive, for results too large to hold at once.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::error::Result;
use crate::row::Row;

/// A driver's stream of rows, borrowing its connection.
pub type BoxRowStream<'a> = Pin<Box<dyn Stream<Item = Result<Row>> + Send + 'a>>;

/// The rows of one query as they arrive, holding one pooled connection until the last row
/// is read or the stream is dropped. Dropping it early stops the query (the connection is
/// closed, and the statement cancelled on the server) and frees the pool slot.
///
/// Read it with [`RowStream::next`] or as a [`Stream`]:
///
/// ```no_run
/// # async fn demo(db: &dyn dbm_core::Database) -> dbm_core::Result<()> {
/// let mut rows = db.query_stream("SELECT id, payload FROM events", &dbm_core::Params::new()).await?;
/// let mut total = 0;
/// while let Some(row) = rows.next().await {
///     total += row?.get::<i64>("id")?;
/// }
/// # Ok(()) }
/// ```
pub struct RowStream {
    rx: mpsc::Receiver<Vec<Result<Row>>>,
    buffered: VecDeque<Result<Row>>,
    task: Option<JoinHandle<()>>,
}

impl RowStream {
    /// A stream fed by batches of rows from `rx`; `task` (the producer) is aborted when the
    /// stream is dropped. Batching keeps the hand-over between tasks off the per-row path.
    pub fn new(rx: mpsc::Receiver<Vec<Result<Row>>>, task: JoinHandle<()>) -> Self {
        RowStream {
            rx,
            buffered: VecDeque::new(),
            task: Some(task),
        }
    }

    /// The next row, `None` after the last one. An error ends the stream.
    pub async fn next(&mut self) -> Option<Result<Row>> {
        std::future::poll_fn(|cx| self.poll_row(cx)).await
    }

    fn poll_row(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        loop {
            if let Some(row) = self.buffered.pop_front() {
                return Poll::Ready(Some(row));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => self.buffered.extend(batch),
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl Stream for RowStream {
    type Item = Result<Row>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.poll_row(cx)
    }
}

impl Drop for RowStream {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl fmt::Debug for RowStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowStream").finish_non_exhaustive()
    }
}
