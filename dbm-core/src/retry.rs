//! Retrying transient failures with exponential backoff and jitter.

use std::future::Future;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::Result;

/// How often and how patiently to retry a transient failure.
///
/// Only errors whose [`is_transient`](crate::Error::is_transient) is true are retried; retry
/// only idempotent work or whole transactions.
///
/// The default rides out a fast server restart (one to a few seconds unreachable): three
/// attempts, waiting 1 s and then 2 s (plus up to half again of jitter), never more than
/// 10 s at once, as the seed system's tenacity policy did.
///
/// ```
/// use std::time::Duration;
/// use dbm_core::RetryPolicy;
/// let p = RetryPolicy::default().with_max_attempts(5).with_jitter(false);
/// assert_eq!(p.backoff(1), Duration::from_secs(1));
/// assert_eq!(p.backoff(3), Duration::from_secs(4));
/// assert_eq!(p.backoff(30), Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub max_attempts: u32,
    /// The wait after the first failure.
    #[serde(with = "crate::duration_ms")]
    pub initial_backoff: Duration,
    /// The longest single wait.
    #[serde(with = "crate::duration_ms")]
    pub max_backoff: Duration,
    /// Growth factor of the wait per attempt.
    pub multiplier: f64,
    /// Lengthen each wait by a random share of up to half its nominal value, so that many
    /// clients do not retry in step (never shortening it below the nominal wait).
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            initial_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(10),
            multiplier: 2.0,
            jitter: true,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Sets the number of attempts (at least 1).
    pub fn with_max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts.max(1);
        self
    }

    /// Sets the first wait.
    pub fn with_initial_backoff(mut self, wait: Duration) -> Self {
        self.initial_backoff = wait;
        self
    }

    /// Sets the longest wait.
    pub fn with_max_backoff(mut self, wait: Duration) -> Self {
        self.max_backoff = wait;
        self
    }

    /// Turns jitter on or off.
    pub fn with_jitter(mut self, jitter: bool) -> Self {
        self.jitter = jitter;
        self
    }

    /// The nominal wait after failed attempt number `attempt` (1-based), before jitter.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let exp = self
            .multiplier
            .max(1.0)
            .powi(attempt.saturating_sub(1).min(64) as i32);
        let nominal = self.initial_backoff.as_secs_f64() * exp;
        Duration::from_secs_f64(nominal.min(self.max_backoff.as_secs_f64()))
    }

    fn wait(&self, attempt: u32) -> Duration {
        let nominal = self.backoff(attempt);
        if self.jitter {
            nominal.mul_f64(1.0 + fastrand::f64() * 0.5)
        } else {
            nominal
        }
    }
}

/// Runs `op` until it succeeds, fails with a non-transient error, or `policy` runs out of
/// attempts. `op` receives the attempt number (1-based). Each retry is logged with the attempt
/// number, the wait and the error. When the attempts run out, the error says so ("failed
/// after 3 attempts over 3.1 s: ...") with the same kind and code, and the last error as
/// its source. An error whose [outcome is unknown](crate::Error::outcome_unknown) is never
/// retried.
///
/// ```
/// # tokio_test_block_on(async {
/// use dbm_core::{retry, Error, ErrorCode, ErrorKind, RetryPolicy};
/// let policy = RetryPolicy::default().with_initial_backoff(std::time::Duration::ZERO);
/// // ... three attempts: the third succeeds.
/// let result = retry(&policy, "demo", |attempt| async move {
///     if attempt < 3 {
///         Err(Error::new(ErrorKind::Query, "busy").with_code(ErrorCode::Sqlite(5)))
///     } else {
///         Ok(attempt)
///     }
/// }).await;
/// assert_eq!(result.unwrap(), 3);
/// # });
/// # fn tokio_test_block_on<F: std::future::Future>(f: F) -> F::Output {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
pub async fn retry<T, F, Fut>(policy: &RetryPolicy, operation: &str, mut op: F) -> Result<T>
where
    F: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T>>,
{
    let started = tokio::time::Instant::now();
    let mut attempt = 1;
    loop {
        match op(attempt).await {
            Ok(v) => return Ok(v),
            Err(e) if e.is_transient() && attempt >= policy.max_attempts && attempt > 1 => {
                let message = format!(
                    "failed after {attempt} attempts over {:.1} s: {}",
                    started.elapsed().as_secs_f64(),
                    e.message()
                );
                tracing::warn!(operation, attempts = attempt, error = %e, "retries exhausted");
                return Err(e.restated(message));
            }
            Err(e) if e.is_transient() && attempt < policy.max_attempts => {
                let wait = policy.wait(attempt);
                tracing::warn!(
                    operation,
                    attempt,
                    max_attempts = policy.max_attempts,
                    wait_ms = wait.as_millis() as u64,
                    error = %e,
                    "transient failure, retrying"
                );
                tokio::time::sleep(wait).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ErrorCode, ErrorKind};
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test(start_paused = true)]
    async fn non_transient_errors_are_not_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = retry(&RetryPolicy::default(), "t", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::new(ErrorKind::Constraint, "dup").with_code(ErrorCode::Sqlite(19))) }
        })
        .await;
        assert_eq!(r.unwrap_err().kind(), ErrorKind::Constraint);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn transient_errors_stop_after_max_attempts_with_growing_waits() {
        let calls = AtomicU32::new(0);
        let start = tokio::time::Instant::now();
        let policy = RetryPolicy::default()
            .with_max_attempts(4)
            .with_jitter(false);
        let r: Result<()> = retry(&policy, "t", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async { Err(Error::new(ErrorKind::Query, "busy").with_code(ErrorCode::Sqlite(5))) }
        })
        .await;
        let e = r.unwrap_err();
        assert!(e.is_transient());
        assert_eq!(calls.load(Ordering::SeqCst), 4);
        // 1 + 2 + 4 s of (paused, auto-advanced) sleeping
        assert_eq!(start.elapsed(), Duration::from_secs(7));
        // The error says the retries ran out, keeps kind and code, and wraps the last one.
        assert_eq!(e.kind(), ErrorKind::Query);
        assert_eq!(e.code(), Some(&ErrorCode::Sqlite(5)));
        assert_eq!(e.message(), "failed after 4 attempts over 7.0 s: busy");
        let source = std::error::Error::source(&e).unwrap().to_string();
        assert!(
            source.ends_with("query error: busy (SQLite code 5)"),
            "{source}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn outcome_unknown_is_never_retried() {
        let calls = AtomicU32::new(0);
        let r: Result<()> = retry(&RetryPolicy::default(), "t", |_| {
            calls.fetch_add(1, Ordering::SeqCst);
            async {
                Err(Error::new(ErrorKind::Connection, "lost during COMMIT")
                    .with_code(ErrorCode::ConnectIo)
                    .with_outcome_unknown())
            }
        })
        .await;
        assert!(r.unwrap_err().outcome_unknown());
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn jitter_only_lengthens_waits_by_up_to_half() {
        let p = RetryPolicy::default();
        for _ in 0..100 {
            let w = p.wait(2);
            assert!(
                w >= Duration::from_secs(2) && w <= Duration::from_secs(3),
                "{w:?}"
            );
        }
    }

    #[test]
    fn default_policy_waits_long_enough_for_a_fast_restart() {
        // A fast PostgreSQL restart leaves the server unreachable for 1 to 2.5 s: the
        // third attempt must come later than that even with no jitter.
        let p = RetryPolicy::default().with_jitter(false);
        assert_eq!(p.max_attempts, 3);
        assert!(p.backoff(1) + p.backoff(2) >= Duration::from_secs(3));
    }
}
