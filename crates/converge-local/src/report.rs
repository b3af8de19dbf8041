//! What `converge local` and `converge plan` print: one line per Event as it happens, and a
//! table of every object at the end (pure formatting over the objects' JSON).

use serde::de::DeserializeOwned;
use serde_json::Value;

use converge_engine::Managed;

/// Where an object stands, from its status conditions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    pub ready: bool,
    pub stalled: bool,
    /// Observed its current generation and not working on it any more: Ready, Stalled, or
    /// held with a report of what it would change.
    pub settled: bool,
    /// Ready's reason, or "Pending" before the first reconcile.
    pub reason: String,
    pub message: String,
}

fn condition<'a>(obj: &'a Value, kind: &str) -> Option<&'a Value> {
    obj["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn is_true(obj: &Value, kind: &str) -> bool {
    condition(obj, kind).is_some_and(|c| c["status"] == "True")
}

pub fn state(obj: &Value) -> State {
    let generation = obj["metadata"]["generation"].as_i64();
    let observed = obj["status"]["observedGeneration"].as_i64();
    let ready = condition(obj, "Ready");
    let reconciling = is_true(obj, "Reconciling");
    let stalled = is_true(obj, "Stalled");
    State {
        ready: ready.is_some_and(|c| c["status"] == "True"),
        stalled,
        settled: ready.is_some() && observed == generation && !reconciling,
        reason: ready
            .and_then(|c| c["reason"].as_str())
            .unwrap_or("Pending")
            .to_string(),
        message: ready
            .and_then(|c| c["message"].as_str())
            .unwrap_or_default()
            .to_string(),
    }
}

fn typed<K: Managed + DeserializeOwned>(obj: &Value) -> Option<(String, Option<String>)> {
    let k: K = serde_json::from_value(obj.clone()).ok()?;
    let id = k.status().and_then(K::platform_id).map(str::to_string);
    Some((
        k.platform()
            .map_or_else(|| "-".to_string(), |p| p.id().to_string()),
        id,
    ))
}

/// The platform an object is on and the id its status records.
pub fn platform_and_id(obj: &Value) -> (String, Option<String>) {
    let kind = obj["kind"].as_str().unwrap_or_default();
    let mut found = None;
    converge_api::for_each_kind!(K => {
        if K::KIND == kind {
            found = typed::<K>(obj);
        }
    });
    if kind == "PlatformConnection" {
        found = super::objects::PLATFORMS
            .iter()
            .find(|p| obj["spec"].get(**p).is_some())
            .map(|p| (p.to_string(), None));
    }
    found.unwrap_or_else(|| ("?".into(), None))
}

/// The managed objects `obj` names (`spec.projectRef`, `componentRef`, ...), as their kind
/// and name in its namespace; ConfigMaps are not among them.
pub fn references(obj: &Value) -> Vec<(&'static str, String)> {
    let kind = obj["kind"].as_str().unwrap_or_default();
    // References live in the spec: a status this version cannot read must not hide them.
    let mut declared = obj.clone();
    if let Some(o) = declared.as_object_mut() {
        o.remove("status");
    }
    let mut named = Vec::new();
    converge_api::for_each_kind!(K => {
        if K::KIND == kind
            && let Ok(k) = serde_json::from_value::<K>(declared.clone())
        {
            named = k.references();
        }
    });
    let mut kinds = Vec::new();
    for (what, name) in named {
        converge_api::for_each_kind!(K => {
            if K::REFERRED_AS == Some(what) {
                kinds.push((K::KIND, name.clone()));
            }
        });
    }
    kinds
}

/// "Kind/name", or "Kind/namespace/name" when objects span namespaces.
pub fn object_name(obj: &Value, with_namespace: bool) -> String {
    let m = &obj["metadata"];
    let kind = obj["kind"].as_str().unwrap_or_default();
    let name = m["name"].as_str().unwrap_or_default();
    if with_namespace {
        format!(
            "{kind}/{}/{name}",
            m["namespace"].as_str().unwrap_or_default()
        )
    } else {
        format!("{kind}/{name}")
    }
}

