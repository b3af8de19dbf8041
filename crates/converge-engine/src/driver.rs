//! One reconcile of one object of any managed kind: the finalizer first, then converge or
//! clean up, then conditions, status, Events and when to look again.

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::Event;
use kube::runtime::finalizer::{Event as Finalize, finalizer};

use super::cx::{Cx, Note, event_type, write_status};
use super::phase::{self, Hold, Phase};
use super::{Failure, Managed, Reconciler, dependents, drift, journal};
use crate::context::{Context, FIELD_MANAGER};
use crate::error::Error;
use crate::guard;
use converge_api::common::conditions::{READY, STALLED, reason, unhandled_request};
use converge_api::common::policy::{DeletionPolicy, ManagementPolicy};
use converge_api::connection::PlatformConnection;

/// The finalizer every managed kind carries while it may own a platform object.
pub const FINALIZER: &str = "converge.dev/cleanup";
/// How long a Waiting object sleeps when no watch wakes it first.
pub const WAIT_RECHECK: Duration = Duration::from_secs(60);
/// The longest wait after a transient platform failure (5xx, 429, a reset, a malformed
/// answer). The call was already retried and the connection's request budget bounds what
/// reaches the platform, so waiting longer only delays convergence once the platform is back.
pub const RETRY_CEILING: Duration = Duration::from_secs(60);

/// The reconcile function handed to `Controller::run` for kind `K`: `reconcile` in its span,
/// counted, with a panic contained to the object (Stalled, with an Event; the others go on).
pub async fn guarded<K: Managed, R: Reconciler<Kind = K>>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let run = reconcile::<K, R>(obj.clone(), ctx.clone());
    let caught = match guard::reconcile(K::KIND, &*obj, &ctx, run).await {
        Ok(result) => return result,
        Err(caught) => caught,
    };
    if let Some(ns) = obj.namespace() {
        let api = Api::<K>::namespaced(ctx.client.clone(), &ns);
        match guard::stall(&api, &*obj, obj.status(), K::common_mut, &caught).await {
            Ok(Some(message)) => {
                let note = Note {
                    warning: true,
                    reason: guard::PANICKED,
                    message,
                };
                publish(&ctx, &*obj, vec![note]).await;
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(kind = K::KIND, error = %e, "cannot mark the object Stalled after a panic")
            }
        }
    }
    Err(Error::Panicked(caught.status_message()))
}

/// One reconcile of one object (see `guarded`).
pub async fn reconcile<K: Managed, R: Reconciler<Kind = K>>(
    obj: Arc<K>,
    ctx: Arc<Context>,
) -> Result<Action, Error> {
    let ns = obj
        .namespace()
        .ok_or_else(|| Error::NotNamespaced(obj.name_any()))?;
    let api = Api::<K>::namespaced(ctx.client.clone(), &ns);
    match add_finalizer(&api, &*obj).await {
        Ok(false) => {}
        Ok(true) => return Ok(Action::await_change()),
        Err(e) => return Err(Error::Kube(e)),
    }
    finalizer(&api, FINALIZER, obj, |event| async {
        match event {
            Finalize::Apply(obj) => apply::<K, R>(obj, ctx.clone(), ns.clone()).await,
            Finalize::Cleanup(obj) => cleanup::<K, R>(obj, ctx.clone(), ns.clone()).await,
        }
    })
    .await
    .map_err(|e| Error::Finalizer(Box::new(e)))
}

/// Adds the finalizer unless it is there or the object is being deleted; `true` when it did.
/// A server-side apply of the one list item is idempotent, so a cache that has not yet seen an
/// earlier add costs nothing (kube's JSON patch tests the whole list, fails with 422 on a stale
/// cache and waits a backoff). The reconcile stops there: the add's own watch event starts the
/// next one with an object at least that new, whereas carrying on would leave the next
/// reconcile to a cache that may not have this one's status writes yet (and may take its own
/// fresh create for someone else's).
async fn add_finalizer<K: Managed>(api: &Api<K>, obj: &K) -> kube::Result<bool> {
    if obj.meta().deletion_timestamp.is_some() || obj.finalizers().iter().any(|f| f == FINALIZER) {
        return Ok(false);
    }
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "metadata": {"finalizers": [FINALIZER]},
    });
    api.patch(
        &obj.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await?;
    Ok(true)
}

fn backoff_key<K: Managed>(obj: &K) -> String {
    format!(
        "{}/{}/{}",
        K::KIND,
        obj.namespace().unwrap_or_default(),
        obj.name_any()
    )
}

