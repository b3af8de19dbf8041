//! The platform-object protocol, owned by the engine as crossplane-runtime's managed reconciler
//! owns its external client's: a kind's platform module says how to find, create and update
//! its object on one platform ([`PlatformObject`]); [`ensure`] and [`update`] do the rest the
//! same way for every kind and platform:
//!
//! 1. look the object up (by recorded id or externalId where the platform can, else by its
//!    natural key);
//! 2. decide whose it is (`ownership`): ours (recorded id, a create of ours in flight under
//!    this key, or a mark of ours on the platform itself), adopted (the spec says so) or
//!    someone else's (Stalled with the two ways out);
//! 3. missing: held under suspend and ObserveOnly, refused when the spec names an externalId
//!    to adopt, else created between the pending-create marker and the recorded id, so a
//!    crash anywhere never duplicates or orphans it (a recorded one that vanished is created
//!    again, with a Warning that says so, unless the platform says it cannot be);
//! 4. found: what differs (the module's pure `plan`) is written, or held under suspend and
//!    ObserveOnly;
//!
//! and each step that changed something says so in an Event ("created OpsChain project
//! \"shop\" (id 7)", "adopted ...", "updated ...: name").
//!
//! Deletion is [`PlatformDelete`] and [`delete`]: from status alone (the recorded id, else
//! what a create in flight made, found by its key), already gone being done.
//!
//! What a module keeps: what lives inside its object (environments, pipelines, builds,
//! versions, APIs, canary steps), and writes whose order the platform dictates (a gateway
//! application's update goes between the canary's steps). Objects a kind only observes and
//! never creates (a Choreo API, a Cycloid job of a Component's pipeline) are not platform
//! objects of that kind and stay outside the protocol.

use std::future::Future;

use converge_api::common::conditions::reason;
use converge_core::Platform;

use crate::ownership::{self, Ownership};
use crate::{Cx, Failure, Managed, Phase};

/// The reasons of the protocol's Events.
pub mod event {
    pub const CREATED: &str = "Created";
    /// Someone else's object taken over, as the spec says.
    pub const ADOPTED: &str = "Adopted";
    pub const UPDATED: &str = "Updated";
    /// A Warning: the recorded object is gone from the platform; it is created again.
    pub const RECREATING: &str = "Recreating";
}

/// One kind's platform object on one platform.
pub trait PlatformObject<K: Managed>: Sync {
    /// What the platform returns for the object.
    type Observed: Send;
    /// An update request, from [`PlatformObject::plan`].
    type Update: Send + Sync;

    const PLATFORM: Platform;
    /// What the object is on the platform ("project", "application"), for Events and messages.
    const WHAT: &'static str;

    /// The natural key: what the object is found by when no id is recorded, and the
    /// pending-create marker of its create.
    fn key(&self) -> &str;
    /// How the object reads in Events and held changes: its key, quoted, unless a path
    /// says more ("shop/staging/api").
    fn name(&self) -> String {
        format!("{:?}", self.key())
    }
    /// The platform id of a found object.
    fn id(found: &Self::Observed) -> String;
    /// Records the platform id in the kind's status.
    fn record(status: &mut K::Status, id: String);
    /// A create is about to be sent (status is saved with the pending create right after):
    /// forget what status says about an earlier object (its builds, its pipelines), and
    /// record what the create writes.
    fn before_create(&self, _status: &mut K::Status) {}
    /// Whether a found object carries a mark that proves it this object's on the platform
    /// itself (Frends: the marker Converge writes into a description); most platforms have
    /// none, and status alone says what is ours.
    fn marked_ours(&self, _found: &Self::Observed) -> bool {
        false
    }

    /// Looks the object up: by `by_id` (the recorded id, else the spec's externalId) where the
    /// platform can, else by the natural key.
    fn observe(
        &self,
        by_id: Option<&str>,
    ) -> impl Future<Output = Result<Option<Self::Observed>, Failure>> + Send;

    /// Creates the object; the engine has recorded the pending create.
    fn create(&self) -> impl Future<Output = Result<Self::Observed, Failure>> + Send;

    /// Creates the object, or, where the platform refuses because what the spec declares is
    /// already there in a way the lookup cannot find (Frends: another API serves the base
    /// path), takes that one over as the spec allows.
    fn create_or_adopt(
        &self,
    ) -> impl Future<Output = Result<Made<Self::Observed>, Failure>> + Send {
        async { Ok(Made::Created(self.create().await?)) }
    }