/// An Event (events.k8s.io/v1) as a progress line, `elapsed` seconds into the run. An Event
/// that happened again (its series counted on) says how often, as `kubectl events` does.
pub fn event_line(elapsed: f64, event: &Value, with_namespace: bool) -> String {
    let r = &event["regarding"];
    let object = if with_namespace {
        format!(
            "{}/{}/{}",
            r["kind"].as_str().unwrap_or_default(),
            r["namespace"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default()
        )
    } else {
        format!(
            "{}/{}",
            r["kind"].as_str().unwrap_or_default(),
            r["name"].as_str().unwrap_or_default()
        )
    };
    let warning = if event["type"] == "Warning" {
        "warning "
    } else {
        ""
    };
    let again = match series_count(event) {
        Some(n) if n > 1 => format!(" (x{n})"),
        _ => String::new(),
    };
    format!(
        "{elapsed:>6.1}s  {object}  {warning}{}: {}{again}",
        event["reason"].as_str().unwrap_or_default(),
        event["note"].as_str().unwrap_or_default()
    )
}

/// How many times an Event happened, when it happened more than once (`series.count`).
pub fn series_count(event: &Value) -> Option<u64> {
    event["series"]["count"].as_u64()
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let cut: String = s.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// Aligned columns, the first row being the header.
pub fn columns(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|i| {
            rows.iter()
                .map(|r| r.get(i).map_or(0, |c| c.chars().count()))
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for row in rows {
        let mut line = String::new();
        for (i, cell) in row.iter().enumerate() {
            if i + 1 == row.len() {
                line.push_str(cell);
            } else {
                line.push_str(cell);
                line.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The final table of `converge local`: every Converge object, its platform id and state.
pub fn table(objects: &[Value]) -> String {
    let with_namespace = spans_namespaces(objects);
    let mut rows = vec![vec![
        "OBJECT".to_string(),
        "PLATFORM".into(),
        "PLATFORM ID".into(),
        "STATE".into(),
        "MESSAGE".into(),
    ]];
    for o in objects {
        let (platform, id) = platform_and_id(o);
        let s = state(o);
        rows.push(vec![
            object_name(o, with_namespace),
            platform,
            id.unwrap_or_else(|| "-".into()),
            s.reason,
            shorten(&s.message, 110),
        ]);
    }
    columns(&rows)
}

pub fn spans_namespaces(objects: &[Value]) -> bool {
    let mut namespaces = objects.iter().map(|o| &o["metadata"]["namespace"]);
    let first = namespaces.next();
    namespaces.any(|n| Some(n) != first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn project(generation: i64, observed: i64, conditions: Value) -> Value {
        json!({
            "apiVersion": "converge.dev/v1alpha1", "kind": "Project",
            "metadata": {"name": "billing", "namespace": "demo", "generation": generation},
            "spec": {"connectionRef": {"name": "cycloid"}, "cycloid": {"canonical": "billing", "name": "Billing", "configRepositoryCanonical": "acme-config", "environments": []}},
            "status": {"observedGeneration": observed, "projectId": "billing", "conditions": conditions},
        })
    }

    #[test]
    fn settled_means_observed_and_no_longer_reconciling() {
        let ready = project(
            2,
            2,
            json!([{"type": "Ready", "status": "True", "reason": "Converged", "message": "ok"}]),
        );
        let s = state(&ready);
        assert!(s.ready && s.settled && !s.stalled);
        let stale = project(
            3,
            2,
            json!([{"type": "Ready", "status": "True", "reason": "Converged", "message": "ok"}]),
        );
        assert!(!state(&stale).settled);
        let working = project(
            2,
            2,
            json!([{"type": "Ready", "status": "False", "reason": "Progressing", "message": "building"},
                   {"type": "Reconciling", "status": "True", "reason": "Progressing", "message": "building"}]),
        );
        assert!(!state(&working).settled);
        let stalled = project(
            2,
            2,
            json!([{"type": "Ready", "status": "False", "reason": "PlatformError", "message": "no"},
                   {"type": "Stalled", "status": "True", "reason": "PlatformError", "message": "no"}]),
        );
        let s = state(&stalled);
        assert!(s.settled && s.stalled && !s.ready);
        assert_eq!(state(&json!({"metadata": {}})).reason, "Pending");
    }

    #[test]
    fn table_shows_platform_id_and_state() {
        let ready = project(
            1,
            1,
            json!([{"type": "Ready", "status": "True", "reason": "Converged", "message": "the platform matches",
                    "lastTransitionTime": "2026-11-24T00:00:00Z", "observedGeneration": 1}]),
        );
        let t = table(&[ready]);
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[0].starts_with("OBJECT"));
        assert!(lines[1].starts_with("Project/billing"), "{t}");
        let cols: Vec<&str> = lines[1].split_whitespace().collect();
        assert_eq!(cols[1..4], ["cycloid", "billing", "Converged"], "{t}");
        assert!(lines[1].contains("Converged"), "{t}");
    }

    #[test]
    fn event_lines_name_the_object_reason_and_note() {
        let e = json!({"type": "Warning", "reason": "PlatformRetrying", "note": "HTTP 503",
            "regarding": {"kind": "Project", "name": "billing", "namespace": "demo"}});
        assert_eq!(
            event_line(1.24, &e, false),
            "   1.2s  Project/billing  warning PlatformRetrying: HTTP 503"
        );
        assert!(event_line(1.0, &e, true).contains("Project/demo/billing"));
        let mut again = e.clone();
        again["series"] = json!({"count": 3, "lastObservedTime": "2026-12-07T10:00:00.000000Z"});
        assert_eq!(
            event_line(9.0, &again, false),
            "   9.0s  Project/billing  warning PlatformRetrying: HTTP 503 (x3)"
        );
    }
}
