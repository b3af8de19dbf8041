//! What surrounds every reconcile, whatever the kind: a span whose fields (kind, namespace,
//! name, reconcile id) every log line of the reconcile carries, the reconcile metrics, and a
//! panic contained to the object that caused it.
//!
//! A panic in one object's reconcile would otherwise unwind through kube-runtime's controller
//! stream and stop every object of every kind. Caught here, it becomes that object's problem:
//! the caller marks it Stalled with the panic's message and location, and the rest go on.

use std::any::Any;
use std::cell::RefCell;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Instant;

use futures::FutureExt;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;

use super::context::{Context, FIELD_MANAGER};
use super::error::Error;
use super::metrics::ResultLabels;
use crate::phase::{self, Phase};
use converge_api::common::conditions::{CommonStatus, STALLED};

/// Condition reason of an object whose reconcile panicked.
pub const PANICKED: &str = "ReconcilePanicked";

/// A panic caught in a reconcile: its message and where it happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caught {
    pub message: String,
    /// `file:line:column`, when the panic hook saw it (`install_panic_hook`).
    pub location: Option<String>,
}

impl Caught {
    /// What status and the Event say: what happened, where, and that it is Converge's fault.
    pub fn status_message(&self) -> String {
        let at = self
            .location
            .as_deref()
            .map(|l| format!(" at {l}"))
            .unwrap_or_default();
        format!(
            "Converge panicked while reconciling this object{at}: {}. This is a bug in \
             Converge, please report it; other objects are unaffected and this one is retried \
             with backoff",
            self.message
        )
    }
}

thread_local! {
    /// The last panic on this thread, left by the hook for `catch` to read back: a payload
    /// carries the message but not the location.
    static LAST_PANIC: RefCell<Option<Caught>> = const { RefCell::new(None) };
}

pub fn payload_message(payload: &(dyn Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".into())
}

/// Replaces the default panic hook (a multi-line message on stderr, in the middle of JSON logs)
/// with one log record at ERROR with the message, location and, when RUST_BACKTRACE asks for
/// it, the backtrace as a field. It also lets `catch` say where a caught panic happened.
/// Without a tracing subscriber (unit tests) the default hook still prints.
pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(set_panic_hook);
}

fn set_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !tracing::dispatcher::has_been_set() {
            default(info);
        }
        let message = payload_message(info.payload());
        let location = info
            .location()
            .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
        let backtrace = std::backtrace::Backtrace::capture();
        let thread = std::thread::current();
        let thread = thread.name().unwrap_or("unnamed");
        if backtrace.status() == std::backtrace::BacktraceStatus::Captured {
            tracing::error!(panic.message = %message, panic.location = location.as_deref().unwrap_or("unknown"), panic.thread = thread, panic.backtrace = %backtrace, "panic");
        } else {
            tracing::error!(panic.message = %message, panic.location = location.as_deref().unwrap_or("unknown"), panic.thread = thread, "panic");
        }
        LAST_PANIC.with(|p| *p.borrow_mut() = Some(Caught { message, location }));
    }));
}

/// Runs `fut`, turning a panic into `Err(Caught)`.
pub async fn catch<F: Future>(fut: F) -> Result<F::Output, Caught> {
    LAST_PANIC.with(|p| p.borrow_mut().take());
    AssertUnwindSafe(fut)
        .catch_unwind()
        .await
        .map_err(|payload| {
            // catch_unwind runs on the thread that panicked, where the hook left its record.
            let seen = LAST_PANIC.with(|p| p.borrow_mut().take());
            let message = payload_message(&*payload);
            Caught {
                location: seen.and_then(|s| s.location),
                message,
            }
        })
}

/// The span of one reconcile. Its fields are flat and never "None": JSON logs carry them at
/// the top level of every line the reconcile logs.
pub fn span(kind: &'static str, namespace: &str, name: &str) -> tracing::Span {
    let id = uuid::Uuid::new_v4().simple().to_string();
    tracing::info_span!("reconcile", kind, namespace, name, reconcile_id = &id[..12])
}

