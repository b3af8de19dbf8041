//! The PlatformConnection reconciler: fetch the Secret (and CA bundle) → credentials (pure) →
//! one cheap authenticated call → status (pure) → apply status and record an Event when the
//! connection's health changed. Re-checks periodically and whenever its Secret changes.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::runtime::finalizer::{Event as Finalize, finalizer};
use kube::{Resource, ResourceExt};

use converge_api::common::conditions::{self, Desired, READY, RECONCILING, reason};
use converge_api::connection::{PlatformConnection, PlatformConnectionStatus};
use converge_engine::connections::credentials;
use converge_engine::connections::decide::{
    BUDGET_WINDOW_CALLS, Observed, Transition, budget_report, decide,
};
use converge_engine::context::Context;
use converge_engine::dependents::{self, Target};
use converge_engine::error::Error;
use converge_engine::guard;
use converge_engine::status;

pub const KIND: &str = "PlatformConnection";

/// Held while the connection exists, so that deleting it (or its namespace) waits until no
/// managed object names it: they all need it to delete their platform objects.
pub const IN_USE: &str = "converge.dev/in-use";

/// `reconcile` in its span, counted, with a panic contained to this connection (Stalled, with
/// an Event) so the other connections and kinds go on.
pub async fn guarded(conn: Arc<PlatformConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
    let run = reconcile(conn.clone(), ctx.clone());
    let caught = match guard::reconcile(KIND, &*conn, &ctx, run).await {
        Ok(result) => return result,
        Err(caught) => caught,
    };
    if let Some(ns) = conn.namespace() {
        let api = Api::<PlatformConnection>::namespaced(ctx.client.clone(), &ns);
        fn common(
            s: &mut PlatformConnectionStatus,
        ) -> &mut converge_api::common::conditions::CommonStatus {
            &mut s.common
        }
        match guard::stall(&api, &*conn, conn.status.as_ref(), common, &caught).await {
            Ok(Some(note)) => {
                let t = Transition {
                    warning: true,
                    reason: guard::PANICKED,
                    note,
                };
                publish(&ctx, &conn, vec![t]).await;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(error = %e, "cannot mark the connection Stalled after a panic")
            }
        }
    }
    Err(Error::Panicked(caught.status_message()))
}

pub async fn reconcile(conn: Arc<PlatformConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
    match conn.namespace() {
        None => Err(Error::NotNamespaced(conn.name_any())),
        Some(ns) => {
            let api = Api::<PlatformConnection>::namespaced(ctx.client.clone(), &ns);
            finalizer(&api, IN_USE, conn, |event| async {
                match event {
                    Finalize::Apply(conn) => check(&conn, &ctx, &ns, None).await,
                    Finalize::Cleanup(conn) => release(&conn, &ctx, &ns).await,
                }
            })
            .await
            .map_err(|e| Error::Finalizer(Box::new(e)))
        }
    }
}

/// How often a deleted connection rewrites how many objects it still waits for.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Deleted: gone once nothing names it; until then it keeps checking (and its client stays
/// usable) so that the objects using it can delete their platform objects.
async fn release(conn: &PlatformConnection, ctx: &Context, ns: &str) -> Result<Action, Error> {
    let name = conn.name_any();
    let users = dependents::of(ctx, ns, Target::Connection(&name)).await?;
    if users.is_empty() {
        ctx.connections.forget(ns, &name);
        return Ok(Action::await_change());
    }
    let message = dependents::waiting_message(&users);
    let usable = ctx.connections.ready(ns, &name).is_some()
        && conn
            .status
            .as_ref()
            .is_some_and(|s| s.common.is_true(READY));
    let shown = conn
        .status
        .as_ref()
        .and_then(|s| s.common.condition(RECONCILING))
        .is_some_and(|c| c.reason == reason::DELETING);
    if usable && shown && !ctx.connections.progress_due(ns, &name, PROGRESS_EVERY) {
        // Already says it waits; the count is brought up to date at most every few seconds.
    } else if usable {
        // Each user that goes wakes this; no need to ask the platform again every time.
        let mut status = conn.status.clone().unwrap_or_default();
        let now = Time(k8s_openapi::jiff::Timestamp::now());
        let event = mark_in_use(conn, &mut status, &message, now);
        let api = Api::<PlatformConnection>::namespaced(ctx.client.clone(), ns);
        status::apply(&api, conn, conn.status.as_ref(), &status).await?;
        publish(ctx, conn, event.into_iter().collect()).await;
    } else {
        check(conn, ctx, ns, Some(&message)).await?;
    }
    Err(Error::Deleting(message))
}

