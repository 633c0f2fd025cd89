//! Migrations built into the program and the same files on disk are interchangeable: same
//! versions, scripts and checksums, one history, on a real SQLite file.

use std::path::Path;
use std::sync::Arc;

use dbm_core::{ConnectSettings, Database, Driver, DriverSettings, PoolConfig};
use dbm_migrate::{EmbeddedMigrations, Migrator, embed_migrations, load_dir};

const FIXTURE: &str = "tests/fixtures/embedded";
static EMBEDDED: EmbeddedMigrations = embed_migrations!("tests/fixtures/embedded");

fn sqlite(dir: &Path) -> Arc<dyn Database> {
    let url = format!("sqlite://{}", dir.join("app.db").display());
    let driver: &dyn Driver = &dbm_sqlite::DRIVER;
    let options = driver.configure(&url, &DriverSettings::new(".")).unwrap();
    driver
        .open(
            "app",
            options.as_ref(),
            &ConnectSettings::new(),
            PoolConfig::new("app"),
            None,
        )
        .unwrap()
}

fn copy(file: &str, to: &Path) {
    let target = to.join(file);
    std::fs::create_dir_all(target.parent().unwrap()).unwrap();
    std::fs::copy(Path::new(FIXTURE).join(file), target).unwrap();
}

#[test]
fn the_embedded_set_is_the_directory() {
    let disk = load_dir(Path::new(FIXTURE)).unwrap();
    let embedded = EMBEDDED.load().unwrap();
    let key = |s: &dbm_migrate::MigrationSet| {
        s.forward
            .iter()
            .chain(s.undo.values())
            .map(|m| {
                (
                    m.version.to_string(),
                    m.script.clone(),
                    m.checksum,
                    m.transactional,
                    m.sql.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(key(&embedded), key(&disk));
    assert_eq!(
        embedded
            .forward
            .iter()
            .map(|m| m.script.as_str())
            .collect::<Vec<_>>(),
        ["V1__jobs.sql", "2026/V2__runs.sql", "V3__rows_loaded.sql"]
    );
    // The CRLF in V1 is normalised the same way: its SQL has no \r.
    assert!(!embedded.forward[0].sql.contains('\r'));
    // Only migration-like files were built in (not the README).
    assert!(
        EMBEDDED.file_names().all(|n| n.ends_with(".sql")),
        "{:?}",
        EMBEDDED.file_names().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn one_history_serves_files_on_disk_and_embedded_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("migrations");
    for f in ["V1__jobs.sql", "U1__jobs.sql", "2026/V2__runs.sql"] {
        copy(f, &dir);
    }
    let db = sqlite(tmp.path());
    let mut conn = db.acquire().await.unwrap();

    // Version 1 and 2 applied from disk.
    let r = Migrator::new(&dir, "app")
        .migrate(conn.as_mut(), None)
        .await
        .unwrap();
    assert_eq!(r.applied.len(), 2);

    // The embedded set sees them as applied and unchanged, and 3 as pending.
    let embedded = Migrator::embedded(EMBEDDED, "app");
    let s = embedded.validate(conn.as_mut()).await.unwrap();
    assert_eq!(s.applied.len(), 2);
    assert!(s.edited.is_empty() && s.missing.is_empty());
    assert_eq!(s.pending.len(), 1);
    assert_eq!(s.pending[0].script, "V3__rows_loaded.sql");
    let r = embedded.migrate(conn.as_mut(), None).await.unwrap();
    assert_eq!(r.current_version.as_deref(), Some("3"));
    db.execute(
        "INSERT INTO runs (job_id, rows_loaded) VALUES (1, 10)",
        &dbm_core::Params::new(),
    )
    .await
    .unwrap();

    // The directory, once it has V3 too, agrees: up to date.
    copy("V3__rows_loaded.sql", &dir);
    let s = Migrator::new(&dir, "app")
        .validate(conn.as_mut())
        .await
        .unwrap();
    assert!(s.is_up_to_date(), "{s:?}");

    // An edited file on disk is seen as edited against the history the embedded set wrote.
    std::fs::write(
        dir.join("V3__rows_loaded.sql"),
        "ALTER TABLE runs ADD COLUMN other INTEGER;\n",
    )
    .unwrap();
    let s = Migrator::new(&dir, "app")
        .status(conn.as_mut())
        .await
        .unwrap();
    assert_eq!(s.edited.len(), 1);
}
