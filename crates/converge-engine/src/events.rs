//! The one Event publisher of Converge: every Event of every kind (and of PlatformConnections)
//! goes through [`Recorder::publish`].
//!
//! kube-runtime's recorder folds every Event of an object that shares a reason into one series
//! and keeps the first message, so a second build read "BuildStarted (x2) ... revision aaaa111"
//! after bbbb222 was built. Here an Event is one platform action: Events that differ in their
//! message are separate Events (`kubectl events` lists each), and only a true repeat — the same
//! object, type, reason and message again within [`SERIES_WINDOW`] — is folded into the first
//! one's series (`x3 over 2m`), so a retry loop does not flood etcd with copies.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::ObjectReference;
use k8s_openapi::api::events::v1::{Event as K8sEvent, EventSeries};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{Api, Patch, PatchParams, PostParams};
pub use kube::runtime::events::{Event, EventType, Reporter};

/// A repeat folds into the Event it repeats while that Event was last seen this recently
/// (kube-runtime's recorder and client-go's broadcaster use about the same).
pub const SERIES_WINDOW: SignedDuration = SignedDuration::from_mins(6);
/// The Events API refuses a note over 1 kB.
pub const MAX_NOTE: usize = 1024;

/// What makes two Events the same: a repeat of one of these is a repeat of the action.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Key {
    /// The object: apiVersion, kind, namespace, name and uid.
    regarding: [Option<String>; 5],
    warning: bool,
    reason: String,
    action: String,
    note: String,
}

/// An Event already created, for its series.
#[derive(Clone, Debug)]
struct Sent {
    name: String,
    count: i32,
    last: Timestamp,
}

pub struct Recorder {
    client: kube::Client,
    reporter: Reporter,
    sent: Mutex<Cache>,
    sequence: AtomicU64,
}

#[derive(Default)]
struct Cache {
    events: HashMap<Key, Sent>,
    swept: Option<Timestamp>,
}

impl Cache {
    /// The series `key` would add to, forgetting (at most once a second) those too old to.
    fn prior(&mut self, key: &Key, now: Timestamp) -> Option<Sent> {
        if self
            .swept
            .is_none_or(|t| now.duration_since(t) >= SignedDuration::from_secs(1))
        {
            self.events.retain(|_, s| s.last + SERIES_WINDOW > now);
            self.swept = Some(now);
        }
        self.events
            .get(key)
            .filter(|s| s.last + SERIES_WINDOW > now)
            .cloned()
    }
}

/// `note` cut to what the Events API takes, on a character boundary.
pub fn bounded_note(note: &str) -> String {
    if note.len() <= MAX_NOTE {
        return note.to_string();
    }
    let mut end = MAX_NOTE - '…'.len_utf8();
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &note[..end])
}

impl Recorder {
    pub fn new(client: kube::Client, reporter: Reporter) -> Self {
        Recorder {
            client,
            reporter,
            sent: Mutex::default(),
            sequence: AtomicU64::new(0),
        }
    }

    /// Records `ev` about `reference`: a new Event, or the next count of the series of an
    /// identical one published within [`SERIES_WINDOW`].
    pub async fn publish(&self, ev: &Event, reference: &ObjectReference) -> kube::Result<()> {
        let now = Timestamp::now();
        let note = bounded_note(ev.note.as_deref().unwrap_or_default());
        let key = Key {
            regarding: [
                reference.api_version.clone(),
                reference.kind.clone(),
                reference.namespace.clone(),
                reference.name.clone(),
                reference.uid.clone(),
            ],
            warning: ev.type_ == EventType::Warning,
            reason: ev.reason.clone(),
            action: ev.action.clone(),
            note: note.clone(),
        };
        let namespace = reference.namespace.as_deref().unwrap_or("default");
        let api = Api::<K8sEvent>::namespaced(self.client.clone(), namespace);
        let prior = self.sent.lock().unwrap().prior(&key, now);
        if let Some(prior) = prior {
            let count = prior.count + 1;
            let patch = serde_json::json!({
                "series": EventSeries { count, last_observed_time: MicroTime(now) }
            });
            match api
                .patch(&prior.name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => {
                    self.remember(key, prior.name, count, now);
                    return Ok(());
                }
                // Expired or deleted: start again with a new Event.
                Err(kube::Error::Api(s)) if s.code == 404 => {}
                Err(e) => return Err(e),
            }
        }
        let event = self.new_event(ev, reference, note, now);
        let name = event.metadata.name.clone().unwrap_or_default();
        api.create(&PostParams::default(), &event).await?;
        self.remember(key, name, 1, now);
        Ok(())
    }

