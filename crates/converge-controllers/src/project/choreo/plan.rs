//! The decisions (pure) for a project on choreo: what to create or change, from what the
//! platform shows and what the spec declares. `mod.rs` observes and writes.

use converge_platforms::choreo::{Environment, Project};

use converge_api::project::EnvironmentStatus;

/// The project an object names: by its recorded or external id when it has one, else by name.
pub fn select<'a>(projects: &'a [Project], name: &str, id: Option<&str>) -> Option<&'a Project> {
    match id {
        Some(id) => projects.iter().find(|p| p.id == id),
        None => projects.iter().find(|p| p.name == name),
    }
}

pub fn environment_status(environments: &[Environment]) -> Vec<EnvironmentStatus> {
    environments
        .iter()
        .map(|e| EnvironmentStatus {
            name: e.name.clone(),
            id: Some(e.id.clone()),
            kept: None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(id: &str, name: &str) -> Project {
        Project {
            id: id.into(),
            name: name.into(),
            description: None,
            org_id: None,
            created_at: None,
        }
    }

    #[test]
    fn selects_by_id_when_known_else_by_exact_name() {
        let ps = vec![p("1", "Shop"), p("2", "shop")];
        assert_eq!(
            select(&ps, "shop", None).unwrap().id,
            "2",
            "names are case-sensitive"
        );
        assert_eq!(select(&ps, "shop", Some("1")).unwrap().id, "1");
        assert!(select(&ps, "shop", Some("9")).is_none());
        assert!(select(&ps, "Cart", None).is_none());
    }
}
