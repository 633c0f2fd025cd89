//! dbm next to the raw drivers it wraps, in one process, interleaved, on the same data:
//! time and heap allocations (a counting global allocator) per workload, and instructions
//! per query and per row counted by callgrind.
//!
//! ```sh
//! export DBM_TEST_POSTGRES_URL=postgres://user:pass@127.0.0.1:5432/postgres
//! cargo run --release -p dbm-bench            # the full run (about ten minutes)
//! cargo run --release -p dbm-bench -- --quick # what CI runs: small sizes, one repetition
//! ```
//!
//! Each workload runs `reps` times, alternating dbm and the raw driver, and prints the
//! median with min and max, allocations per unit, and the ratio dbm / raw of the medians.
//! PostgreSQL workloads need `DBM_TEST_POSTGRES_URL` (they say so and are left out without
//! it); every PostgreSQL client is forced to plaintext (`sslmode=disable`) so that all of
//! them pay for the same transport. `--only sqlite,postgres` runs some groups of workloads
//! (sqlite, postgres, concurrency, migrations, inputs, instructions). `--loop WORKLOAD N`
//! runs one workload N times and nothing else: the full run uses it to have callgrind
//! count instructions.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::time::Duration;

mod concurrency;
mod instructions;
mod measure;
mod migrations;
mod postgres;
mod sqlite;

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sizes {
    reps: usize,
    select1: usize,
    rows: i64,
    checkouts: usize,
    growth: &'static [usize],
    stream: usize,
    run: Duration,
    migrations: usize,
    script_mb: usize,
    params: usize,
    /// Units per callgrind count (0: instructions are not counted).
    instructions: usize,
}

const QUICK: Sizes = Sizes {
    reps: 1,
    select1: 200,
    rows: 10_000,
    checkouts: 6_400,
    growth: &[1_000, 10_000],
    stream: 20_000,
    run: Duration::from_millis(200),
    migrations: 50,
    script_mb: 1,
    params: 1_000,
    instructions: 0,
};

const FULL: Sizes = Sizes {
    reps: 5,
    select1: 5_000,
    rows: 100_000,
    checkouts: 640_000,
    growth: &[1_000, 10_000, 100_000, 1_000_000],
    stream: 1_000_000,
    run: Duration::from_secs(2),
    migrations: 1_000,
    script_mb: 1,
    params: 10_000,
    instructions: 2_000,
};

/// The URL with `sslmode=disable` added unless it names a mode.
fn plaintext(url: &str) -> String {
    if url.contains("sslmode=") {
        url.to_owned()
    } else {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode=disable")
    }
}

fn print_instructions(s: Sizes, pg: bool) {
    let pairs: &[(&str, &str, &str)] = &[
        ("SQLite fetch", "sqlite-fetch-dbm", "sqlite-fetch-rusqlite"),
        (
            "PostgreSQL SELECT 1, query",
            "pg-select1-dbm",
            "pg-select1-sqlx",
        ),
        (
            "PostgreSQL SELECT 1, query",
            "pg-select1-dbm",
            "pg-select1-sqlx-all",
        ),
        (
            "PostgreSQL SELECT 1, fetch_one",
            "pg-fetch-one-dbm",
            "pg-select1-sqlx",
        ),
        ("PostgreSQL fetch", "pg-fetch-dbm", "pg-fetch-sqlx"),
        ("PostgreSQL stream", "pg-stream-dbm", "pg-stream-sqlx"),
    ];
    for (title, dbm, raw) in pairs {
        if dbm.starts_with("pg") && !pg {
            continue;
        }
        let unit = instructions::WORKLOADS
            .iter()
            .find(|(w, _)| w == dbm)
            .map_or("unit", |(_, u)| *u);
        let n = if unit == "row" {
            s.instructions * 10
        } else {
            s.instructions
        };
        match (
            instructions::per_unit(dbm, n),
            instructions::per_unit(raw, n),
        ) {
            (Ok(d), Ok(r)) => println!(
                "{:<40} dbm {d:>9.0} instructions/{unit} | {raw} {r:.0} | ratio {:.2}x",
                format!("{title} (callgrind)"),
                d / r
            ),
            (Err(e), _) | (_, Err(e)) => {
                println!(
                    "{:<40} instructions not counted: {e}",
                    format!("{title} (callgrind)")
                );
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--loop") {
        let workload = args.get(i + 1).expect("--loop WORKLOAD N");
        let n = args
            .get(i + 2)
            .and_then(|n| n.parse().ok())
            .expect("--loop WORKLOAD N");
        let pg = std::env::var("DBM_TEST_POSTGRES_URL")
            .ok()
            .map(|u| plaintext(&u));
        instructions::run(workload, n, pg).await;
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let s = if quick { QUICK } else { FULL };
    // `--only GROUP[,GROUP]`: some of the groups below.
    const GROUPS: [&str; 6] = [
        "sqlite",
        "postgres",
        "concurrency",
        "migrations",
        "inputs",
        "instructions",
    ];
    let only: Option<Vec<String>> = args.iter().position(|a| a == "--only").map(|i| {
        let list = args.get(i + 1).map_or("", String::as_str);
        list.split(',').map(str::to_owned).collect()
    });
    if let Some(unknown) = only
        .iter()
        .flatten()
        .find(|g| !GROUPS.contains(&g.as_str()))
    {
        eprintln!(
            "dbm-bench: unknown group `{unknown}` after --only (groups: {})",
            GROUPS.join(", ")
        );
        std::process::exit(2);
    }
    let run = |group: &str| only.as_ref().is_none_or(|o| o.iter().any(|g| g == group));
    println!(
        "dbm-bench ({}; {} repetitions, {} for SQLite; dbm and raw interleaved; allocations counted by a global allocator; PostgreSQL over plaintext)",
        if quick { "quick" } else { "full" },
        s.reps,
        s.reps * sqlite::REPS_FACTOR
    );
    let pg = std::env::var("DBM_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .map(|u| plaintext(&u));
    if pg.is_none() {
        println!("PostgreSQL workloads left out: DBM_TEST_POSTGRES_URL is not set");
    }
    if run("sqlite") {
        sqlite::workloads(s).await;
    }
    if let Some(url) = &pg
        && run("postgres")
    {
        postgres::workloads(s, url).await;
    }
    if run("concurrency") {
        match &pg {
            Some(url) => concurrency::workloads(s, url).await,
            None => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("pool.db").display());
                concurrency::checkout_only(s, &url).await;
            }
        }
    }
    if run("migrations") {
        migrations::sqlite(s).await;
        if let Some(url) = &pg {
            migrations::postgres(s, url).await;
        }
    }
    if run("inputs") {
        migrations::inputs(s).await;
    }
    if s.instructions > 0 && run("instructions") {
        print_instructions(s, pg.is_some());
    }
}
