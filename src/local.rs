//! `converge local`: read manifests with no cluster and no accounts, check them, and list what
//! converging them would drive.

use std::fmt::Write as _;
use std::path::Path;

use crate::manifests::{self, Located, Manifest};

/// One row of the table `converge local` prints.
#[derive(Debug, PartialEq, Eq)]
pub struct Row {
    pub object: String,
    pub platform: String,
    pub connection: String,
    pub plan: String,
}

/// What converging one object would drive on its platform, in a few words.
pub fn describe(m: &Manifest) -> Option<Row> {
    let row = |object: String, platform: &str, connection: &str, plan: String| Row {
        object,
        platform: platform.to_string(),
        connection: connection.to_string(),
        plan,
    };
    let platform = m.platform().unwrap_or("?");
    Some(match m {
        Manifest::Connection(c) => row(
            m.display_name(),
            platform,
            "-",
            format!("check credentials at {}", c.spec.endpoint),
        ),
        Manifest::Project(p) => {
            let s = &p.spec;
            let plan = if let Some(c) = &s.choreo {
                format!("project {:?}", c.name)
            } else if let Some(c) = &s.cycloid {
                format!(
                    "project {} with {} environment(s)",
                    c.canonical,
                    c.environments.len()
                )
            } else if let Some(o) = &s.opschain {
                format!(
                    "project {} with {} environment(s)",
                    o.code,
                    o.environments.len()
                )
            } else {
                "nothing: no platform block".into()
            };
            row(m.display_name(), platform, &s.connection_ref.name, plan)
        }
        Manifest::Component(c) => {
            let s = &c.spec;
            let plan = if let Some(ch) = &s.choreo {
                let build = ch.revision.as_ref().map(|r| {
                    format!(
                        ", build {}",
                        r.commit
                            .as_deref()
                            .or(r.branch.as_deref())
                            .unwrap_or_default()
                    )
                });
                format!(
                    "component {:?}{}, deploy to {}",
                    ch.name,
                    build.unwrap_or_default(),
                    list(ch.deployments.iter().map(|d| d.environment.as_str()))
                )
            } else if let Some(cy) = &s.cycloid {
                format!(
                    "component {} from {} with pipeline(s) {}",
                    cy.canonical,
                    cy.stack_ref,
                    list(cy.pipelines.iter().map(|p| p.name.as_str()))
                )
            } else {
                "nothing: no platform block".into()
            };
            row(m.display_name(), platform, &s.connection_ref.name, plan)
        }
        Manifest::ApiSpec(a) => {
            let s = &a.spec;
            let plan = if let Some(f) = &s.frends {
                format!(
                    "specification at {}{}, deploy to agent group(s) {}",
                    f.base_path,
                    if f.publish.is_some() { ", publish" } else { "" },
                    list(f.deployments.iter().map(|d| d.agent_group_id.to_string()))
                )
            } else if s.api7.is_some() {
                "import as an application".into()
            } else if let Some(c) = &s.choreo {
                format!(
                    "observe API {}",
                    c.api_id
                        .as_deref()
                        .or(c.name.as_deref())
                        .unwrap_or_default()
                )
            } else {
                "nothing: no platform block".into()
            };
            row(m.display_name(), platform, &s.connection_ref.name, plan)
        }
        Manifest::Gateway(g) => {
            let s = &g.spec;
            let canary = s.canary.as_ref().map(|c| {
                format!(
                    ", canary to {} in steps {}",
                    c.upstream_version,
                    list(c.steps.iter().map(|st| format!("{}%", st.weight)))
                )
            });
            let plan = format!(
                "application {:?} with {} API(s){}",
                s.name,
                s.apis.len(),
                canary.unwrap_or_default()
            );
            row(m.display_name(), platform, &s.connection_ref.name, plan)
        }
        Manifest::Workflow(w) => {
            let s = &w.spec;
            let plan = if let Some(o) = &s.opschain {
                format!("workflow {} with {} step(s)", o.code, o.steps.len())
            } else if let Some(c) = &s.cycloid {
                format!("build job {}/{}", c.pipeline, c.job)
            } else {
                "nothing: no platform block".into()
            };
            row(m.display_name(), platform, &s.connection_ref.name, plan)
        }
        Manifest::Secret(_) | Manifest::ConfigMap(_) | Manifest::Other { .. } => return None,
    })
}

fn list<S: AsRef<str>>(items: impl Iterator<Item = S>) -> String {
    let v: Vec<String> = items.map(|s| s.as_ref().to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

/// Formats rows as an aligned table.
pub fn table(rows: &[Row]) -> String {
    let header = Row {
        object: "OBJECT".into(),
        platform: "PLATFORM".into(),
        connection: "CONNECTION".into(),
        plan: "WOULD CONVERGE".into(),
    };
    let all: Vec<&Row> = std::iter::once(&header).chain(rows).collect();
    let w0 = all.iter().map(|r| r.object.len()).max().unwrap_or(0);
    let w1 = all.iter().map(|r| r.platform.len()).max().unwrap_or(0);
    let w2 = all.iter().map(|r| r.connection.len()).max().unwrap_or(0);
    let mut out = String::new();
    for r in all {
        let _ = writeln!(
            out,
            "{:w0$}  {:w1$}  {:w2$}  {}",
            r.object, r.platform, r.connection, r.plan
        );
    }
    out
}

/// Runs the command; returns whether every manifest was valid.
pub fn run(path: &Path) -> anyhow::Result<bool> {
    let loaded: Vec<Located> = manifests::load(path)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for l in &loaded {
        if let Err(errors) = l.manifest.validate() {
            for e in errors {
                problems.push(format!(
                    "{} ({}): {e}",
                    l.manifest.display_name(),
                    l.source.display()
                ));
            }
            continue;
        }
        rows.extend(describe(&l.manifest));
    }
    print!("{}", table(&rows));
    let objects = loaded
        .iter()
        .filter(|l| l.manifest.is_converge_object())
        .count();
    println!("\n{objects} Converge object(s) in {}", path.display());
    for p in &problems {
        eprintln!("invalid: {p}");
    }
    Ok(problems.is_empty())
}
