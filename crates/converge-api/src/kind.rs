//! What the engine needs to know of a kind, read from its objects alone: where its policies,
//! connection and status live, which platform it names, and what else it refers to. How a
//! kind converges is `converge_engine::Reconciler`, implemented in converge-controllers.

use std::fmt::Debug;

use converge_core::Platform;
use kube::Resource;
use kube::core::NamespaceResourceScope;
use serde::Serialize;
use serde::de::DeserializeOwned;

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
pub trait Kind:
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
    /// How other kinds name objects of this kind, if they do (`spec.projectRef`, ...).
    const REFERRED_AS: Option<Watched> = None;
    type Status: Clone + Default + PartialEq + Debug + Serialize + DeserializeOwned + Send + Sync;

    fn management(&self) -> &Management;
    fn connection_name(&self) -> &str;
    /// The platform the spec's platform block names; None when it sets none (the CRD's CEL
    /// rules refuse that, but an object may predate them).
    fn platform(&self) -> Option<Platform>;
    fn status(&self) -> Option<&Self::Status>;
    fn common(status: &Self::Status) -> &CommonStatus;
    fn common_mut(status: &mut Self::Status) -> &mut CommonStatus;
    /// The platform id recorded in status, if Converge has one.
    fn platform_id(status: &Self::Status) -> Option<&str>;
    /// How Events and conditions name the platform object with id (or pending key) `id`:
    /// what it is and which ("Cycloid project \"shop\""). Only for messages: deletion must
    /// not depend on it.
    fn platform_object(&self, id: &str) -> String {
        match self.platform() {
            Some(p) => format!("{} {id}", p.name()),
            None => id.to_string(),
        }
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
}