    /// A found object this spec cannot take (pure): why it stalls. Checked once the object is
    /// not someone else's, before anything is written or recorded.
    fn refuse(&self, _found: &Self::Observed) -> Option<Failure> {
        None
    }

    /// The recorded object is gone from the platform: None creates it again; a platform
    /// whose objects only people can remove says so instead.
    fn vanished(&self, _recorded_id: &str) -> Option<Failure> {
        None
    }

    /// What differs between the found object and the spec (pure): the request, and the
    /// changes as a person reads them ("name", "description").
    fn plan(&self, _found: &Self::Observed) -> Option<(Self::Update, Vec<String>)> {
        None
    }

    /// Writes an update from [`PlatformObject::plan`]: the object as the platform returns it
    /// after the write, where it does.
    fn update(
        &self,
        _found: &Self::Observed,
        _update: &Self::Update,
    ) -> impl Future<Output = Result<Option<Self::Observed>, Failure>> + Send {
        async { Ok(None) }
    }
}

/// What [`PlatformObject::create_or_adopt`] did.
pub enum Made<T> {
    Created(T),
    /// The platform refused the create for an object that exists, and the spec adopts it.
    Adopted(T),
}

/// Where [`ensure`] leaves the object.
pub enum Ensured<T> {
    /// The object exists and is this one's (ours or adopted); its id is recorded.
    Found(T),
    /// It is missing and writes are held: report this phase.
    Held(Phase),
}

fn what<K: Managed, O: PlatformObject<K>>() -> String {
    format!("{} {}", O::PLATFORM.name(), O::WHAT)
}

/// " (id 7)" for an object whose platform id is not its key; messages name the key.
fn id_unless_key(id: &str, key: &str) -> String {
    if id == key {
        String::new()
    } else {
        format!(" (id {id})")
    }
}

/// Steps 1 to 3 of the protocol (see the module doc): the object, found or created, with its
/// id recorded and the pending create cleared.
pub async fn ensure<K: Managed, O: PlatformObject<K>>(
    obj: &K,
    object: &O,
    cx: &mut Cx<K>,
) -> Result<Ensured<O::Observed>, Failure> {
    let key = object.key().to_string();
    let recorded = K::platform_id(&cx.status).map(str::to_string);
    let pending = cx.common().pending_create.clone();
    let management = obj.management();
    let by_id = recorded.as_deref().or(management.external_id.as_deref());
    let found = object.observe(by_id).await?;
    let what = what::<K, O>();
    let found = match found {
        Some(found) => {
            let id = O::id(&found);
            let whose = if object.marked_ours(&found) {
                Ownership::Ours
            } else {
                ownership::of(
                    management,
                    recorded.as_deref(),
                    pending.as_deref(),
                    &key,
                    &id,
                )
            };
            if whose == Ownership::Conflict && cx.may_write() {
                return Err(Failure::stalled(
                    reason::CONFLICT,
                    ownership::conflict_message(O::PLATFORM.name(), O::WHAT, &key, &id),
                ));
            }
            if let Some(refusal) = object.refuse(&found) {
                return Err(refusal);
            }
            if whose == Ownership::Adopted && cx.may_write() && recorded.is_none() {
                cx.did(
                    event::ADOPTED,
                    format!(
                        "adopted {what} {}{}",
                        object.name(),
                        id_unless_key(&id, &key)
                    ),
                );
            }
            found
        }
        None => {
            if let Some(gone) = recorded
                .as_deref()
                .filter(|_| cx.may_write())
                .and_then(|id| object.vanished(id))
            {
                return Err(gone);
            }
            if !cx.may_write() {
                return Ok(Ensured::Held(
                    cx.held(vec![format!("create {what} {}", object.name())]),
                ));
            }
            if let Some(id) = &recorded {
                // Someone removed it on the platform: say why a second create follows.
                cx.warn(
                    event::RECREATING,
                    format!(
                        "{what} {} (id {id}) is gone; creating it again",
                        object.name()
                    ),
                );
            } else if let Some(id) = &management.external_id {
                return Err(Failure::stalled(
                    reason::INVALID_SPEC,
                    format!(
                        "spec.externalId {id:?}: {} has no {} {} to adopt",
                        O::PLATFORM.name(),
                        O::WHAT,
                        object.name()
                    ),
                ));
            }
            object.before_create(&mut cx.status);
            cx.before_create(&key).await?;
            let (made, verb) = match object.create_or_adopt().await? {
                Made::Created(made) => (made, (event::CREATED, "created")),
                Made::Adopted(made) => (made, (event::ADOPTED, "adopted")),
            };
            let id = O::id(&made);
            O::record(&mut cx.status, id.clone());
            cx.created().await?;
            cx.did(
                verb.0,
                format!(
                    "{} {what} {}{}",
                    verb.1,
                    object.name(),
                    id_unless_key(&id, &key)
                ),
            );
            made
        }
    };
    O::record(&mut cx.status, O::id(&found));
    cx.common().pending_create = None;
    Ok(Ensured::Found(found))
}