/// Runs one reconcile of `obj` in its span, counts it by kind and result and times it; a panic
/// comes back as `Err(Caught)`, counted in `converge_reconcile_panics_total`, for the caller to
/// stall the object.
pub async fn reconcile<K, F>(
    kind: &'static str,
    obj: &K,
    ctx: &Context,
    run: F,
) -> Result<Result<Action, Error>, Caught>
where
    K: kube::Resource,
    F: Future<Output = Result<Action, Error>>,
{
    let meta = obj.meta();
    let span = span(
        kind,
        meta.namespace.as_deref().unwrap_or_default(),
        meta.name.as_deref().unwrap_or_default(),
    );
    let started = Instant::now();
    let name = meta.name.as_deref().unwrap_or_default();
    let run = async move {
        panic_at_failpoint(name);
        run.await
    };
    let outcome = catch(run).instrument(span.clone()).await;
    let result = match &outcome {
        Ok(Ok(_)) => "success",
        Ok(Err(_)) => "error",
        Err(_) => "panic",
    };
    let m = &ctx.metrics;
    m.reconciles
        .get_or_create(&ResultLabels { kind, result })
        .inc();
    m.durations
        .get_or_create(&super::metrics::KindLabels { kind })
        .observe(started.elapsed().as_secs_f64());
    if let Err(caught) = &outcome {
        m.panics
            .get_or_create(&super::metrics::KindLabels { kind })
            .inc();
        span.in_scope(|| {
            tracing::error!(panic.message = %caught.message, panic.location = caught.location.as_deref().unwrap_or("unknown"), "reconcile panicked; the object is Stalled and retried with backoff")
        });
    }
    outcome
}

/// For the tests of this containment: FAILPOINTS=reconcile-panic=return(NAME) makes every
/// reconcile of objects named NAME panic, as a bug in a reconciler would.
fn panic_at_failpoint(name: &str) {
    if let Some(Some(target)) = fail::eval("reconcile-panic", |arg| arg)
        && target == name
    {
        panic!("failpoint reconcile-panic: {name}");
    }
}

/// Marks an object whose reconcile panicked Stalled (reason `ReconcilePanicked`) with the
/// panic's message, keeping the rest of its status. Returns the message when that is news
/// (status changed), for the caller's Event; None when status already said so.
pub async fn stall<K, S>(
    api: &Api<K>,
    obj: &K,
    status: Option<&S>,
    common: fn(&mut S) -> &mut CommonStatus,
    caught: &Caught,
) -> kube::Result<Option<String>>
where
    K: kube::Resource<DynamicType = ()> + Clone + DeserializeOwned + std::fmt::Debug,
    S: Clone + Default + Serialize + PartialEq,
{
    let message = caught.status_message();
    let mut next = status.cloned().unwrap_or_default();
    let already = common(&mut next)
        .condition(STALLED)
        .is_some_and(|c| c.status == "True" && c.message == message);
    if already {
        return Ok(None);
    }
    phase::apply(
        common(&mut next),
        &Phase::stalled(PANICKED, message.clone()),
        obj.meta().generation,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": next,
    });
    let name = obj.meta().name.clone().unwrap_or_default();
    api.patch_status(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(Some(message))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panic_becomes_an_error_with_its_message_and_location() {
        install_panic_hook();
        let caught = catch(async {
            let n: Option<u8> = std::hint::black_box(None);
            n.expect("the value the manifest promised")
        })
        .await
        .unwrap_err();
        assert_eq!(caught.message, "the value the manifest promised");
        let at = caught.location.as_deref().unwrap();
        assert!(
            at.starts_with("crates/converge-engine/src/guard.rs:"),
            "{at}"
        );
        let text = caught.status_message();
        assert!(text.contains("bug in Converge"), "{text}");
        assert!(text.contains(at), "{text}");
        assert_eq!(catch(async { 7 }).await, Ok(7));
    }

    #[tokio::test]
    async fn a_formatted_panic_keeps_its_words() {
        let caught = catch(async { panic!("step {} of {}", 3, 2) })
            .await
            .unwrap_err();
        assert_eq!(caught.message, "step 3 of 2");
    }
}
