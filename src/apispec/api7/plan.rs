//! API7 Cloud decisions (pure): import, re-import when the definition changed, and the labels
//! and publish state of the imported application.
//!
//! The import only creates (a second import of a title is a 409), so a changed definition is
//! re-imported: the old application is deleted and the document imported again, which gives
//! the application a new id.

use crate::apispec::crd::Api7Import;
use crate::apispec::document::Document;
use crate::clients::api7::{Active, Application, ApplicationPatch};

/// What to do with the application itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AppWrite {
    Import,
    /// Delete this application and import the document again.
    Reimport {
        old: String,
    },
    Nothing,
}

pub fn app_write(
    existing: Option<&Application>,
    imported_hash: Option<&str>,
    doc: &Document,
) -> AppWrite {
    match existing {
        None => AppWrite::Import,
        Some(app) if imported_hash != Some(doc.hash.as_str()) => AppWrite::Reimport {
            old: app.id.clone(),
        },
        Some(_) => AppWrite::Nothing,
    }
}

/// The labels and publish state the manifest asks for, where the application differs. Labels
/// are owned by the manifest (the import adds none); published defaults to true, as imported.
pub fn settings_patch(want: &Api7Import, app: &Application) -> Option<ApplicationPatch> {
    let mut patch = ApplicationPatch::default();
    let mut labels: Vec<String> = want.labels.iter().map(|l| l.0.clone()).collect();
    labels.sort();
    labels.dedup();
    let mut have = app.spec.labels.clone();
    have.sort();
    if labels != have {
        patch.labels = Some(labels);
    }
    let published = want.published.unwrap_or(true);
    if app.spec.active != Active::from_published(published) {
        patch.active = Some(Active::from_published(published));
    }
    (patch != ApplicationPatch::default()).then_some(patch)
}

pub fn describe(patch: &ApplicationPatch) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(l) = &patch.labels {
        out.push(format!("set labels to [{}]", l.join(", ")));
    }
    if let Some(a) = &patch.active {
        out.push(if *a == Active::Published {
            "publish the application".to_string()
        } else {
            "unpublish the application".to_string()
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apispec::document::parse;
    use crate::common::schema::Api7Label;

    fn app(labels: &[&str], active: Active) -> Application {
        serde_json::from_value(serde_json::json!({
            "id": "42", "cluster_id": "2001", "status": 1,
            "name": "inventory", "hosts": ["*"], "path_prefix": "/",
            "upstreams": [{"version": "default", "upstream": {"targets": [{"host": "h", "port": 80}]}}],
            "labels": labels, "active": active.value(),
        }))
        .unwrap()
    }

    fn doc() -> Document {
        parse("openapi: 3.0.1\ninfo: {title: inventory, version: '1'}\nservers: [{url: 'http://h'}]\npaths: {}").unwrap()
    }

    #[test]
    fn imports_once_and_again_when_the_definition_changes() {
        let d = doc();
        assert_eq!(app_write(None, None, &d), AppWrite::Import);
        let a = app(&[], Active::Published);
        assert_eq!(app_write(Some(&a), Some(&d.hash), &d), AppWrite::Nothing);
        assert_eq!(
            app_write(Some(&a), Some("old"), &d),
            AppWrite::Reimport { old: "42".into() }
        );
        assert_eq!(
            app_write(Some(&a), None, &d),
            AppWrite::Reimport { old: "42".into() },
            "an adopted application's content is unknown"
        );
    }

    #[test]
    fn labels_and_publish_state_follow_the_manifest() {
        let want = Api7Import {
            labels: vec![Api7Label("b".into()), Api7Label("a".into())],
            published: None,
        };
        assert_eq!(
            settings_patch(&want, &app(&["a", "b"], Active::Published)),
            None
        );
        let p = settings_patch(&want, &app(&["a"], Active::Published)).unwrap();
        assert_eq!(p.labels, Some(vec!["a".to_string(), "b".to_string()]));
        assert_eq!(p.active, None);
        let unpublish = Api7Import {
            labels: vec![],
            published: Some(false),
        };
        let p = settings_patch(&unpublish, &app(&[], Active::Published)).unwrap();
        assert_eq!((p.labels, p.active), (None, Some(Active::Unpublished)));
        assert_eq!(
            describe(&ApplicationPatch::published(true)),
            vec!["publish the application"]
        );
        let p = settings_patch(&Api7Import::default(), &app(&["x"], Active::Unpublished)).unwrap();
        assert_eq!(p.labels, Some(vec![]));
        assert_eq!(p.active, Some(Active::Published));
    }
}
