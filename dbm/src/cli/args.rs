//! The command line, declared with clap: per-command help, `--version`, suggestions for
//! mistyped commands and flags, shell completions.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// `dbm` (or `cargo xtask`): migrations, health and configuration of the databases in
/// `dbm.toml`.
#[derive(Debug, Parser)]
#[command(
    name = "dbm",
    version,
    about = "Migrations, health and configuration of the databases in dbm.toml",
    after_help = "Configuration: dbm.toml in this directory or a parent, or $DBM_CONFIG; \
                  DBM_ENV selects an [env.NAME] section. Logs: DBM_LOG=info (or EnvFilter \
                  directives such as dbm=debug,sqlx=warn)."
)]
pub(crate) struct Cli {
    /// The database in dbm.toml (default: the only one, else `app`)
    #[arg(long, short = 'd', global = true, value_name = "NAME")]
    pub(crate) database: Option<String>,
    /// Use this database URL instead of the configured one
    #[arg(long, global = true, value_name = "URL")]
    pub(crate) url: Option<String>,
    /// The migrations directory (default: migrations/NAME)
    #[arg(long, global = true, value_name = "DIR")]
    pub(crate) dir: Option<PathBuf>,
    /// Machine-readable output
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Apply pending migrations
    Migrate {
        /// Stop after this version
        #[arg(long, value_name = "VERSION")]
        to: Option<String>,
        /// Also apply versions older than the current one
        #[arg(long)]
        out_of_order: bool,
    },
    /// Applied, pending, failed, edited, missing and out-of-order migrations
    Status,
    /// Fail if any migration is edited, missing, failed or out of order
    Validate,
    /// Run undo files, newest first, down to VERSION
    Rollback {
        /// The version to roll back to (it stays applied)
        #[arg(long, value_name = "VERSION")]
        to: String,
    },
    /// Mark an existing database as being at VERSION
    Baseline {
        /// The version the database already has
        #[arg(long = "version", value_name = "VERSION")]
        version: String,
    },
    /// Remove failed history rows and realign checksums of edited files
    Repair,
    /// Create the next V (and U) migration file
    New {
        /// What the migration does, e.g. "add owner column"
        #[arg(required = true, num_args = 1.., value_name = "DESCRIPTION")]
        description: Vec<String>,
        /// Also create the undo (U) file
        #[arg(long)]
        undo: bool,
    },
    /// Connectivity, test query, migrations, pool; exit 1 only when unhealthy
    Health {
        /// Every database in dbm.toml
        #[arg(long)]
        all: bool,
    },
    /// Serve /health, /health/live, /health/ready, /health/NAME and /metrics until SIGINT
    /// or SIGTERM
    Serve {
        /// The address to listen on; port 0 picks a free one
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
        bind: String,
    },
    /// Configuration commands
    Config {
        #[command(subcommand)]
        action: ConfigAction,
    },
    /// Print a shell completion script (e.g. `dbm completions bash > /etc/bash_completion.d/dbm`)
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum ConfigAction {
    /// Every database's effective settings and where each came from; exit 1 when any is
    /// invalid
    Check,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_declaration_is_consistent() {
        Cli::command().debug_assert();
    }
}
