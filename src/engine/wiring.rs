//! A kind's controller and the watches that wake it: its own objects, the PlatformConnection
//! each names, and whatever else it refers to (Projects, Components, ApiSpecs, ConfigMaps).
//! Referenced objects are watched as metadata only: the mapper needs no more than a name, and
//! a metadata watch still sees every change, status included.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::core::PartialObjectMeta;
use kube::runtime::controller::Controller;
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::utils::{Backoff, ResetTimerBackoff};
use kube::runtime::watcher::ExponentialBackoff;
use kube::{Resource, ResourceExt};

use super::{Managed, Watched, driver};
use crate::apispec::crd::ApiSpec;
use crate::component::crd::Component;
use crate::connection::crd::PlatformConnection;
use crate::controller::context::Context;
use crate::project::crd::Project;

/// The wait after a watch error. kube-runtime's default (800 ms doubling to 30 s) is one backoff
/// for all of a controller's watches, which meet their errors one after the other: after an
/// apiserver restart the waits added up and a controller saw nothing for up to two minutes
/// (tests/apiserver_restart.rs). At most 2 s keeps that to seconds and still spares a
/// struggling apiserver: each controller's few watches retry at most every 2 s.
pub fn watch_backoff() -> impl Backoff {
    let backoff = backon::ExponentialBuilder::default()
        .with_min_delay(Duration::from_millis(250))
        .with_max_delay(Duration::from_secs(2))
        .with_factor(2.0)
        .with_jitter()
        .without_max_times();
    ResetTimerBackoff::new(ExponentialBackoff::from(backoff), Duration::from_secs(60))
}

/// Objects of `K` in `ns` that name `name` as `what` (`None`: as their connection).
fn referrers<K: Managed>(
    store: &Store<K>,
    ns: Option<String>,
    name: &str,
    what: Option<Watched>,
) -> Vec<ObjectRef<K>> {
    store
        .state()
        .into_iter()
        .filter(|o| o.namespace() == ns)
        .filter(|o| match what {
            None => o.connection_name() == name,
            Some(w) => o.references().iter().any(|(k, n)| *k == w && n == name),
        })
        .map(|o| ObjectRef::from_obj(&*o))
        .collect()
}

fn watch_meta<K, W>(
    controller: Controller<K>,
    ctx: &Context,
    store: Store<K>,
    what: Option<Watched>,
) -> Controller<K>
where
    K: Managed,
    W: Resource<DynamicType = ()>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + Sync
        + 'static,
    PartialObjectMeta<W>: Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>,
{
    // An Api of PartialObjectMeta makes metadata-only list and watch requests.
    controller.watches(
        ctx.scope.api::<PartialObjectMeta<W>>(&ctx.client),
        ctx.scope.wakers(),
        move |meta: PartialObjectMeta<W>| {
            referrers(&store, meta.namespace(), &meta.name_any(), what)
        },
    )
}

/// Runs kind `K`'s controller until `stop` resolves, then lets in-flight reconciles finish.
pub async fn run<K: Managed>(
    client: kube::Client,
    ctx: Arc<Context>,
    stop: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let mut controller = Controller::new(ctx.scope.api::<K>(&client), ctx.scope.reconciled());
    let store = controller.store();
    controller = watch_meta::<K, PlatformConnection>(controller, &ctx, store.clone(), None);
    for w in K::WATCHES {
        let s = store.clone();
        controller = match w {
            Watched::Project => watch_meta::<K, Project>(controller, &ctx, s, Some(*w)),
            Watched::Component => watch_meta::<K, Component>(controller, &ctx, s, Some(*w)),
            Watched::ApiSpec => watch_meta::<K, ApiSpec>(controller, &ctx, s, Some(*w)),
            Watched::ConfigMap => watch_meta::<K, ConfigMap>(controller, &ctx, s, Some(*w)),
        };
    }
    controller
        .trigger_backoff(watch_backoff())
        // Objects that found their connection not yet usable try again once it is.
        .reconcile_all_on(ctx.connections.ready_events())
        .graceful_shutdown_on(stop)
        .run(
            driver::reconcile::<K>,
            crate::controller::controllers::error_policy::<K>(K::KIND),
            ctx,
        )
        .for_each(|result| async move {
            match result {
                Ok((obj, _)) => tracing::debug!(kind = K::KIND, object = %obj, "reconciled"),
                Err(e) => tracing::debug!(kind = K::KIND, error = %e, "reconcile did not complete"),
            }
        })
        .await;
}
