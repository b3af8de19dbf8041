//! Seed data: the defaults a fresh sandbox starts with (what `examples/cycloid/` needs) and
//! the JSON `POST /_sandbox/seed` takes.
//!
//! ```json
//! {
//!   "organizations": [{
//!     "canonical": "globex", "name": "Globex",
//!     "members": [{"username": "jane", "email": "jane@globex.test",
//!                  "given_name": "Jane", "family_name": "Doe"}],
//!     "teams": [{"canonical": "platform", "name": "Platform"}]
//!   }],
//!   "config_repositories": [{
//!     "organization": "globex", "canonical": "globex-config", "name": "Globex config",
//!     "url": "git@github.com:globex/config.git", "branch": "main",
//!     "default": true, "credential_canonical": "globex-git"
//!   }],
//!   "stacks": [{
//!     "ref": "globex:stack-web", "name": "Web", "author": "Globex",
//!     "description": "A web app", "keywords": ["web"],
//!     "use_cases": ["default", {"use_case": "prod", "name": "Production",
//!                               "description": "HA", "cloud_provider": "aws"}]
//!   }],
//!   "projects": [{
//!     "organization": "globex", "canonical": "legacy", "name": "Legacy",
//!     "description": "", "config_repository_canonical": "globex-config",
//!     "environments": [{"canonical": "prod", "name": "Production", "color": "red"}]
//!   }]
//! }
//! ```
//!
//! Every key is optional. An organization without `members` gets an `admin` user (the owner
//! of projects created without `owner`). Seeding is all or nothing: an invalid or duplicate
//! entry leaves the state unchanged and answers 400 with the reason.

use jiff::Timestamp;
use serde::Deserialize;

