//! The objects of the embedded apiserver and the rules the real one applies to them: resource
//! versions, generation counting spec changes, the status subresource, finalizers and graceful
//! deletion, resourceVersion preconditions, the patch types kube-rs sends, and a change history
//! that watches resume from.
//!
//! Server-side apply is approximated for a single field manager, which is what Converge is on
//! its own objects: an apply to `/status` replaces the status; an apply to the object merges
//! maps and replaces lists. Field ownership is not tracked.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use super::resources::ResourceType;
use super::selectors::Selector;
use crate::validation::{self, FieldValidation, Reason, Refusal};

/// How many changes a watch can resume from; an older resourceVersion gets 410 Gone and the
/// client lists again, as with a compacted etcd.
const HISTORY: usize = 50_000;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Key {
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub name: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Change {
    pub rv: u64,
    pub kind: ChangeKind,
    pub key: Key,
    pub object: Value,
}

/// A refusal, answered as a `Status` object with its HTTP code.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
        }
    }
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} {name:?} not found", resource_name(rt)),
        )
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(422, "Invalid", message)
    }
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        Self::new(405, "MethodNotAllowed", message)
    }
    pub fn gone(message: impl Into<String>) -> Self {
        Self::new(410, "Expired", message)
    }
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        Self::new(415, "UnsupportedMediaType", message)
    }

    /// The apiserver's answer to an object its admission refuses.
    pub fn refused(r: &Refusal) -> Self {
        let (code, reason) = match r.reason {
            Reason::BadRequest => (400, "BadRequest"),
            Reason::Invalid => (422, "Invalid"),
            Reason::TooLarge => (413, "RequestEntityTooLarge"),
        };
        Self::new(code, reason, r.to_string())
    }

    /// The body the apiserver sends with an error.
    pub fn status(&self) -> Value {
        json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        })
    }
}

fn resource_name(rt: &ResourceType) -> String {
    if rt.group.is_empty() {
        rt.plural.clone()
    } else {
        format!("{}.{}", rt.plural, rt.group)
    }
}

/// The patch types of `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatchType {
    Json,
    Merge,
    /// Strategic merge is a merge patch here: no list merge keys (Converge sends none).
    StrategicMerge,
    Apply,
}

impl PatchType {
    pub fn from_content_type(ct: &str) -> Option<PatchType> {
        let ct = ct.split(';').next().unwrap_or_default().trim();
        Some(match ct {
            "application/json-patch+json" => PatchType::Json,
            "application/merge-patch+json" => PatchType::Merge,
            "application/strategic-merge-patch+json" => PatchType::StrategicMerge,
            "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
            _ => return None,
        })
    }
}

struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    history: VecDeque<Arc<Change>>,
}

pub struct Store {
    inner: Mutex<Inner>,
    changes: broadcast::Sender<Arc<Change>>,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            inner: Mutex::new(Inner {
                rv: 1,
                objects: BTreeMap::new(),
                history: VecDeque::new(),
            }),
            changes: broadcast::channel(4096).0,
        }
    }
}

fn key(rt: &ResourceType, namespace: &str, name: &str) -> Key {
    Key {
        group: rt.group.clone(),
        plural: rt.plural.clone(),
        namespace: if rt.namespaced {
            namespace.to_string()
        } else {
            String::new()
        },
        name: name.to_string(),
    }
}

fn meta(obj: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    obj.get("metadata")
        .and_then(Value::as_object)
        .unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    let o = obj.as_object_mut().expect("objects are JSON objects");
    o.entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let m = o.get_mut("metadata").expect("just inserted");
    if !m.is_object() {
        *m = Value::Object(Map::new());
    }
    m.as_object_mut().expect("just made an object")
}