fn hold_of<K: Managed>(obj: &K) -> Option<Hold> {
    let m = obj.management();
    if m.management_policy == Some(ManagementPolicy::ObserveOnly) {
        Some(Hold::ObserveOnly)
    } else if m.suspend == Some(true) {
        Some(Hold::Suspended)
    } else {
        None
    }
}

/// What a failure means for the object: the phase to show and, for retries, the wait the
/// platform asked for.
pub fn classify(failure: Failure) -> Result<(Phase, Option<Duration>), kube::Error> {
    match failure {
        Failure::Stop(phase) => Ok((phase, None)),
        Failure::Kube(e) => Err(e),
        Failure::Platform(e) if e.is_retryable() => Ok((
            Phase::Retrying {
                message: format!("retrying: {e}"),
            },
            e.retry_after(),
        )),
        Failure::Platform(e) if e.is_unauthenticated() => Ok((
            Phase::Retrying {
                message: format!(
                    "the platform refused the connection's credentials: {e}; check the \
                     PlatformConnection and its Secret"
                ),
            },
            None,
        )),
        // The connection's own check accepts these credentials: the platform refuses this one
        // action to its user, which no retry will change.
        Failure::Platform(e) if e.is_forbidden() => Ok((
            Phase::stalled(
                reason::FORBIDDEN,
                format!(
                    "the platform refused this action: {e}; the connection's credentials are \
                     accepted, but its user may not do this: grant it the permission on the \
                     platform, or change the spec so Converge does not need it"
                ),
            ),
            None,
        )),
        Failure::Platform(e) => Ok((Phase::stalled(reason::PLATFORM_ERROR, e.to_string()), None)),
    }
}

/// What one `converge` left behind (or the stop before it), for the engine to report.
struct Ran<K: Managed> {
    status: K::Status,
    saved: Option<K::Status>,
    /// The resourceVersions of the status saves made during the reconcile, in order.
    saved_versions: Vec<String>,
    outcome: Result<Phase, Failure>,
    notes: Vec<Note>,
    writes: Vec<String>,
    wake: Option<Duration>,
    /// The hash of the declared input read besides the spec (`Cx::inputs_hash`).
    inputs: Option<String>,
}

impl<K: Managed> Ran<K> {
    /// Stopped before reaching the kind: status as the object shows it, nothing written.
    fn before_converge(obj: &K, failure: Failure) -> Self {
        Ran {
            status: obj.status().cloned().unwrap_or_default(),
            saved: obj.status().cloned(),
            saved_versions: Vec::new(),
            outcome: Err(failure),
            notes: Vec::new(),
            writes: Vec::new(),
            wake: None,
            inputs: None,
        }
    }
}

