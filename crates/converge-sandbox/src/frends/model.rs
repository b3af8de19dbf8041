//! What the Frends sandbox stores, and the rules that change it (shared by the handlers and the
//! seed): specifications with numbered versions, agent groups, deployments, passthroughs.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::openapi::Document;
use super::problem::Problem;
use crate::Timing;

/// Everything the sandbox holds.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub agent_groups: BTreeMap<i64, AgentGroup>,
    pub specifications: BTreeMap<i64, Specification>,
    pub next_ids: NextIds,
}

/// Counters for ids; ids are never reused, as a database identity column would not.
#[derive(Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NextIds {
    pub specification: i64,
    pub version: i64,
    pub passthrough: i64,
}

fn next(counter: &mut i64) -> i64 {
    *counter += 1;
    *counter
}

/// An agent group (an environment's agents). Exactly one is the default: specifications are
/// created there and deleting one from it deletes it permanently.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentGroup {
    pub id: i64,
    pub name: String,
    pub is_default: bool,
}

/// An API specification.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Specification {
    pub id: i64,
    /// The base path / server URL declared at creation; it can never change.
    pub base_path: String,
    pub created: Timestamp,
    /// The editable version; every other version is published (locked, deployable).
    pub active_version: i32,
    pub versions: BTreeMap<i32, Version>,
    /// Agent group id → the version deployed there.
    pub deployments: BTreeMap<i64, Deployment>,
}

/// One version of a specification.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Version {
    /// The version's row id (`apiVersionId` of its passthrough configurations).
    pub id: i64,
    pub version: i32,
    pub document: String,
    pub name: String,
    pub description: Option<String>,
    /// Path template → methods with an operation, from the document.
    pub operations: BTreeMap<String, Vec<String>>,
    pub modified: Timestamp,
    /// Set when the version was published: it is then locked and deployable.
    pub published: Option<Publication>,
    pub passthroughs: Vec<Passthrough>,
}

#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Publication {
    pub at: Timestamp,
    pub change_description: Option<String>,
}

/// A version deployed to an agent group. Deploying only begins it: it is `Deploying` for one
/// timing step, then `Deployed`, or `Failed` when it was marked to fail.
#[derive(Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Deployment {
    pub version: i32,
    pub started: Timestamp,
    pub fails: bool,
}

impl Deployment {
    pub fn status(&self, timing: &Timing, now: Timestamp) -> &'static str {
        match (timing.stage(self.started, now, 2), self.fails) {
            (0, _) => "Deploying",
            (_, false) => "Deployed",
            (_, true) => "Failed",
        }
    }
}

/// An API passthrough configuration: requests forwarded to another server.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Passthrough {
    pub id: i64,
    pub modifier: String,
    pub modified: Timestamp,
    pub path: Option<String>,
    pub method: Option<String>,
    pub is_default: bool,
    pub settings: PassthroughSettings,
}

/// The editable part of a passthrough (ApiPassthroughEditModel).
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PassthroughSettings {
    pub cors_enabled: bool,
    pub target_url: TargetUrl,
    pub headers: Vec<Header>,
    pub allowed_origins: Vec<String>,
}

/// ApiPassthroughTarget.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(rename_all = "camelCase")]
pub struct TargetUrl {
    pub server: String,
    pub base_path: Option<String>,
    pub operation_path: Option<String>,
    pub query: Option<String>,
}

/// ApiPassthroughHeader.
#[derive(Clone, Serialize, Deserialize, PartialEq, Debug)]
#[serde(rename_all = "camelCase")]
pub struct Header {
    pub action: String,
    pub name: String,
    pub value: Option<String>,
}

/// Which passthrough a new one must not duplicate within a version.
pub enum PassthroughKey {
    Default,
    Operation { path: String, method: String },
}

impl State {
    pub fn default_agent_group(&self) -> Option<&AgentGroup> {
        self.agent_groups.values().find(|g| g.is_default)
    }

    pub fn agent_group(&self, id: i64) -> Result<&AgentGroup, Problem> {
        self.agent_groups
            .get(&id)
            .ok_or_else(|| Problem::not_found(format!("Agent group {id} was not found.")))
    }

    pub fn specification(&self, id: i64) -> Result<&Specification, Problem> {
        self.specifications
            .get(&id)
            .ok_or_else(|| Problem::not_found(format!("API specification {id} was not found.")))
    }

    fn specification_mut(&mut self, id: i64) -> Result<&mut Specification, Problem> {
        self.specifications
            .get_mut(&id)
            .ok_or_else(|| Problem::not_found(format!("API specification {id} was not found.")))
    }

