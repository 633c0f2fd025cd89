//! Prometheus metrics: operation durations, pool readings and health, in the OpenTelemetry
//! database-client names translated to Prometheus form, rendered by `prometheus-client`.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, PoisonError, RwLock, Weak};

use dbm_core::{Database, Observer, ObserverGuard, OperationEvent, PoolStatus, WaitEvent};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

use crate::monitor::HealthSummary;

/// Seconds: from 100 µs (a loopback `SELECT 1`) to 10 s.
const BUCKETS: [f64; 16] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

type Labels3 = [(&'static str, Cow<'static, str>); 3];
type Labels4 = [(&'static str, Cow<'static, str>); 4];
type Labels1 = [(&'static str, Cow<'static, str>); 1];

/// Which exposition format to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The Prometheus text format 0.0.4, the default (what `promtool check metrics` checks).
    Prometheus,
    /// OpenMetrics 1.0 text, for scrapers whose `Accept` header asks for it.
    OpenMetrics,
}

impl Format {
    /// The format a scraper's `Accept` header prefers: OpenMetrics only when it is listed
    /// with a higher quality than the 0.0.4 text format (or the text format is absent);
    /// the 0.0.4 text format otherwise, and when there is no header.
    ///
    /// ```
    /// use dbm_health::Format;
    /// assert_eq!(Format::from_accept(None), Format::Prometheus);
    /// assert_eq!(Format::from_accept(Some("*/*")), Format::Prometheus);
    /// // What Prometheus 2.x sends:
    /// let prom = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
    /// assert_eq!(Format::from_accept(Some(prom)), Format::OpenMetrics);
    /// assert_eq!(Format::from_accept(Some("text/plain;version=0.0.4")), Format::Prometheus);
    /// assert_eq!(Format::from_accept(Some("application/openmetrics-text;q=0")), Format::Prometheus);
    /// ```
    pub fn from_accept(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Prometheus;
        };
        let (mut open, mut text) = (0.0f64, 0.0f64);
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let q = parts
                .filter_map(|p| p.strip_prefix("q="))
                .find_map(|v| v.parse::<f64>().ok())
                .unwrap_or(1.0);
            match media.as_str() {
                "application/openmetrics-text" => open = open.max(q),
                "text/plain" | "*/*" | "text/*" => text = text.max(q),
                _ => {}
            }
        }
        if open > 0.0 && open > text {
            Format::OpenMetrics
        } else {
            Format::Prometheus
        }
    }

    /// The `Content-Type` of the format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// A database's series handles: (db_system, operation, histogram) and its wait histogram.
#[derive(Debug, Default)]
struct Series {
    operations: Vec<(&'static str, &'static str, Histogram)>,
    wait: Option<Histogram>,
}

/// What the observer records, shared with the registry's families. Each series is looked
/// up in the family once; afterwards a database's handles are found by its name without
/// building label sets (no allocation per operation).
#[derive(Debug)]
struct Recorder {
    operations: Family<Labels3, Histogram>,
    errors: Family<Labels4, Counter>,
    waits: Family<Labels1, Histogram>,
    series: RwLock<HashMap<String, Series>>,
}

impl Recorder {
    fn labels(e: &OperationEvent<'_>) -> Labels3 {
        [
            ("db_system", Cow::Borrowed(e.db_system)),
            ("db_namespace", Cow::Owned(e.db_namespace.to_owned())),
            ("db_operation_name", Cow::Borrowed(e.operation)),
        ]
    }
}

impl Observer for Recorder {
    fn operation(&self, e: &OperationEvent<'_>) {
        let seconds = e.duration.as_secs_f64();
        let known = {
            let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
            series
                .get(e.db_namespace)
                .and_then(|s| {
                    s.operations
                        .iter()
                        .find(|(sys, op, _)| *sys == e.db_system && *op == e.operation)
                })
                .map(|(_, _, h)| h.observe(seconds))
                .is_some()
        };
        if !known {
            let h = self.operations.get_or_create_owned(&Self::labels(e));
            h.observe(seconds);
            self.series
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(e.db_namespace.to_owned())
                .or_default()
                .operations
                .push((e.db_system, e.operation, h));
        }
        if let Some(kind) = e.error {
            let [a, b, c] = Self::labels(e);
            self.errors
                .get_or_create(&[a, b, c, ("error_type", Cow::Borrowed(kind.id()))])
                .inc();
        }
    }

