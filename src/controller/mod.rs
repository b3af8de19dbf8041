//! The controller process: startup checks, health endpoints, and shutdown on a signal.

pub mod leader;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context as _;
use tracing::info;

use crate::cli::RunArgs;

pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let mut stop = Box::pin(converge_engine::shutdown_signal());
    let e = &args.election;
    info!(
        version = converge_engine::version::VERSION,
        commit = converge_engine::version::COMMIT,
        health_addr = %args.health_addr,
        namespace = args.namespace.as_deref().unwrap_or("(all)"),
        selector = args.selector.as_deref().unwrap_or("(none)"),
        leader_election = e.leader_election,
        lease = %e.lease_name,
        lease_duration = ?e.lease_duration,
        lease_renew_before = ?e.lease_renew_before,
        shutdown_grace = ?args.shutdown_grace,
        "starting converge run"
    );
    // Failpoints (the `fail` crate) from the FAILPOINTS variable, for the crash tests, e.g.
    // FAILPOINTS=after-platform-create=pause. Without the variable nothing is configured.
    let _failpoints = std::env::var_os("FAILPOINTS").map(|_| fail::FailScenario::setup());
    let client = kube::Client::try_default()
        .await
        .context("cannot reach a cluster: no usable kubeconfig and not running in a pod")?;
    let metrics = converge_engine::metrics::Metrics::default();
    let readiness = Arc::new(converge_engine::health::Readiness::default());
    let liveness = Arc::new(converge_engine::health::Liveness::default());
    let health = converge_engine::health::serve(
        args.health_addr,
        readiness.clone(),
        liveness.clone(),
        metrics.clone(),
    )
    .await?;
    info!(addr = %health.addr, "serving /healthz, /readyz and /metrics");

    converge_engine::crd_check::ensure_installed(&client).await?;
    info!("all Converge CRDs are installed and established");
    let scope = converge_engine::scope::Scope {
        namespace: args.namespace.clone(),
        selector: args.selector.clone(),
    };
    scope.check(&client).await?;
    let mut ctx =
        converge_engine::context::Context::new(client.clone(), metrics.clone()).with_scope(scope);
    ctx.liveness = liveness;
    let ctx = Arc::new(ctx);

    let mut election = None;
    if args.election.leader_election {
        let mut e =
            leader::Election::join(client.clone(), &args.election, args.namespace.as_deref())
                .await?;
        readiness.elects.store(true, Ordering::SeqCst);
        readiness.ready.store(true, Ordering::SeqCst);
        info!(identity = %e.identity, lease = %format!("{}/{}", e.namespace, e.lease), "waiting for the Lease");
        tokio::select! {
            acquired = e.acquired() => acquired?,
            _ = &mut stop => {
                info!("signal received before leading, shutting down");
                e.release(args.shutdown_grace).await;
                health.stop().await;
                return Ok(());
            }
        }
        info!(identity = %e.identity, "holding the Lease: running the controllers");
        readiness.leading.store(true, Ordering::SeqCst);
        election = Some(e);
    }
    readiness.ready.store(true, Ordering::SeqCst);
    metrics.leader.set(1);

    let (stopping, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut controllers = tokio::spawn(converge_controllers::supervise(client, ctx, async {
        let _ = stopped.await;
    }));
    let lost = async {
        match election.as_mut() {
            Some(e) => e.lost().await,
            None => std::future::pending().await,
        }
    };
    tokio::select! {
        _ = &mut stop => {}
        _ = lost => {
            metrics.leader.set(0);
            controllers.abort();
            anyhow::bail!("lost the Lease: another replica may be reconciling; exiting to rejoin as a follower");
        }
        ended = &mut controllers => {
            // A controller stopped on its own: exit non-zero so that Kubernetes restarts the
            // process, and hand the Lease over at once.
            readiness.ready.store(false, Ordering::SeqCst);
            metrics.leader.set(0);
            if let Some(e) = election {
                e.release(Duration::from_secs(5)).await;
            }
            health.stop().await;
            return Err(match ended {
                Ok(Err(e)) => e,
                Ok(Ok(())) => anyhow::anyhow!("the controllers stopped"),
                Err(e) => anyhow::anyhow!("the controllers' task failed: {e}"),
            });
        }
    }
    info!("signal received, shutting down");
    readiness.ready.store(false, Ordering::SeqCst);
    let _ = stopping.send(());
    if tokio::time::timeout(args.shutdown_grace, controllers)
        .await
        .is_err()
    {
        tracing::warn!(grace = ?args.shutdown_grace, "reconciles still running after the shutdown grace period; exiting anyway");
    }
    metrics.leader.set(0);
    if let Some(e) = election {
        e.release(Duration::from_secs(5)).await;
    }
    health.stop().await;
    Ok(())
}
