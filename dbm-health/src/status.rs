//! The three statuses and the thresholds that decide between them.

use std::fmt;
use std::time::Duration;

use serde::Serialize;

/// How a database, or all of them, is doing. Ordered from best to worst, so the overall
/// status of several is their maximum.
///
/// ```
/// use dbm_health::Status;
/// let all = [Status::Healthy, Status::Degraded, Status::Healthy];
/// assert_eq!(all.into_iter().max(), Some(Status::Degraded));
/// assert_eq!(Status::Unhealthy.to_string(), "unhealthy");
/// assert_eq!(Status::Degraded.gauge(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Reachable, answering, fast enough, migrations up to date.
    Healthy,
    /// Usable but something needs attention: slow, a busy pool, pending migrations, a
    /// failing test query, or an optional database that is down.
    Degraded,
    /// Not usable: no connection, or the check did not finish in time.
    Unhealthy,
}

impl Status {
    /// The status as text: `healthy`, `degraded`, `unhealthy`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Healthy => "healthy",
            Status::Degraded => "degraded",
            Status::Unhealthy => "unhealthy",
        }
    }

    /// The value of the `dbm_health_status` gauge: 0 healthy, 1 degraded, 2 unhealthy.
    pub fn gauge(self) -> i64 {
        match self {
            Status::Healthy => 0,
            Status::Degraded => 1,
            Status::Unhealthy => 2,
        }
    }

    /// The HTTP status code for `/health`: 200 unless unhealthy (503), as Spring Boot
    /// Actuator answers.
    pub fn http_code(self) -> u16 {
        match self {
            Status::Unhealthy => 503,
            _ => 200,
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Thresholds and limits of health checks (`[health]` in `dbm.toml`).
///
/// ```
/// use std::time::Duration;
/// use dbm_health::HealthSettings;
/// let s = HealthSettings::default().slow(Duration::from_millis(250)).cache(Duration::ZERO);
/// assert_eq!(s.slow, Duration::from_millis(250));
/// assert_eq!(s.pool_degraded_percent, 80.0);
/// assert_eq!(s.timeout, Duration::from_secs(5));
/// assert_eq!(s.cache, Duration::ZERO);
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct HealthSettings {
    /// A check slower than this (checkout, ping and test query) is degraded (`slow_ms`,
    /// default 1000 ms).
    pub slow: Duration,
    /// Pool utilisation above this share (percent) is degraded (`pool_degraded_percent`,
    /// default 80).
    pub pool_degraded_percent: f64,
    /// A check that has not finished after this long is unhealthy (`timeout_ms`, default
    /// 5000 ms).
    pub timeout: Duration,
    /// Results are reused for this long (`cache_ms`, default 1000 ms; zero checks every
    /// time).
    pub cache: Duration,
}

impl Default for HealthSettings {
    fn default() -> Self {
        HealthSettings {
            slow: Duration::from_secs(1),
            pool_degraded_percent: 80.0,
            timeout: Duration::from_secs(5),
            cache: Duration::from_secs(1),
        }
    }
}

impl HealthSettings {
    /// Sets the slow threshold.
    pub fn slow(mut self, slow: Duration) -> Self {
        self.slow = slow;
        self
    }

    /// Sets the pool utilisation threshold, in percent.
    pub fn pool_degraded_percent(mut self, percent: f64) -> Self {
        self.pool_degraded_percent = percent;
        self
    }

    /// Sets the time limit of one check.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sets how long results are reused.
    pub fn cache(mut self, cache: Duration) -> Self {
        self.cache = cache;
        self
    }
}
