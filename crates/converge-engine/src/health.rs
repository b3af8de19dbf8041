//! /healthz (the process is alive and every controller it started still runs), /readyz
//! (startup checks passed and not shutting down) and /metrics (Prometheus). With leader
//! election a follower is ready too (see `leader`); the body of /readyz says which it is.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

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
    liveness: Arc<Liveness>,
    metrics: super::metrics::Metrics,
) -> anyhow::Result<HealthServer> {
    let app = Router::new()
        .route(
            "/healthz",
            get(move || {
                let liveness = liveness.clone();
                async move { healthz(&liveness) }
            }),
        )
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

/// Which controllers run. A controller registered here and not running (its watch stream
/// ended, its task panicked) makes /healthz fail, so the kubelet restarts the process even if
/// something kept it from exiting.
#[derive(Default)]
pub struct Liveness {
    /// Controller name → why it stopped (None: running).
    controllers: Mutex<BTreeMap<&'static str, Option<String>>>,
}

impl Liveness {
    pub fn running(&self, controller: &'static str) {
        self.lock().insert(controller, None);
    }

    /// Ended as asked (shutdown): no longer watched.
    pub fn finished(&self, controller: &'static str) {
        self.lock().remove(controller);
    }

    /// Ended without being asked to.
    pub fn failed(&self, controller: &'static str, why: String) {
        self.lock().insert(controller, Some(why));
    }

    /// One line per controller that stopped without being asked to.
    pub fn problems(&self) -> Vec<String> {
        self.lock()
            .iter()
            .filter_map(|(c, why)| {
                why.as_ref()
                    .map(|w| format!("the {c} controller stopped: {w}"))
            })
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Option<String>>> {
        self.controllers.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn healthz(liveness: &Liveness) -> (StatusCode, String) {
    let problems = liveness.problems();
    if problems.is_empty() {
        (StatusCode::OK, "ok".into())
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, problems.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthz_fails_while_a_controller_is_stopped() {
        let l = Liveness::default();
        l.running("Project");
        l.running("Workflow");
        assert_eq!(healthz(&l).0, StatusCode::OK);
        l.failed("Workflow", "its watch stream ended".into());
        let (code, body) = healthz(&l);
        assert_eq!(code, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(
            body,
            "the Workflow controller stopped: its watch stream ended"
        );
        l.finished("Workflow");
        l.finished("Project");
        assert_eq!(healthz(&l).0, StatusCode::OK);
    }
}
