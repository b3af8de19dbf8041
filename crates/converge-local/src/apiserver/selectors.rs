//! Label and field selectors of list and watch requests: the equality-based forms and
//! existence (`a=b`, `a==b`, `a!=b`, `a`, `!a`), and the fields `metadata.name` and
//! `metadata.namespace`. Set-based forms (`in`, `notin`) are refused rather than misread.

use serde_json::Value;

#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    Exists(String),
    NotExists(String),
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Selector {
    labels: Vec<Requirement>,
    fields: Vec<Requirement>,
}

fn parse_requirements(s: &str, allow_existence: bool) -> Result<Vec<Requirement>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if part.contains(" in ") || part.contains(" notin ") || part.contains('(') {
            return Err(format!(
                "set-based selector {part:?} is not supported by the embedded apiserver"
            ));
        }
        let req = if let Some((k, v)) = part.split_once("!=") {
            Requirement::NotEquals(k.trim().into(), v.trim().into())
        } else if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
            Requirement::Equals(k.trim().into(), v.trim().into())
        } else if !allow_existence {
            return Err(format!("invalid field selector {part:?}"));
        } else if let Some(k) = part.strip_prefix('!') {
            Requirement::NotExists(k.trim().into())
        } else {
            Requirement::Exists(part.into())
        };
        out.push(req);
    }
    Ok(out)
}

impl Selector {
    pub fn parse(labels: Option<&str>, fields: Option<&str>) -> Result<Selector, String> {
        let fields = parse_requirements(fields.unwrap_or_default(), false)?;
        for f in &fields {
            let (Requirement::Equals(k, _) | Requirement::NotEquals(k, _)) = f else {
                unreachable!("field selectors have no existence form")
            };
            if k != "metadata.name" && k != "metadata.namespace" {
                return Err(format!(
                    "field label not supported by the embedded apiserver: {k}"
                ));
            }
        }
        Ok(Selector {
            labels: parse_requirements(labels.unwrap_or_default(), true)?,
            fields,
        })
    }

    pub fn matches(&self, obj: &Value) -> bool {
        let meta = &obj["metadata"];
        let label = |k: &str| meta["labels"][k].as_str().map(str::to_string);
        let field = |k: &str| {
            k.strip_prefix("metadata.")
                .and_then(|f| meta[f].as_str())
                .map(str::to_string)
        };
        let holds = |r: &Requirement, get: &dyn Fn(&str) -> Option<String>| match r {
            Requirement::Equals(k, v) => get(k).as_deref() == Some(v.as_str()),
            Requirement::NotEquals(k, v) => get(k).as_deref() != Some(v.as_str()),
            Requirement::Exists(k) => get(k).is_some(),
            Requirement::NotExists(k) => get(k).is_none(),
        };
        self.labels.iter().all(|r| holds(r, &label)) && self.fields.iter().all(|r| holds(r, &field))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equality_existence_and_fields() {
        let obj = json!({"metadata": {"name": "a", "namespace": "n", "labels": {"shard": "x"}}});
        let m = |l: Option<&str>, f: Option<&str>| Selector::parse(l, f).unwrap().matches(&obj);
        assert!(m(None, None));
        assert!(m(Some("shard=x"), None));
        assert!(m(Some("shard==x,!other"), None));
        assert!(!m(Some("shard!=x"), None));
        assert!(!m(Some("other"), None));
        assert!(m(None, Some("metadata.name=a")));
        assert!(!m(None, Some("metadata.namespace!=n")));
        assert!(Selector::parse(Some("shard in (x,y)"), None).is_err());
        assert!(Selector::parse(None, Some("status.phase=Running")).is_err());
    }
}
