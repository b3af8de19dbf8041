//! The registry of managed kinds: the one list the engine iterates for its caches, the
//! deletion order and the watches of referenced objects, and converge-controllers for the
//! controllers it runs. A new kind is added here (with its `Kind` impl); everything that must
//! handle it then fails to compile until it does.

/// Expands `$body` once per managed kind, with `$k` naming the kind's type, children before
/// parents: that is the deletion order (a Workflow names a Project and may name a Component;
/// a Component names a Project), so dependents are listed before what they depend on.
///
/// ```
/// let mut kinds = Vec::new();
/// converge_api::for_each_kind!(K => { kinds.push(K::KIND) });
/// assert_eq!(kinds, ["Workflow", "Component", "GatewayApplication", "ApiSpec", "Project"]);
/// ```
#[macro_export]
macro_rules! for_each_kind {
    ($k:ident => $body:block) => {{
        {
            #[allow(unused_imports)]
            use $crate::kind::Kind as _;
            type $k = $crate::workflow::Workflow;
            $body
        }
        {
            #[allow(unused_imports)]
            use $crate::kind::Kind as _;
            type $k = $crate::component::Component;
            $body
        }
        {
            #[allow(unused_imports)]
            use $crate::kind::Kind as _;
            type $k = $crate::gateway::GatewayApplication;
            $body
        }
        {
            #[allow(unused_imports)]
            use $crate::kind::Kind as _;
            type $k = $crate::apispec::ApiSpec;
            $body
        }
        {
            #[allow(unused_imports)]
            use $crate::kind::Kind as _;
            type $k = $crate::project::Project;
            $body
        }
    }};
}

/// Every managed kind's name, in the registry's order.
pub fn names() -> Vec<&'static str> {
    let mut names = Vec::new();
    crate::for_each_kind!(K => { names.push(K::KIND) });
    names
}

#[cfg(test)]
mod tests {
    use crate::kind::Watched;

    /// The deletion order holds only if every kind a kind may name comes after it.
    #[test]
    fn every_kind_comes_before_the_kinds_it_names() {
        let names = super::names();
        let mut seen: Vec<(&str, &[Watched])> = Vec::new();
        crate::for_each_kind!(K => { seen.push((K::KIND, K::WATCHES)) });
        let mut referable = Vec::new();
        crate::for_each_kind!(K => {
            if let Some(w) = K::REFERRED_AS {
                referable.push((w, K::KIND))
            }
        });
        for (position, (kind, watches)) in seen.iter().enumerate() {
            for w in watches.iter().filter(|w| **w != Watched::ConfigMap) {
                let (_, named) = referable
                    .iter()
                    .find(|(r, _)| r == w)
                    .unwrap_or_else(|| panic!("{kind} watches {w:?}, which no kind is"));
                let at = names.iter().position(|n| n == named).unwrap();
                assert!(
                    at > position,
                    "{kind} names {named}, so {named} must come after it"
                );
            }
        }
        assert_eq!(referable.len(), 3, "{referable:?}");
    }
}
