//! Large inputs: time grows linearly, and a big seed migration runs at the speed of the
//! `sqlite3` shell.
//!
//! ```sh
//! cargo run --release -p dbm-migrate --example linear_bench
//! ```
//!
//! Prints, in one run (best of several repetitions each):
//! - splitting a 1 MB and a 10 MB script (SQLite and PostgreSQL rules);
//! - binding 6,400, 16,000 and 64,000 distinct named parameters;
//! - applying a 0.5 MB / 2,250-INSERT and a 5 MB / 22,500-INSERT migration to a fresh SQLite
//!   file with the migration engine, next to `sqlite3 db < file` on the same file (as is,
//!   and wrapped in BEGIN/COMMIT as the engine runs it), when `sqlite3` is installed
//!   (`apt install sqlite3`).
#![allow(clippy::print_stdout)]

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use dbm_core::{Database, Params, PlaceholderStyle, PoolConfig, ScriptSplit, SqlSyntax};
use dbm_migrate::Migrator;
use dbm_sqlite::SqliteOptions;

/// A script of about `bytes` bytes: INSERTs with literals holding `;`, comments, a
/// trigger, quoted names.
fn script(bytes: usize) -> String {
    let mut s = String::with_capacity(bytes + 512);
    s.push_str("CREATE TABLE seed (id INTEGER PRIMARY KEY, name TEXT, note TEXT, amount REAL);\n");
    let mut i = 0u64;
    while s.len() < bytes {
        let _ = writeln!(
            s,
            "-- row {i}\nINSERT INTO seed (id, name, note, amount) VALUES ({i}, 'customer {i}; \"quoted\"', /* note; {i} */ 'note -- {i}', {i}.25);"
        );
        i += 1;
    }
    s
}

