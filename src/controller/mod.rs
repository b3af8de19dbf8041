//! The controller process: startup checks, health endpoints, and shutdown on a signal.

pub mod context;
pub mod controllers;
pub mod crd_check;
pub mod error;
pub mod health;
pub mod metrics;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use tracing::info;

use crate::cli::RunArgs;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let stop = shutdown_signal();
    // Failpoints (the `fail` crate) from the FAILPOINTS variable, for the crash tests, e.g.
    // FAILPOINTS=after-platform-create=pause. Without the variable nothing is configured.
    let _failpoints = std::env::var_os("FAILPOINTS").map(|_| fail::FailScenario::setup());
    let client = kube::Client::try_default()
        .await
        .context("cannot reach a cluster: no usable kubeconfig and not running in a pod")?;
    let metrics = metrics::Metrics::default();
    let ready = Arc::new(AtomicBool::new(false));
    let health = health::serve(args.health_addr, ready.clone(), metrics.clone()).await?;
    info!(addr = %health.addr, "serving /healthz, /readyz and /metrics");

    crd_check::ensure_installed(&client).await?;
    info!("all Converge CRDs are installed and established");
    let ctx = Arc::new(context::Context::new(client.clone(), metrics));
    ready.store(true, Ordering::SeqCst);

    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let controllers = tokio::spawn(controllers::run(client, ctx, async {
        let _ = stopped.await;
    }));
    stop.await;
    info!("signal received, shutting down");
    ready.store(false, Ordering::SeqCst);
    let _ = stopping.send(());
    if tokio::time::timeout(args.shutdown_grace, controllers)
        .await
        .is_err()
    {
        tracing::warn!(grace = ?args.shutdown_grace, "reconciles still running after the shutdown grace period; exiting anyway");
    }
    health.stop().await;
    Ok(())
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C). The handlers are
/// registered when this is called, not when it is first polled: a signal that arrives right
/// after the process says it is ready must not kill it with the default action.
pub fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term =
        signal(SignalKind::terminate()).expect("installing a SIGTERM handler cannot fail on Unix");
    let mut int =
        signal(SignalKind::interrupt()).expect("installing a SIGINT handler cannot fail on Unix");
    async move {
        tokio::select! {
            _ = term.recv() => {}
            _ = int.recv() => {}
        }
    }
}
