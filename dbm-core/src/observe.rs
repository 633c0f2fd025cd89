//! Hooks for metrics: each operation's duration and each wait for a pooled connection.
//!
//! The core records nothing itself. A metrics exporter (`dbm-health`'s `Metrics`) registers
//! an [`Observer`]; every [`PooledDatabase`](crate::PooledDatabase) operation and every pool
//! checkout then reports to it. With no observer registered the cost is one atomic load.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use crate::error::ErrorKind;

/// One finished database operation (`query`, `execute`, `query stream`, `transaction`).
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct OperationEvent<'a> {
    /// OpenTelemetry `db.system` (`postgresql`, `mssql`, `sqlite`).
    pub db_system: &'static str,
    /// The database's configured name (`db.namespace` in dbm's spans).
    pub db_namespace: &'a str,
    /// `db.operation.name`: `query`, `execute`, `query stream` or `transaction`.
    pub operation: &'static str,
    /// From the call to its result, checkout included.
    pub duration: Duration,
    /// The error's kind when the operation failed.
    pub error: Option<ErrorKind>,
}

/// One checkout from a pool: how long it waited, and whether it gave up.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct WaitEvent<'a> {
    /// The pool's name (the database's name).
    pub pool: &'a str,
    /// Time spent waiting for a free slot.
    pub waited: Duration,
    /// The wait ended at the pool timeout, without a connection.
    pub timed_out: bool,
}

/// Receives operation and checkout events; implemented by metrics exporters.
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use dbm_core::{add_observer, Observer, OperationEvent};
///
/// #[derive(Debug, Default)]
/// struct Count(AtomicU64);
/// impl Observer for Count {
///     fn operation(&self, _: &OperationEvent<'_>) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// let count = Arc::new(Count::default());
/// let guard = add_observer(count.clone());
/// // ... every PooledDatabase operation now counts ...
/// drop(guard); // and no longer does
/// ```
pub trait Observer: Send + Sync + fmt::Debug {
    /// An operation finished.
    fn operation(&self, event: &OperationEvent<'_>);

    /// A checkout finished waiting (got a slot or timed out).
    fn connection_wait(&self, event: &WaitEvent<'_>) {
        let _ = event;
    }
}

type Registered = Vec<(u64, Arc<dyn Observer>)>;

static ACTIVE: AtomicBool = AtomicBool::new(false);
static NEXT_ID: AtomicU64 = AtomicU64::new(1);
static OBSERVERS: RwLock<Registered> = RwLock::new(Vec::new());

/// Registers `observer` for the whole process until the returned guard is dropped.
pub fn add_observer(observer: Arc<dyn Observer>) -> ObserverGuard {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    let mut list = OBSERVERS.write().unwrap_or_else(PoisonError::into_inner);
    list.push((id, observer));
    ACTIVE.store(true, Ordering::Release);
    ObserverGuard { id }
}

/// Keeps an observer registered; dropping it unregisters the observer.
#[derive(Debug)]
#[must_use = "the observer is removed when the guard is dropped"]
pub struct ObserverGuard {
    id: u64,
}

impl Drop for ObserverGuard {
    fn drop(&mut self) {
        let mut list = OBSERVERS.write().unwrap_or_else(PoisonError::into_inner);
        list.retain(|(id, _)| *id != self.id);
        ACTIVE.store(!list.is_empty(), Ordering::Release);
    }
}

fn each(f: impl Fn(&dyn Observer)) {
    if !ACTIVE.load(Ordering::Acquire) {
        return;
    }
    let list = OBSERVERS.read().unwrap_or_else(PoisonError::into_inner);
    for (_, o) in list.iter() {
        f(o.as_ref());
    }
}

pub(crate) fn operation(event: &OperationEvent<'_>) {
    each(|o| o.operation(event));
}

pub(crate) fn connection_wait(pool: &str, waited: Duration, timed_out: bool) {
    each(|o| {
        o.connection_wait(&WaitEvent {
            pool,
            waited,
            timed_out,
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    #[derive(Debug, Default)]
    struct Seen(Mutex<Vec<String>>);
    impl Observer for Seen {
        fn operation(&self, e: &OperationEvent<'_>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}:{}", e.db_namespace, e.operation));
        }
        fn connection_wait(&self, e: &WaitEvent<'_>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("{}:wait:{}", e.pool, e.timed_out));
        }
    }

    fn op(ns: &str) -> OperationEvent<'_> {
        OperationEvent {
            db_system: "sqlite",
            db_namespace: ns,
            operation: "query",
            duration: Duration::from_millis(1),
            error: None,
        }
    }

    #[test]
    fn observers_see_events_until_their_guard_drops() {
        let a = Arc::new(Seen::default());
        let b = Arc::new(Seen::default());
        let ga = add_observer(a.clone());
        let gb = add_observer(b.clone());
        operation(&op("observe-test-1"));
        connection_wait("observe-test-1", Duration::ZERO, true);
        drop(ga);
        operation(&op("observe-test-2"));
        drop(gb);
        operation(&op("observe-test-3"));
        // Other tests of this binary may emit events too: look at ours only.
        let mine = |s: &Seen| -> Vec<String> {
            s.0.lock()
                .unwrap()
                .iter()
                .filter(|x| x.starts_with("observe-test"))
                .cloned()
                .collect()
        };
        assert_eq!(
            mine(&a),
            ["observe-test-1:query", "observe-test-1:wait:true"]
        );
        assert_eq!(
            mine(&b),
            [
                "observe-test-1:query",
                "observe-test-1:wait:true",
                "observe-test-2:query"
            ]
        );
    }
}