    fn remember(&self, key: Key, name: String, count: i32, now: Timestamp) {
        self.sent.lock().unwrap().events.insert(
            key,
            Sent {
                name,
                count,
                last: now,
            },
        );
    }

    fn new_event(
        &self,
        ev: &Event,
        reference: &ObjectReference,
        note: String,
        now: Timestamp,
    ) -> K8sEvent {
        let base: String = reference
            .name
            .as_deref()
            .unwrap_or(&self.reporter.controller)
            .chars()
            .take(200)
            .collect();
        // Unique in this process even for two Events in the same nanosecond.
        let sequence = self.sequence.fetch_add(1, Ordering::Relaxed);
        K8sEvent {
            action: Some(ev.action.clone()),
            reason: Some(ev.reason.clone()),
            event_time: Some(MicroTime(now)),
            regarding: Some(reference.clone()),
            related: ev.secondary.clone(),
            note: Some(note),
            metadata: ObjectMeta {
                namespace: reference.namespace.clone(),
                name: Some(format!(
                    "{base}.{:x}{:x}",
                    now.as_nanosecond(),
                    sequence & 0xfff
                )),
                ..Default::default()
            },
            reporting_controller: Some(self.reporter.controller.clone()),
            reporting_instance: Some(
                self.reporter
                    .instance
                    .clone()
                    .unwrap_or_else(|| self.reporter.controller.clone()),
            ),
            series: None,
            type_: Some(
                match ev.type_ {
                    EventType::Normal => "Normal",
                    EventType::Warning => "Warning",
                }
                .into(),
            ),
            ..Default::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(note: &str) -> Key {
        Key {
            regarding: [None, Some("Component".into()), None, Some("c".into()), None],
            warning: false,
            reason: "BuildStarted".into(),
            action: "Reconcile".into(),
            note: note.into(),
        }
    }

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn sent(count: i32, last: Timestamp) -> Sent {
        Sent {
            name: "c.1".into(),
            count,
            last,
        }
    }

    #[test]
    fn only_the_same_message_continues_a_series() {
        let mut cache = Cache::default();
        let first = key("started build 1 of revision main@aaaa111");
        cache.events.insert(first.clone(), sent(1, at(1000)));
        assert_eq!(cache.prior(&first, at(1010)).unwrap().name, "c.1");
        assert!(
            cache
                .prior(&key("started build 2 of revision main@bbbb222"), at(1010))
                .is_none(),
            "another build is another Event"
        );
    }

    #[test]
    fn a_repeat_after_the_window_is_a_new_event_and_old_ones_are_forgotten() {
        let mut cache = Cache::default();
        let k = key("retrying");
        cache.events.insert(k.clone(), sent(4, at(1000)));
        let later = at(1000) + SERIES_WINDOW;
        assert!(cache.prior(&k, later).is_none());
        assert!(cache.events.is_empty(), "swept");
    }

    #[test]
    fn notes_are_cut_to_what_the_api_takes() {
        assert_eq!(bounded_note("short"), "short");
        let long = "é".repeat(800);
        let cut = bounded_note(&long);
        assert!(cut.len() <= MAX_NOTE, "{}", cut.len());
        assert!(cut.ends_with('…'));
    }
}
