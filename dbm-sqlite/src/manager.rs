//! Opening connections through r2d2_sqlite's connection manager.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use dbm_core::{
    ConnectTarget, Connection, Error, ErrorKind, ManageConnection, Result, async_trait,
};
use r2d2_sqlite::SqliteConnectionManager;
use rusqlite::OpenFlags;

use crate::connection::SqliteConnection;
use crate::convert::map_err;
use crate::options::{SqliteLocation, SqliteOptions};

/// Opens and judges SQLite connections for the dbm pool.
pub struct SqliteManager {
    inner: Arc<SqliteConnectionManager>,
    options: SqliteOptions,
}

impl fmt::Debug for SqliteManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteManager")
            .field("options", &self.options)
            .finish()
    }
}

impl SqliteManager {
    /// A manager for `options`; nothing is opened yet.
    pub fn new(options: SqliteOptions) -> Self {
        let mut flags = OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        if options.read_only {
            flags |= OpenFlags::SQLITE_OPEN_READ_ONLY;
        } else {
            flags |= OpenFlags::SQLITE_OPEN_READ_WRITE;
            if options.create_if_missing {
                flags |= OpenFlags::SQLITE_OPEN_CREATE;
            }
        }
        let base = match &options.location {
            SqliteLocation::File(p) => SqliteConnectionManager::file(p),
            SqliteLocation::Memory => SqliteConnectionManager::memory(),
        };
        let o = options.clone();
        let inner = base.with_flags(flags).with_init(move |c| {
            c.busy_timeout(o.busy_timeout)?;
            c.pragma_update(None, "foreign_keys", o.foreign_keys)?;
            if o.wal && !o.read_only && o.path().is_some() {
                // WAL is a property of the file: switch only when it is not WAL yet.
                let mode: String = c.pragma_query_value(None, "journal_mode", |r| r.get(0))?;
                if !mode.eq_ignore_ascii_case("wal") {
                    c.pragma_update_and_check(None, "journal_mode", "WAL", |r| {
                        r.get::<_, String>(0)
                    })?;
                }
                c.pragma_update(None, "synchronous", "NORMAL")?;
            }
            Ok(())
        });
        SqliteManager {
            inner: Arc::new(inner),
            options,
        }
    }

    /// The options this manager opens connections with.
    pub fn options(&self) -> &SqliteOptions {
        &self.options
    }

    fn lock_path(&self) -> Option<PathBuf> {
        self.options.path().map(|p| {
            let mut name = p.as_os_str().to_owned();
            name.push(".migrate-lock");
            PathBuf::from(name)
        })
    }
}

#[async_trait]
impl ManageConnection for SqliteManager {
    type Connection = SqliteConnection;

    async fn connect(&self) -> Result<SqliteConnection> {
        // `mode=rwc` (the default) creates the file, and so its directory too: a fresh
        // checkout's `target/dbm/app.db` must just work.
        if let Some(dir) = self.options.path().and_then(|p| p.parent())
            && self.options.create_if_missing
            && !self.options.read_only
            && !dir.as_os_str().is_empty()
            && !dir.exists()
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                Error::new(
                    ErrorKind::Connection,
                    format!(
                        "cannot create the directory {} for {}: {e}",
                        dir.display(),
                        self.options
                    ),
                )
                .with_operation("connect")
                .with_hint("check that the directory exists and is writable")
            })?;
        }
        // Opening runs PRAGMAs; switching a new file to WAL needs a moment of exclusive
        // access, and SQLite answers BUSY there without calling the busy handler. Retry
        // within the busy timeout, as the busy handler would.
        let started = std::time::Instant::now();
        loop {
            let inner = self.inner.clone();
            let opened =
                tokio::task::spawn_blocking(move || r2d2::ManageConnection::connect(&*inner))
                    .await
                    .map_err(|e| {
                        Error::new(ErrorKind::Other, format!("SQLite open failed: {e}"))
                    })?;
            match opened {
                Ok(conn) => return Ok(SqliteConnection::new(conn, self.lock_path())),
                Err(e) => {
                    let err = map_err(e);
                    if err.is_transient() && started.elapsed() < self.options.busy_timeout {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        continue;
                    }
                    let kind = if err.kind() == ErrorKind::Timeout {
                        ErrorKind::Timeout
                    } else {
                        ErrorKind::Connection
                    };
                    return Err(err
                        .with_kind(kind)
                        .context(format!("cannot open {}", self.options))
                        .with_operation("connect"));
                }
            }
        }
    }

    async fn ping(&self, conn: &mut SqliteConnection) -> Result<()> {
        conn.ping().await
    }

    fn must_discard(&self, conn: &SqliteConnection) -> bool {
        conn.is_broken() || conn.in_transaction() || conn.holds_migration_lock()
    }

    fn target(&self) -> ConnectTarget {
        dbm_core::DriverOptions::target(&self.options)
    }
}
