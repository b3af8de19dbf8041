//! `Cx`: what a kind's `converge` and `delete` get for one reconcile of one object.

use std::sync::Arc;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::events::EventType;
use sha2::{Digest, Sha256};

use super::phase::{Hold, Phase};
use super::{Failure, Managed};
use crate::context::{Context, FIELD_MANAGER};
use converge_api::common::conditions::{CommonStatus, READY};
use converge_platforms::PlatformClient;

/// An Event to publish once the reconcile ends.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    pub warning: bool,
    pub reason: &'static str,
    pub message: String,
}

pub struct Cx<K: Managed> {
    pub ctx: Arc<Context>,
    /// The client of the object's connection; the engine checked it serves `K::platform()`.
    pub client: PlatformClient,
    pub namespace: String,
    /// Status as it will be written: start from what the object shows, change platform fields.
    /// The engine sets the conditions and observedGeneration.
    pub status: K::Status,
    /// Set when writes are held (suspend or ObserveOnly).
    pub hold: Option<Hold>,
    pub(super) saved: Option<K::Status>,
    /// The resourceVersion each `save` produced, in order: versions our own later writes
    /// replace, which a reconcile must not start from (see `Stores::wrote`).
    pub(super) saved_versions: Vec<String>,
    pub(super) name: String,
    pub(super) notes: Vec<Note>,
    pub(super) writes: Vec<String>,
    pub(super) left_in_place: Option<String>,
    pub(super) nothing_deleted: Option<String>,
    pub(super) wake: Option<std::time::Duration>,
    pub(super) at_rest: bool,
    /// The declared input read besides the spec (ConfigMap keys), as "what=sha256", for
    /// `inputs_hash`. Behind a lock because readers take `&Cx`.
    pub(super) inputs: std::sync::Mutex<Vec<String>>,
}

impl<K: Managed> Cx<K> {
    pub(super) fn new(
        ctx: Arc<Context>,
        client: PlatformClient,
        obj: &K,
        namespace: String,
        hold: Option<Hold>,
    ) -> Self {
        let saved = obj.status().cloned();
        Cx {
            ctx,
            client,
            namespace,
            status: saved.clone().unwrap_or_default(),
            hold,
            saved,
            saved_versions: Vec::new(),
            name: obj.meta().name.clone().unwrap_or_default(),
            notes: Vec::new(),
            writes: Vec::new(),
            left_in_place: None,
            nothing_deleted: None,
            wake: None,
            at_rest: false,
            inputs: Default::default(),
        }
    }

    /// True for a drift check: the object was Ready for its current generation before this
    /// reconcile. Reads of things only a spec change or a run in flight can move may be skipped.
    pub fn at_rest(&self) -> bool {
        self.at_rest
    }

    /// false under suspend or ObserveOnly: compute the changes, report them with `held`.
    pub fn may_write(&self) -> bool {
        self.hold.is_none()
    }

    /// The phase to return when writes are held: `changes` is what would have been done.
    pub fn held(&self, changes: Vec<String>) -> Phase {
        Phase::Held {
            by: self.hold.unwrap_or(Hold::Suspended),
            changes,
        }
    }

    /// Look again within `after` at the latest, even when the phase would wait longer (a
    /// schedule that fires before the next drift check).
    pub fn wake_within(&mut self, after: std::time::Duration) {
        self.wake = Some(self.wake.map_or(after, |w| w.min(after)));
    }

    pub fn common(&mut self) -> &mut CommonStatus {
        K::common_mut(&mut self.status)
    }

    /// Records a platform write for the Events (and the drift Event when the object was
    /// already converged). `reason` is a CamelCase verb such as "Created" or "BuildStarted".
    pub fn did(&mut self, reason: &'static str, message: impl Into<String>) {
        let message = message.into();
        self.writes.push(message.clone());
        self.notes.push(Note {
            warning: false,
            reason,
            message,
        });
    }

    /// From `delete`: the platform object stays where it is, because `why` (a platform without
    /// a delete operation, say). The engine says so in an Event instead of "Deleted".
    pub fn left_in_place(&mut self, why: impl Into<String>) {
        self.left_in_place = Some(why.into());
    }

    /// From `delete`: the object's platform id names something this object does not own (a
    /// Cycloid job of a Component's pipeline), so there was nothing to delete; the engine says
    /// so instead of "Deleted".
    pub fn nothing_deleted(&mut self, why: impl Into<String>) {
        self.nothing_deleted = Some(why.into());
    }

    /// A Normal Event that is not a platform write (progress a person follows, such as the
    /// values a canary check measured).
    pub fn note(&mut self, reason: &'static str, message: impl Into<String>) {
        self.notes.push(Note {
            warning: false,
            reason,
            message: message.into(),
        });
    }

    /// A Warning Event that is not a write (something a person should know).
    pub fn warn(&mut self, reason: &'static str, message: impl Into<String>) {
        self.notes.push(Note {
            warning: true,
            reason,
            message: message.into(),
        });
    }

