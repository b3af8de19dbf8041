//! The controller process: startup checks, health endpoints, and shutdown on a signal.

pub mod crd_check;
pub mod health;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Context as _;
use tracing::info;

use crate::cli::RunArgs;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let client = kube::Client::try_default()
        .await
        .context("cannot reach a cluster: no usable kubeconfig and not running in a pod")?;
    let stop = shutdown_signal();
    let ready = Arc::new(AtomicBool::new(false));
    let health = health::serve(args.health_addr, ready.clone()).await?;
    info!(addr = %health.addr, "serving /healthz and /readyz");

    crd_check::ensure_installed(&client).await?;
    info!("all Converge CRDs are installed and established");
    ready.store(true, Ordering::SeqCst);

    stop.await;
    info!("signal received, shutting down");
    ready.store(false, Ordering::SeqCst);
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
