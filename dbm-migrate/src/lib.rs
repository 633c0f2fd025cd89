//! Versioned SQL migrations for dbm, in the manner of Flyway.
//!
//! - Files `V{version}__{description}.sql` apply a version, `U{version}__{description}.sql`
//!   undo it. Versions are dotted numbers compared part by part.
//! - History lives in `schema_version` (`installed_rank`, `version`, `description`, `type`,
//!   `script`, `checksum`, `installed_by`, `installed_on`, `execution_time_ms`, `success`).
//! - Checksums ignore line endings and a BOM; edited, missing and failed migrations block
//!   `migrate` until fixed or `repair`ed.
//! - One lock per run; each migration commits atomically with its history row, unless the
//!   file says `-- dbm:no-transaction`.
//!
//! Everything goes through the `dbm-core` traits, so every driver gets migrations by
//! implementing its `Dialect` and migration lock.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod embedded;
mod engine;
mod history;
mod new;
mod progress;
mod source;
mod status;
mod version;

#[doc(hidden)]
pub use dbm_migrate_macros::embed_files as __embed_files;
pub use embedded::EmbeddedMigrations;
pub use engine::{AppliedMigration, MigrateReport, Migrator, RepairReport};
pub use history::{HistoryRow, RowType};
pub use new::{new_migration, slug};
pub use progress::{MigrationProgress, Progress};
pub use source::{Migration, MigrationKind, MigrationSet, checksum, load_dir, normalize};
pub use status::{MigrationInfo, MigrationState, MigrationStatus, Problem, ProblemKind, StoppedAt};
pub use version::Version;
