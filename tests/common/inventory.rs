//! What the sandboxes hold against what the declared objects (the `converge_bench::mix`
//! kinds) should have made there: one platform object per declared object, no duplicates, no
//! orphans. The sandboxes must be private to the test (nothing else creates there).
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::Value;

pub async fn state(sandbox: &str) -> Value {
    reqwest::get(format!("{sandbox}/_sandbox/state"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A string field of a platform record, whether the state stores the record bare or inside a
/// wrapper object (`{"project": {...}, "orgId": ...}`).
pub fn field(record: &Value, key: &str) -> Option<String> {
    if let Some(s) = record[key].as_str() {
        return Some(s.to_string());
    }
    record
        .as_object()?
        .values()
        .filter(|v| v.is_object())
        .find_map(|v| v[key].as_str().map(String::from))
}

pub fn records(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        Value::Object(o) => o.values().collect(),
        _ => vec![],
    }
}

/// One comparison: what the objects declare against what a sandbox holds.
pub struct Check {
    pub what: String,
    pub declared: BTreeSet<String>,
    pub held: Vec<String>,
}

impl Check {
    pub fn new(what: &str, declared: impl IntoIterator<Item = String>, held: Vec<String>) -> Check {
        Check {
            what: what.to_string(),
            declared: declared.into_iter().collect(),
            held,
        }
    }

    /// (duplicates, orphans, missing).
    pub fn tally(&self) -> (Vec<String>, Vec<String>, Vec<String>) {
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for h in &self.held {
            *count.entry(h).or_default() += 1;
        }
        let duplicates = count
            .iter()
            .filter(|(_, n)| **n > 1)
            .map(|(k, n)| format!("{k} x{n}"))
            .collect();
        let orphans = count
            .keys()
            .filter(|k| !self.declared.contains(**k))
            .map(|k| k.to_string())
            .collect();
        let missing = self
            .declared
            .iter()
            .filter(|d| !count.contains_key(d.as_str()))
            .cloned()
            .collect();
        (duplicates, orphans, missing)
    }
}

/// Every platform object the declared objects should have made, against the sandboxes' state.
pub async fn checks(objects: &[Value], sandbox: &HashMap<&str, String>) -> Vec<Check> {
    let names = |kind: &str, prefix: &str, f: &dyn Fn(&Value) -> String| -> Vec<String> {
        objects
            .iter()
            .filter(|o| {
                o["kind"] == kind && o["metadata"]["name"].as_str().unwrap().starts_with(prefix)
            })
            .map(f)
            .collect()
    };
    let s = |v: &Value| v.as_str().unwrap().to_string();
    let mut out = Vec::new();

    let opschain = state(&sandbox["opschain"]).await;
    let projects = records(&opschain["projects"]);
    out.push(Check::new(
        "OpsChain projects",
        names("Project", "oc-", &|o| s(&o["spec"]["opschain"]["code"])),
        projects.iter().filter_map(|p| field(p, "code")).collect(),
    ));
    let project_code: HashMap<String, String> = projects
        .iter()
        .filter_map(|p| Some((field(p, "id")?, field(p, "code")?)))
        .collect();
    out.push(Check::new(
        "OpsChain environments",
        names("Project", "oc-", &|o| s(&o["spec"]["opschain"]["code"]))
            .into_iter()
            .flat_map(|p| [format!("{p}/dev"), format!("{p}/prod")]),
        records(&opschain["environments"])
            .iter()
            .filter_map(|e| {
                let project = project_code.get(&field(e, "project_id")?)?;
                Some(format!("{project}/{}", field(e, "code")?))
            })
            .collect(),
    ));
    out.push(Check::new(
        "OpsChain workflows",
        names("Workflow", "wf-", &|o| s(&o["spec"]["opschain"]["code"])),
        records(&opschain["workflows"])
            .iter()
            .filter_map(|w| field(w, "code"))
            .collect(),
    ));

    let cycloid = state(&sandbox["cycloid"]).await;
    let org = records(&cycloid["organizations"])
        .into_iter()
        .find(|o| o["canonical"] == "acme")
        .cloned()
        .unwrap_or_default();
    out.push(Check::new(
        "Cycloid projects",
        names("Project", "cy", &|o| s(&o["spec"]["cycloid"]["canonical"])),
        records(&org["projects"])
            .iter()
            .filter_map(|p| field(p, "canonical"))
            .collect(),
    ));

    let choreo = state(&sandbox["choreo"]).await;
    out.push(Check::new(
        "Choreo projects",
        names("Project", "ch-", &|o| s(&o["spec"]["choreo"]["name"])),
        records(&choreo["projects"])
            .iter()
            .filter_map(|p| field(p, "name"))
            .collect(),
    ));
    out.push(Check::new(
        "Choreo components",
        names("Component", "chc-", &|o| s(&o["spec"]["choreo"]["name"])),
        records(&choreo["components"])
            .iter()
            .filter_map(|c| field(c, "name"))
            .collect(),
    ));

    let frends = state(&sandbox["frends"]).await;
    out.push(Check::new(
        "Frends API specifications",
        names("ApiSpec", "fr-", &|o| s(&o["spec"]["frends"]["basePath"])),
        records(&frends["specifications"])
            .iter()
            .filter_map(|p| field(p, "basePath"))
            .collect(),
    ));

    let api7 = state(&sandbox["api7"]).await;
    let apps = records(&api7["applications"]);
    let app_name: HashMap<String, String> = apps
        .iter()
        .filter_map(|a| Some((field(a, "id")?, a["spec"]["name"].as_str()?.to_string())))
        .collect();
    let gateways = names("GatewayApplication", "gw-", &|o| s(&o["spec"]["name"]));
    let imports = names("ApiSpec", "a7-", &|o| {
        let doc: Value =
            serde_yaml_ng::from_str(o["spec"]["definition"]["inline"].as_str().unwrap()).unwrap();
        s(&doc["info"]["title"])
    });
    out.push(Check::new(
        "API7 applications",
        gateways.iter().cloned().chain(imports),
        apps.iter()
            .filter_map(|a| a["spec"]["name"].as_str().map(String::from))
            .collect(),
    ));
    out.push(Check::new(
        "API7 gateway APIs",
        gateways.iter().map(|g| format!("{g}/list")),
        records(&api7["apis"])
            .iter()
            .filter_map(|a| {
                let app = app_name.get(&field(a, "app_id")?)?;
                app.starts_with("gw-")
                    .then(|| format!("{app}/{}", a["spec"]["name"].as_str().unwrap_or("?")))
            })
            .collect(),
    ));
    out.push(Check::new(
        "API7 canary releases",
        objects
            .iter()
            .filter(|o| o["spec"]["canary"].is_object())
            .map(|o| {
                format!(
                    "{}/{}",
                    s(&o["spec"]["name"]),
                    s(&o["spec"]["canary"]["name"])
                )
            }),
        records(&api7["canary_releases"])
            .iter()
            .filter_map(|r| {
                let app = app_name.get(&field(r, "app_id")?)?;
                Some(format!("{app}/{}", r["spec"]["name"].as_str()?))
            })
            .collect(),
    ));
    out
}

/// Compares, prints one line per kind of platform object, and returns the number of duplicates
/// and a description of every mismatch (duplicates, orphans, missing).
pub async fn verify(objects: &[Value], sandbox: &HashMap<&str, String>) -> (usize, Vec<String>) {
    let mut duplicates = 0;
    let mut failures = Vec::new();
    for check in checks(objects, sandbox).await {
        let (dups, orphans, missing) = check.tally();
        duplicates += dups.len();
        eprintln!(
            "{}: {} declared, {} held, {} duplicates, {} orphans, {} missing",
            check.what,
            check.declared.len(),
            check.held.len(),
            dups.len(),
            orphans.len(),
            missing.len()
        );
        if !(dups.is_empty() && orphans.is_empty() && missing.is_empty()) {
            failures.push(format!(
                "{}: duplicates {dups:?}, orphans {orphans:?}, missing {missing:?}",
                check.what
            ));
        }
    }

    (duplicates, failures)
}