/// The seed migration of the issue: `n` INSERTs of about 222 bytes each.
fn inserts(n: usize) -> String {
    let mut s = String::with_capacity(n * 230);
    s.push_str("CREATE TABLE seed (id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT, city TEXT, note TEXT, amount REAL);\n");
    for i in 0..n {
        let _ = writeln!(
            s,
            "INSERT INTO seed (id, name, email, city, note, amount) VALUES ({i}, 'Customer number {i:06}', 'customer.{i:06}@example.com', 'Springfield', 'imported from the legacy CRM export, batch {:03}, checked by the nightly job', {i}.5);",
            i % 997
        );
    }
    s
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Best times of `f` on each input, measured in turns (input 1, input 2, input 1, ...) so
/// that a slow moment of the machine does not fall on one size only.
fn best_interleaved<I, T>(
    inputs: &[I],
    reps: usize,
    mut f: impl FnMut(&I) -> T,
) -> Vec<(Duration, T)> {
    let mut out: Vec<Option<(Duration, T)>> = inputs.iter().map(|_| None).collect();
    for _ in 0..reps {
        for (slot, input) in out.iter_mut().zip(inputs) {
            let t = Instant::now();
            let v = f(input);
            let d = t.elapsed();
            if slot.as_ref().is_none_or(|(b, _)| d < *b) {
                *slot = Some((d, v));
            }
        }
    }
    out.into_iter()
        .map(|s| s.expect("at least one repetition"))
        .collect()
}

fn split_bench() {
    println!("split_script (best of 9, sizes measured in turns)");
    let texts = [script(1 << 20), script(10 << 20)];
    for (name, syntax) in [
        ("sqlite", SqlSyntax::SQLITE),
        ("postgres", SqlSyntax::POSTGRES),
    ] {
        let results = best_interleaved(&texts, 9, |text| {
            dbm_core::split_script(text, &syntax, ScriptSplit::Semicolon).len()
        });
        for (text, (t, n)) in texts.iter().zip(&results) {
            println!(
                "  {name:<8} {:>2} MB: {:>8.1} ms  ({n} statements, {:.0} MB/s)",
                text.len() >> 20,
                ms(*t),
                text.len() as f64 / t.as_secs_f64() / 1e6
            );
        }
        println!(
            "  {name:<8} 10x input: {:.1}x time",
            results[1].0.as_secs_f64() / results[0].0.as_secs_f64()
        );
    }
}

fn bind_bench() {
    println!("bind_named, distinct parameters (best of 9, sizes measured in turns)");
    let sizes = [6_400usize, 16_000, 64_000, 160_000];
    let inputs: Vec<(String, Params)> = sizes
        .iter()
        .map(|&n| {
            let mut sql = String::from("INSERT INTO t VALUES ");
            let mut params = Params::new();
            for i in 0..n {
                let _ = write!(sql, "{}(:p{i})", if i == 0 { "" } else { ", " });
                params.insert(format!("p{i}"), i as i64);
            }
            (sql, params)
        })
        .collect();
    let binds = best_interleaved(&inputs, 9, |(sql, params)| {
        dbm_core::bind_named(sql, params, PlaceholderStyle::Dollar, &SqlSyntax::POSTGRES)
            .map(|b| b.values.len())
            .unwrap_or(0)
    });
    let inserts = best_interleaved(&sizes, 9, |&n| {
        let mut p = Params::new();
        for i in 0..n {
            p.insert(format!("p{i}"), i as i64);
        }
        p.len()
    });
    for ((n, (t, len)), (insert_t, _)) in sizes.iter().zip(&binds).zip(&inserts) {
        assert_eq!(len, n);
        println!(
            "  {n:>6} parameters: bind {:>7.2} ms, Params::insert x{n} {:>7.2} ms",
            ms(*t),
            ms(*insert_t)
        );
    }
    let ratio = |a: usize, b: usize| binds[b].0.as_secs_f64() / binds[a].0.as_secs_f64();
    println!(
        "  10x input: 64,000 vs 6,400 {:.1}x time, 160,000 vs 16,000 {:.1}x time",
        ratio(0, 2),
        ratio(1, 3)
    );
}

fn sqlite3_shell(db: &Path, file: &Path) -> Option<Duration> {
    let input = std::fs::File::open(file).ok()?;
    let t = Instant::now();
    let status = Command::new("sqlite3")
        .arg(db)
        .stdin(input)
        .stdout(Stdio::null())
        .status()
        .ok()?;
    status.success().then(|| t.elapsed())
}

async fn migrate_once(dir: &Path, sql: &str) -> (Duration, i64) {
    let work = tempfile::tempdir_in(dir).expect("temp dir");
    let migrations = work.path().join("migrations");
    std::fs::create_dir(&migrations).expect("mkdir");
    std::fs::write(migrations.join("V1__seed.sql"), sql).expect("write");
    let db = dbm_sqlite::open(
        "bench",
        SqliteOptions::file(work.path().join("bench.db")),
        PoolConfig::new("bench").pool_size(1),
    );
    let t = Instant::now();
    let mut conn = db.acquire().await.expect("connect");
    let report = Migrator::new(&migrations, "bench")
        .migrate(conn.as_mut(), None)
        .await
        .expect("migrate");
    let elapsed = t.elapsed();
    drop(conn);
    db.close().await;
    (elapsed, report.applied[0].execution_time_ms)
}

async fn migration_bench() {
    println!("SQLite seed migration, fresh file each time (best of 3)");
    let dir = tempfile::tempdir().expect("temp dir");
    let has_shell = Command::new("sqlite3")
        .arg("-version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    for n in [2_250usize, 22_500] {
        let sql = inserts(n);
        let mut best_t = Duration::MAX;
        let mut recorded = 0;
        for _ in 0..3 {
            let (t, rec) = migrate_once(dir.path(), &sql).await;
            if t < best_t {
                best_t = t;
                recorded = rec;
            }
        }
        let mb = sql.len() as f64 / 1e6;
        println!(
            "  {n:>6} INSERTs ({mb:.1} MB): dbm migrate {:>8.1} ms (recorded execution_time_ms {recorded})",
            ms(best_t)
        );
        if !has_shell {
            println!(
                "          sqlite3 shell: not installed (apt install sqlite3), comparison skipped"
            );
            continue;
        }
        let plain = dir.path().join(format!("plain_{n}.sql"));
        std::fs::write(&plain, &sql).expect("write");
        let wrapped = dir.path().join(format!("tx_{n}.sql"));
        std::fs::write(&wrapped, format!("BEGIN;\n{sql}COMMIT;\n")).expect("write");
        for (label, file) in [
            ("sqlite3 db < file", &plain),
            ("same in BEGIN/COMMIT", &wrapped),
        ] {
            // The plain file commits every INSERT (one fsync each): once is enough.
            let reps = if file == &plain { 1 } else { 3 };
            let mut shell = Duration::MAX;
            for rep in 0..reps {
                let db = dir
                    .path()
                    .join(format!("shell_{n}_{rep}_{}.db", label.len()));
                if let Some(t) = sqlite3_shell(&db, file) {
                    shell = shell.min(t);
                }
            }
            println!(
                "          {label:<22} {:>8.1} ms  (dbm / shell = {:.2})",
                ms(shell),
                best_t.as_secs_f64() / shell.as_secs_f64()
            );
        }
    }
}

fn main() {
    split_bench();
    bind_bench();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(migration_bench());
}
