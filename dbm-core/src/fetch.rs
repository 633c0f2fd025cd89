//! The shapes a query's answer is taken in: one row, at most one row, one value; and the
//! parameter forms every query method accepts (`&params! {..}`, `params! {..}`, `()`).

use crate::connection::Database;
use crate::error::{Error, ErrorKind, Result};
use crate::params::Params;
use crate::row::Row;
use crate::rows::Rows;
use crate::value::FromValue;

/// What query methods take as parameters: `&params! { "id" => 1 }`, a `Params` by value, or
/// `()` for a statement without parameters.
///
/// ```
/// use dbm_core::{params, Bindings, Params};
/// fn count(b: impl Bindings) -> usize { b.bindings().len() }
/// assert_eq!(count(()), 0);
/// assert_eq!(count(&params! { "a" => 1 }), 1);
/// assert_eq!(count(params! { "a" => 1, "b" => 2 }), 2);
/// ```
pub trait Bindings: Send + Sync {
    /// The parameters.
    fn bindings(&self) -> &Params;
}

impl Bindings for Params {
    fn bindings(&self) -> &Params {
        self
    }
}

impl Bindings for &Params {
    fn bindings(&self) -> &Params {
        self
    }
}

impl Bindings for () {
    fn bindings(&self) -> &Params {
        Params::none()
    }
}

/// The first row; an error when there is none.
pub(crate) fn one(rows: Rows) -> Result<Row> {
    rows.into_first().ok_or_else(|| {
        Error::new(ErrorKind::Query, "the query returned no row")
            .with_hint("use fetch_optional when no row is a valid answer")
    })
}

/// The first row, if any.
pub(crate) fn optional(rows: Rows) -> Option<Row> {
    rows.into_first()
}

/// The first column of the first row as `T`; an error when there is no row or no column.
pub(crate) fn scalar<T: FromValue>(rows: Rows) -> Result<T> {
    if rows.columns().is_empty() {
        return Err(Error::new(ErrorKind::Query, "the query returned no column")
            .with_hint("fetch_scalar reads the first column of the first row"));
    }
    one(rows)?.get::<T>(0)
}

/// `fetch_one`, `fetch_optional` and `fetch_scalar` for any [`Database`] (the manager and
/// [`Transaction`](crate::Transaction) have the same methods).
///
/// ```no_run
/// use dbm_core::{params, Database, DatabaseExt};
/// # async fn demo(db: &dyn Database) -> dbm_core::Result<()> {
/// let n: i64 = db.fetch_scalar("SELECT count(*) FROM jobs", ()).await?;
/// let job = db.fetch_one("SELECT * FROM jobs WHERE id = :id", &params! { "id" => 7 }).await?;
/// let maybe = db.fetch_optional("SELECT * FROM jobs WHERE id = :id", &params! { "id" => 8 }).await?;
/// # let _ = (n, job, maybe); Ok(()) }
/// ```
///
/// The futures are `Send` and not boxed (the methods are not `async_trait`s: nothing
/// implements this trait but the blanket impl for every [`Database`]).
pub trait DatabaseExt: Database {
    /// The first row; an error naming the database when there is none.
    fn fetch_one(
        &self,
        sql: &str,
        params: impl Bindings,
    ) -> impl Future<Output = Result<Row>> + Send {
        async move {
            let rows = self.query_first(sql, params.bindings()).await?;
            one(rows).map_err(|e| e.with_database(self.name()).with_operation("fetch_one"))
        }
    }

    /// The first row, or `None`.
    fn fetch_optional(
        &self,
        sql: &str,
        params: impl Bindings,
    ) -> impl Future<Output = Result<Option<Row>>> + Send {
        async move { Ok(optional(self.query_first(sql, params.bindings()).await?)) }
    }

    /// The first column of the first row, as `T` (`Option<T>` for a NULL).
    fn fetch_scalar<T: FromValue + Send>(
        &self,
        sql: &str,
        params: impl Bindings,
    ) -> impl Future<Output = Result<T>> + Send {
        async move {
            let rows = self.query_first(sql, params.bindings()).await?;
            scalar(rows).map_err(|e| e.with_database(self.name()).with_operation("fetch_scalar"))
        }
    }
}

impl<D: Database + ?Sized> DatabaseExt for D {}
