//! Streaming results: rows as they arrive, for results too large to hold at once.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::Stream;
use tokio::sync::mpsc;

use crate::error::{Error, Result};
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
    rx: mpsc::Receiver<Batch>,
    buffered: std::vec::IntoIter<Row>,
    /// The error that ended the stream, given after the rows before it.
    error: Option<Error>,
    /// The work reading the result from the connection into `rx`: polled here, by the
    /// reader, whenever the rows it produced are used up (no task of its own, so rows are
    /// made and freed on the same thread, and nothing runs ahead of the reader by more
    /// than the channel holds). Dropping it ends the query.
    producer: Option<Producer>,
}

/// The future that reads a result into a [`RowStream`]'s channel.
pub(crate) type Producer = Pin<Box<dyn Future<Output = ()> + Send>>;

/// One hand-over from the producer: a few rows, and the error that ended the result, if
/// one did.
pub(crate) struct Batch {
    pub(crate) rows: Vec<Row>,
    pub(crate) error: Option<Error>,
}

/// Rows per batch: chosen by callgrind (8 -> 4,378, 16 -> 4,387, 32 -> 4,618, 512 -> 4,627,
/// 1 -> 5,591 instructions/row when measured with `ready_chunks`).
pub(crate) const BATCH: usize = 16;

impl Batch {
    /// The next batch of `rows`: the rows ready now (at least one, at most [`BATCH`]), ended
    /// early by an error, which it carries; `None` at the end. Like `ready_chunks`, without
    /// collecting results first and sorting them into rows and an error afterwards.
    pub(crate) async fn next<S>(rows: &mut S) -> Option<Batch>
    where
        S: Stream<Item = Result<Row>> + futures_core::FusedStream + Unpin,
    {
        std::future::poll_fn(|cx| {
            let mut out = Batch {
                rows: Vec::new(),
                error: None,
            };
            // `rows` is fused: polled after its end, it answers `None` again.
            loop {
                match Pin::new(&mut *rows).poll_next(cx) {
                    Poll::Ready(Some(Ok(row))) => {
                        if out.rows.capacity() == 0 {
                            out.rows.reserve_exact(BATCH);
                        }
                        out.rows.push(row);
                        if out.rows.len() == BATCH {
                            return Poll::Ready(Some(out));
                        }
                    }
                    Poll::Ready(Some(Err(e))) => {
                        out.error = Some(e);
                        return Poll::Ready(Some(out));
                    }
                    Poll::Ready(None) => {
                        return Poll::Ready((!out.rows.is_empty()).then_some(out));
                    }
                    // What is ready goes now: a row never waits for the next one.
                    Poll::Pending if out.rows.is_empty() => return Poll::Pending,
                    Poll::Pending => return Poll::Ready(Some(out)),
                }
            }
        })
        .await
    }
}

impl RowStream {
    /// A stream fed by batches of rows from `rx`, which `producer` fills; dropping the
    /// stream drops the producer. Batching keeps the hand-over off the per-row path.
    pub(crate) fn new(rx: mpsc::Receiver<Batch>, producer: Producer) -> Self {
        RowStream {
            rx,
            buffered: Vec::new().into_iter(),
            error: None,
            producer: Some(producer),
        }
    }

    /// The next row, `None` after the last one. An error ends the stream.
    pub async fn next(&mut self) -> Option<Result<Row>> {
        std::future::poll_fn(|cx| self.poll_row(cx)).await
    }

