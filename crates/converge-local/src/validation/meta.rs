//! What the apiserver checks beside the schema: `metadata` (name, namespace, labels,
//! annotations, finalizers) for every kind, and the rules of the built-in kinds Converge reads
//! (Secret, ConfigMap and Namespace), with the apiserver's messages.

use std::sync::OnceLock;

use base64::Engine as _;
use serde_json::Value;

use super::schema::Kind;
use super::{Cause, Seg, render};

const DNS_LABEL: &str = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character";
const DNS_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character";
const QUALIFIED: &str = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const QUALIFIED_MSG: &str = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";
const CONFIG_KEY: &str = "[-._a-zA-Z0-9]+";
const CONFIG_KEY_MSG: &str =
    "a valid config key must consist of alphanumeric characters, '-', '_' or '.'";
const ANNOTATIONS_BYTES: usize = 256 * 1024;
/// A Secret's or ConfigMap's data may not exceed 1 MiB.
const DATA_BYTES: usize = 1024 * 1024;

fn full(re: &'static OnceLock<regex::Regex>, pattern: &str) -> &'static regex::Regex {
    re.get_or_init(|| regex::Regex::new(&format!("^(?:{pattern})$")).expect("a valid regex"))
}

fn regex_error(msg: &str, fmt: &str, examples: &[&str]) -> String {
    let examples: Vec<String> = examples.iter().map(|e| format!("'{e}'")).collect();
    format!(
        "{msg} (e.g. {}, regex used for validation is '{fmt}')",
        examples.join(" or ")
    )
}

pub fn is_dns_label(s: &str) -> Vec<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push("must be no more than 63 bytes".to_string());
    }
    if !full(&RE, DNS_LABEL).is_match(s) {
        if s.len() <= 253 && is_dns_subdomain(s).is_empty() {
            // A valid subdomain that is not a label: it has dots.
            out.push("must not contain dots".to_string());
        } else {
            out.push(regex_error(
                DNS_LABEL_MSG,
                DNS_LABEL,
                &["my-name", "123-abc"],
            ));
        }
    }
    out
}

pub fn is_dns_subdomain(s: &str) -> Vec<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let fmt = format!("{DNS_LABEL}(\\.{DNS_LABEL})*");
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push("must be no more than 253 bytes".to_string());
    }
    if !full(&RE, &fmt).is_match(s) {
        out.push(regex_error(DNS_SUBDOMAIN_MSG, &fmt, &["example.com"]));
    }
    out
}

fn is_qualified_name(s: &str) -> Vec<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let parts: Vec<&str> = s.split('/').collect();
    let name = match parts.as_slice() {
        [name] => *name,
        [prefix, name] => {
            if prefix.is_empty() {
                return vec!["prefix part must be non-empty".into()];
            }
            let errs = is_dns_subdomain(prefix);
            if !errs.is_empty() {
                return errs
                    .into_iter()
                    .map(|e| format!("prefix part {e}"))
                    .collect();
            }
            name
        }
        _ => {
            return vec![format!(
                "a qualified name {}",
                regex_error(
                    &format!("{QUALIFIED_MSG} with an optional DNS subdomain prefix and '/'"),
                    QUALIFIED,
                    &["MyName", "my.name", "123-abc"]
                )
            )];
        }
    };
    let mut out = Vec::new();
    if name.is_empty() {
        out.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        out.push("name part must be no more than 63 bytes".into());
    }
    if !name.is_empty() && !full(&RE, QUALIFIED).is_match(name) {
        out.push(format!(
            "name part {}",
            regex_error(QUALIFIED_MSG, QUALIFIED, &["MyName", "my.name", "123-abc"])
        ));
    }
    out
}

fn is_label_value(s: &str) -> Vec<String> {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push("must be no more than 63 bytes".into());
    }
    if !s.is_empty() && !full(&RE, QUALIFIED).is_match(s) {
        out.push(regex_error(
            LABEL_VALUE_MSG,
            &format!("({QUALIFIED})?"),
            &["MyValue", "my_value", "12345"],
        ));
    }
    out
}

fn path(parts: &[&str]) -> Vec<Seg> {
    parts.iter().map(|p| Seg::Key(p.to_string())).collect()
}

