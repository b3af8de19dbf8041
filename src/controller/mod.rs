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
    let ready = Arc::new(AtomicBool::new(false));
    let health = health::serve(args.health_addr, ready.clone()).await?;
    info!(addr = %health.addr, "serving /healthz and /readyz");

    crd_check::ensure_installed(&client).await?;
    info!("all Converge CRDs are installed and established");
    ready.store(true, Ordering::SeqCst);

    shutdown_signal().await;
    info!("signal received, shutting down");
    ready.store(false, Ordering::SeqCst);
    health.stop().await;
    Ok(())
}

/// SIGTERM (Kubernetes stopping the pod) or SIGINT (Ctrl-C).
pub async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler cannot fail on Unix");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
