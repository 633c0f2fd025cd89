//! The probe and metrics routes on axum: `/health`, `/health/live`, `/health/ready`,
//! `/health/{database}`, `/metrics`.

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;

use crate::metrics::{Format, Metrics};
use crate::monitor::HealthMonitor;

/// What the routes serve: a monitor and the metrics registry.
///
/// ```
/// # fn demo(db: std::sync::Arc<dyn dbm_core::Database>) {
/// use std::sync::Arc;
/// use dbm_health::{Component, HealthMonitor, HealthService, HealthSettings, Metrics};
/// let monitor = Arc::new(HealthMonitor::new(vec![Component::new(db)], HealthSettings::default()));
/// let service = HealthService::new(monitor, Metrics::new());
/// // Mount the routes in your own axum app:
/// let app: axum::Router = axum::Router::new().merge(dbm_health::router(service));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HealthService {
    monitor: Arc<HealthMonitor>,
    metrics: Metrics,
}

impl HealthService {
    /// Serves `monitor`'s databases; their pools are added to `metrics`.
    pub fn new(monitor: Arc<HealthMonitor>, metrics: Metrics) -> Self {
        for c in monitor.components() {
            metrics.watch_pool(c.database());
        }
        HealthService { monitor, metrics }
    }

    /// The monitor.
    pub fn monitor(&self) -> &Arc<HealthMonitor> {
        &self.monitor
    }

    /// The metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }
}

/// The routes, to serve alone ([`serve`]) or to merge into an application's own router.
///
/// - `GET /health`: every database, 200 when healthy or degraded, 503 when unhealthy.
/// - `GET /health/live`: 200 while the process answers; touches no database.
/// - `GET /health/ready`: 200 only when every required database is reachable and its
///   migrations are up to date, else 503 with the reasons.
/// - `GET /health/{database}`: one database, 404 for a name not configured (a database
///   named `live` or `ready` is reachable under `/health` only).
/// - `GET /metrics`: Prometheus text 0.0.4, or OpenMetrics when `Accept` asks for it.
pub fn router(service: HealthService) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/health/live", get(live))
        .route("/health/ready", get(ready))
        .route("/health/{database}", get(one))
        .route("/metrics", get(metrics))
        .with_state(service)
}

/// Serves [`router`] on `listener` until `shutdown` completes; requests in flight finish
/// first.
///
/// ```no_run
/// # async fn demo(service: dbm_health::HealthService) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// dbm_health::serve(listener, service, dbm_health::shutdown_signal()).await
/// # }
/// ```
pub async fn serve(
    listener: tokio::net::TcpListener,
    service: HealthService,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(service))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Completes at the first SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("SIGINT received, shutting down"),
        () = terminate => tracing::info!("SIGTERM received, shutting down"),
    }
}

fn json(code: u16, body: &impl Serialize) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    match serde_json::to_string(body) {
        Ok(text) => (code, [(header::CONTENT_TYPE, "application/json")], text).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot serialise the health report: {e}"),
        )
            .into_response(),
    }
}

async fn health(State(s): State<HealthService>) -> Response {
    let summary = s.monitor.check().await;
    s.metrics.record_health(summary.clone());
    json(summary.status.http_code(), &*summary)
}

async fn live() -> Response {
    json(200, &serde_json::json!({ "status": "up" }))
}

async fn ready(State(s): State<HealthService>) -> Response {
    let summary = s.monitor.check().await;
    s.metrics.record_health(summary.clone());
    let r = summary.readiness();
    let body = serde_json::json!({
        "status": if r.ready { "ready" } else { "not_ready" },
        "reasons": r.reasons,
        "timestamp": summary.timestamp,
    });
    json(if r.ready { 200 } else { 503 }, &body)
}

async fn one(State(s): State<HealthService>, Path(name): Path<String>) -> Response {
    let summary = s.monitor.check().await;
    s.metrics.record_health(summary.clone());
    match summary.components.get(&name) {
        Some(h) => json(h.status.http_code(), h),
        None => json(
            404,
            &serde_json::json!({
                "error": format!("no database named `{name}` is configured"),
                "databases": summary.components.keys().collect::<Vec<_>>(),
            }),
        ),
    }
}

async fn metrics(State(s): State<HealthService>, headers: HeaderMap) -> Response {
    let summary = s.monitor.check().await;
    s.metrics.record_health(summary);
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, format.content_type())],
        s.metrics.render(format),
    )
        .into_response()
}