    fn connection_wait(&self, e: &WaitEvent<'_>) {
        let seconds = e.waited.as_secs_f64();
        let known = {
            let series = self.series.read().unwrap_or_else(PoisonError::into_inner);
            series
                .get(e.pool)
                .and_then(|s| s.wait.as_ref())
                .map(|h| h.observe(seconds))
                .is_some()
        };
        if !known {
            let h = self
                .waits
                .get_or_create_owned(&[("db_namespace", Cow::Owned(e.pool.to_owned()))]);
            h.observe(seconds);
            self.series
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(e.pool.to_owned())
                .or_default()
                .wait = Some(h);
        }
    }
}

/// Pool readings and health, read at each scrape.
#[derive(Debug, Default)]
struct Sources {
    pools: RwLock<Vec<Weak<dyn Database>>>,
    health: RwLock<Option<Arc<HealthSummary>>>,
}

/// The metrics of this process's databases, for a `/metrics` endpoint.
///
/// Creating one registers it for every database operation in the process (through
/// `dbm_core::add_observer`): `db_client_operation_duration_seconds` (histogram by
/// `db_system`, `db_namespace`, `db_operation_name`), `db_client_operation_errors_total`
/// (with `error_type`) and `db_client_connection_wait_time_seconds`. Pools added with
/// [`watch_pool`](Metrics::watch_pool) are read at each scrape:
/// `db_client_connections_usage{state="idle"|"used"}` (OpenTelemetry's
/// `db.client.connections.usage`: promtool refuses a gauge named `..._count`),
/// `db_client_connection_idle_max`, `db_client_connection_max`,
/// `db_client_connection_pending_requests`, `db_client_connection_timeouts_total` and dbm's
/// `dbm_pool_connections_{created,closed,invalid}_total`. The last health summary given to
/// [`record_health`](Metrics::record_health) gives `dbm_health_status{database}` (0
/// healthy, 1 degraded, 2 unhealthy) and `dbm_health_response_time_seconds{database}`.
/// Dropping the last clone stops the recording.
///
/// ```
/// use dbm_health::{Format, Metrics};
/// let metrics = Metrics::new();
/// // Families appear with their first sample; OpenMetrics always ends with `# EOF`.
/// assert!(metrics.render(Format::OpenMetrics).ends_with("# EOF\n"));
/// ```
#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    sources: Arc<Sources>,
    _guard: Arc<ObserverGuard>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A registry with dbm's families, recording from now on.
    pub fn new() -> Self {
        let recorder = Arc::new(Recorder {
            operations: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            errors: Family::default(),
            waits: Family::new_with_constructor(|| Histogram::new(BUCKETS)),
            series: RwLock::new(HashMap::new()),
        });
        let sources = Arc::new(Sources::default());
        let mut registry = Registry::default();
        registry.register_with_unit(
            "db_client_operation_duration",
            "Duration of database client operations (query, execute, query stream, transaction), checkout included",
            Unit::Seconds,
            recorder.operations.clone(),
        );
        registry.register(
            "db_client_operation_errors",
            "Database client operations that failed, by error type",
            recorder.errors.clone(),
        );
        registry.register_with_unit(
            "db_client_connection_wait_time",
            "Time spent waiting for a pooled connection",
            Unit::Seconds,
            recorder.waits.clone(),
        );
        registry.register_collector(Box::new(Readings(sources.clone())));
        let guard = dbm_core::add_observer(recorder);
        Metrics {
            registry: Arc::new(registry),
            sources,
            _guard: Arc::new(guard),
        }
    }

    /// Reads `database`'s pool at each scrape (held weakly: a closed and dropped database
    /// disappears from the output).
    pub fn watch_pool(&self, database: &Arc<dyn Database>) {
        let mut pools = self
            .sources
            .pools
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        pools.retain(|w| w.strong_count() > 0);
        pools.push(Arc::downgrade(database));
    }

    /// The health gauges show `summary` from now on.
    pub fn record_health(&self, summary: Arc<HealthSummary>) {
        *self
            .sources
            .health
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Some(summary);
    }

    /// The exposition text in `format`.
    pub fn render(&self, format: Format) -> String {
        let mut out = String::new();
        let result = match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut out, &self.registry)
            }
            Format::OpenMetrics => {
                prometheus_client::encoding::text::encode(&mut out, &self.registry)
            }
        };
        // Writing to a String cannot fail; a failure would be a bug in the encoder.
        if let Err(e) = result {
            tracing::error!(error = %e, "rendering metrics failed");
        }
        out
    }
}

