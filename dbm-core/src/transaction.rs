//! An interactive transaction on one pooled connection.

use std::fmt;

use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Result};
use crate::fetch::{self, Bindings};
use crate::row::Row;
use crate::rows::Rows;
use crate::value::FromValue;

/// A transaction holding one pooled connection. Commit it explicitly; if it is dropped
/// (or its task cancelled) first, the connection is closed instead of returned to the pool,
/// which rolls the transaction back on the server.
#[must_use = "a transaction is rolled back unless committed"]
pub struct Transaction {
    conn: Option<Box<dyn Connection>>,
    database: String,
}

impl Transaction {
    /// Begins a transaction on `conn`.
    pub async fn begin(mut conn: Box<dyn Connection>, database: impl Into<String>) -> Result<Self> {
        let database = database.into();
        conn.begin().await.map_err(|e| {
            e.with_kind(ErrorKind::Transaction)
                .with_database(database.clone())
                .with_operation("begin")
        })?;
        Ok(Transaction {
            conn: Some(conn),
            database,
        })
    }

    fn conn(&mut self) -> Result<&mut Box<dyn Connection>> {
        self.conn.as_mut().ok_or_else(|| {
            Error::new(
                ErrorKind::Transaction,
                "the transaction is already finished",
            )
            .with_database(self.database.clone())
        })
    }

    /// Runs a query inside the transaction.
    pub async fn query(&mut self, sql: &str, params: impl Bindings) -> Result<Rows> {
        let db = self.database.clone();
        self.conn()?
            .query(sql, params.bindings())
            .await
            .map_err(|e| e.with_database(db).with_operation("query in transaction"))
    }

    /// A query of which only the columns and the first row are kept (the fetch methods).
    async fn query_first(&mut self, sql: &str, params: impl Bindings) -> Result<Rows> {
        let db = self.database.clone();
        self.conn()?
            .query_first(sql, params.bindings())
            .await
            .map_err(|e| e.with_database(db).with_operation("query in transaction"))
    }

    /// Runs a statement inside the transaction.
    pub async fn execute(&mut self, sql: &str, params: impl Bindings) -> Result<u64> {
        let db = self.database.clone();
        self.conn()?
            .execute(sql, params.bindings())
            .await
            .map_err(|e| e.with_database(db).with_operation("execute in transaction"))
    }

    /// The first row; an error when there is none.
    pub async fn fetch_one(&mut self, sql: &str, params: impl Bindings) -> Result<Row> {
        let rows = self.query_first(sql, params).await?;
        fetch::one(rows).map_err(|e| {
            e.with_database(self.database.clone())
                .with_operation("fetch_one in transaction")
        })
    }

    /// The first row, or `None`.
    pub async fn fetch_optional(
        &mut self,
        sql: &str,
        params: impl Bindings,
    ) -> Result<Option<Row>> {
        Ok(fetch::optional(self.query_first(sql, params).await?))
    }

    /// The first column of the first row, as `T`.
    pub async fn fetch_scalar<T: FromValue>(
        &mut self,
        sql: &str,
        params: impl Bindings,
    ) -> Result<T> {
        let rows = self.query_first(sql, params).await?;
        fetch::scalar(rows).map_err(|e| {
            e.with_database(self.database.clone())
                .with_operation("fetch_scalar in transaction")
        })
    }

    /// Commits.
    pub async fn commit(mut self) -> Result<()> {
        let db = self.database.clone();
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| Error::new(ErrorKind::Transaction, "already finished"))?;
        conn.commit().await.map_err(|e| {
            crate::outcome::commit_error(e)
                .with_database(db)
                .with_operation("commit")
        })
    }

    /// Rolls back.
    pub async fn rollback(mut self) -> Result<()> {
        let db = self.database.clone();
        let mut conn = self
            .conn
            .take()
            .ok_or_else(|| Error::new(ErrorKind::Transaction, "already finished"))?;
        conn.rollback().await.map_err(|e| {
            e.with_kind(ErrorKind::Transaction)
                .with_database(db)
                .with_operation("rollback")
        })
    }
}

impl fmt::Debug for Transaction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transaction")
            .field("database", &self.database)
            .field("open", &self.conn.is_some())
            .finish()
    }
}

impl Drop for Transaction {
    fn drop(&mut self) {
        if self.conn.is_some() {
            tracing::debug!(
                db.namespace = %self.database,
                "transaction dropped without commit: its connection is closed, which rolls it back"
            );
        }
    }
}