fn finalizers(obj: &Value) -> Vec<String> {
    meta(obj)
        .get("finalizers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|f| f.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// Everything but metadata, status and the type: what `generation` counts.
fn spec_part(obj: &Value) -> Map<String, Value> {
    let mut o = obj.as_object().cloned().unwrap_or_default();
    for k in ["metadata", "status", "apiVersion", "kind"] {
        o.remove(k);
    }
    o
}

fn now() -> String {
    jiff::Timestamp::now()
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Server-side apply for one manager: maps merge, anything else is replaced, null removes.
fn apply_merge(target: &mut Value, applied: &Value) {
    match (target, applied) {
        (Value::Object(t), Value::Object(a)) => {
            for (k, v) in a {
                if v.is_null() {
                    t.remove(k);
                } else if let (true, Some(Value::Array(existing)), Value::Array(added)) =
                    (k == "finalizers", t.get_mut(k), v)
                {
                    // metadata.finalizers is a set-type list: apply adds to it.
                    for f in added {
                        if !existing.contains(f) {
                            existing.push(f.clone());
                        }
                    }
                } else if let Some(existing) = t.get_mut(k) {
                    apply_merge(existing, v);
                } else {
                    t.insert(k.clone(), v.clone());
                }
            }
        }
        (t, a) => *t = a.clone(),
    }
}

impl Store {
    pub fn get(&self, rt: &ResourceType, namespace: &str, name: &str) -> Result<Value, ApiError> {
        let inner = self.inner.lock().expect("store lock");
        inner
            .objects
            .get(&key(rt, namespace, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Objects of a type (in one namespace, or all for `None`) and the resourceVersion to
    /// watch from.
    pub fn list(
        &self,
        rt: &ResourceType,
        namespace: Option<&str>,
        selector: &Selector,
    ) -> (Vec<Value>, u64) {
        let inner = self.inner.lock().expect("store lock");
        let items = inner
            .objects
            .iter()
            .filter(|(k, _)| k.group == rt.group && k.plural == rt.plural)
            .filter(|(k, _)| namespace.is_none_or(|ns| k.namespace == ns))
            .filter(|(_, v)| selector.matches(v))
            .map(|(_, v)| v.clone())
            .collect();
        (items, inner.rv)
    }

    pub fn create(
        &self,
        rt: &ResourceType,
        namespace: &str,
        mut obj: Value,
        fields: FieldValidation,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        check_type(rt, &mut obj)?;
        let m = meta_mut(&mut obj);
        let name = match m.get("name").and_then(Value::as_str) {
            Some(n) if !n.is_empty() => n.to_string(),
            _ => match m.get("generateName").and_then(Value::as_str) {
                Some(prefix) if !prefix.is_empty() => {
                    let suffix: String = uuid::Uuid::new_v4().simple().to_string()[..5].into();
                    format!("{prefix}{suffix}")
                }
                _ => {
                    return Err(ApiError::invalid(
                        "metadata.name: Required value: name or generateName is required",
                    ));
                }
            },
        };
        if rt.namespaced {
            match m.get("namespace").and_then(Value::as_str) {
                Some(ns) if ns != namespace => {
                    return Err(ApiError::bad_request(format!(
                        "the namespace of the object ({ns}) does not match the namespace on the request ({namespace})"
                    )));
                }
                _ => {}
            }
            m.insert("namespace".into(), namespace.into());
        } else {
            m.remove("namespace");
        }
        m.insert("name".into(), name.clone().into());
        m.insert("uid".into(), uuid::Uuid::new_v4().to_string().into());
        m.insert("creationTimestamp".into(), now().into());
        m.remove("deletionTimestamp");
        m.remove("resourceVersion");
        if rt.status_subresource {
            m.insert("generation".into(), 1.into());
            // A create never sets status: the CRDs' default does (observedGeneration 0, so
            // that kstatus reads a new object as InProgress).
            if let Some(o) = obj.as_object_mut() {
                o.remove("status");
            }
        }
        let mut obj = validation::admit(obj, None, fields)
            .map_err(|r| ApiError::refused(&r))?
            .object;
        if rt.status_subresource && obj.get("status").is_none() {
            obj["status"] = json!({"observedGeneration": 0});
        }
        let mut inner = self.inner.lock().expect("store lock");
        let k = key(rt, namespace, &name);
        if inner.objects.contains_key(&k) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} {name:?} already exists", resource_name(rt)),
            ));
        }
        Ok(self.record(&mut inner, ChangeKind::Added, k, obj))
    }

    /// PUT, and the end of every patch: `new` is the whole object as the client wants it.
    pub fn update(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        new: Value,
        status: bool,
        fields: FieldValidation,
    ) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock().expect("store lock");
        self.update_locked(&mut inner, rt, namespace, name, new, status, fields)
    }

    #[allow(clippy::too_many_arguments)]
    fn update_locked(
        &self,
        inner: &mut Inner,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        mut new: Value,
        status: bool,
        fields: FieldValidation,
    ) -> Result<Value, ApiError> {
        let k = key(rt, namespace, name);
        let old = inner
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if !new.is_object() {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        }
        check_type(rt, &mut new)?;
        if let Some(rv) = meta(&new).get("resourceVersion").and_then(Value::as_str)
            && Some(rv) != meta(&old).get("resourceVersion").and_then(Value::as_str)
        {
            return Err(ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
                    resource_name(rt)
                ),
            ));
        }
        if let Some(n) = meta(&new).get("name").and_then(Value::as_str)
            && n != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({n}) does not match the name on the URL ({name})"
            )));
        }
        let result = if status {
            let mut r = old.clone();
            match new.get("status") {
                Some(s) => r["status"] = s.clone(),
                None => {
                    r.as_object_mut().expect("an object").remove("status");
                }
            }
            r
        } else {
            let mut r = new;
            if rt.status_subresource {
                match old.get("status") {
                    Some(s) => r["status"] = s.clone(),
                    None => {
                        r.as_object_mut().expect("an object").remove("status");
                    }
                }
            }
            let old_meta = meta(&old).clone();
            let m = meta_mut(&mut r);
            for field in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "generation",
                "resourceVersion",
            ] {
                match old_meta.get(field) {
                    Some(v) => m.insert(field.into(), v.clone()),
                    None => m.remove(field),
                };
            }
            if rt.status_subresource && spec_part(&r) != spec_part(&old) {
                let generation = old_meta
                    .get("generation")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                meta_mut(&mut r).insert("generation".into(), (generation + 1).into());
            }
            r
        };
        // Admission, as the apiserver's: the schema, CEL rules (transition rules against the old
        // object) and size for the object; the status schema for a status write.
        let mut result = if status {
            validation::admit_status(result, fields).map_err(|r| ApiError::refused(&r))?
        } else {
            validation::admit(result, Some(&old), fields)
                .map_err(|r| ApiError::refused(&r))?
                .object
        };
        meta_mut(&mut result).insert(
            "resourceVersion".into(),
            meta(&old)
                .get("resourceVersion")
                .cloned()
                .unwrap_or(Value::Null),
        );
        if result == old {
            // A no-op write changes nothing, not even the resourceVersion.
            return Ok(old);
        }
        let deleting = meta(&old).contains_key("deletionTimestamp");
        let old_finalizers = finalizers(&old);
        let new_finalizers = finalizers(&result);
        if deleting {
            if let Some(f) = new_finalizers.iter().find(|f| !old_finalizers.contains(f)) {
                return Err(ApiError::invalid(format!(
                    "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [{f}]"
                )));
            }
            if new_finalizers.is_empty() {
                inner.objects.remove(&k);
                return Ok(self.record(inner, ChangeKind::Deleted, k, result));
            }
        }
        Ok(self.record(inner, ChangeKind::Modified, k, result))
    }

    #[allow(clippy::too_many_arguments)]
    pub fn patch(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
        patch_type: PatchType,
        body: &Value,
        status: bool,
        fields: FieldValidation,
    ) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock().expect("store lock");
        let Some(old) = inner.objects.get(&key(rt, namespace, name)).cloned() else {
            if patch_type == PatchType::Apply && !status {
                drop(inner);
                return self.create(rt, namespace, body.clone(), fields);
            }
            return Err(ApiError::not_found(rt, name));
        };
        let mut new = old.clone();
        match patch_type {
            PatchType::Merge | PatchType::StrategicMerge => json_patch::merge(&mut new, body),
            PatchType::Json => {
                // As the apiserver's JSON patch library does, a `test` for null passes when
                // the path does not exist (kube-rs's finalizer relies on it).
                let mut body = body.clone();
                if let Some(ops) = body.as_array_mut() {
                    for op in ops.iter() {
                        if op["op"] == "test" && op["value"].is_null() {
                            let found = op["path"].as_str().and_then(|p| new.pointer(p));
                            if found.is_some_and(|v| !v.is_null()) {
                                return Err(ApiError::invalid(format!(
                                    "the JSON patch failed: test of {} for null",
                                    op["path"]
                                )));
                            }
                        }
                    }
                    ops.retain(|op| !(op["op"] == "test" && op["value"].is_null()));
                }
                let ops: json_patch::Patch = serde_json::from_value(body)
                    .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
                json_patch::patch(&mut new, &ops)
                    .map_err(|e| ApiError::invalid(format!("the JSON patch failed: {e}")))?;
            }
            PatchType::Apply if status => match body.get("status") {
                Some(s) => new["status"] = s.clone(),
                None => {
                    new.as_object_mut().expect("an object").remove("status");
                }
            },
            PatchType::Apply => {
                let mut applied = body.clone();
                if let Some(o) = applied.as_object_mut() {
                    o.remove("status");
                }
                apply_merge(&mut new, &applied);
            }
        }
        self.update_locked(&mut inner, rt, namespace, name, new, status, fields)
    }

    /// Deletes now, or marks the object for deletion while finalizers remain.
    pub fn delete(
        &self,
        rt: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock().expect("store lock");
        let k = key(rt, namespace, name);
        let mut obj = inner
            .objects
            .get(&k)
            .cloned()
            .ok_or_else(|| ApiError::not_found(rt, name))?;
        if finalizers(&obj).is_empty() {
            inner.objects.remove(&k);
            return Ok(self.record(&mut inner, ChangeKind::Deleted, k, obj));
        }
        if meta(&obj).contains_key("deletionTimestamp") {
            return Ok(obj);
        }
        let m = meta_mut(&mut obj);
        m.insert("deletionTimestamp".into(), now().into());
        m.insert("deletionGracePeriodSeconds".into(), 0.into());
        Ok(self.record(&mut inner, ChangeKind::Modified, k, obj))
    }

    /// Changes of one type after `since` and a receiver for the ones to come, with nothing
    /// missed or repeated in between.
    #[allow(clippy::type_complexity)]
    pub fn watch(
        &self,
        rt: &ResourceType,
        since: u64,
    ) -> Result<(Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>), ApiError> {
        let inner = self.inner.lock().expect("store lock");
        if let Some(oldest) = inner.history.front()
            && since + 1 < oldest.rv
            && inner.history.len() >= HISTORY
        {
            return Err(ApiError::gone(format!(
                "too old resource version: {since} ({})",
                oldest.rv
            )));
        }
        let backlog = inner
            .history
            .iter()
            .filter(|c| c.rv > since && c.key.group == rt.group && c.key.plural == rt.plural)
            .cloned()
            .collect();
        Ok((backlog, self.changes.subscribe()))
    }

    /// The resourceVersion of the last change.
    pub fn resource_version(&self) -> u64 {
        self.inner.lock().expect("store lock").rv
    }

    /// Every change from now on, of every type.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.changes.subscribe()
    }

    fn record(&self, inner: &mut Inner, kind: ChangeKind, k: Key, mut obj: Value) -> Value {
        inner.rv += 1;
        let rv = inner.rv;
        meta_mut(&mut obj).insert("resourceVersion".into(), rv.to_string().into());
        if kind != ChangeKind::Deleted {
            inner.objects.insert(k.clone(), obj.clone());
        }
        let change = Arc::new(Change {
            rv,
            kind,
            key: k,
            object: obj.clone(),
        });
        inner.history.push_back(change.clone());
        if inner.history.len() > HISTORY {
            inner.history.pop_front();
        }
        // Sent under the lock, so a watch that subscribed under it sees every later change once.
        let _ = self.changes.send(change);
        obj
    }
}