/// Checks the credentials and the platform, and shows the outcome (and, while it is being
/// deleted, what it waits for) in status and Events.
async fn check(
    conn: &PlatformConnection,
    ctx: &Context,
    ns: &str,
    in_use: Option<&str>,
) -> Result<Action, Error> {
    let name = conn.name_any();
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), ns)
        .get_opt(&conn.spec.credentials.secret_name)
        .await?;
    let secret_version = secret.as_ref().and_then(|s| s.resource_version());
    let platform = converge_engine::connections::settings::platform_of(&conn.spec);

    let ca_bundle = match conn.spec.tls.as_ref().and_then(|t| t.ca_bundle.as_ref()) {
        None => Ok(None),
        Some(r) => {
            let cm = Api::<ConfigMap>::namespaced(ctx.client.clone(), ns)
                .get_opt(&r.name)
                .await?;
            match cm.and_then(|cm| cm.data.and_then(|mut d| d.remove(&r.key))) {
                Some(pem) => Ok(Some(pem.into_bytes())),
                None => Err(format!(
                    "tls.caBundle: ConfigMap {:?} has no key {:?}",
                    r.name, r.key
                )),
            }
        }
    };

    let credentials = credentials::from_secret(&conn.spec.credentials, secret.as_ref());
    // A namespace deletion removes the Secret at once, while the objects using this
    // connection still have platform objects to delete: keep the credentials last read.
    let kept = match &credentials {
        Err(_) if in_use.is_some() => ctx.connections.known(ns, &name),
        _ => None,
    };
    let checked;
    let invalid;
    let observed = match (&credentials, &ca_bundle, kept) {
        (_, _, Some(client)) => {
            checked = client.check().await;
            if checked.is_ok() {
                ctx.connections.mark(conn, true);
            } else {
                // Nothing left to reach the platform with: its users are released.
                ctx.connections.forget(ns, &name);
            }
            Observed::Checked(checked.as_ref())
        }
        (Err(problem), _, None) => {
            // Unusable, but kept: if this is a namespace deletion that took the Secret
            // first, the release above still has the credentials it last read.
            ctx.connections.mark(conn, false);
            Observed::Credentials(problem)
        }
        (_, Err(message), None) => Observed::Invalid(message),
        (Ok(auth), Ok(ca), None) => match ctx.connections.connect(conn, auth.clone(), ca.clone()) {
            Err(e) => {
                invalid = e.to_string();
                Observed::Invalid(&invalid)
            }
            Ok(client) => {
                checked = client.check().await;
                ctx.connections.mark(conn, checked.is_ok());
                Observed::Checked(checked.as_ref())
            }
        },
    };

    let now = Time(k8s_openapi::jiff::Timestamp::now());
    let mut decision = decide(conn, platform, secret_version, observed, now.clone());
    let mut events: Vec<Transition> = decision.event.take().into_iter().collect();
    if let Some(client) = ctx.connections.known(ns, &name)
        && let Some(window) = client.http().budget_window(BUDGET_WINDOW_CALLS)
    {
        let previous = conn.status.as_ref().and_then(|s| s.request_budget.as_ref());
        let rate = client.http().budget_rate();
        let (budget, saturated) = budget_report(previous, &window, rate, &now.0);
        decision.status.request_budget = Some(budget);
        events.extend(saturated);
    }
    if let Some(message) = in_use {
        events.extend(mark_in_use(conn, &mut decision.status, message, now));
    }
    let api = Api::<PlatformConnection>::namespaced(ctx.client.clone(), ns);
    status::apply(&api, conn, conn.status.as_ref(), &decision.status).await?;
    publish(ctx, conn, events).await;
    Ok(Action::requeue(decision.requeue))
}

/// Shows what a deleted connection waits for (`Reconciling`, reason Deleting, kept current as
/// users go); an `InUse` Event when the wait begins, not one per user gone (a namespace
/// deletion would make one per object).
fn mark_in_use(
    conn: &PlatformConnection,
    status: &mut PlatformConnectionStatus,
    message: &str,
    now: Time,
) -> Option<Transition> {
    let waiting_already = conn
        .status
        .as_ref()
        .and_then(|s| s.common.condition(RECONCILING))
        .is_some_and(|c| c.status == "True" && c.reason == reason::DELETING);
    conditions::set(
        &mut status.common.conditions,
        Desired {
            type_: RECONCILING,
            status: true,
            reason: reason::DELETING,
            message: message.to_string(),
        },
        conn.metadata.generation,
        now,
    );
    (!waiting_already).then(|| Transition {
        warning: false,
        reason: "InUse",
        note: message.to_string(),
    })
}

async fn publish(ctx: &Context, conn: &PlatformConnection, events: Vec<Transition>) {
    for t in events {
        let event = Event {
            type_: if t.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: t.reason.to_string(),
            note: Some(t.note),
            action: "CheckConnection".into(),
            secondary: None,
        };
        match ctx.recorder.publish(&event, &conn.object_ref(&())).await {
            Err(e) if converge_engine::error::event_refused_routinely(&e) => {
                tracing::debug!(connection = %conn.name_any(), error = %e, "no Event");
            }
            Err(e) => {
                tracing::warn!(connection = %conn.name_any(), error = %e, "cannot record an Event")
            }
            Ok(()) => {}
        }
    }
}
