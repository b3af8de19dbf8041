//! Whose is a platform object found under this object's natural key (pure).
//!
//! Most platforms have no field to mark an object as Converge's, so ownership is recorded on the
//! Kubernetes side: the platform id in status once known, and `status.pendingCreate` (the
//! natural key) written before a create call. A controller that crashed between the create and
//! recording the id finds the object by its key, sees the pending create, and takes it as its
//! own: no duplicate, no stall.

use converge_api::common::policy::{AdoptionPolicy, Management};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Converge created it (recorded id, or a create in flight under this key).
    Ours,
    /// Someone else created it and the spec says to take it over.
    Adopted,
    /// Someone else created it and the spec does not say to adopt it.
    Conflict,
}

/// Decides whose the object `found_id`, found under `key`, is.
pub fn of(
    management: &Management,
    recorded_id: Option<&str>,
    pending_create: Option<&str>,
    key: &str,
    found_id: &str,
) -> Ownership {
    if recorded_id == Some(found_id) || pending_create == Some(key) {
        Ownership::Ours
    } else if management.external_id.as_deref() == Some(found_id)
        || management.adoption_policy == Some(AdoptionPolicy::Adopt)
    {
        Ownership::Adopted
    } else {
        Ownership::Conflict
    }
}

/// The Stalled message for a conflict: what exists, and the two ways out.
pub fn conflict_message(platform: &str, what: &str, key: &str, found_id: &str) -> String {
    format!(
        "{platform} already has a {what} {key:?} (id {found_id}) that Converge did not create. \
         To manage it, set spec.adoptionPolicy: Adopt or spec.externalId: {found_id:?}; \
         otherwise choose another name"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mgmt(adopt: bool, external: Option<&str>) -> Management {
        Management {
            adoption_policy: adopt.then_some(AdoptionPolicy::Adopt),
            external_id: external.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn a_recorded_id_is_ours() {
        assert_eq!(
            of(&mgmt(false, None), Some("7"), None, "shop", "7"),
            Ownership::Ours
        );
    }

    #[test]
    fn a_create_in_flight_under_the_same_key_is_ours() {
        assert_eq!(
            of(&mgmt(false, None), None, Some("shop"), "shop", "7"),
            Ownership::Ours
        );
        assert_eq!(
            of(&mgmt(false, None), None, Some("other"), "shop", "7"),
            Ownership::Conflict,
            "a pending create of another key proves nothing"
        );
    }

    #[test]
    fn someone_elses_object_is_adopted_only_when_asked() {
        assert_eq!(
            of(&mgmt(false, None), None, None, "shop", "7"),
            Ownership::Conflict
        );
        assert_eq!(
            of(&mgmt(true, None), None, None, "shop", "7"),
            Ownership::Adopted
        );
        assert_eq!(
            of(&mgmt(false, Some("7")), None, None, "shop", "7"),
            Ownership::Adopted
        );
        assert_eq!(
            of(&mgmt(false, Some("8")), None, None, "shop", "7"),
            Ownership::Conflict,
            "an externalId names one object, not any"
        );
    }

    #[test]
    fn a_recorded_id_of_another_object_does_not_make_this_one_ours() {
        assert_eq!(
            of(&mgmt(false, None), Some("6"), None, "shop", "7"),
            Ownership::Conflict
        );
    }

    #[test]
    fn the_conflict_message_says_what_to_do() {
        let m = conflict_message("Cycloid", "project", "shop", "shop");
        assert!(m.contains("adoptionPolicy: Adopt"));
        assert!(m.contains("externalId"));
    }
}