    /// Creates version 1 of a new specification in the default agent group. `id` pins the id
    /// (seed data only).
    pub fn create(
        &mut self,
        text: &str,
        doc: Document,
        id: Option<i64>,
        now: Timestamp,
    ) -> Result<i64, Problem> {
        let key = doc.path_key();
        if self
            .specifications
            .values()
            .any(|s| super::openapi::path_key(&s.base_path) == key)
        {
            return Err(Problem::conflict(format!(
                "A path is already used in an existing API: {}",
                doc.base_path
            )));
        }
        let id = match id {
            Some(id) if self.specifications.contains_key(&id) => {
                return Err(Problem::conflict(format!(
                    "API specification {id} already exists."
                )));
            }
            Some(id) => {
                self.next_ids.specification = self.next_ids.specification.max(id);
                id
            }
            None => next(&mut self.next_ids.specification),
        };
        let version = Version {
            id: next(&mut self.next_ids.version),
            version: 1,
            document: text.to_string(),
            name: doc.name.clone(),
            description: doc.description.clone(),
            operations: operations(&doc),
            modified: now,
            published: None,
            passthroughs: vec![],
        };
        self.specifications.insert(
            id,
            Specification {
                id,
                base_path: doc.base_path,
                created: now,
                active_version: 1,
                versions: BTreeMap::from([(1, version)]),
                deployments: BTreeMap::new(),
            },
        );
        Ok(id)
    }

    /// Replaces the active version's document; the base path must stay what it was.
    pub fn update(
        &mut self,
        id: i64,
        text: &str,
        doc: Document,
        now: Timestamp,
    ) -> Result<(), Problem> {
        let spec = self.specification_mut(id)?;
        if doc.base_path != spec.base_path {
            return Err(Problem::invalid(
                "basePath",
                format!(
                    "The base path (OpenAPI 2) / server URL (OpenAPI 3) cannot be modified: it is {}, the update has {}.",
                    spec.base_path, doc.base_path
                ),
            ));
        }
        let active = spec.active_version;
        let version = spec
            .versions
            .get_mut(&active)
            .expect("the active version exists");
        version.document = text.to_string();
        version.name = doc.name.clone();
        version.description = doc.description.clone();
        version.operations = operations(&doc);
        version.modified = now;
        Ok(())
    }

    /// Locks the active version and makes a copy of it (with its passthroughs) the new active one.
    pub fn publish(
        &mut self,
        id: i64,
        change_description: Option<String>,
        now: Timestamp,
    ) -> Result<(), Problem> {
        // Borrow the specification and the id counters as the two fields they are.
        let spec = self
            .specifications
            .get_mut(&id)
            .ok_or_else(|| Problem::not_found(format!("API specification {id} was not found.")))?;
        let ids = &mut self.next_ids;
        let active = spec.active_version;
        let locked = spec
            .versions
            .get_mut(&active)
            .expect("the active version exists");
        locked.published = Some(Publication {
            at: now,
            change_description,
        });
        let mut copy = locked.clone();
        copy.id = next(&mut ids.version);
        copy.version = active + 1;
        copy.published = None;
        copy.modified = now;
        for p in &mut copy.passthroughs {
            p.id = next(&mut ids.passthrough);
        }
        spec.versions.insert(active + 1, copy);
        spec.active_version = active + 1;
        Ok(())
    }

    /// Begins deploying a published version to an agent group (replacing what was there).
    pub fn deploy(
        &mut self,
        id: i64,
        version: i32,
        group: i64,
        now: Timestamp,
        fails: bool,
    ) -> Result<(), Problem> {
        self.agent_group(group)?;
        let spec = self.specification_mut(id)?;
        let v = version_of(spec, version)?;
        if v.published.is_none() {
            return Err(Problem::conflict(format!(
                "Version {version} of API specification {id} is not deployable: only published versions can be deployed. Publish the active version first."
            )));
        }
        let unchanged = spec
            .deployments
            .get(&group)
            .is_some_and(|d| d.version == version && !d.fails);
        if !unchanged {
            spec.deployments.insert(
                group,
                Deployment {
                    version,
                    started: now,
                    fails,
                },
            );
        }
        Ok(())
    }

    /// Removes a specification from an agent group; from the default group this deletes it
    /// permanently, which is refused while it is still in any other group.
    pub fn remove_from_group(&mut self, id: i64, group: i64) -> Result<(), Problem> {
        let is_default = self.agent_group(group)?.is_default;
        let spec = self.specification_mut(id)?;
        if !is_default {
            return match spec.deployments.remove(&group) {
                Some(_) => Ok(()),
                None => Err(Problem::not_found(format!(
                    "API specification {id} is not in agent group {group}."
                ))),
            };
        }
        let others: Vec<String> = spec
            .deployments
            .keys()
            .filter(|g| **g != group)
            .map(i64::to_string)
            .collect();
        if !others.is_empty() {
            return Err(Problem::conflict(format!(
                "To delete API specification {id} from the default Agent group, it must first be deleted from all other Agent groups (still in: {}).",
                others.join(", ")
            )));
        }
        self.specifications.remove(&id);
        Ok(())
    }

