//! Timing, allocation counting, peak memory and the report lines.

use std::alloc::System;
use std::time::{Duration, Instant};

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

/// One measured run: its time and the heap allocations it made.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sample {
    pub(crate) time: Duration,
    pub(crate) allocs: usize,
}

/// Runs `f`, timing it and counting its allocations.
pub(crate) async fn measure<F, Fut>(f: F) -> Sample
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let region = Region::new(GLOBAL);
    let started = Instant::now();
    f().await;
    let time = started.elapsed();
    Sample {
        time,
        allocs: region.change().allocations,
    }
}

/// Median, min and max of the samples' times, and the median allocation count.
pub(crate) fn summary(samples: &mut [Sample]) -> (Duration, Duration, Duration, usize) {
    samples.sort_by_key(|s| s.time);
    let times = (
        samples[samples.len() / 2].time,
        samples[0].time,
        samples[samples.len() - 1].time,
    );
    let mut allocs: Vec<usize> = samples.iter().map(|s| s.allocs).collect();
    allocs.sort_unstable();
    (times.0, times.1, times.2, allocs[allocs.len() / 2])
}

/// The median time of `samples`.
pub(crate) fn median(samples: &mut [Sample]) -> Duration {
    summary(samples).0
}

/// Prints one workload: dbm's and the raw driver's figures per `unit` of `per` units, and
/// the ratio of the medians.
pub(crate) fn report(
    name: &str,
    unit: &str,
    per: usize,
    dbm: &mut [Sample],
    raw: Option<(&str, &mut [Sample])>,
) {
    let (m, lo, hi, a) = summary(dbm);
    let per_unit = |d: Duration| d.as_secs_f64() * 1e6 / per as f64;
    print!(
        "{name:<40} dbm {:>9.3} us/{unit} (min {:.3}, max {:.3}) {:>7.1} allocs/{unit}",
        per_unit(m),
        per_unit(lo),
        per_unit(hi),
        a as f64 / per as f64
    );
    if let Some((raw_name, raw)) = raw {
        let (rm, rlo, rhi, ra) = summary(raw);
        print!(
            " | {raw_name} {:.3} us (min {:.3}, max {:.3}) {:.1} allocs | ratio {:.2}x",
            per_unit(rm),
            per_unit(rlo),
            per_unit(rhi),
            ra as f64 / per as f64,
            m.as_secs_f64() / rm.as_secs_f64()
        );
    }
    println!();
}

/// Resets the process's peak resident set (Linux: `5` into `/proc/self/clear_refs`), so
/// that [`rss_mb`] reports the peak from now on. Returns false where that is not
/// possible.
pub(crate) fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

/// The process's resident set now (`VmRSS`) and its peak (`VmHWM`) in MB.
pub(crate) fn rss_mb() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(0.0, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// `n` sequential `SELECT 1` through the manager.
pub(crate) async fn select1(db: &dbm::DatabaseManager, n: usize) -> Sample {
    measure(|| async {
        for _ in 0..n {
            db.query("SELECT 1", ()).await.expect("select 1");
        }
    })
    .await
}

/// `n` sequential `fetch_one("SELECT 1")` calls (one row kept, as sqlx's `fetch_one`).
pub(crate) async fn select1_fetch_one(db: &dbm::DatabaseManager, n: usize) -> Sample {
    measure(|| async {
        for _ in 0..n {
            db.fetch_one("SELECT 1", ()).await.expect("select 1");
        }
    })
    .await
}

/// Reads `stream` to its end and checks that it had `n` rows.
pub(crate) async fn drain<S, T, E>(stream: S, n: usize)
where
    S: futures_util::Stream<Item = Result<T, E>>,
    E: std::fmt::Debug,
{
    use futures_util::StreamExt as _;
    let mut stream = std::pin::pin!(stream);
    let mut count = 0usize;
    while let Some(row) = stream.next().await {
        row.expect("row");
        count += 1;
    }
    assert_eq!(count, n);
}

/// Runs `f` in each of `tasks` spawned tasks and waits for all of them.
pub(crate) async fn in_tasks<F, Fut>(tasks: usize, f: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let handles: Vec<_> = (0..tasks).map(|_| tokio::spawn(f())).collect();
    for h in handles {
        h.await.expect("task");
    }
}
