//! /healthz (the process is alive), /readyz (startup checks passed and not shutting down) and
//! /metrics (Prometheus). With leader election a follower is ready too (see `leader`); the
//! body of /readyz says which it is.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub struct HealthServer {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl HealthServer {
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

pub async fn serve(
    addr: SocketAddr,
    ready: Arc<Readiness>,
    metrics: super::metrics::Metrics,
) -> anyhow::Result<HealthServer> {
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(ready)
        .route(
            "/metrics",
            get(move || {
                let metrics = metrics.clone();
                async move {
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        metrics.encode(),
                    )
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await;
    });
    Ok(HealthServer { addr, stop, task })
}

#[derive(Default)]
pub struct Readiness {
    /// Startup checks passed and no signal received.
    pub ready: AtomicBool,
    /// Leader election is on.
    pub elects: AtomicBool,
    /// This replica holds the Lease.
    pub leading: AtomicBool,
}

async fn readyz(State(r): State<Arc<Readiness>>) -> (StatusCode, &'static str) {
    if !r.ready.load(Ordering::SeqCst) {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    } else if !r.elects.load(Ordering::SeqCst) {
        (StatusCode::OK, "ok")
    } else if r.leading.load(Ordering::SeqCst) {
        (StatusCode::OK, "ok: leader")
    } else {
        (StatusCode::OK, "ok: follower, waiting for the Lease")
    }
}
