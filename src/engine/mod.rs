//! The reconcile engine every managed kind runs on.
//!
//! A kind implements [`Managed`]: where its policies, connection and status live, and two async
//! steps, `converge` (observe → decide → write) and `delete`. The engine does the rest the same
//! way for every kind (`driver.rs`): the finalizer, the connection lookup, suspend and
//! ObserveOnly, error classification, conditions, status written only when it changed, Events,
//! per-object backoff and drift re-checks with jitter; `wiring.rs` watches what each kind refers
//! to so a dependent wakes as soon as what it needs is Ready.

pub mod context;
pub mod dependents;
pub mod drift;
pub mod driver;
pub mod events;
pub mod journal;
pub mod ownership;
pub mod phase;
pub mod referrers;
pub mod stores;
pub mod wiring;

use std::fmt::Debug;
use std::future::Future;

use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::Serialize;
use serde::de::DeserializeOwned;

pub use context::Cx;
pub use phase::{Hold, Phase};

use crate::common::conditions::CommonStatus;
use crate::common::policy::Management;

/// What a kind may refer to by name, so the engine can watch it and wake the referrer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Watched {
    Project,
    Component,
    ApiSpec,
    ConfigMap,
}

/// A kind Converge drives on a platform.
pub trait Managed:
    Resource<DynamicType = (), Scope = NamespaceResourceScope>
    + Clone
    + Debug
    + DeserializeOwned
    + Serialize
    + Send
    + Sync
    + 'static
{
    const KIND: &'static str;
    /// The kinds and ConfigMaps objects of this kind may name (besides their connection).
    const WATCHES: &'static [Watched] = &[];
    type Status: Clone + Default + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync;

    fn management(&self) -> &Management;
    fn connection_name(&self) -> &str;
    /// The platform the spec's platform block names ("choreo", "cycloid", ...), as
    /// `PlatformClient::platform` spells it.
    fn platform(&self) -> &'static str;
    fn status(&self) -> Option<&Self::Status>;
    fn common(status: &Self::Status) -> &CommonStatus;
    fn common_mut(status: &mut Self::Status) -> &mut CommonStatus;
    /// The platform id recorded in status, if Converge has one.
    fn platform_id(status: &Self::Status) -> Option<&str>;
    /// How Events and conditions name the platform object with id (or pending key) `id`:
    /// what it is and which ("Cycloid project \"shop\""). Only for messages: deletion must
    /// not depend on it.
    fn platform_object(&self, id: &str) -> String {
        format!("{} {id}", platform_name(self.platform()))
    }
    /// The objects this one names, by what they are and their name in the same namespace.
    fn references(&self) -> Vec<(Watched, String)> {
        Vec::new()
    }

    /// Whether this object (not being deleted) holds back part of its convergence until
    /// objects naming it change, such as a Project keeping an environment a Component still
    /// lives in: their changes then wake it, as they wake an object being deleted.
    fn waits_for_dependents(&self) -> bool {
        false
    }

    /// Observe the platform, compare with the spec, write what differs (unless
    /// `cx.may_write()` is false: then report what would change with `cx.held`), and say where
    /// that leaves the object. Record every platform write with `cx.did`.
    fn converge(&self, cx: &mut Cx<Self>) -> impl Future<Output = Result<Phase, Failure>> + Send;

    /// Delete the platform object(s). Called only under deletionPolicy Delete and Manage, and
    /// only when status records an id or a create in flight. "Already gone" is success, and
    /// nothing here may depend on the spec being valid or a referenced object still existing.
    fn delete(&self, cx: &mut Cx<Self>) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// How a person writes a platform's name ("cycloid" → "Cycloid").
pub fn platform_name(platform: &str) -> &str {
    match platform {
        "choreo" => "Choreo",
        "cycloid" => "Cycloid",
        "frends" => "Frends",
        "api7" => "API7",
        "opschain" => "OpsChain",
        other => other,
    }
}

/// Why `converge` or `delete` stopped early.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A platform call failed; the engine decides between retrying and Stalled.
    #[error(transparent)]
    Platform(#[from] crate::clients::ClientError),
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
