//! Running every kind's reconciler, each wired to its watches.

use std::future::Future;
use std::sync::Arc;

use futures::future::BoxFuture;
use futures::{FutureExt, StreamExt};
use k8s_openapi::api::core::v1::Secret;
use kube::ResourceExt;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::ObjectRef;

use crate::connection;
use converge_api::connection::PlatformConnection;
use converge_engine::context::Context;
use converge_engine::wiring;

/// Runs every controller until `stop` resolves, then lets in-flight reconciles finish. A
/// controller that stops on its own is logged (see `supervise`).
pub async fn run(
    client: kube::Client,
    ctx: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    if let Err(e) = supervise(client, ctx, stop).await {
        tracing::error!(error = %e, "a controller stopped; the others keep running");
    }
}

/// Runs each controller in a task of its own until `stop` resolves, then lets in-flight
/// reconciles finish. Returns an error as soon as one controller ends before `stop` (its watch
/// stream ended, or it panicked outside a reconcile): `converge run` then exits non-zero so
/// that Kubernetes restarts it, rather than running on with a kind nobody reconciles.
pub async fn supervise(
    client: kube::Client,
    ctx: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) -> anyhow::Result<()> {
    let stop = stop.boxed().shared();
    // One line per managed kind; each runs on the shared engine (`crate::engine`).
    let mut kinds: Vec<(&'static str, BoxFuture<'static, ()>)> = vec![(
        connection::KIND,
        run_connections(client.clone(), ctx.clone(), stop.clone()).boxed(),
    )];
    converge_api::for_each_kind!(K => {
        kinds.push(kind::<<K as crate::Reconciled>::Reconciler>(&client, &ctx, &stop));
    });
    let mut tasks = futures::stream::FuturesUnordered::new();
    for (name, controller) in kinds {
        ctx.liveness.running(name);
        let task = tokio::spawn(stops_at_failpoint(name, controller));
        tasks.push(async move { (name, task.await) });
    }
    while let Some((name, ended)) = tasks.next().await {
        if stop.peek().is_some() && ended.is_ok() {
            ctx.liveness.finished(name);
            continue;
        }
        let why = match ended {
            Ok(()) => "its watch stream ended".to_string(),
            Err(e) if e.is_panic() => format!(
                "it panicked: {}",
                converge_engine::guard::payload_message(&*e.into_panic())
            ),
            Err(_) => "its task was cancelled".to_string(),
        };
        ctx.liveness.failed(name, why.clone());
        anyhow::bail!("the {name} controller stopped: {why}");
    }
    Ok(())
}

fn kind<R: converge_engine::Reconciler>(
    client: &kube::Client,
    ctx: &Arc<Context>,
    stop: &futures::future::Shared<BoxFuture<'static, ()>>,
) -> (&'static str, BoxFuture<'static, ()>) {
    (
        <R::Kind as converge_engine::Kind>::KIND,
        wiring::run::<R>(client.clone(), ctx.clone(), stop.clone()).boxed(),
    )
}

/// For the tests of `supervise`: FAILPOINTS=controller-stops=return(KIND) ends that kind's
/// controller at once, return(KIND:panic) makes its task panic.
async fn stops_at_failpoint(name: &'static str, controller: BoxFuture<'static, ()>) {
    if let Some(Some(arg)) = fail::eval("controller-stops", |arg| arg) {
        match arg.split_once(':') {
            Some((k, "panic")) if k == name => panic!("failpoint controller-stops: {name}"),
            None if arg == name => return,
            _ => {}
        }
    }
    controller.await
}

/// The PlatformConnection controller, with its Secret watch and the pruning of clients of
/// deleted connections.
async fn run_connections(
    client: kube::Client,
    ctx: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let connections = Controller::new(
        ctx.scope.api::<PlatformConnection>(&client),
        ctx.scope.reconciled(),
    );
    let store = connections.store();
    let pruning = tokio::spawn(prune_deleted_connections(store.clone(), ctx.clone()));
    // A deleted connection waits for the objects that name it; each one going wakes it, from
    // that kind's own watch once its store shows the change (`Stores::wake_connection`).
    let (wake, woken) = futures::channel::mpsc::unbounded();
    ctx.stores.wake_connections_with(store.clone(), wake);
    connections
        .reconcile_on(woken)
        .trigger_backoff(converge_engine::wiring::watch_backoff())
        // A created, rotated or deleted Secret re-checks the connections that name it.
        .watches(
            ctx.scope.api::<Secret>(&client),
            ctx.scope.wakers(),
            move |secret| {
                let ns = secret.namespace();
                let name = secret.name_any();
                store
                    .state()
                    .into_iter()
                    .filter(|c| c.namespace() == ns && c.spec.credentials.secret_name == name)
                    .map(|c| ObjectRef::from_obj(&*c))
                    .collect::<Vec<_>>()
            },
        )
        .graceful_shutdown_on(stop)
        .run(
            connection::guarded,
            converge_engine::error::error_policy::<PlatformConnection>(connection::KIND),
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(object = %obj, "reconciled"),
                Err(e) => tracing::debug!(error = %e, "reconcile did not complete"),
            }
        })
        .await;
    pruning.abort();
}

/// Every few seconds (an in-memory scan), drops the platform clients of connections that are
/// gone without their finalizer's release: deleted before their first reconcile, or with the
/// finalizer removed by hand. Their objects then see the connection gone and are released.
async fn prune_deleted_connections(
    store: kube::runtime::reflector::Store<PlatformConnection>,
    ctx: Arc<Context>,
) {
    // No `wait_until_ready` on the controller's store: it never resolved there, so pruning
    // never ran. Not needed either: a client exists only once its connection was reconciled
    // from this store, so the store knew it; one missing from it now was deleted.
    loop {
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
        let existing = store
            .state()
            .iter()
            .map(|c| (c.namespace().unwrap_or_default(), c.name_any()))
            .collect();
        let connections = store.state();
        let statuses = connections
            .iter()
            .map(|c| c.status.as_ref().map(|s| &s.common));
        ctx.metrics.count_objects(connection::KIND, statuses);
        let pruned = ctx.connections.retain(&existing);
        if pruned > 0 {
            tracing::debug!(pruned, "dropped the clients of deleted connections");
        }
    }
}
