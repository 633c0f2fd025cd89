//! Cancelling a running statement from outside its connection.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use dbm_core::{Canceller, Error, async_trait};
use sqlx::Connection as _;

use crate::connection::open;
use crate::error::map_err;
use crate::options::PgOptions;

/// Cancels a statement with `pg_cancel_backend(pid)` sent over a fresh connection.
pub struct PgCanceller {
    pub(crate) pid: i32,
    pub(crate) options: Arc<PgOptions>,
    pub(crate) sent: Arc<AtomicBool>,
}

impl fmt::Debug for PgCanceller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgCanceller")
            .field("pid", &self.pid)
            .finish()
    }
}

#[async_trait]
impl Canceller for PgCanceller {
    async fn cancel(&self) {
        let result = async {
            let mut c = open(&self.options).await?;
            sqlx::query("SELECT pg_cancel_backend($1)")
                .bind(self.pid)
                .execute(&mut c)
                .await
                .map_err(|e| map_err(e, &self.options))?;
            let _ = c.close().await;
            Ok::<(), Error>(())
        }
        .await;
        match result {
            Ok(()) => self.sent.store(true, Ordering::SeqCst),
            Err(e) => {
                tracing::warn!(pid = self.pid, error = %e, "could not cancel the statement on the server")
            }
        }
    }
}
