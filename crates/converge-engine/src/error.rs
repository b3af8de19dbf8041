//! Why a reconcile failed, with a metric label, and the per-object backoff after failures.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("Kubernetes API: {0}")]
    Kube(#[from] kube::Error),
    #[error("{0}")]
    Platform(#[from] converge_platforms::ClientError),
    #[error("{0} has no namespace; Converge kinds are namespaced")]
    NotNamespaced(String),
    #[error("{0}")]
    Finalizer(Box<kube::runtime::finalizer::Error<Error>>),
    #[error("{0}")]
    Deleting(String),
    /// The reconcile panicked; the object is Stalled and retried with backoff.
    #[error("{0}")]
    Panicked(String),
}

impl Error {
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Kube(_) => "kubernetes",
            Error::Platform(e) => e.metric_label(),
            Error::NotNamespaced(_) => "not_namespaced",
            Error::Finalizer(e) => match &**e {
                kube::runtime::finalizer::Error::ApplyFailed(e)
                | kube::runtime::finalizer::Error::CleanupFailed(e) => e.metric_label(),
                _ => "finalizer",
            },
            Error::Deleting(_) => "deleting",
            Error::Panicked(_) => "panic",
        }
    }

    /// The finalizer patch was refused because it was computed from a cached copy older than
    /// the object (its JSON patch `test` failed, 422), or the object it would release is gone
    /// already (404: an earlier reconcile released it and the cache had not caught up).
    /// Expected now and then with a watch cache; the next attempt reads the newer copy.
    pub fn is_stale_read(&self) -> bool {
        use kube::runtime::finalizer::Error as F;
        matches!(self, Error::Finalizer(e) if matches!(&**e,
            F::AddFinalizer(kube::Error::Api(s)) if s.code == 422)
            || matches!(&**e, F::RemoveFinalizer(kube::Error::Api(s)) if s.code == 422 || s.code == 404))
    }

    /// A deletion waiting its turn (children first, a connection to become usable): status
    /// and Events say so, so it is not logged as a failure.
    pub fn is_deletion_wait(&self) -> bool {
        use kube::runtime::finalizer::Error as F;
        match self {
            Error::Deleting(_) => true,
            Error::Finalizer(e) => matches!(&**e, F::CleanupFailed(Error::Deleting(_))),
            _ => false,
        }
    }
}

/// An Event that could not be recorded for a routine reason: its namespace is being deleted
/// (403, new Events refused) or the Event the recorder would add to is gone (404, expired or
/// deleted with the namespace). Status still says it all, so this is not worth a warning.
pub fn event_refused_routinely(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s)
        if (s.code == 403 && s.message.contains("being terminated")) || s.code == 404)
}

/// Exponential backoff per object after failed reconciles: 1 s doubling up to 5 min, reset by a
/// success, so one broken object neither spins nor slows the others.
#[derive(Default)]
pub struct Backoff {
    failures: Mutex<HashMap<String, u32>>,
}

pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

impl Backoff {
    /// Records a failure and returns how long to wait before the next attempt.
    pub fn failed(&self, key: &str) -> Duration {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let n = f.entry(key.to_string()).or_default();
        *n = n.saturating_add(1);
        delay(*n)
    }

    pub fn succeeded(&self, key: &str) {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(key);
    }
}

/// The wait after `failures` consecutive failures.
pub fn delay(failures: u32) -> Duration {
    let secs = 1u64
        .checked_shl(failures.saturating_sub(1))
        .unwrap_or(u64::MAX);
    Duration::from_secs(secs).min(MAX_BACKOFF)
}

/// The longest a deletion that waits (for dependents, for runs to end) goes without a look.
pub const DELETION_RECHECK: std::time::Duration = std::time::Duration::from_secs(20);

/// After a failed reconcile: count it, log it, and back off per object.
pub fn error_policy<K: kube::Resource<DynamicType = ()>>(
    kind: &'static str,
) -> impl Fn(
    std::sync::Arc<K>,
    &Error,
    std::sync::Arc<crate::context::Context>,
) -> kube::runtime::controller::Action {
    move |obj, error, ctx| {
        ctx.metrics
            .failures
            .get_or_create(&crate::metrics::ErrorLabels {
                kind,
                error: error.metric_label(),
            })
            .inc();
        let namespace = obj.meta().namespace.as_deref().unwrap_or("");
        let name = obj.meta().name.as_deref().unwrap_or("");
        let key = format!("{kind}/{namespace}/{name}");
        let mut wait = ctx.backoff.failed(&key);
        if error.is_deletion_wait() {
            // What a deletion waits for may end without a watch event (a run finishing on the
            // platform): look again at least this often.
            wait = wait.min(DELETION_RECHECK);
        }
        if error.is_stale_read() {
            tracing::debug!(kind, namespace, name, error = %error, retry_in = ?wait, "finalizer patch from a stale copy; retrying");
        } else if error.is_deletion_wait() {
            tracing::debug!(kind, namespace, name, reason = %error, retry_in = ?wait, "deletion waiting");
        } else {
            tracing::warn!(kind, namespace, name, error = %error, retry_in = ?wait, "reconcile failed");
        }
        kube::runtime::controller::Action::requeue(wait)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(code: u16) -> kube::Error {
        kube::Error::Api(Box::new(kube::core::Status {
            code,
            ..Default::default()
        }))
    }

    #[test]
    fn routine_moments_are_told_from_failures() {
        use kube::runtime::finalizer::Error as F;
        let fin = |e| Error::Finalizer(Box::new(e));
        assert!(fin(F::AddFinalizer(api(422))).is_stale_read());
        assert!(fin(F::RemoveFinalizer(api(422))).is_stale_read());
        assert!(fin(F::RemoveFinalizer(api(404))).is_stale_read());
        assert!(!fin(F::AddFinalizer(api(404))).is_stale_read());
        assert!(!fin(F::RemoveFinalizer(api(500))).is_stale_read());
        assert!(fin(F::CleanupFailed(Error::Deleting("children first".into()))).is_deletion_wait());
        assert!(!fin(F::CleanupFailed(Error::Kube(api(500)))).is_deletion_wait());
        assert!(!Error::Kube(api(404)).is_stale_read());
        assert!(event_refused_routinely(&api(404)));
        let terminating = kube::Error::Api(Box::new(kube::core::Status {
            code: 403,
            message: "unable to create new content in namespace n because it is being terminated"
                .into(),
            ..Default::default()
        }));
        assert!(event_refused_routinely(&terminating));
        assert!(!event_refused_routinely(&api(403)));
        assert!(!event_refused_routinely(&api(500)));
    }

    #[test]
    fn backoff_doubles_up_to_the_ceiling_and_resets() {
        assert_eq!(delay(1), Duration::from_secs(1));
        assert_eq!(delay(2), Duration::from_secs(2));
        assert_eq!(delay(5), Duration::from_secs(16));
        assert_eq!(delay(40), MAX_BACKOFF);
        let b = Backoff::default();
        b.failed("a");
        assert_eq!(b.failed("a"), Duration::from_secs(2));
        assert_eq!(
            b.failed("b"),
            Duration::from_secs(1),
            "objects back off independently"
        );
        b.succeeded("a");
        assert_eq!(b.failed("a"), Duration::from_secs(1));
    }
}