/// Step 4 of the protocol: writes what differs, or adds it to `held` when writes are held.
/// Returns the object as the platform answered the write, where it does.
pub async fn update<K: Managed, O: PlatformObject<K>>(
    object: &O,
    found: &O::Observed,
    cx: &mut Cx<K>,
    held: &mut Vec<String>,
) -> Result<Option<O::Observed>, Failure> {
    let Some((update, changes)) = object.plan(found) else {
        return Ok(None);
    };
    if !cx.may_write() {
        held.extend(changes);
        return Ok(None);
    }
    let updated = object.update(found, &update).await?;
    cx.did(
        event::UPDATED,
        format!(
            "updated {} {}: {}",
            what::<K, O>(),
            object.name(),
            changes.join(", ")
        ),
    );
    Ok(updated)
}

/// How a kind's object on one platform is deleted: from status alone, because by the time an
/// object is deleted its spec may no longer converge (a definition that stopped parsing, a
/// reference that is gone). [`delete`] does the rest the same way for every kind.
pub trait PlatformDelete<K: Managed>: Sync {
    /// What status recorded to delete by: the kind's platform id, unless the platform
    /// deletes by something else (a code, a path).
    fn recorded(&self, status: &K::Status) -> Option<String> {
        K::platform_id(status).map(str::to_string)
    }

    /// The id of what a create in flight under `key` (the pending-create marker) made, if it
    /// made anything: looked up by the natural key.
    fn made_by(&self, key: &str) -> impl Future<Output = Result<Option<String>, Failure>> + Send;

    /// Deletes the object; already gone is done (the engine takes the platform's not-found
    /// as such).
    fn delete(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<(), converge_platforms::ClientError>> + Send;
}

/// Deletes what this object created: its recorded id, else what a create in flight made
/// (the driver calls no `delete` for an object with neither).
pub async fn delete<K: Managed, O: PlatformDelete<K>>(
    object: &O,
    cx: &mut Cx<K>,
) -> Result<(), Failure> {
    let id = match object.recorded(&cx.status) {
        Some(id) => Some(id),
        None => match cx.common().pending_create.clone() {
            Some(key) => object.made_by(&key).await?,
            None => None,
        },
    };
    let Some(id) = id else {
        // A create in flight that never reached the platform: nothing to delete.
        return Ok(());
    };
    match object.delete(&id).await {
        Err(e) if e.is_not_found() => Ok(()),
        other => Ok(other?),
    }
}

#[cfg(test)]
mod tests {
    //! The protocol against a fake platform object and an apiserver mock that records every
    //! status write, so each test asserts the order: the pending create is on the apiserver
    //! before the create call, and the id replaces it after.

    use std::sync::{Arc, Mutex};

    use converge_api::common::policy::{AdoptionPolicy, Management};
    use converge_api::project::{Project, ProjectStatus};
    use converge_platforms::{Auth, ClientMetrics, PlatformClient, Scope, Secret, Settings};
    use serde_json::{Value, json};

    use super::*;
    use crate::context::Context;
    use crate::phase::Hold;

    /// What happened, in order: "status <json>" for a status write, "observe", "create",
    /// "update <changes>" for the platform object's calls.
    type Log = Arc<Mutex<Vec<String>>>;

