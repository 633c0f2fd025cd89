//! What a migration run reports while it runs, for progress bars and logs.

use std::fmt;
use std::time::Duration;

use crate::version::Version;

/// One step of a `migrate` or `rollback` run.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum Progress<'a> {
    /// The run holds the lock and knows what it will do.
    RunStarted {
        /// The database's name.
        database: &'a str,
        /// How many files it will run.
        pending: usize,
        /// `true` for a rollback (undo files).
        undo: bool,
    },
    /// A file starts.
    Started {
        /// 1-based position in the run.
        index: usize,
        /// Files in the run.
        of: usize,
        /// Its version.
        version: &'a Version,
        /// Its description.
        description: &'a str,
        /// Its file name.
        script: &'a str,
    },
    /// A file finished: applied (or undone), or failed.
    Finished {
        /// 1-based position in the run.
        index: usize,
        /// Files in the run.
        of: usize,
        /// Its version.
        version: &'a Version,
        /// Its description.
        description: &'a str,
        /// How long it ran.
        duration: Duration,
        /// Whether it succeeded (the run stops at a failure).
        ok: bool,
    },
    /// The run ended (also after a failure).
    RunFinished {
        /// Files applied (or undone).
        done: usize,
        /// The whole run.
        duration: Duration,
    },
}

/// Receives a run's [`Progress`] as it happens.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use dbm_migrate::{Migrator, MigrationProgress, Progress};
///
/// #[derive(Debug, Default)]
/// struct Lines(Mutex<Vec<String>>);
/// impl MigrationProgress for Lines {
///     fn report(&self, p: &Progress<'_>) {
///         if let Progress::Started { index, of, version, .. } = p {
///             self.0.lock().unwrap().push(format!("[{index}/{of}] {version}"));
///         }
///     }
/// }
/// let lines = Arc::new(Lines::default());
/// let migrator = Migrator::new("migrations/app", "app").progress(lines.clone());
/// # let _ = migrator;
/// ```
pub trait MigrationProgress: Send + Sync + fmt::Debug {
    /// Called at each step, on the task running the migrations: keep it quick.
    fn report(&self, progress: &Progress<'_>);
}
