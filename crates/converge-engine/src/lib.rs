//! The reconcile engine every managed kind runs on.
//!
//! A kind is a [`Kind`] (converge-api: where its policies, connection and status live) with a
//! [`Reconciler`] (converge-controllers: `converge`, observe → decide → write, and `delete`).
//! The engine does the rest the same way for every kind (`driver.rs`): the finalizer, the
//! connection lookup, suspend and ObserveOnly, error classification, conditions, status written
//! only when it changed, Events, per-object backoff and drift re-checks with jitter;
//! `external.rs` owns the platform-object protocol (lookup, ownership, pending create, holds);
//! `wiring.rs` watches what each kind refers to, so a dependent wakes as soon as what it needs
//! is Ready.

#![forbid(unsafe_code)]

pub mod connections;
pub mod context;
pub mod crd_check;
pub mod cx;
pub mod dependents;
pub mod drift;
pub mod driver;
pub mod error;
pub mod events;
pub mod external;
pub mod guard;
pub mod health;
pub mod journal;
pub mod metrics;
pub mod ownership;
pub mod phase;
pub mod process;
pub mod referrers;
pub mod scope;
pub mod signal;
pub mod status;
pub mod stores;
pub mod version;
pub mod wiring;

use std::future::Future;

pub use cx::Cx;
pub use phase::{Hold, Phase};
pub use signal::shutdown_signal;

pub use converge_api::kind::{Kind, Watched};

/// A kind the engine drives: every [`Kind`] (the bounds are the ones the engine's watches and
/// status writes need).
pub trait Managed: Kind {}
impl<K: Kind> Managed for K {}

/// How a kind converges on its platform(s): one implementation per kind, in
/// converge-controllers. The engine calls these and does the rest (see the module doc).
pub trait Reconciler: Send + Sync + 'static {
    type Kind: Managed;

    /// Observe the platform, compare with the spec, write what differs (unless
    /// `cx.may_write()` is false: then report what would change with `cx.held`), and say where
    /// that leaves the object. Record every platform write with `cx.did`.
    fn converge(
        obj: &Self::Kind,
        cx: &mut Cx<Self::Kind>,
    ) -> impl Future<Output = Result<Phase, Failure>> + Send;

    /// Delete the platform object(s). Called only under deletionPolicy Delete and Manage, and
    /// only when status records an id or a create in flight. "Already gone" is success, and
    /// nothing here may depend on the spec being valid or a referenced object still existing.
    fn delete(
        obj: &Self::Kind,
        cx: &mut Cx<Self::Kind>,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// Why `converge` or `delete` stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A platform call failed; the engine decides between retrying and Stalled.
    #[error(transparent)]
    Platform(#[from] converge_platforms::ClientError),
    /// A Kubernetes call failed; retried with backoff.
    #[error(transparent)]
    Kube(#[from] kube::Error),
    /// Stop here and report this phase (a reference not Ready, a conflict, an invalid spec).
    #[error("{0:?}")]
    Stop(Phase),
}

impl Failure {
    pub fn stalled(reason: &'static str, message: impl Into<String>) -> Failure {
        Failure::Stop(Phase::stalled(reason, message))
    }
    pub fn waiting(message: impl Into<String>) -> Failure {
        Failure::Stop(Phase::waiting(message))
    }
}