    /// An apiserver that answers every status patch with the object it was given.
    fn apiserver(log: Log) -> kube::Client {
        let service = tower::service_fn(move |req: http::Request<kube::client::Body>| {
            let log = log.clone();
            async move {
                let body = req.into_body().collect_bytes().await?;
                let patch: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                log.lock()
                    .unwrap()
                    .push(format!("status {}", patch["status"]));
                let object = json!({
                    "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
                    "metadata": {"name": "p", "namespace": "n", "resourceVersion": "2"},
                    "spec": {"connectionRef": {"name": "c"},
                             "opschain": {"code": "shop", "name": "Shop"}},
                    "status": patch["status"],
                });
                Ok::<_, kube::Error>(http::Response::new(kube::client::Body::from(
                    serde_json::to_vec(&object).unwrap(),
                )))
            }
        });
        kube::Client::new(service, "n")
    }

    fn new_cx(log: &Log, obj: &Project, hold: Option<Hold>) -> Cx<Project> {
        let ctx = Arc::new(Context::new(apiserver(log.clone()), Default::default()));
        let settings = Settings {
            connection: "n/c".into(),
            endpoint: "http://127.0.0.1:9".into(),
            timeout: std::time::Duration::from_secs(1),
            requests_per_second: 1,
            burst: 1,
            ca_bundle: None,
            scope: Scope::OpsChain,
            read_only: false,
        };
        let client = PlatformClient::new(
            &settings,
            Auth::Bearer(Secret::new("t")),
            ClientMetrics::default(),
        )
        .unwrap();
        Cx::new(ctx, client, obj, "n".into(), hold)
    }

