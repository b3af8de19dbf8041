//! Timelines: every kind on each of its platforms followed through time the way a person
//! drives it — `kubectl apply`, edits applied again, `kubectl delete` — against the real test
//! apiserver, the in-process controller and the sandboxes. After each step: status and
//! conditions, the Events of that step as `kubectl events` prints them (messages included),
//! and the platform's state read through the platform's own API (`tests/common/timeline.rs`).
//!
//! States that pass in a moment are held (a sandbox hold on a Choreo build, a paused Cycloid
//! pipeline, an OpsChain step waiting for approval, a canary step's pause), never caught, so
//! the suite passes on a busy 2-core machine.

mod common;

#[path = "timeline/apispec.rs"]
mod apispec;
#[path = "timeline/component.rs"]
mod component;
#[path = "timeline/gateway.rs"]
mod gateway;
#[path = "timeline/project.rs"]
mod project;
#[path = "timeline/workflow.rs"]
mod workflow;

#[test]
fn kubectl_events_tables_parse_by_column() {
    let table = "LAST SEEN          TYPE      REASON         OBJECT              MESSAGE\n\
                 12s                Normal    Created        Project/shop        created Cycloid project \"shop\"\n\
                 3s (x4 over 40s)   Warning   Deleting       Project/shop        waiting for Component api → gone\n";
    let rows = common::timeline::parse_events(table);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0].reason, "Created");
    assert_eq!(rows[0].message, "created Cycloid project \"shop\"");
    assert_eq!(rows[0].count(), 1);
    assert_eq!(rows[1].type_, "Warning");
    assert_eq!(rows[1].object, "Project/shop");
    assert_eq!(rows[1].message, "waiting for Component api → gone");
    assert_eq!(rows[1].count(), 4);
}
