//! Statements built with sea-query (feature `sea-query`), run through the manager: rendered
//! by the backend's own sea-query builder and bound as dbm values.

use dbm_core::{Backend, Error, ErrorKind, IntoValue, Result, Rows, Value};
use sea_query::{PostgresQueryBuilder, QueryStatementBuilder, SqliteQueryBuilder};

use crate::manager::DatabaseManager;

/// The statement's SQL for `backend`, with its values converted; SQL Server is refused.
fn render(
    backend: Backend,
    statement: &impl QueryStatementBuilder,
) -> Result<(String, Vec<Value>)> {
    let (sql, values) = match backend {
        Backend::Postgres => statement.build_any(&PostgresQueryBuilder),
        Backend::Sqlite => statement.build_any(&SqliteQueryBuilder),
        other => {
            return Err(Error::new(
                ErrorKind::Query,
                format!(
                    "sea-query has no query builder for {}, so a sea-query statement cannot run there",
                    other.product()
                ),
            )
            .with_hint("write the statement as SQL with :name parameters for this database"));
        }
    };
    let values = values
        .0
        .into_iter()
        .map(convert)
        .collect::<Result<Vec<_>>>()?;
    Ok((sql, values))
}

fn convert(v: sea_query::Value) -> Result<Value> {
    use sea_query::Value as S;
    fn opt<T>(v: Option<T>, f: impl FnOnce(T) -> Value) -> Value {
        v.map_or(Value::Null, f)
    }
    Ok(match v {
        S::Bool(b) => opt(b, Value::Bool),
        S::TinyInt(i) => opt(i, |i| Value::Int(i.into())),
        S::SmallInt(i) => opt(i, |i| Value::Int(i.into())),
        S::Int(i) => opt(i, |i| Value::Int(i.into())),
        S::BigInt(i) => opt(i, Value::Int),
        S::TinyUnsigned(i) => opt(i, |i| Value::Int(i.into())),
        S::SmallUnsigned(i) => opt(i, |i| Value::Int(i.into())),
        S::Unsigned(i) => opt(i, |i| Value::Int(i.into())),
        S::BigUnsigned(i) => i.into_value().map_err(Error::parameter)?,
        S::Float(f) => opt(f, |f| Value::Float(f.into())),
        S::Double(f) => opt(f, Value::Float),
        S::String(s) => opt(s, Value::Text),
        S::Char(c) => opt(c, |c| Value::Text(c.to_string())),
        S::Bytes(b) => opt(b, Value::Bytes),
        S::Json(j) => opt(j, |j| Value::Json(*j)),
        S::ChronoDate(d) => opt(d, Value::Date),
        S::ChronoTime(t) => opt(t, Value::Time),
        S::ChronoDateTime(t) => opt(t, Value::Timestamp),
        S::ChronoDateTimeUtc(t) => opt(t, Value::TimestampTz),
        S::ChronoDateTimeLocal(t) => opt(t, |t| Value::TimestampTz(t.to_utc())),
        S::ChronoDateTimeWithTimeZone(t) => opt(t, |t| Value::TimestampTz(t.to_utc())),
        S::Uuid(u) => opt(u, Value::Uuid),
        other => {
            // The variant's name only: its value is data and stays out of errors.
            let shown = format!("{other:?}");
            let variant = shown.split('(').next().unwrap_or("value").to_owned();
            return Err(Error::new(
                ErrorKind::UnsupportedType,
                format!("the sea-query value type `{variant}` has no dbm value type"),
            )
            .with_hint("bind it as text, or write the statement as SQL with :name parameters"));
        }
    })
}

impl DatabaseManager {
    /// Runs a query built with sea-query (feature `sea-query`): rendered with this
    /// database's sea-query builder (PostgreSQL or SQLite) and its values bound as dbm
    /// values. SQL Server has no sea-query builder: that is an error before anything runs.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
    /// use dbm::{DatabaseConfig, DatabaseManager};
    /// use sea_query::{Expr, ExprTrait, Query};
    /// let db = DatabaseManager::connect(DatabaseConfig::new("app", "sqlite::memory:")?).await?;
    /// db.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY, name TEXT)", ()).await?;
    /// let insert = Query::insert()
    ///     .into_table("jobs")
    ///     .columns(["id", "name"])
    ///     .values_panic([7.into(), "load".into()])
    ///     .to_owned();
    /// assert_eq!(db.execute_statement(&insert).await?, 1);
    /// let select = Query::select()
    ///     .column("name")
    ///     .from("jobs")
    ///     .and_where(Expr::col("id").eq(7))
    ///     .to_owned();
    /// let rows = db.query_statement(&select).await?;
    /// assert_eq!(rows.row(0).get::<String>("name")?, "load");
    /// # Ok::<(), dbm::Error>(()) }).unwrap();
    /// ```
    pub async fn query_statement(&self, statement: &impl QueryStatementBuilder) -> Result<Rows> {
        let (sql, values) = self.rendered(statement, "query statement")?;
        let mut conn = self.database().acquire().await?;
        conn.query_raw(&sql, &values).await.map_err(|e| {
            e.with_database(self.name())
                .with_operation("query statement")
        })
    }

    /// Runs a statement built with sea-query and returns the rows it changed (see
    /// [`query_statement`](DatabaseManager::query_statement)).
    pub async fn execute_statement(&self, statement: &impl QueryStatementBuilder) -> Result<u64> {
        let (sql, values) = self.rendered(statement, "execute statement")?;
        let mut conn = self.database().acquire().await?;
        conn.execute_raw(&sql, &values).await.map_err(|e| {
            e.with_database(self.name())
                .with_operation("execute statement")
        })
    }

    fn rendered(
        &self,
        statement: &impl QueryStatementBuilder,
        operation: &str,
    ) -> Result<(String, Vec<Value>)> {
        render(self.backend(), statement).map_err(|e| {
            e.with_database(self.name())
                .with_operation(operation.to_owned())
        })
    }
}