    fn project(management: Management, status: ProjectStatus) -> Project {
        let mut p: Project = serde_json::from_value(json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
            "metadata": {"name": "p", "namespace": "n"},
            "spec": {"connectionRef": {"name": "c"}, "opschain": {"code": "shop", "name": "Shop"}},
        }))
        .unwrap();
        p.spec.management = management;
        p.status = Some(status);
        p
    }

    /// A platform with at most one project, "shop", whose id and name the test chooses.
    struct Fake {
        log: Log,
        found: Option<(String, String)>,
        refuse: bool,
        gone_for_good: bool,
        /// The found object carries this project's mark on the platform.
        marked: bool,
        /// The platform refuses the create for an object the spec adopts.
        taken: bool,
    }

    impl Fake {
        fn new(log: &Log, found: Option<(&str, &str)>) -> Fake {
            Fake {
                log: log.clone(),
                found: found.map(|(id, name)| (id.into(), name.into())),
                refuse: false,
                gone_for_good: false,
                marked: false,
                taken: false,
            }
        }
        fn call(&self, what: String) {
            self.log.lock().unwrap().push(what);
        }
    }

    impl PlatformObject<Project> for Fake {
        type Observed = (String, String);
        type Update = String;
        const PLATFORM: Platform = Platform::OpsChain;
        const WHAT: &'static str = "project";

        fn key(&self) -> &str {
            "shop"
        }
        fn id(found: &(String, String)) -> String {
            found.0.clone()
        }
        fn record(status: &mut ProjectStatus, id: String) {
            status.project_id = Some(id);
        }
        async fn observe(&self, by_id: Option<&str>) -> Result<Option<Self::Observed>, Failure> {
            self.call(format!("observe {by_id:?}"));
            Ok(self.found.clone())
        }
        async fn create(&self) -> Result<Self::Observed, Failure> {
            self.call("create".into());
            Ok(("7".into(), "Shop".into()))
        }
        async fn create_or_adopt(&self) -> Result<Made<Self::Observed>, Failure> {
            if !self.taken {
                return Ok(Made::Created(self.create().await?));
            }
            self.call("create refused: taken".into());
            Ok(Made::Adopted(("8".into(), "Shop".into())))
        }
        fn before_create(&self, status: &mut ProjectStatus) {
            status.environment_count = Some(0);
        }
        fn marked_ours(&self, _found: &Self::Observed) -> bool {
            self.marked
        }
        fn refuse(&self, _found: &Self::Observed) -> Option<Failure> {
            self.refuse
                .then(|| Failure::stalled("InvalidSpec", "not this one"))
        }
        fn vanished(&self, id: &str) -> Option<Failure> {
            self.gone_for_good
                .then(|| Failure::stalled("PlatformError", format!("{id} is gone for good")))
        }
        fn plan(&self, found: &Self::Observed) -> Option<(String, Vec<String>)> {
            (found.1 != "Shop").then(|| ("Shop".to_string(), vec!["name".to_string()]))
        }
        async fn update(
            &self,
            _found: &Self::Observed,
            update: &String,
        ) -> Result<Option<Self::Observed>, Failure> {
            self.call(format!("update {update}"));
            Ok(None)
        }
    }

    fn log() -> Log {
        Arc::new(Mutex::new(Vec::new()))
    }

    fn taken(log: &Log) -> Vec<String> {
        std::mem::take(&mut *log.lock().unwrap())
    }

    fn stalled(result: Result<Ensured<(String, String)>, Failure>) -> (String, String) {
        match result {
            Err(Failure::Stop(Phase::Stalled { reason, message })) => (reason.to_string(), message),
            Err(other) => panic!("not a stall: {other}"),
            Ok(_) => panic!("not a stall"),
        }
    }

    #[tokio::test]
    async fn a_missing_object_is_created_between_the_pending_create_and_its_id() {
        let log = log();
        let obj = project(Management::default(), ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, None);
        let found = ensure(&obj, &Fake::new(&log, None), &mut cx).await.unwrap();
        assert!(matches!(found, Ensured::Found((ref id, _)) if id == "7"));
        let calls = taken(&log);
        assert_eq!(calls[0], "observe None");
        assert!(
            calls[1].starts_with("status ")
                && calls[1].contains(r#""pendingCreate":"shop""#)
                && calls[1].contains(r#""environmentCount":0"#),
            "the marker, and what before_create records, reach the apiserver before the \
             create: {calls:?}"
        );
        assert_eq!(calls[2], "create");
        assert_eq!(calls.len(), 3, "{calls:?}");
        assert_eq!(cx.status.project_id.as_deref(), Some("7"));
        assert_eq!(cx.status.common.pending_create, None);
        assert_eq!(cx.writes, ["created OpsChain project \"shop\" (id 7)"]);
    }

    #[tokio::test]
    async fn a_missing_object_under_a_hold_is_reported_not_created() {
        for hold in [Hold::Suspended, Hold::ObserveOnly] {
            let log = log();
            let obj = project(Management::default(), ProjectStatus::default());
            let mut cx = new_cx(&log, &obj, Some(hold));
            let found = ensure(&obj, &Fake::new(&log, None), &mut cx).await.unwrap();
            let Ensured::Held(Phase::Held { by, changes }) = found else {
                panic!("not held");
            };
            assert_eq!(by, hold);
            assert_eq!(changes, ["create OpsChain project \"shop\""]);
            assert_eq!(taken(&log), ["observe None"], "no status write, no create");
        }
    }

    #[tokio::test]
    async fn someone_elses_object_stalls_unless_the_spec_adopts_it() {
        let log = log();
        let obj = project(Management::default(), ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, None);
        let (reason, message) =
            stalled(ensure(&obj, &Fake::new(&log, Some(("9", "Shop"))), &mut cx).await);
        assert_eq!(reason, reason::CONFLICT);
        assert!(
            message.contains("OpsChain already has a project \"shop\" (id 9)"),
            "{message}"
        );
        assert_eq!(cx.status.project_id, None, "nothing recorded");

        let adopt = Management {
            adoption_policy: Some(AdoptionPolicy::Adopt),
            ..Default::default()
        };
        let obj = project(adopt, ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, None);
        let found = ensure(&obj, &Fake::new(&log, Some(("9", "Shop"))), &mut cx).await;
        assert!(matches!(found, Ok(Ensured::Found(_))));
        assert_eq!(cx.writes, ["adopted OpsChain project \"shop\" (id 9)"]);
        assert_eq!(cx.status.project_id.as_deref(), Some("9"));
    }

    #[tokio::test]
    async fn an_object_marked_ours_on_the_platform_is_ours_without_a_record() {
        let log = log();
        let obj = project(Management::default(), ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, None);
        let mut fake = Fake::new(&log, Some(("9", "Shop")));
        fake.marked = true;
        let found = ensure(&obj, &fake, &mut cx).await;
        assert!(matches!(found, Ok(Ensured::Found(_))));
        assert!(
            cx.writes.is_empty(),
            "neither created nor adopted: {:?}",
            cx.writes
        );
        assert_eq!(cx.status.project_id.as_deref(), Some("9"));
    }

    #[tokio::test]
    async fn a_create_the_platform_refuses_for_an_object_the_spec_adopts_says_adopted() {
        let log = log();
        let obj = project(Management::default(), ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, None);
        let mut fake = Fake::new(&log, None);
        fake.taken = true;
        let found = ensure(&obj, &fake, &mut cx).await;
        assert!(matches!(found, Ok(Ensured::Found((ref id, _))) if id == "8"));
        let calls = taken(&log);
        assert!(calls[1].contains(r#""pendingCreate":"shop""#), "{calls:?}");
        assert_eq!(calls[2], "create refused: taken");
        assert_eq!(cx.writes, ["adopted OpsChain project \"shop\" (id 8)"]);
        assert_eq!(cx.status.project_id.as_deref(), Some("8"));
        assert_eq!(cx.status.common.pending_create, None);
    }

    #[tokio::test]
    async fn under_observe_only_someone_elses_object_is_only_observed() {
        let log = log();
        let obj = project(Management::default(), ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, Some(Hold::ObserveOnly));
        let found = ensure(&obj, &Fake::new(&log, Some(("9", "Shop"))), &mut cx).await;
        assert!(matches!(found, Ok(Ensured::Found(_))));
        assert!(cx.writes.is_empty());
    }

    #[tokio::test]
    async fn a_create_in_flight_is_found_as_ours_after_a_crash() {
        let log = log();
        let status = ProjectStatus {
            common: converge_api::common::conditions::CommonStatus {
                pending_create: Some("shop".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let obj = project(Management::default(), status);
        let mut cx = new_cx(&log, &obj, None);
        let found = ensure(&obj, &Fake::new(&log, Some(("7", "Shop"))), &mut cx).await;
        assert!(matches!(found, Ok(Ensured::Found(_))));
        assert_eq!(taken(&log), ["observe None"], "no second create");
        assert!(
            cx.writes.is_empty(),
            "neither created nor adopted: it was ours"
        );
        assert_eq!(cx.status.project_id.as_deref(), Some("7"));
        assert_eq!(cx.status.common.pending_create, None);
    }

    #[tokio::test]
    async fn a_recorded_or_external_id_is_looked_up_by_id() {
        let log = log();
        let status = ProjectStatus {
            project_id: Some("7".into()),
            ..Default::default()
        };
        let obj = project(Management::default(), status);
        let mut cx = new_cx(&log, &obj, None);
        let _ = ensure(&obj, &Fake::new(&log, Some(("7", "Shop"))), &mut cx).await;
        assert_eq!(taken(&log), [r#"observe Some("7")"#]);

        let external = Management {
            external_id: Some("9".into()),
            ..Default::default()
        };
        let obj = project(external, ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, None);
        let (reason, message) = stalled(ensure(&obj, &Fake::new(&log, None), &mut cx).await);
        assert_eq!(reason, "InvalidSpec");
        assert_eq!(
            message,
            "spec.externalId \"9\": OpsChain has no project \"shop\" to adopt"
        );
        assert_eq!(taken(&log), [r#"observe Some("9")"#], "nothing created");
    }

    #[tokio::test]
    async fn a_refused_object_stalls_before_anything_is_recorded() {
        let log = log();
        let adopt = Management {
            external_id: Some("9".into()),
            ..Default::default()
        };
        let obj = project(adopt, ProjectStatus::default());
        let mut cx = new_cx(&log, &obj, None);
        let mut fake = Fake::new(&log, Some(("9", "Other")));
        fake.refuse = true;
        let (reason, _) = stalled(ensure(&obj, &fake, &mut cx).await);
        assert_eq!(reason, "InvalidSpec");
        assert!(cx.writes.is_empty(), "not adopted: {:?}", cx.writes);
        assert_eq!(cx.status.project_id, None);
    }

    #[tokio::test]
    async fn a_vanished_object_is_created_again_unless_the_platform_says_otherwise() {
        let status = ProjectStatus {
            project_id: Some("7".into()),
            ..Default::default()
        };
        let log = log();
        let obj = project(Management::default(), status);
        let mut cx = new_cx(&log, &obj, None);
        let found = ensure(&obj, &Fake::new(&log, None), &mut cx).await;
        assert!(matches!(found, Ok(Ensured::Found(_))));
        assert!(taken(&log).contains(&"create".to_string()));
        let said: Vec<_> = cx
            .notes
            .iter()
            .map(|n| (n.warning, n.reason, n.message.as_str()))
            .collect();
        assert_eq!(
            said,
            [
                (
                    true,
                    "Recreating",
                    "OpsChain project \"shop\" (id 7) is gone; creating it again"
                ),
                (false, "Created", "created OpsChain project \"shop\" (id 7)"),
            ]
        );

        let mut cx = new_cx(&log, &obj, None);
        let mut fake = Fake::new(&log, None);
        fake.gone_for_good = true;
        let (reason, message) = stalled(ensure(&obj, &fake, &mut cx).await);
        assert_eq!(
            (reason.as_str(), message.as_str()),
            ("PlatformError", "7 is gone for good")
        );
        assert!(!taken(&log).contains(&"create".to_string()));
    }

    #[tokio::test]
    async fn what_differs_is_written_or_held() {
        let log = log();
        let obj = project(Management::default(), ProjectStatus::default());
        let found = ("7".to_string(), "Old".to_string());
        let fake = Fake::new(&log, None);

        let mut cx = new_cx(&log, &obj, None);
        let mut held = Vec::new();
        update(&fake, &found, &mut cx, &mut held).await.unwrap();
        assert_eq!(taken(&log), ["update Shop"]);
        assert_eq!(cx.writes, ["updated OpsChain project \"shop\": name"]);
        assert!(held.is_empty());

        let mut cx = new_cx(&log, &obj, Some(Hold::Suspended));
        update(&fake, &found, &mut cx, &mut held).await.unwrap();
        assert!(taken(&log).is_empty());
        assert_eq!(held, ["name"]);

        let same = ("7".to_string(), "Shop".to_string());
        let mut cx = new_cx(&log, &obj, None);
        update(&fake, &same, &mut cx, &mut held).await.unwrap();
        assert!(taken(&log).is_empty() && cx.writes.is_empty());
    }

    /// Deletes by recorded id, else by what a create in flight made; "404" deletes nothing
    /// that is still there.
    struct FakeDeletion {
        log: Log,
        made: Option<&'static str>,
        gone: bool,
    }

    impl PlatformDelete<Project> for FakeDeletion {
        async fn made_by(&self, key: &str) -> Result<Option<String>, Failure> {
            self.log.lock().unwrap().push(format!("made_by {key}"));
            Ok(self.made.map(str::to_string))
        }
        async fn delete(&self, id: &str) -> Result<(), converge_platforms::ClientError> {
            self.log.lock().unwrap().push(format!("delete {id}"));
            if self.gone {
                return Err(converge_platforms::ClientError::Status {
                    platform: "OpsChain",
                    operation: "archiveProject",
                    status: 404,
                    message: "not found".into(),
                    retry_after: None,
                });
            }
            Ok(())
        }
    }

    #[tokio::test]
    async fn delete_takes_the_recorded_id_else_what_a_create_in_flight_made() {
        let log = log();
        let fake = |made, gone| FakeDeletion {
            log: log.clone(),
            made,
            gone,
        };
        let recorded = ProjectStatus {
            project_id: Some("7".into()),
            ..Default::default()
        };
        let obj = project(Management::default(), recorded);
        let mut cx = new_cx(&log, &obj, None);
        delete(&fake(None, false), &mut cx).await.unwrap();
        assert_eq!(taken(&log), ["delete 7"]);

        // Already gone is done.
        delete(&fake(None, true), &mut cx).await.unwrap();
        assert_eq!(taken(&log), ["delete 7"]);

        let mut pending = ProjectStatus::default();
        pending.common.pending_create = Some("shop".into());
        let obj = project(Management::default(), pending);
        let mut cx = new_cx(&log, &obj, None);
        delete(&fake(Some("8"), false), &mut cx).await.unwrap();
        assert_eq!(taken(&log), ["made_by shop", "delete 8"]);

        // The create in flight never reached the platform.
        delete(&fake(None, false), &mut cx).await.unwrap();
        assert_eq!(taken(&log), ["made_by shop"]);
    }
}
