//! Opening and judging SQL Server connections for the dbm pool.

use std::fmt;
use std::sync::Arc;

use dbm_core::{ConnectTarget, Connection, ManageConnection, Result, async_trait};

use crate::connection::MssqlConnection;
use crate::options::MssqlOptions;

/// Opens [`MssqlConnection`]s for the dbm-core pool.
pub struct MssqlManager {
    options: Arc<MssqlOptions>,
}

impl fmt::Debug for MssqlManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MssqlManager")
            .field("options", &self.options)
            .finish()
    }
}

impl MssqlManager {
    /// A manager for `options`.
    pub fn new(options: MssqlOptions) -> Self {
        MssqlManager {
            options: Arc::new(options),
        }
    }

    /// The options connections are opened with.
    pub fn options(&self) -> &MssqlOptions {
        &self.options
    }
}

#[async_trait]
impl ManageConnection for MssqlManager {
    type Connection = MssqlConnection;

    async fn connect(&self) -> Result<MssqlConnection> {
        self.options.check()?;
        MssqlConnection::connect(self.options.clone()).await
    }

    async fn ping(&self, conn: &mut MssqlConnection) -> Result<()> {
        conn.ping().await
    }

    /// Broken, inside a transaction, or holding the migration lock: closed, not pooled
    /// (closing ends the session, which rolls back and releases on the server).
    fn must_discard(&self, conn: &MssqlConnection) -> bool {
        conn.is_broken() || conn.in_transaction() || conn.holds_migration_lock()
    }

    fn target(&self) -> ConnectTarget {
        dbm_core::DriverOptions::target(&*self.options)
    }
}