async fn apply<K: Managed, R: Reconciler<Kind = K>>(
    obj: Arc<K>,
    ctx: Arc<Context>,
    ns: String,
) -> Result<Action, Error> {
    let key = backoff_key(&*obj);
    let version = obj.resource_version();
    if ctx.stores.behind(&key, version.as_deref()) {
        // Acting on status older than our own last write could take our fresh create for
        // someone else's; the watch brings the newer version within moments.
        return Ok(Action::requeue(Duration::from_millis(500)));
    }
    let hold = hold_of(&*obj);
    let conn = obj.connection_name().to_string();
    let was_ready = obj
        .status()
        .map(K::common)
        .is_some_and(|c| c.is_true(READY) && c.observed_generation == obj.meta().generation);
    // reconcile.converge.dev/requestedAt: a fresh read, never a drift check's shortcuts.
    let request = unhandled_request(obj.meta(), obj.status().map(K::common)).map(String::from);
    let at_rest = was_ready && request.is_none();

    let Ran {
        mut status,
        saved,
        saved_versions,
        outcome,
        notes,
        writes,
        wake,
        inputs,
    } = match ctx.connections.ready(&ns, &conn) {
        None => Ran::before_converge(
            &*obj,
            Failure::waiting(format!(
                "waiting for PlatformConnection {conn:?} to be Ready"
            )),
        ),
        Some(_) if obj.platform().is_none() => Ran::before_converge(
            &*obj,
            Failure::stalled(
                reason::INVALID_SPEC,
                format!("this {} sets no platform block", K::KIND),
            ),
        ),
        Some(client) if obj.platform() != Some(client.platform()) => Ran::before_converge(
            &*obj,
            Failure::stalled(
                reason::INVALID_SPEC,
                format!(
                    "connectionRef {conn:?} is a {} connection, but this {} declares {}; \
                     name a {} PlatformConnection",
                    client.platform(),
                    K::KIND,
                    obj.platform().map_or("", |p| p.id()),
                    obj.platform().map_or("", |p| p.id())
                ),
            ),
        ),
        Some(client) => {
            // A drift check may share collection reads with the connection's other checks.
            let client = if at_rest {
                client.sharing(drift::share_window(obj.management()))
            } else {
                client
            };
            let mut cx = Cx::new(ctx.clone(), client, &*obj, ns.clone(), hold);
            cx.at_rest = at_rest;
            let outcome = R::converge(&obj, &mut cx).await;
            let inputs = cx.inputs_hash();
            Ran {
                status: cx.status,
                saved: cx.saved,
                saved_versions: cx.saved_versions,
                outcome,
                notes: cx.notes,
                writes: cx.writes,
                wake: cx.wake,
                inputs,
            }
        }
    };

    let saved_during = saved.as_ref() != obj.status();
    // A changed ConfigMap the spec reads is a change the person declared: what it makes
    // Converge write is not drift.
    let recorded_inputs = K::common(&status).inputs_hash.clone();
    let declared_change =
        inputs.is_some() && recorded_inputs.is_some() && inputs != recorded_inputs;
    if inputs.is_some() || outcome.is_ok() {
        K::common_mut(&mut status).inputs_hash = inputs;
    }
    let (phase, retry_after) = match outcome {
        Ok(phase) => (phase, None),
        Err(failure) => match classify(failure) {
            Ok(p) => p,
            Err(e) => {
                // Keep what the platform writes recorded (ids after a create) even so.
                if saved.as_ref() != Some(&status) {
                    let api = Api::<K>::namespaced(ctx.client.clone(), &ns);
                    let _ = write_status::<K>(&api, &obj.name_any(), &status).await;
                }
                publish(&ctx, &*obj, notes).await;
                let failed = (journal::Reached::Retrying, e.to_string());
                record::<K>(&ctx, &obj, &ns, writes, failed, Duration::ZERO);
                return Err(Error::Kube(e));
            }
        },
    };

    // Once the platform id is recorded it proves ownership; a create marker left by a crash
    // (and recognised by the kind's lookup) has done its job.
    if K::platform_id(&status).is_some() {
        K::common_mut(&mut status).pending_create = None;
    }
    if request.is_some() {
        K::common_mut(&mut status).last_handled_reconcile_at = request;
    }
    let before = K::common(&status).clone();
    phase::apply(
        K::common_mut(&mut status),
        &phase,
        obj.meta().generation,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let mut notes = notes;
    notes.extend(transition_notes(&before, &phase));
    if was_ready && !writes.is_empty() && !declared_change {
        notes.push(Note {
            warning: true,
            reason: "DriftCorrected",
            message: format!(
                "the platform had drifted from the spec; corrected: {}",
                writes.join("; ")
            ),
        });
    }
    // Events first: whoever sees the status this reconcile ends with (kubectl wait, a test,
    // `converge local`) finds the Events of what it did already recorded.
    publish(&ctx, &*obj, notes).await;
    let final_write = saved.as_ref() != Some(&status);
    let mut written = None;
    if final_write {
        let api = Api::<K>::namespaced(ctx.client.clone(), &ns);
        written = write_status::<K>(&api, &obj.name_any(), &status).await?;
    }
    if final_write || saved_during {
        // Every version this reconcile replaced: the one it started from and those of its
        // saves but the last (unless the final write replaced that too). The watch may bring
        // a save made half-way (status before a publish, say) after the reconcile ended;
        // starting from it would repeat what followed.
        let mut superseded: Vec<String> = version.into_iter().collect();
        let mut saves = saved_versions;
        if !final_write {
            saves.pop();
        }
        superseded.extend(saves);
        // A write the apiserver found unchanged keeps its version: that one is current.
        superseded.retain(|v| Some(v) != written.as_ref());
        ctx.stores.wrote(&key, superseded);
    }

    let after = match &phase {
        Phase::Converged { .. } | Phase::Held { .. } => {
            ctx.backoff.succeeded(&key);
            drift::next_check(obj.management())
        }
        Phase::Progressing { recheck, .. } => {
            ctx.backoff.succeeded(&key);
            *recheck
        }
        Phase::Waiting { .. } => WAIT_RECHECK,
        Phase::Retrying { .. } => {
            let wait = ctx.backoff.failed(&key).min(RETRY_CEILING);
            retry_after.map_or(wait, |r| r.max(wait))
        }
        Phase::Stalled { .. } => {
            let wait = ctx.backoff.failed(&key);
            retry_after.map_or(wait, |r| r.max(wait))
        }
    };
    // A kind's own deadline (a schedule) may come sooner, except while it waits on a reference.
    let after = match wake {
        Some(w) if !matches!(phase, Phase::Waiting { .. }) => after.min(w),
        _ => after,
    };
    let reached = (journal::Reached::of(&phase), phase.message());
    record::<K>(&ctx, &obj, &ns, writes, reached, after);
    Ok(Action::requeue(after))
}

/// Journals the reconcile's writes when the context keeps a journal (a `converge plan`
/// rehearsal).
fn record<K: Managed>(
    ctx: &Context,
    obj: &K,
    ns: &str,
    writes: Vec<String>,
    (state, message): (journal::Reached, String),
    after: Duration,
) {
    if let Some(journal) = &ctx.journal {
        journal.record(journal::Entry {
            kind: K::KIND,
            namespace: ns.to_string(),
            name: obj.name_any(),
            writes,
            state,
            message,
            after,
        });
    }
}

/// Events for a change of phase a person should hear about: becoming Stalled or retrying.
fn transition_notes(
    before: &converge_api::common::conditions::CommonStatus,
    phase: &Phase,
) -> Option<Note> {
    match phase {
        Phase::Stalled { reason, message } => {
            let same = before
                .condition(STALLED)
                .is_some_and(|c| c.status == "True" && c.message == *message);
            (!same).then(|| Note {
                warning: true,
                reason,
                message: message.clone(),
            })
        }
        Phase::Retrying { message } => {
            let already = before
                .condition(READY)
                .is_some_and(|c| c.reason == reason::PLATFORM_RETRYING);
            (!already).then(|| Note {
                warning: true,
                reason: reason::PLATFORM_RETRYING,
                message: message.clone(),
            })
        }
        _ => None,
    }
}

async fn publish<K: Managed>(ctx: &Context, obj: &K, notes: Vec<Note>) {
    let reference = obj.object_ref(&());
    for n in notes {
        let event = Event {
            type_: event_type(n.warning),
            reason: n.reason.to_string(),
            note: Some(n.message),
            action: "Reconcile".into(),
            secondary: None,
        };
        match ctx.recorder.publish(&event, &reference).await {
            Err(e) if crate::error::event_refused_routinely(&e) => {
                tracing::debug!(kind = K::KIND, object = %obj.name_any(), error = %e, "no Event");
            }
            Err(e) => {
                tracing::warn!(kind = K::KIND, object = %obj.name_any(), error = %e, "cannot record an Event")
            }
            Ok(()) => {}
        }
    }
}

async fn cleanup<K: Managed, R: Reconciler<Kind = K>>(
    obj: Arc<K>,
    ctx: Arc<Context>,
    ns: String,
) -> Result<Action, Error> {
    let m = obj.management();
    let current = obj.status().cloned().unwrap_or_default();
    let id = K::platform_id(&current).map(str::to_string);
    let pending = K::common(&current).pending_create.clone();
    if id.is_none() && pending.is_none() {
        return Ok(Action::await_change());
    }
    let what = id
        .clone()
        .or(pending)
        .map(|i| obj.platform_object(&i))
        .unwrap_or_default();
    let orphan = m.deletion_policy == Some(DeletionPolicy::Orphan)
        || m.management_policy == Some(ManagementPolicy::ObserveOnly);
    if orphan {
        publish(
            &ctx,
            &*obj,
            vec![Note {
                warning: false,
                reason: "Orphaned",
                message: format!(
                    "left {what} on the platform (deletionPolicy Orphan or ObserveOnly)"
                ),
            }],
        )
        .await;
        return Ok(Action::await_change());
    }
    // Children first: a platform object may not outlive its parent, and the children's
    // delete needs only the ids in their own status.
    if let Some(w) = K::REFERRED_AS {
        let name = obj.name_any();
        let waiting = dependents::of(&ctx, &ns, dependents::Target::Reference(w, &name)).await?;
        if !waiting.is_empty() {
            let message = format!("deleting {what}: {}", dependents::waiting_message(&waiting));
            let status = obj.status().cloned().unwrap_or_default();
            return Err(
                hold_deletion(&ctx, &*obj, &ns, status, obj.status(), Vec::new(), message).await,
            );
        }
    }
    let conn = obj.connection_name().to_string();
    let mut found = None;
    let mut client = ctx.connections.ready(&ns, &conn);
    if client.is_none() {
        found = Api::<PlatformConnection>::namespaced(ctx.client.clone(), &ns)
            .get_opt(&conn)
            .await?;
        if found.as_ref().is_some_and(lost_its_secret) {
            // A namespace deletion removes Secrets before the objects that use them (and often
            // before the connection itself): the delete goes out with the credentials the
            // connection last read. If the platform refuses them, the error says so.
            client = ctx.connections.known(&ns, &conn);
        }
    }
    let Some(client) = client else {
        let known = ctx.connections.known(&ns, &conn).is_some();
        if let Some(gone) = unusable_for_good(found.as_ref(), known) {
            // Nothing can reach the platform any more; holding the finalizer would wedge the
            // object (and its namespace) forever.
            publish(
                &ctx,
                &*obj,
                vec![Note {
                    warning: true,
                    reason: "ConnectionGone",
                    message: format!(
                        "PlatformConnection {conn:?} {gone}, so {what} is left on the platform"
                    ),
                }],
            )
            .await;
            return Ok(Action::await_change());
        }
        return Err(Error::Deleting(format!(
            "waiting for PlatformConnection {conn:?} to be Ready to delete {what}"
        )));
    };
    // Deletion does not depend on the spec being valid: with no platform block, the
    // connection's platform is the one the recorded id belongs to.
    if let Some(declared) = obj.platform().filter(|p| *p != client.platform()) {
        publish(
            &ctx,
            &*obj,
            vec![Note {
                warning: true,
                reason: "ConnectionMismatch",
                message: format!(
                    "PlatformConnection {conn:?} is not a {} connection, so {what} is left on the platform",
                    declared
                ),
            }],
        )
        .await;
        return Ok(Action::await_change());
    }
    let mut cx = Cx::new(ctx.clone(), client, &*obj, ns.clone(), None);
    let result = R::delete(&obj, &mut cx).await;
    let mut notes = std::mem::take(&mut cx.notes);
    match result {
        Ok(()) => {
            notes.push(match (cx.left_in_place.take(), cx.nothing_deleted.take()) {
                (Some(why), _) => Note {
                    warning: true,
                    reason: "LeftInPlace",
                    message: format!("left {what} on the platform: {why}"),
                },
                (None, Some(why)) => Note {
                    warning: false,
                    reason: "Released",
                    message: format!("nothing to delete on the platform: {why}"),
                },
                (None, None) => Note {
                    warning: false,
                    reason: "Deleted",
                    message: format!("deleted {what}"),
                },
            });
            publish(&ctx, &*obj, notes).await;
            ctx.backoff.succeeded(&backoff_key(&*obj));
            Ok(Action::await_change())
        }
        Err(failure) => {
            let message = match classify(failure)? {
                (Phase::Stalled { message, .. }, _) => format!(
                    "cannot delete {what}: {message}; fix it on the platform, or set \
                     deletionPolicy: Orphan to leave it there"
                ),
                (Phase::Retrying { message }, _) | (Phase::Waiting { message }, _) => {
                    format!("deleting {what}: {message}")
                }
                (other, _) => format!("deleting {what}: {other:?}"),
            };
            let status = cx.status.clone();
            Err(hold_deletion(&ctx, &*obj, &ns, status, cx.saved.as_ref(), notes, message).await)
        }
    }
}

/// Why a connection that is not usable will never be again, if so: it no longer exists, or it
/// is being deleted, cannot authenticate (its Secret went first) and this controller holds no
/// credentials it read earlier (`known`: the connection's release is still trying those).
fn unusable_for_good(conn: Option<&PlatformConnection>, known: bool) -> Option<String> {
    let Some(conn) = conn else {
        return Some("no longer exists".into());
    };
    conn.metadata.deletion_timestamp.as_ref()?;
    if known {
        return None;
    }
    let stalled = conn
        .status
        .as_ref()
        .and_then(|s| s.common.condition(STALLED))
        .filter(|c| c.status == "True")?;
    Some(format!(
        "is being deleted and cannot reach the platform ({})",
        stalled.message
    ))
}

/// The connection is unusable only because its Secret (or the key in it) is gone.
fn lost_its_secret(conn: &PlatformConnection) -> bool {
    conn.status
        .as_ref()
        .and_then(|s| s.common.condition(READY))
        .is_some_and(|c| c.status == "False" && c.reason == reason::CREDENTIALS_MISSING)
}

/// Keeps the finalizer: shows why in the conditions (reason Deleting) and, when that is news,
/// in a Warning Event.
async fn hold_deletion<K: Managed>(
    ctx: &Context,
    obj: &K,
    ns: &str,
    mut status: K::Status,
    saved: Option<&K::Status>,
    mut notes: Vec<Note>,
    message: String,
) -> Error {
    phase::apply(
        K::common_mut(&mut status),
        &Phase::Progressing {
            message: message.clone(),
            recheck: Duration::ZERO,
        },
        obj.meta().generation,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    for c in K::common_mut(&mut status).conditions.iter_mut() {
        if c.type_ != STALLED {
            c.reason = reason::DELETING.into();
        }
    }
    let changed = saved != Some(&status);
    if changed {
        notes.push(Note {
            warning: true,
            reason: reason::DELETING,
            message: message.clone(),
        });
    }
    publish(ctx, obj, notes).await;
    if changed {
        let api = Api::<K>::namespaced(ctx.client.clone(), ns);
        let _ = write_status::<K>(&api, &obj.name_any(), &status).await;
    }
    Error::Deleting(message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use converge_platforms::ClientError;

    fn connection(ready: &str, reason: &str) -> PlatformConnection {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "PlatformConnection",
            "metadata": {"name": "c", "namespace": "n"},
            "spec": {"endpoint": "http://127.0.0.1:1", "credentials": {"secretName": "s"}, "opschain": {}},
            "status": {"conditions": [{"type": "Ready", "status": ready, "reason": reason,
                "message": "m", "lastTransitionTime": "2026-11-24T00:00:00Z"}]}
        }))
        .unwrap()
    }

    #[test]
    fn only_a_connection_whose_secret_went_deletes_with_its_last_credentials() {
        assert!(lost_its_secret(&connection("False", "CredentialsMissing")));
        assert!(!lost_its_secret(&connection(
            "False",
            "CredentialsRejected"
        )));
        assert!(!lost_its_secret(&connection("False", "Unreachable")));
        assert!(!lost_its_secret(&connection("True", "Connected")));
    }

    fn status(code: u16, retry_after: Option<Duration>) -> Failure {
        Failure::Platform(ClientError::Status {
            platform: "cycloid",
            operation: "createProject",
            status: code,
            message: "the platform's words".into(),
            retry_after,
        })
    }

    #[test]
    fn retryable_failures_keep_reconciling_and_carry_retry_after() {
        let (phase, after) = classify(status(429, Some(Duration::from_secs(7)))).unwrap();
        assert!(
            matches!(&phase, Phase::Retrying { message } if message.contains("the platform's words"))
        );
        assert_eq!(after, Some(Duration::from_secs(7)));
        assert!(matches!(
            classify(status(503, None)).unwrap().0,
            Phase::Retrying { .. }
        ));
        let transport = Failure::Platform(ClientError::Transport {
            platform: "api7",
            operation: "listApplication",
            message: "connection reset".into(),
            timeout: false,
        });
        assert!(matches!(
            classify(transport).unwrap().0,
            Phase::Retrying { .. }
        ));
    }

    #[test]
    fn refused_credentials_point_at_the_connection() {
        let (phase, _) = classify(status(401, None)).unwrap();
        assert!(
            matches!(&phase, Phase::Retrying { message } if message.contains("PlatformConnection"))
        );
    }

    #[test]
    fn a_refused_action_stalls_with_the_platforms_words_not_as_bad_credentials() {
        let (phase, after) = classify(status(403, None)).unwrap();
        match phase {
            Phase::Stalled { reason, message } => {
                assert_eq!(reason, reason::FORBIDDEN);
                assert!(message.contains("the platform's words"), "{message}");
                assert!(message.contains("grant it the permission"), "{message}");
                assert!(!message.contains("Secret"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(after, None);
    }

    #[test]
    fn other_client_errors_stall_with_the_platforms_message() {
        let (phase, _) = classify(status(422, None)).unwrap();
        assert!(matches!(
            &phase,
            Phase::Stalled { reason, message }
                if *reason == reason::PLATFORM_ERROR && message.contains("the platform's words")
        ));
    }

    #[test]
    fn a_stop_is_reported_as_is() {
        let stop = Phase::waiting("waiting for Project \"shop\"");
        assert_eq!(classify(Failure::Stop(stop.clone())).unwrap(), (stop, None));
    }
}
