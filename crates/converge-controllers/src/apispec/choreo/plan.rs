//! The decisions (pure) for a apispec on choreo: what to create or change, from what the
//! platform shows and what the spec declares. `mod.rs` observes and writes.

use crate::apispec::reason;
use converge_api::apispec::ChoreoApi;
use converge_engine::Phase;
use converge_platforms::choreo::Api;

/// The one API the manifest names among those found (pure). `Err` says what to change.
pub fn pick(want: &ChoreoApi, mut found: Vec<Api>) -> Result<Api, Phase> {
    let what = match (&want.api_id, &want.name, &want.version) {
        (Some(id), _, _) => format!("id {id}"),
        (None, Some(n), Some(v)) => format!("{n:?} version {v:?}"),
        (None, Some(n), None) => format!("{n:?}"),
        (None, None, _) => "(no apiId or name)".into(),
    };
    match found.len() {
        0 => Err(Phase::stalled(
            reason::API_NOT_FOUND,
            format!(
                "Choreo has no API {what} in the connection's organization; create it on \
                 Choreo or fix spec.choreo (Converge only observes Choreo APIs)"
            ),
        )),
        1 => Ok(found.remove(0)),
        _ => {
            let versions: Vec<&str> = found.iter().map(|a| a.version.as_str()).collect();
            Err(Phase::stalled(
                reason::API_NOT_FOUND,
                format!(
                    "Choreo has {} APIs named {what} (versions {}); set spec.choreo.version",
                    found.len(),
                    versions.join(", ")
                ),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn api(version: &str) -> Api {
        serde_json::from_value(serde_json::json!({
            "id": format!("id-{version}"), "name": "Orders API", "version": version,
            "status": "Published", "visibility": "Public"
        }))
        .unwrap()
    }

    fn by_name(version: Option<&str>) -> ChoreoApi {
        ChoreoApi {
            api_id: None,
            name: Some("Orders API".into()),
            version: version.map(str::to_string),
        }
    }

    #[test]
    fn one_api_is_observed() {
        assert_eq!(pick(&by_name(None), vec![api("v1")]).unwrap().id, "id-v1");
    }

    #[test]
    fn none_or_several_say_what_to_change() {
        match pick(&by_name(Some("v9")), vec![]) {
            Err(Phase::Stalled { reason: r, message }) => {
                assert_eq!(r, reason::API_NOT_FOUND);
                assert!(
                    message.contains("\"Orders API\" version \"v9\""),
                    "{message}"
                );
            }
            other => panic!("{other:?}"),
        }
        match pick(&by_name(None), vec![api("v1"), api("v2")]) {
            Err(Phase::Stalled { message, .. }) => {
                assert!(message.contains("v1, v2") && message.contains("spec.choreo.version"))
            }
            other => panic!("{other:?}"),
        }
    }
}