    fn poll_row(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        loop {
            if let Some(row) = self.buffered.next() {
                return Poll::Ready(Some(Ok(row)));
            }
            if let Some(e) = self.error.take() {
                return Poll::Ready(Some(Err(e)));
            }
            if let Some(producer) = self.producer.as_mut()
                && producer.as_mut().poll(cx).is_ready()
            {
                self.producer = None;
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(batch)) => {
                    self.buffered = batch.rows.into_iter();
                    self.error = batch.error;
                }
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

impl fmt::Debug for RowStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RowStream").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::row::{Column, Columns};
    use crate::value::Value;

    fn row(columns: &Columns, n: i64) -> Result<Row> {
        Ok(Row::new(columns.clone(), vec![Value::Int(n)]))
    }

    /// A batch from rows up to the first error, which ends it (as the producer makes them).
    fn batch(rows: Vec<Result<Row>>) -> Batch {
        let mut out = Batch {
            rows: Vec::new(),
            error: None,
        };
        for r in rows {
            match r {
                Ok(row) => out.rows.push(row),
                Err(e) => {
                    out.error = Some(e);
                    break;
                }
            }
        }
        out
    }

    fn numbers(batch: &Batch) -> Vec<i64> {
        batch
            .rows
            .iter()
            .map(|r| r.get::<i64>(0).unwrap())
            .collect()
    }

    /// A batch holds at most `BATCH` rows, takes what is ready without waiting for more,
    /// stops at an error (which it carries), and there is none after the end.
    #[tokio::test]
    async fn batches_take_what_is_ready_and_stop_at_an_error() {
        use futures_util::StreamExt;
        let columns = Columns::new(vec![Column::new("n", "INT8")]);
        let c = columns.clone();
        let ready = (0..20).map(move |n| row(&c, n));
        // 20 rows, then nothing for a long while: the second batch must not wait for it.
        let mut rows = futures_util::stream::iter(ready)
            .chain(futures_util::stream::pending())
            .fuse();
        let first = Batch::next(&mut rows).await.unwrap();
        assert_eq!(numbers(&first), (0..16).collect::<Vec<_>>());
        let second =
            tokio::time::timeout(std::time::Duration::from_secs(5), Batch::next(&mut rows))
                .await
                .expect("the ready rows come without waiting for more")
                .unwrap();
        assert_eq!(numbers(&second), [16, 17, 18, 19]);
        assert!(second.error.is_none());

        let c = columns.clone();
        let mut failing = futures_util::stream::iter(vec![
            row(&c, 1),
            Err(Error::new(ErrorKind::Query, "division by zero")),
            row(&c, 2),
        ])
        .fuse();
        let batch = Batch::next(&mut failing).await.unwrap();
        assert_eq!(numbers(&batch), [1]);
        assert!(
            batch
                .error
                .unwrap()
                .to_string()
                .contains("division by zero")
        );

        let mut ended = futures_util::stream::iter(vec![row(&columns, 7)]).fuse();
        assert_eq!(numbers(&Batch::next(&mut ended).await.unwrap()), [7]);
        assert!(Batch::next(&mut ended).await.is_none());
        assert!(Batch::next(&mut ended).await.is_none());
    }

    /// Rows come out in order across batches; an error mid-batch comes after the rows
    /// before it and ends the stream, and the rows after it are not given.
    #[tokio::test]
    async fn rows_in_order_then_the_error_then_the_end() {
        let columns = Columns::new(vec![Column::new("n", "INT8")]);
        let (tx, rx) = mpsc::channel(1);
        let c = columns.clone();
        let producer: Producer = Box::pin(async move {
            let first = (1..=3).map(|n| row(&c, n)).collect();
            tx.send(batch(first)).await.unwrap();
            let second = vec![
                row(&c, 4),
                Err(Error::new(ErrorKind::Query, "division by zero")),
                row(&c, 5),
            ];
            tx.send(batch(second)).await.unwrap();
        });
        let mut stream = RowStream::new(rx, producer);
        let mut seen = Vec::new();
        while let Some(r) = stream.next().await {
            match r {
                Ok(row) => {
                    assert_eq!(row.columns().as_slice()[0].name(), "n");
                    seen.push(row.get::<i64>("n").unwrap());
                }
                Err(e) => {
                    assert!(e.to_string().contains("division by zero"));
                    seen.push(-1);
                }
            }
        }
        assert_eq!(seen, [1, 2, 3, 4, -1]);
    }

    /// Dropping the stream drops the producer (and with it the connection it holds).
    #[tokio::test]
    async fn dropping_the_stream_drops_the_producer() {
        struct Flag(std::sync::Arc<std::sync::atomic::AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, std::sync::atomic::Ordering::SeqCst);
            }
        }
        let dropped = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = Flag(dropped.clone());
        let columns = Columns::new(vec![Column::new("n", "INT8")]);
        let (tx, rx) = mpsc::channel(1);
        let producer: Producer = Box::pin(async move {
            let _held = flag;
            for n in 0.. {
                if tx.send(batch(vec![row(&columns, n)])).await.is_err() {
                    break;
                }
            }
        });
        let mut stream = RowStream::new(rx, producer);
        assert_eq!(
            stream
                .next()
                .await
                .unwrap()
                .unwrap()
                .get::<i64>("n")
                .unwrap(),
            0
        );
        assert!(!dropped.load(std::sync::atomic::Ordering::SeqCst));
        drop(stream);
        assert!(dropped.load(std::sync::atomic::Ordering::SeqCst));
    }
}