fn check_type(rt: &ResourceType, obj: &mut Value) -> Result<(), ApiError> {
    let api_version = rt.api_version();
    let o = obj.as_object_mut().expect("checked to be an object");
    for (field, expected) in [("apiVersion", &api_version), ("kind", &rt.kind)] {
        match o.get(field).and_then(Value::as_str) {
            Some(v) if v != expected => {
                return Err(ApiError::bad_request(format!(
                    "{field} {v:?} does not match the resource ({expected})"
                )));
            }
            _ => {
                o.insert(field.into(), expected.clone().into());
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::resources;
    use super::*;

    fn rt(kind: &str) -> ResourceType {
        let types = resources::all();
        if kind == "Secret" {
            return resources::find(&types, "", "v1", "secrets")
                .unwrap()
                .clone();
        }
        resources::of_kind(&types, "converge.dev/v1alpha1", kind)
            .unwrap()
            .clone()
    }

    fn project(name: &str) -> Value {
        json!({"metadata": {"name": name}, "spec": {"connectionRef": {"name": "c"}, "opschain": {"code": "x", "name": "X"}}})
    }

    fn rv(v: &Value) -> u64 {
        v["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    }

    #[test]
    fn create_sets_identity_generation_and_default_status() {
        let s = Store::default();
        let p = s
            .create(&rt("Project"), "ns", project("a"), FieldValidation::Prune)
            .unwrap();
        assert_eq!(p["kind"], "Project");
        assert_eq!(p["metadata"]["namespace"], "ns");
        assert_eq!(p["metadata"]["generation"], 1);
        assert_eq!(p["status"], json!({"observedGeneration": 0}));
        assert!(p["metadata"]["uid"].is_string());
        let again = s
            .create(&rt("Project"), "ns", project("a"), FieldValidation::Prune)
            .unwrap_err();
        assert_eq!((again.code, again.reason), (409, "AlreadyExists"));
        let missing = s
            .create(
                &rt("Project"),
                "ns",
                json!({"spec": {}}),
                FieldValidation::Prune,
            )
            .unwrap_err();
        assert_eq!(missing.code, 422);
    }

    #[test]
    fn generation_counts_spec_changes_and_status_has_its_own_subresource() {
        let s = Store::default();
        let r = rt("Project");
        s.create(&r, "ns", project("a"), FieldValidation::Prune)
            .unwrap();
        let mut labelled = s.get(&r, "ns", "a").unwrap();
        labelled["metadata"]["labels"] = json!({"x": "y"});
        labelled["status"] = json!({"ignored": true});
        let p = s
            .update(&r, "ns", "a", labelled, false, FieldValidation::Prune)
            .unwrap();
        assert_eq!(p["metadata"]["generation"], 1, "labels are not spec");
        assert_eq!(p["status"], json!({"observedGeneration": 0}));
        let p = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Merge,
                &json!({"spec": {"suspend": true}}),
                false,
                FieldValidation::Prune,
            )
            .unwrap();
        assert_eq!(p["metadata"]["generation"], 2);
        let before = rv(&p);
        let p = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Apply,
                &json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project", "status": {"observedGeneration": 2}}),
                true,
                FieldValidation::Prune,
            )
            .unwrap();
        assert_eq!(p["status"], json!({"observedGeneration": 2}));
        assert_eq!(p["metadata"]["generation"], 2);
        assert!(rv(&p) > before);
        let same = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Apply,
                &json!({"status": {"observedGeneration": 2}}),
                true,
                FieldValidation::Prune,
            )
            .unwrap();
        assert_eq!(rv(&same), rv(&p), "a no-op write keeps the resourceVersion");
    }

    #[test]
    fn stale_resource_version_is_a_conflict() {
        let s = Store::default();
        let r = rt("Secret");
        let a = s
            .create(
                &r,
                "ns",
                json!({"metadata": {"name": "s"}}),
                FieldValidation::Prune,
            )
            .unwrap();
        let mut b = a.clone();
        b["data"] = json!({"k": "dg=="});
        s.update(&r, "ns", "s", b, false, FieldValidation::Prune)
            .unwrap();
        let mut stale = a;
        stale["data"] = json!({"k": "dw=="});
        let e = s
            .update(&r, "ns", "s", stale, false, FieldValidation::Prune)
            .unwrap_err();
        assert_eq!((e.code, e.reason), (409, "Conflict"));
    }

    #[test]
    fn finalizers_hold_deletion_until_removed() {
        let s = Store::default();
        let r = rt("Project");
        s.create(&r, "ns", project("a"), FieldValidation::Prune)
            .unwrap();
        let add = json!([{"op": "test", "path": "/metadata/finalizers", "value": null},
                         {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}]);
        s.patch(
            &r,
            "ns",
            "a",
            PatchType::Json,
            &add,
            false,
            FieldValidation::Prune,
        )
        .unwrap();
        let marked = s.delete(&r, "ns", "a").unwrap();
        assert!(marked["metadata"]["deletionTimestamp"].is_string());
        assert!(s.get(&r, "ns", "a").is_ok());
        let more = json!([{"op": "add", "path": "/metadata/finalizers/-", "value": "g"}]);
        let e = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Json,
                &more,
                false,
                FieldValidation::Prune,
            )
            .unwrap_err();
        assert_eq!(e.code, 422);
        let failed_test = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "zzz"}]);
        let e = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Json,
                &failed_test,
                false,
                FieldValidation::Prune,
            )
            .unwrap_err();
        assert_eq!(e.code, 422);
        let remove = json!([{"op": "remove", "path": "/metadata/finalizers/0"}]);
        s.patch(
            &r,
            "ns",
            "a",
            PatchType::Json,
            &remove,
            false,
            FieldValidation::Prune,
        )
        .unwrap();
        assert_eq!(s.get(&r, "ns", "a").unwrap_err().code, 404);
    }

    #[test]
    fn watches_resume_from_a_resource_version_without_gaps() {
        let s = Store::default();
        let r = rt("Project");
        s.create(&r, "ns", project("a"), FieldValidation::Prune)
            .unwrap();
        let (_, since) = s.list(&r, None, &Selector::default());
        s.create(&r, "ns", project("b"), FieldValidation::Prune)
            .unwrap();
        s.create(
            &rt("Secret"),
            "ns",
            json!({"metadata": {"name": "s"}}),
            FieldValidation::Prune,
        )
        .unwrap();
        let (backlog, mut rx) = s.watch(&r, since).unwrap();
        assert_eq!(backlog.len(), 1);
        assert_eq!(backlog[0].key.name, "b");
        s.delete(&r, "ns", "a").unwrap();
        let next = rx.try_recv().unwrap();
        assert_eq!(
            (next.kind, next.key.name.as_str()),
            (ChangeKind::Deleted, "a")
        );
    }

    #[test]
    fn apply_creates_then_merges_maps_and_replaces_lists() {
        let s = Store::default();
        let r = rt("Project");
        let body = json!({"apiVersion": "converge.dev/v1alpha1", "kind": "Project", "metadata": {"name": "a"},
            "spec": {"connectionRef": {"name": "c"}, "cycloid": {"canonical": "x", "name": "X", "configRepositoryCanonical": "cfg", "environments": [{"canonical": "dev"}]}}});
        s.patch(
            &r,
            "ns",
            "a",
            PatchType::Apply,
            &body,
            false,
            FieldValidation::Prune,
        )
        .unwrap();
        let p = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Apply,
                &json!({"spec": {"cycloid": {"environments": [{"canonical": "prod"}]}}}),
                false,
                FieldValidation::Prune,
            )
            .unwrap();
        assert_eq!(p["spec"]["cycloid"]["canonical"], "x");
        assert_eq!(
            p["spec"]["cycloid"]["environments"],
            json!([{"canonical": "prod"}])
        );
        assert_eq!(p["metadata"]["generation"], 2);
        s.patch(
            &r,
            "ns",
            "a",
            PatchType::Merge,
            &json!({"metadata": {"finalizers": ["other"]}}),
            false,
            FieldValidation::Prune,
        )
        .unwrap();
        let p = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Apply,
                &json!({"metadata": {"finalizers": ["mine"]}}),
                false,
                FieldValidation::Prune,
            )
            .unwrap();
        assert_eq!(p["metadata"]["finalizers"], json!(["other", "mine"]));
    }

    /// The apiserver's admission on every write: strict or pruning field validation as the
    /// client asks, transition rules against the stored object, the status schema on status
    /// writes.
    #[test]
    fn writes_are_admitted_as_the_apiserver_admits_them() {
        let s = Store::default();
        let r = rt("Project");
        let mut typo = project("a");
        typo["spec"]["deletionpolicy"] = json!("Orphan");
        let e = s
            .create(&r, "ns", typo.clone(), FieldValidation::Strict)
            .unwrap_err();
        assert_eq!((e.code, e.reason), (400, "BadRequest"));
        assert!(
            e.message
                .contains("strict decoding error: unknown field \"spec.deletionpolicy\""),
            "{e}"
        );
        let p = s.create(&r, "ns", typo, FieldValidation::Prune).unwrap();
        assert!(p["spec"].get("deletionpolicy").is_none(), "pruned: {p}");
        let mut renamed = p.clone();
        renamed["spec"]["opschain"]["code"] = json!("y");
        let e = s
            .update(&r, "ns", "a", renamed, false, FieldValidation::Strict)
            .unwrap_err();
        assert_eq!((e.code, e.reason), (422, "Invalid"));
        assert!(e.message.contains("opschain.code is immutable"), "{e}");
        let p = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Merge,
                &json!({"status": {"observedGeneration": 1, "madeUp": true}}),
                true,
                FieldValidation::Prune,
            )
            .unwrap();
        assert_eq!(p["status"], json!({"observedGeneration": 1}));
        let e = s
            .patch(
                &r,
                "ns",
                "a",
                PatchType::Merge,
                &json!({"status": {"observedGeneration": "one"}}),
                true,
                FieldValidation::Prune,
            )
            .unwrap_err();
        assert_eq!(e.code, 422, "{e}");
    }
}
