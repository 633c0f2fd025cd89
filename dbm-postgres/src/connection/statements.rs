//! The statements a connection keeps: each SQL text run on it with its prepared statement,
//! result columns and decoders, kept a subset of sqlx's own statement cache and cleared
//! with it when a statement no longer fits its table or its parameter values.

use std::sync::Arc;

use dbm_core::{Columns, Error, Result, Value};
use sqlx::{AssertSqlSafe, Connection as _, Executor, SqlSafeStr};

use super::PgConnection;
use crate::decode::{Decoder, columns_of};
use crate::types::{Bind, bind_all};

/// A statement prepared on this connection, with its result columns and their decoders
/// built once.
#[derive(Clone)]
pub(super) struct Prepared {
    pub(super) stmt: sqlx::postgres::PgStatement,
    pub(super) columns: Columns,
    pub(super) decoders: Arc<[Decoder]>,
}

impl PgConnection {
    /// Keeps `prepared` for `text` only while sqlx's statement cache also holds it: a
    /// statement sqlx forgot would be prepared again from the kept description, which a
    /// changed table may no longer match. When sqlx's cache did not grow with this statement
    /// it dropped its least recently used one (or caches nothing): as that one is not known,
    /// everything kept here is forgotten, keeping this map a subset of sqlx's cache.
    fn keep(&mut self, text: Arc<str>, prepared: &Prepared, held_before: usize) {
        let held_after = self.conn.cached_statements_size();
        if held_after <= held_before {
            self.statements.clear();
        }
        if held_after > 0 {
            self.statements.insert(text, prepared.clone());
        }
    }

    /// Forgets every prepared statement, sqlx's and this connection's.
    pub(super) async fn forget_statements(&mut self) -> Result<()> {
        self.statements.clear();
        match self.conn.clear_cached_statements().await {
            Ok(()) => Ok(()),
            Err(e) => Err(self.fail(e)),
        }
    }

    /// Whether `e` says a cached prepared statement no longer fits its table (SQLSTATE
    /// 0A000, "cached plan must not change result type", after an `ALTER TABLE`) and the
    /// statement may be run once more: PostgreSQL refuses such a statement before executing
    /// it, so nothing ran. The statement caches are cleared first. Inside a transaction the
    /// error has aborted the transaction, so it is returned as it is.
    pub(super) async fn repair_stale_plan(&mut self, e: &Error) -> bool {
        let stale = matches!(e.code(), Some(dbm_core::ErrorCode::SqlState(s)) if s == "0A000");
        if !stale || self.in_tx || self.broken {
            return false;
        }
        tracing::debug!("a cached statement no longer fits its table; preparing again");
        self.forget_statements().await.is_ok()
    }

    /// The statement for `sql` (prepared here before, or now) with its result columns, and
    /// `values` bound as the statement's parameter types. A statement whose types do not fit
    /// these values (prepared earlier with a NULL, say) is prepared again.
    pub(super) async fn prepare_bound<'v>(
        &mut self,
        sql: &str,
        values: &'v [Value],
    ) -> Result<(Prepared, Vec<Bind<'v>>)> {
        if let Some(p) = self.statements.get(sql) {
            if let Some(binds) = bind_all(values, &p.stmt)? {
                return Ok((p.clone(), binds));
            }
            tracing::debug!("cached statement types do not fit the values; preparing again");
            self.forget_statements().await?;
        }
        let declared: Vec<_> = values
            .iter()
            .map(|v| Bind::new(v).map(|b| b.declared_type()))
            .collect::<Result<_>>()?;
        for attempt in 0..2 {
            let text: Arc<str> = Arc::from(sql);
            let held_before = self.conn.cached_statements_size();
            let stmt = match (&mut self.conn)
                .prepare_with(AssertSqlSafe(text.clone()).into_sql_str(), &declared)
                .await
            {
                Ok(s) => s,
                Err(e) => return Err(self.fail(e)),
            };
            if let Some(binds) = bind_all(values, &stmt)? {
                let (columns, decoders) = columns_of(&stmt);
                let prepared = Prepared {
                    stmt,
                    columns,
                    decoders,
                };
                self.keep(text, &prepared, held_before);
                return Ok((prepared, binds));
            }
            if attempt == 0 {
                tracing::debug!("cached statement types do not fit the values; preparing again");
                self.forget_statements().await?;
            }
        }
        Err(Error::parameter(
            "the parameter values do not fit the types PostgreSQL inferred for them",
        )
        .with_hint("add casts in the SQL, e.g. :id::bigint"))
    }
}