    /// Writes status now if it changed (platform ids right after a create, so that a crash
    /// afterwards loses nothing). Conditions are left as they are.
    pub async fn save(&mut self) -> Result<(), Failure> {
        if self.saved.as_ref() == Some(&self.status) {
            return Ok(());
        }
        let api = Api::<K>::namespaced(self.ctx.client.clone(), &self.namespace);
        let version = write_status::<K>(&api, &self.name, &self.status).await?;
        self.saved = Some(self.status.clone());
        self.saved_versions.extend(version);
        Ok(())
    }

    /// Call right before creating the object's own platform object (the one whose id
    /// `Managed::platform_id` returns): records the natural key so a controller restarted after
    /// the create recognises it as its own (see `ownership`). The engine clears the marker once
    /// that id is recorded, so creates of further objects (builds, runs) need markers of their
    /// own in the kind's status.
    pub async fn before_create(&mut self, key: &str) -> Result<(), Failure> {
        self.common().pending_create = Some(key.to_string());
        self.save().await
    }

    /// Call right after a create, once the platform id is in `status`: clears the pending
    /// create. The id reaches the apiserver with the next `save` or the engine's status write
    /// at the end of the reconcile (which also runs on failures); until then the pending
    /// create, already written, proves the object is ours. One write per create saved.
    pub async fn created(&mut self) -> Result<(), Failure> {
        // The window the crash tests aim at: created on the platform, id not yet recorded.
        fail::fail_point!("after-platform-create");
        self.common().pending_create = None;
        Ok(())
    }

    /// A referenced object of kind `R`, once it is Ready for its current generation; otherwise
    /// stops with Waiting and says what it waits for (its watch wakes this object up).
    pub async fn ready<R: Managed>(&self, name: &str) -> Result<R, Failure> {
        // The cache may lag: trust it when it says Ready, ask the apiserver otherwise.
        if let Some(r) = self.ctx.stores.get::<R>(&self.namespace, name)
            && is_ready(&*r)
        {
            return Ok((*r).clone());
        }
        let api = Api::<R>::namespaced(self.ctx.client.clone(), &self.namespace);
        let Some(r) = api.get_opt(name).await? else {
            return Err(Failure::waiting(format!(
                "waiting for {} {name:?}, which does not exist",
                R::KIND
            )));
        };
        if is_ready(&r) || (self.ctx.planning && is_held(&r)) {
            return Ok(r);
        }
        let common = r.status().map(R::common);
        let now = common
            .and_then(|c| c.condition(READY))
            .map(|c| format!(" (now: {})", c.message))
            .unwrap_or_default();
        Err(Failure::waiting(format!(
            "waiting for {} {name:?} to be Ready{now}",
            R::KIND
        )))
    }

    /// A key of a ConfigMap in the object's namespace; waits while either is missing.
    pub async fn config_map_key(&self, name: &str, key: &str) -> Result<String, Failure> {
        let api = Api::<ConfigMap>::namespaced(self.ctx.client.clone(), &self.namespace);
        let Some(cm) = api.get_opt(name).await? else {
            return Err(Failure::waiting(format!(
                "waiting for ConfigMap {name:?}, which does not exist"
            )));
        };
        let value = cm.data.and_then(|mut d| d.remove(key)).ok_or_else(|| {
            Failure::waiting(format!(
                "waiting for ConfigMap {name:?} to have key {key:?}"
            ))
        })?;
        self.read_input(&format!("ConfigMap/{name}/{key}"), &value);
        Ok(value)
    }

    /// Records declared input read from outside the spec (a ConfigMap key): its change is a
    /// change of what the person declared, so the writes it causes are not drift.
    pub fn read_input(&self, what: &str, value: &str) {
        let hash = Sha256::digest(value.as_bytes());
        self.inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(format!("{what}={hash:x}"));
    }

    /// One hash of every declared input this reconcile read; None when it read none.
    pub(super) fn inputs_hash(&self) -> Option<String> {
        let mut inputs = self
            .inputs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if inputs.is_empty() {
            return None;
        }
        inputs.sort();
        inputs.dedup();
        Some(format!(
            "{:x}",
            Sha256::digest(inputs.join("\n").as_bytes())
        ))
    }
}

fn is_ready<R: Managed>(r: &R) -> bool {
    r.status()
        .map(R::common)
        .is_some_and(|c| c.is_true(READY) && c.observed_generation == r.meta().generation)
}

/// Held by ObserveOnly or suspend for its current generation, with its changes reported.
fn is_held<R: Managed>(r: &R) -> bool {
    r.status().map(R::common).is_some_and(|c| {
        c.observed_generation == r.meta().generation
            && c.condition(READY).is_some_and(|c| {
                c.reason == converge_api::common::conditions::reason::OBSERVED
                    || c.reason == converge_api::common::conditions::reason::SUSPENDED
            })
    })
}

pub(super) async fn write_status<K: Managed>(
    api: &Api<K>,
    name: &str,
    status: &K::Status,
) -> kube::Result<Option<String>> {
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let written = api
        .patch_status(
            name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&patch),
        )
        .await?;
    Ok(written.meta().resource_version.clone())
}

pub(super) fn event_type(warning: bool) -> EventType {
    if warning {
        EventType::Warning
    } else {
        EventType::Normal
    }
}