fn invalid(p: Vec<Seg>, value: &str, detail: &str) -> Cause {
    let name = render(&p);
    Cause::new(p, format!("{name}: Invalid value: {value:?}: {detail}"))
}

/// The checks of `metadata` and of the built-in kinds.
pub fn validate(kind: &Kind, obj: &Value, old: Option<&Value>) -> Vec<Cause> {
    let mut out = Vec::new();
    let meta = &obj["metadata"];
    let name = meta["name"].as_str().unwrap_or_default();
    let generate = meta["generateName"].as_str().unwrap_or_default();
    let name_check: fn(&str) -> Vec<String> = if kind.kind == "Namespace" {
        is_dns_label
    } else {
        is_dns_subdomain
    };
    if name.is_empty() && generate.is_empty() {
        out.push(Cause::new(
            path(&["metadata", "name"]),
            "metadata.name: Required value: name or generateName is required",
        ));
    } else if !name.is_empty() {
        for e in name_check(name) {
            out.push(invalid(path(&["metadata", "name"]), name, &e));
        }
    }
    if kind.namespaced
        && let Some(ns) = meta["namespace"].as_str()
        && !ns.is_empty()
    {
        for e in is_dns_label(ns) {
            out.push(invalid(path(&["metadata", "namespace"]), ns, &e));
        }
    }
    if let Some(labels) = meta["labels"].as_object() {
        for (k, v) in labels {
            for e in is_qualified_name(k) {
                out.push(invalid(path(&["metadata", "labels"]), k, &e));
            }
            let v = v.as_str().unwrap_or_default();
            for e in is_label_value(v) {
                out.push(invalid(path(&["metadata", "labels"]), v, &e));
            }
        }
    }
    if let Some(annotations) = meta["annotations"].as_object() {
        let mut size = 0;
        for (k, v) in annotations {
            for e in is_qualified_name(&k.to_lowercase()) {
                out.push(invalid(path(&["metadata", "annotations"]), k, &e));
            }
            size += k.len() + v.as_str().map_or(0, str::len);
        }
        if size > ANNOTATIONS_BYTES {
            out.push(Cause::new(
                path(&["metadata", "annotations"]),
                format!(
                    "metadata.annotations: Too long: may not be more than {ANNOTATIONS_BYTES} bytes"
                ),
            ));
        }
    }
    if let Some(finalizers) = meta["finalizers"].as_array() {
        for f in finalizers.iter().filter_map(Value::as_str) {
            for e in is_qualified_name(f) {
                out.push(invalid(path(&["metadata", "finalizers"]), f, &e));
            }
        }
    }
    match kind.kind.as_str() {
        "Secret" if kind.builtin => secret(obj, old, &mut out),
        "ConfigMap" if kind.builtin => config_map(obj, old, &mut out),
        _ => {}
    }
    out
}

fn data_keys(obj: &Value, field: &str, out: &mut Vec<Cause>) -> usize {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    let mut size = 0;
    if let Some(data) = obj[field].as_object() {
        for (k, v) in data {
            let mut p = path(&[field]);
            p.push(Seg::Key(k.clone()));
            if k.len() > 253 {
                out.push(invalid(p.clone(), k, "must be no more than 253 bytes"));
            }
            if !full(&RE, CONFIG_KEY).is_match(k) {
                out.push(invalid(
                    p,
                    k,
                    &regex_error(
                        CONFIG_KEY_MSG,
                        CONFIG_KEY,
                        &["key.name", "KEY_NAME", "key-name"],
                    ),
                ));
            }
            size += v.as_str().map_or(0, str::len);
        }
    }
    size
}