#[derive(Debug)]
struct Readings(Arc<Sources>);

fn ns(name: &str) -> (&'static str, &str) {
    ("db_namespace", name)
}

impl Collector for Readings {
    fn encode(&self, mut encoder: DescriptorEncoder<'_>) -> Result<(), fmt::Error> {
        let pools: Vec<PoolStatus> = self
            .0
            .pools
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .filter_map(Weak::upgrade)
            .map(|db| {
                let mut s = db.pool_status();
                db.name().clone_into(&mut s.name);
                s
            })
            .collect();
        if !pools.is_empty() {
            encode_pools(&mut encoder, &pools)?;
        }
        let health = self
            .0
            .health
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(h) = health {
            let mut e = encoder.encode_descriptor(
                "dbm_health_status",
                "Health of each database: 0 healthy, 1 degraded, 2 unhealthy",
                None,
                MetricType::Gauge,
            )?;
            for c in h.components.values() {
                ConstGauge::new(c.status.gauge())
                    .encode(e.encode_family(&[("database", c.database_name.as_str())])?)?;
            }
            let unit = Unit::Seconds;
            let mut e = encoder.encode_descriptor(
                "dbm_health_response_time",
                "Time of the last health check's checkout, ping and test query",
                Some(&unit),
                MetricType::Gauge,
            )?;
            for c in h.components.values() {
                ConstGauge::new(c.response_time_ms / 1000.0)
                    .encode(e.encode_family(&[("database", c.database_name.as_str())])?)?;
            }
        }
        Ok(())
    }
}

/// A family's name, help and how to read it from a pool's status.
type Reading<T> = (&'static str, &'static str, fn(&PoolStatus) -> T);

fn encode_pools(encoder: &mut DescriptorEncoder<'_>, pools: &[PoolStatus]) -> fmt::Result {
    let mut e = encoder.encode_descriptor(
        "db_client_connections_usage",
        "Connections open in the pool, by state",
        None,
        MetricType::Gauge,
    )?;
    for s in pools {
        for (state, n) in [("idle", s.checked_in), ("used", s.checked_out)] {
            ConstGauge::new(i64::from(n))
                .encode(e.encode_family(&[ns(&s.name), ("state", state)])?)?;
        }
    }
    let gauges: [Reading<Option<i64>>; 3] = [
        (
            "db_client_connection_idle_max",
            "Most idle connections the pool keeps (pool_size)",
            |s| Some(i64::from(s.pool_size)),
        ),
        (
            "db_client_connection_max",
            "Most connections the pool opens (pool_size + max_overflow; absent when unlimited)",
            |s| s.max_connections.map(i64::from),
        ),
        (
            "db_client_connection_pending_requests",
            "Tasks waiting for a connection",
            |s| Some(i64::from(s.waiting)),
        ),
    ];
    for (name, help, read) in gauges {
        let mut e = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
        for s in pools {
            if let Some(v) = read(s) {
                ConstGauge::new(v).encode(e.encode_family(&[ns(&s.name)])?)?;
            }
        }
    }
    let counters: [Reading<u64>; 4] = [
        (
            "db_client_connection_timeouts",
            "Checkouts that gave up after the pool timeout",
            |s| s.checkout_timeouts,
        ),
        (
            "dbm_pool_connections_created",
            "Connections opened since the pool was created",
            |s| s.connections_created,
        ),
        (
            "dbm_pool_connections_closed",
            "Connections closed since the pool was created",
            |s| s.connections_closed,
        ),
        (
            "dbm_pool_connections_invalid",
            "Connections discarded as broken",
            |s| s.invalid,
        ),
    ];
    for (name, help, read) in counters {
        let mut e = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
        for s in pools {
            ConstCounter::new(read(s)).encode(e.encode_family(&[ns(&s.name)])?)?;
        }
    }
    Ok(())
}