    /// Adds a passthrough to an editable version.
    pub fn add_passthrough(
        &mut self,
        id: i64,
        version: i32,
        key: PassthroughKey,
        settings: PassthroughSettings,
        modifier: String,
        now: Timestamp,
    ) -> Result<i64, Problem> {
        let passthrough_id = self.next_ids.passthrough + 1;
        let spec = self.specification_mut(id)?;
        let v = editable_version(spec, version)?;
        let (path, method) = match key {
            PassthroughKey::Default => {
                if v.passthroughs.iter().any(|p| p.is_default) {
                    return Err(Problem::conflict(format!(
                        "Version {version} of API specification {id} already has a default passthrough configuration."
                    )));
                }
                (None, None)
            }
            PassthroughKey::Operation { path, method } => {
                let Some(methods) = v.operations.get(&path) else {
                    return Err(Problem::invalid(
                        "path",
                        format!(
                            "The path {path} is not in version {version} of the API specification."
                        ),
                    ));
                };
                if !methods.contains(&method) {
                    return Err(Problem::invalid(
                        "method",
                        format!(
                            "The path {path} has no {method} operation in version {version} of the API specification."
                        ),
                    ));
                }
                if v.passthroughs.iter().any(|p| {
                    p.path.as_deref() == Some(path.as_str())
                        && p.method.as_deref() == Some(method.as_str())
                }) {
                    return Err(Problem::conflict(format!(
                        "Version {version} of API specification {id} already has a passthrough configuration for {method} {path}."
                    )));
                }
                (Some(path), Some(method))
            }
        };
        v.passthroughs.push(Passthrough {
            id: passthrough_id,
            modifier,
            modified: now,
            is_default: path.is_none(),
            path,
            method,
            settings,
        });
        self.next_ids.passthrough = passthrough_id;
        Ok(passthrough_id)
    }

    /// Replaces the editable settings of a passthrough of an editable version.
    pub fn update_passthrough(
        &mut self,
        id: i64,
        version: i32,
        passthrough: i64,
        settings: PassthroughSettings,
        modifier: String,
        now: Timestamp,
    ) -> Result<(Passthrough, i64), Problem> {
        let spec = self.specification_mut(id)?;
        let index = passthrough_index(spec, version, passthrough)?;
        let v = editable_version(spec, version)?;
        let p = &mut v.passthroughs[index];
        p.settings = settings;
        p.modifier = modifier;
        p.modified = now;
        Ok((p.clone(), v.id))
    }

    /// Deletes a passthrough of an editable version.
    pub fn delete_passthrough(
        &mut self,
        id: i64,
        version: i32,
        passthrough: i64,
    ) -> Result<(), Problem> {
        let spec = self.specification_mut(id)?;
        let index = passthrough_index(spec, version, passthrough)?;
        editable_version(spec, version)?.passthroughs.remove(index);
        Ok(())
    }
}

/// Where a passthrough is in its version's list, or a 404.
fn passthrough_index(
    spec: &Specification,
    version: i32,
    passthrough: i64,
) -> Result<usize, Problem> {
    version_of(spec, version)?
        .passthroughs
        .iter()
        .position(|p| p.id == passthrough)
        .ok_or_else(|| {
            Problem::not_found(format!(
                "API passthrough configuration {passthrough} was not found in version {version} of API specification {}.",
                spec.id
            ))
        })
}

/// The version asked for, or a 404.
pub fn version_of(spec: &Specification, version: i32) -> Result<&Version, Problem> {
    spec.versions.get(&version).ok_or_else(|| {
        Problem::not_found(format!(
            "Version {version} of API specification {} was not found.",
            spec.id
        ))
    })
}

/// The version asked for if it can still be changed (it is not published), else 404 or 409.
pub fn editable_version(spec: &mut Specification, version: i32) -> Result<&mut Version, Problem> {
    let id = spec.id;
    let v = spec.versions.get_mut(&version).ok_or_else(|| {
        Problem::not_found(format!(
            "Version {version} of API specification {id} was not found."
        ))
    })?;
    if v.published.is_some() {
        return Err(Problem::conflict(format!(
            "Version {version} of API specification {id} is published and locked; change the active version instead."
        )));
    }
    Ok(v)
}

fn operations(doc: &Document) -> BTreeMap<String, Vec<String>> {
    doc.operations
        .iter()
        .map(|(p, m)| (p.clone(), m.iter().cloned().collect()))
        .collect()
}
