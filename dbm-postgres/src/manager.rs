//! Opening and judging PostgreSQL connections for the dbm pool.

use std::fmt;
use std::sync::Arc;

use dbm_core::{ConnectTarget, Connection, ManageConnection, Result, async_trait};

use crate::connection::PgConnection;
use crate::options::PgOptions;

/// Opens [`PgConnection`]s; the pool is dbm-core's, not sqlx's (which pings on every
/// acquire and release).
pub struct PgManager {
    options: Arc<PgOptions>,
}

impl fmt::Debug for PgManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgManager")
            .field("options", &self.options)
            .finish()
    }
}

impl PgManager {
    /// A manager for `options`.
    pub fn new(options: PgOptions) -> Self {
        PgManager {
            options: Arc::new(options),
        }
    }

    /// The options connections are opened with.
    pub fn options(&self) -> &PgOptions {
        &self.options
    }
}

#[async_trait]
impl ManageConnection for PgManager {
    type Connection = PgConnection;

    async fn connect(&self) -> Result<PgConnection> {
        PgConnection::connect(self.options.clone()).await
    }

    async fn ping(&self, conn: &mut PgConnection) -> Result<()> {
        conn.ping().await
    }

    fn must_discard(&self, conn: &PgConnection) -> bool {
        conn.is_broken() || conn.in_transaction() || conn.holds_migration_lock()
    }

    fn target(&self) -> ConnectTarget {
        dbm_core::DriverOptions::target(&*self.options)
    }
}