use super::model::{
    ConfigRepository, Environment, Organization, Project, Stack, State, Team, UseCase, User,
};
use super::validate::{Pattern, is_git_url};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Seed {
    organizations: Vec<OrgSeed>,
    config_repositories: Vec<ConfigRepositorySeed>,
    stacks: Vec<StackSeed>,
    projects: Vec<ProjectSeed>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OrgSeed {
    canonical: String,
    name: String,
    #[serde(default)]
    members: Vec<MemberSeed>,
    #[serde(default)]
    teams: Vec<TeamSeed>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberSeed {
    username: String,
    email: String,
    #[serde(default)]
    given_name: String,
    #[serde(default)]
    family_name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TeamSeed {
    canonical: String,
    name: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigRepositorySeed {
    organization: String,
    canonical: String,
    name: String,
    url: String,
    branch: String,
    #[serde(default)]
    default: bool,
    credential_canonical: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StackSeed {
    #[serde(rename = "ref")]
    reference: String,
    name: String,
    #[serde(default)]
    author: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    keywords: Vec<String>,
    use_cases: Vec<UseCaseSeed>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum UseCaseSeed {
    Name(String),
    Full {
        use_case: String,
        #[serde(default)]
        name: Option<String>,
        #[serde(default)]
        description: String,
        #[serde(default)]
        cloud_provider: Option<String>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProjectSeed {
    organization: String,
    canonical: String,
    name: String,
    #[serde(default)]
    description: String,
    config_repository_canonical: String,
    #[serde(default)]
    environments: Vec<EnvironmentSeed>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EnvironmentSeed {
    canonical: String,
    name: String,
    #[serde(default)]
    color: String,
}

/// Applies seed JSON (shape in the module doc), all or nothing.
pub fn apply(state: &mut State, seed: serde_json::Value) -> Result<(), String> {
    let seed: Seed = serde_json::from_value(seed).map_err(|e| format!("invalid seed: {e}"))?;
    let mut next = state.clone();
    let now = Timestamp::now();
    for o in seed.organizations {
        add_organization(&mut next, o, now)?;
    }
    for c in seed.config_repositories {
        add_config_repository(&mut next, c, now)?;
    }
    for s in seed.stacks {
        add_stack(&mut next, s, now)?;
    }
    for p in seed.projects {
        add_project(&mut next, p, now)?;
    }
    *state = next;
    Ok(())
}

/// Organization `acme` (user `admin`, team `platform`), its default config repository
/// `acme-config`, and the stacks the examples use (`cycloidio:stack-docker`...).
pub fn defaults(state: &mut State) {
    let seed = serde_json::json!({
        "organizations": [{
            "canonical": "acme",
            "name": "Acme",
            "teams": [{"canonical": "platform", "name": "Platform"}],
        }],
        "config_repositories": [{
            "organization": "acme",
            "canonical": "acme-config",
            "name": "Acme config",
            "url": "git@github.com:acme/acme-config.git",
            "branch": "main",
            "default": true,
            "credential_canonical": "acme-git",
        }],
        "stacks": [
            {
                "ref": "cycloidio:stack-docker",
                "name": "Docker",
                "author": "Cycloid",
                "description": "Run a containerized application with Docker",
                "keywords": ["docker", "container"],
                "use_cases": ["default"],
            },
            {
                "ref": "cycloidio:stack-magento",
                "name": "Magento",
                "author": "Cycloid",
                "description": "Magento e-commerce on virtual machines",
                "keywords": ["magento", "php"],
                "use_cases": [
                    {"use_case": "default", "name": "Default", "cloud_provider": "aws"},
                    {"use_case": "high-availability", "name": "High availability", "cloud_provider": "aws"},
                ],
            },
            {
                "ref": "cycloidio:stack-kubernetes",
                "name": "Kubernetes",
                "author": "Cycloid",
                "description": "A Kubernetes cluster",
                "keywords": ["kubernetes"],
                "use_cases": [
                    {"use_case": "eks", "name": "EKS", "cloud_provider": "aws"},
                    {"use_case": "gke", "name": "GKE", "cloud_provider": "google"},
                ],
            },
        ],
    });
    apply(state, seed).expect("the default seed is valid");
}

fn check(pattern: Pattern, what: &str, value: &str, max: usize) -> Result<(), String> {
    if pattern.matches(value) && value.chars().count() <= max {
        Ok(())
    } else {
        Err(format!(
            "{what} {value:?} should match '{}'",
            pattern.source()
        ))
    }
}

fn add_organization(state: &mut State, o: OrgSeed, now: Timestamp) -> Result<(), String> {
    check(
        Pattern::Canonical,
        "organization canonical",
        &o.canonical,
        100,
    )?;
    if state
        .organizations
        .iter()
        .any(|x| x.canonical == o.canonical)
    {
        return Err(format!("organization {:?} already exists", o.canonical));
    }
    let id = state.next_id("organization");
    let mut members = Vec::new();
    let given = if o.members.is_empty() {
        vec![MemberSeed {
            username: "admin".into(),
            email: format!("admin@{}.test", o.canonical),
            given_name: o.name.clone(),
            family_name: "Admin".into(),
        }]
    } else {
        o.members
    };
    for m in given {
        if m.username.is_empty() || members.iter().any(|u: &User| u.username == m.username) {
            return Err(format!("member {:?} is empty or repeated", m.username));
        }
        // Cycloid's user names are at least 2 characters: a member seeded without them gets
        // the username and "Member".
        let named = |n: String, default: &str| {
            if n.chars().count() >= 2 {
                n
            } else {
                default.to_string()
            }
        };
        let given_name = named(m.given_name, &format!("{:.<2}", m.username));
        members.push(User {
            id: state.next_id("user"),
            username: m.username,
            email: m.email,
            given_name,
            family_name: named(m.family_name, "Member"),
            created_at: now,
        });
    }
    let mut teams: Vec<Team> = Vec::new();
    for t in o.teams {
        check(Pattern::Canonical, "team canonical", &t.canonical, 100)?;
        if teams.iter().any(|x| x.canonical == t.canonical) {
            return Err(format!("team {:?} is repeated", t.canonical));
        }
        teams.push(Team {
            id: state.next_id("team"),
            canonical: t.canonical,
            name: t.name,
            created_at: now,
        });
    }
    state.organizations.push(Organization {
        id,
        canonical: o.canonical,
        name: o.name,
        created_at: now,
        members,
        teams,
        config_repositories: Vec::new(),
        projects: Vec::new(),
        events: Vec::new(),
    });
    Ok(())
}

fn add_config_repository(
    state: &mut State,
    c: ConfigRepositorySeed,
    now: Timestamp,
) -> Result<(), String> {
    check(
        Pattern::Canonical,
        "config repository canonical",
        &c.canonical,
        100,
    )?;
    check(
        Pattern::Canonical,
        "credential canonical",
        &c.credential_canonical,
        100,
    )?;
    if !is_git_url(&c.url) {
        return Err(format!(
            "config repository url {:?} is not a Git URL",
            c.url
        ));
    }
    let id = state.next_id("config_repository");
    let org = state
        .org_mut(&c.organization)
        .map_err(|_| format!("organization {:?} does not exist", c.organization))?;
    if org.config_repository(&c.canonical).is_some() {
        return Err(format!(
            "config repository {:?} already exists",
            c.canonical
        ));
    }
    if c.default {
        org.config_repositories
            .iter_mut()
            .for_each(|r| r.default = false);
    }
    org.config_repositories.push(ConfigRepository {
        id,
        canonical: c.canonical,
        name: c.name,
        url: c.url,
        branch: c.branch,
        default: c.default,
        credential_canonical: c.credential_canonical,
        created_at: now,
        updated_at: now,
    });
    Ok(())
}

fn add_stack(state: &mut State, s: StackSeed, now: Timestamp) -> Result<(), String> {
    let Some((org, canonical)) = s.reference.split_once(':') else {
        return Err(format!(
            "stack ref {:?} should be organization:canonical",
            s.reference
        ));
    };
    check(Pattern::Canonical, "stack organization", org, 100)?;
    check(Pattern::Canonical, "stack canonical", canonical, 100)?;
    if state.stack(&s.reference).is_some() {
        return Err(format!("stack {:?} already exists", s.reference));
    }
    if s.use_cases.is_empty() {
        return Err(format!(
            "stack {:?} needs at least one use case",
            s.reference
        ));
    }
    let mut use_cases: Vec<UseCase> = Vec::new();
    for u in s.use_cases {
        let u = match u {
            UseCaseSeed::Name(n) => UseCase {
                name: n.clone(),
                use_case: n,
                description: String::new(),
                cloud_provider: None,
            },
            UseCaseSeed::Full {
                use_case,
                name,
                description,
                cloud_provider,
            } => UseCase {
                name: name.unwrap_or_else(|| use_case.clone()),
                use_case,
                description,
                cloud_provider,
            },
        };
        check(Pattern::ProjectCanonical, "use case", &u.use_case, 100)?;
        if use_cases.iter().any(|x| x.use_case == u.use_case) {
            return Err(format!("use case {:?} is repeated", u.use_case));
        }
        use_cases.push(u);
    }
    let id = state.next_id("stack");
    state.stacks.push(Stack {
        id,
        organization_canonical: org.to_string(),
        canonical: canonical.to_string(),
        name: s.name,
        author: s.author,
        description: s.description,
        keywords: s.keywords,
        use_cases,
        created_at: now,
    });
    Ok(())
}

fn add_project(state: &mut State, p: ProjectSeed, now: Timestamp) -> Result<(), String> {
    check(
        Pattern::ProjectCanonical,
        "project canonical",
        &p.canonical,
        100,
    )?;
    let id = state.next_id("project");
    let mut environments: Vec<Environment> = Vec::new();
    for e in p.environments {
        check(
            Pattern::EnvCanonical,
            "environment canonical",
            &e.canonical,
            100,
        )?;
        if environments.iter().any(|x| x.canonical == e.canonical) {
            return Err(format!("environment {:?} is repeated", e.canonical));
        }
        environments.push(Environment {
            id: state.next_id("environment"),
            canonical: e.canonical,
            name: e.name,
            color: e.color,
            created_at: now,
            updated_at: now,
            components: Vec::new(),
        });
    }
    let org = state
        .org_mut(&p.organization)
        .map_err(|_| format!("organization {:?} does not exist", p.organization))?;
    if org
        .config_repository(&p.config_repository_canonical)
        .is_none()
    {
        return Err(format!(
            "config repository {:?} does not exist",
            p.config_repository_canonical
        ));
    }
    if org.projects.iter().any(|x| x.canonical == p.canonical) {
        return Err(format!("project {:?} already exists", p.canonical));
    }
    let owner = org.members.first().map(|u| u.username.clone());
    org.projects.push(Project {
        id,
        canonical: p.canonical,
        name: p.name,
        description: p.description,
        color: "default".into(),
        icon: "extension".into(),
        owner,
        team: None,
        config_repository_canonical: Some(p.config_repository_canonical),
        cloud_provider: None,
        created_at: now,
        updated_at: now,
        environments,
    });
    Ok(())
}
