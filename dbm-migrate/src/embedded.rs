//! Migrations built into the program: no migrations directory needed at run time.

use std::borrow::Cow;

use dbm_core::Result;

use crate::source::{MigrationSet, assemble};

/// The files of a migrations directory, built into the program by
/// [`embed_migrations!`](crate::embed_migrations).
/// They are read with the same rules as a directory ([`load_dir`](crate::load_dir)), so
/// versions, scripts and checksums are the same and one history serves both.
///
/// ```
/// let embedded = dbm_migrate::embed_migrations!("tests/fixtures/embedded");
/// let set = embedded.load().unwrap();
/// let on_disk = dbm_migrate::load_dir(std::path::Path::new("tests/fixtures/embedded")).unwrap();
/// assert_eq!(set.forward.len(), on_disk.forward.len());
/// assert_eq!(set.forward[0].checksum, on_disk.forward[0].checksum);
/// ```
#[derive(Debug, Clone, Copy)]
pub struct EmbeddedMigrations {
    files: &'static [(&'static str, &'static [u8])],
}

impl EmbeddedMigrations {
    /// What [`embed_migrations!`] builds: files named by their path below the directory.
    #[doc(hidden)]
    pub const fn new(files: &'static [(&'static str, &'static [u8])]) -> Self {
        EmbeddedMigrations { files }
    }

    /// The embedded file names (`V1__a.sql`, `2026/V2__b.sql`).
    pub fn file_names(&self) -> impl Iterator<Item = &'static str> {
        self.files.iter().map(|(name, _)| *name)
    }

    /// The migrations, checked as [`load_dir`](crate::load_dir) checks a directory.
    pub fn load(&self) -> Result<MigrationSet> {
        assemble(self.files.iter().map(|(name, bytes)| {
            let bytes: &'static [u8] = bytes;
            ((*name).to_owned(), move || Ok(Cow::Borrowed(bytes)))
        }))
    }
}

/// Builds a migrations directory into the program: `embed_migrations!("migrations/app")`,
/// the path relative to the crate's `Cargo.toml`. Gives an [`EmbeddedMigrations`] for
/// [`Migrator::embedded`](crate::Migrator::embedded), so a container image needs no
/// migrations directory.
///
/// A changed file is rebuilt into the program; a file added to the directory is picked up
/// at the next build of the crate (touch a source file, or add
/// `println!("cargo:rerun-if-changed=migrations")` to its build script).
#[macro_export]
macro_rules! embed_migrations {
    ($dir:literal) => {
        $crate::EmbeddedMigrations::new($crate::__embed_files!($dir))
    };
}
