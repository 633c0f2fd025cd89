//! The rows of one PostgreSQL query as a stream: the statement is prepared first, then each
//! row is decoded as sqlx reads it.
//!
//! A hand-written state machine rather than `once(..).flatten()` over `unfold`: nothing is
//! moved in and out of a new future per row, and sqlx's stream is polled directly.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use dbm_core::{Columns, ErrorKind, Result, Row};
use futures_core::Stream;
use futures_core::stream::BoxStream;
use sqlx::Either;
use sqlx::postgres::{PgQueryResult, PgRow};

use crate::decode::{Decoder, decode_row};
use crate::error::map_err;
use crate::options::PgOptions;

/// What sqlx's `fetch_many` yields.
pub(crate) type WireRows<'a> = BoxStream<'a, sqlx::Result<Either<PgQueryResult, PgRow>>>;

/// Preparing and binding, ending in the rows being read (or the error that stopped it).
pub(crate) type Preparing<'a> = Pin<Box<dyn Future<Output = Result<Reading<'a>>> + Send + 'a>>;

/// A result being read from its connection.
pub(crate) struct Reading<'a> {
    pub(crate) rows: WireRows<'a>,
    pub(crate) columns: Columns,
    pub(crate) decoders: Arc<[Decoder]>,
    /// The connection's flag, cleared at the end of the result: a stream dropped midway
    /// leaves it set, so the pool closes the connection (and its Drop cancels the
    /// statement).
    pub(crate) busy: &'a mut bool,
    pub(crate) broken: &'a mut bool,
    pub(crate) options: Arc<PgOptions>,
}

/// The rows of one query.
pub(crate) enum PgRowStream<'a> {
    Preparing(Preparing<'a>),
    Reading(Reading<'a>),
    Done,
}

/// What one poll of the wire rows ended in.
enum Step {
    Row(Row),
    /// The stream ends with this error.
    Failed(dbm_core::Error),
    End,
}

impl Reading<'_> {
    /// The next row, the error that ends the stream, or the end. An error from the server
    /// ends the result cleanly (`busy` cleared); a row that does not decode leaves the rest
    /// of the result unread, so `busy` stays set and the pool closes the connection.
    fn poll_step(&mut self, cx: &mut Context<'_>) -> Poll<Step> {
        loop {
            match self.rows.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(Either::Left(_)))) => {}
                Poll::Ready(Some(Ok(Either::Right(row)))) => {
                    return Poll::Ready(
                        match decode_row(&row, &self.columns, &self.decoders, &self.options) {
                            Ok(values) => Step::Row(Row::new(self.columns.clone(), values)),
                            Err(e) => Step::Failed(e),
                        },
                    );
                }
                Poll::Ready(Some(Err(e))) => {
                    let err = map_err(e, &self.options);
                    if err.kind() == ErrorKind::Connection {
                        *self.broken = true;
                    }
                    *self.busy = false;
                    return Poll::Ready(Step::Failed(err));
                }
                Poll::Ready(None) => {
                    *self.busy = false;
                    return Poll::Ready(Step::End);
                }
            }
        }
    }
}

impl Stream for PgRowStream<'_> {
    type Item = Result<Row>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Row>>> {
        let this = self.get_mut();
        loop {
            match this {
                PgRowStream::Preparing(preparing) => match preparing.as_mut().poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(reading)) => *this = PgRowStream::Reading(reading),
                    Poll::Ready(Err(e)) => {
                        *this = PgRowStream::Done;
                        return Poll::Ready(Some(Err(e)));
                    }
                },
                PgRowStream::Reading(reading) => {
                    return match reading.poll_step(cx) {
                        Poll::Pending => Poll::Pending,
                        Poll::Ready(Step::Row(row)) => Poll::Ready(Some(Ok(row))),
                        Poll::Ready(Step::Failed(e)) => {
                            *this = PgRowStream::Done;
                            Poll::Ready(Some(Err(e)))
                        }
                        Poll::Ready(Step::End) => {
                            *this = PgRowStream::Done;
                            Poll::Ready(None)
                        }
                    };
                }
                PgRowStream::Done => return Poll::Ready(None),
            }
        }
    }
}
