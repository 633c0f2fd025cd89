//! A query's rows as a stream: the statement is sent, then each row converted as tiberius
//! reads it; a second result set is an error after the rest of the reply is read.

use dbm_core::{BoxRowStream, Columns, Error, ErrorKind, Row, Value};
use futures_util::TryStreamExt;
use tiberius::{ColumnType, QueryItem, ToSql};

use super::{MssqlConnection, closed, columns_of, convert_row};
use crate::error::map_err;
use crate::types::bind;

impl MssqlConnection {
    /// The rows of `sql`; the stream borrows the connection until it ends or is dropped.
    pub(super) fn stream_rows<'a>(
        &'a mut self,
        sql: &'a str,
        values: &'a [Value],
    ) -> BoxRowStream<'a> {
        use futures_util::StreamExt;
        let this = self;
        let start = async move {
            let params = match bind(values) {
                Ok(p) => p,
                Err(e) => return futures_util::stream::iter(vec![Err(e)]).left_stream(),
            };
            let options = this.options.clone();
            let Some(client) = this.client.as_mut() else {
                return futures_util::stream::iter(vec![Err(closed())]).left_stream();
            };
            // `busy` stays set until the last row: a stream dropped midway leaves it set,
            // so the pool discards the connection and its Drop stops the statement.
            this.busy = true;
            let refs: Vec<&dyn ToSql> = params.iter().map(|p| p as &dyn ToSql).collect();
            let stream = match client.query(sql, &refs).await {
                Ok(s) => s,
                Err(e) => {
                    let e = map_err(e, &options);
                    if e.kind() == ErrorKind::Connection {
                        this.broken = true;
                    }
                    this.busy = false;
                    return futures_util::stream::iter(vec![Err(e)]).left_stream();
                }
            };
            let busy = &mut this.busy;
            let broken = &mut this.broken;
            struct State<'s> {
                stream: tiberius::QueryStream<'s>,
                columns: Option<(Columns, Vec<ColumnType>)>,
                sets: usize,
            }
            let state = State {
                stream,
                columns: None,
                sets: 0,
            };
            futures_util::stream::unfold(
                Some((state, busy, broken, options)),
                |st| async move {
                    let (mut state, busy, broken, options) = st?;
                    loop {
                        match state.stream.try_next().await {
                            Ok(Some(QueryItem::Metadata(m))) => {
                                state.sets += 1;
                                if state.sets > 1 {
                                    // Nothing is dropped in silence: a second result set is an
                                    // error, and the rest of the reply is read first.
                                    while let Ok(Some(_)) = state.stream.try_next().await {}
                                    drop(state);
                                    *busy = false;
                                    let e = Error::new(
                                        ErrorKind::Query,
                                        "the SQL returned more than one result set and a stream carries one",
                                    )
                                    .with_hint("stream one SELECT at a time");
                                    return Some((Err(e), None));
                                }
                                state.columns = Some(columns_of(m.columns()));
                            }
                            Ok(Some(QueryItem::Row(row))) => {
                                let Some((columns, types)) = &state.columns else {
                                    continue;
                                };
                                let columns = columns.clone();
                                return match convert_row(row, &columns, types) {
                                    Ok(values) => Some((
                                        Ok(Row::new(columns, values)),
                                        Some((state, busy, broken, options)),
                                    )),
                                    Err(e) => {
                                        while let Ok(Some(_)) = state.stream.try_next().await {}
                                        drop(state);
                                        *busy = false;
                                        Some((Err(e), None))
                                    }
                                };
                            }
                            Ok(None) => {
                                drop(state);
                                *busy = false;
                                return None;
                            }
                            Err(e) => {
                                let e = map_err(e, &options);
                                if e.kind() == ErrorKind::Connection {
                                    *broken = true;
                                }
                                drop(state);
                                *busy = false;
                                return Some((Err(e), None));
                            }
                        }
                    }
                },
            )
            .right_stream()
        };
        futures_util::stream::once(start).flatten().boxed()
    }
}