/// `data` of a Secret holds base64 (decoded sizes count); `stringData` is folded into it.
fn secret(obj: &Value, old: Option<&Value>, out: &mut Vec<Cause>) {
    let mut size = 0;
    data_keys(obj, "data", out);
    data_keys(obj, "stringData", out);
    let mut keys: Vec<String> = Vec::new();
    if let Some(data) = obj["data"].as_object() {
        for (k, v) in data {
            let text = v.as_str().unwrap_or_default();
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => size += bytes.len(),
                Err(_) => {
                    let mut p = path(&["data"]);
                    p.push(Seg::Key(k.clone()));
                    out.push(invalid(p, text, "illegal base64 data"));
                }
            }
            keys.push(k.clone());
        }
    }
    if let Some(data) = obj["stringData"].as_object() {
        for (k, v) in data {
            size += v.as_str().map_or(0, str::len);
            keys.push(k.clone());
        }
    }
    if size > DATA_BYTES {
        out.push(Cause::new(
            path(&["data"]),
            format!("data: Too long: may not be more than {DATA_BYTES} bytes"),
        ));
    }
    let has = |k: &str| keys.iter().any(|x| x == k);
    let t = obj["type"].as_str().unwrap_or("Opaque");
    let required = |key: &str, out: &mut Vec<Cause>| {
        if !has(key) {
            let p = vec![Seg::Key("data".into()), Seg::Key(key.into())];
            out.push(Cause::new(p, format!("data[{key}]: Required value")));
        }
    };
    match t {
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            out.push(Cause::new(
                path(&["data"]),
                "data[username]: Required value",
            ));
        }
        "kubernetes.io/ssh-auth" => required("ssh-privatekey", out),
        "kubernetes.io/tls" => {
            required("tls.crt", out);
            required("tls.key", out);
        }
        "kubernetes.io/dockerconfigjson" => required(".dockerconfigjson", out),
        "kubernetes.io/dockercfg" => required(".dockercfg", out),
        "kubernetes.io/service-account-token"
            if obj["metadata"]["annotations"]["kubernetes.io/service-account.name"]
                .as_str()
                .is_none_or(str::is_empty) =>
        {
            out.push(Cause::new(
                path(&["metadata", "annotations"]),
                "metadata.annotations[kubernetes.io/service-account.name]: Required value",
            ));
        }
        _ => {}
    }
    if let Some(old) = old {
        let old_type = old["type"].as_str().unwrap_or("Opaque");
        if old_type != t {
            out.push(Cause::new(
                path(&["type"]),
                format!("type: Invalid value: {t:?}: field is immutable"),
            ));
        }
        immutable_data(obj, old, out);
    }
}

fn config_map(obj: &Value, old: Option<&Value>, out: &mut Vec<Cause>) {
    let mut size = data_keys(obj, "data", out);
    size += data_keys(obj, "binaryData", out);
    if let (Some(d), Some(b)) = (obj["data"].as_object(), obj["binaryData"].as_object()) {
        for k in d.keys().filter(|k| b.contains_key(*k)) {
            out.push(invalid(
                path(&["data"]),
                k,
                "duplicate of key present in binaryData",
            ));
        }
    }
    if size > DATA_BYTES {
        out.push(Cause::new(
            Vec::new(),
            format!(": Too long: may not be more than {DATA_BYTES} bytes"),
        ));
    }
    if let Some(old) = old {
        immutable_data(obj, old, out);
    }
}

/// `immutable: true` freezes the data, and cannot be undone.
fn immutable_data(obj: &Value, old: &Value, out: &mut Vec<Cause>) {
    if old["immutable"] != Value::Bool(true) {
        return;
    }
    if obj["immutable"] != Value::Bool(true) {
        out.push(Cause::new(
            path(&["immutable"]),
            "immutable: Forbidden: field is immutable when `immutable` is set",
        ));
    }
    for field in ["data", "binaryData"] {
        if obj[field] != old[field] {
            out.push(Cause::new(
                path(&[field]),
                format!("{field}: Forbidden: field is immutable when `immutable` is set"),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_labels_follow_the_apiserver() {
        assert!(is_dns_subdomain("my-app.example").is_empty());
        assert_eq!(is_dns_subdomain("My_App").len(), 1);
        assert_eq!(is_dns_label(&"a".repeat(64)).len(), 1);
        assert!(is_qualified_name("app.kubernetes.io/name").is_empty());
        assert!(!is_qualified_name("-bad").is_empty());
        assert!(!is_qualified_name("a/b/c").is_empty());
        assert!(is_label_value("").is_empty());
        assert!(!is_label_value("bad value").is_empty());
    }
}
