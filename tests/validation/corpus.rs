//! The generated half of the differential corpus: valid manifests (the examples) mutated field
//! by field, driven by the CRDs' schemas as `converge_api::crds::all()` generates them, so a field
//! added to a CRD type joins the corpus with no hand work. For every field a seed sets, and for
//! every field its schema declares that the seed leaves out:
//! - an unknown field beside it (strict decoding), a value of the wrong type, null, removal;
//! - strings: one past `maxLength`, at `maxLength`, one short of `minLength`, a value the
//!   `pattern` refuses, a format it is not;
//! - enums: every allowed value and one that is not; numbers: each bound and one past it, a
//!   fraction, a value past int32;
//! - lists: empty, one past `maxItems`, a repeated item (list-type map and set);
//! - an absent optional field set to a synthesized valid value (so CEL rules that combine
//!   fields are exercised);
//! - for every transition rule (`oldSelf`), an update that changes the field, and updates that
//!   move an object to another platform block;
//! - objects at and past the apiserver's size limits, where a field can make them that large.
//!
//! Cases are data: a name, the object (and the old one for an update), and what made it.

#![allow(dead_code)]

use serde_json::{Map, Value, json};

/// One manifest of the corpus.
#[derive(Clone, Debug)]
pub struct Case {
    pub name: String,
    /// What the mutation was (for the report).
    pub what: String,
    /// For an update: the object created first.
    pub old: Option<Value>,
    pub new: Value,
    /// Large objects: created for real (dry run never reaches etcd's limit).
    pub size: bool,
}

/// A step of a path into an object.
#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

fn get<'a>(v: &'a Value, path: &[Step]) -> Option<&'a Value> {
    let mut at = v;
    for s in path {
        at = match s {
            Step::Key(k) => at.get(k)?,
            Step::Index(i) => at.get(*i)?,
        };
    }
    Some(at)
}

fn get_mut<'a>(v: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    let mut at = v;
    for s in path {
        at = match s {
            Step::Key(k) => at.get_mut(k)?,
            Step::Index(i) => at.get_mut(*i)?,
        };
    }
    Some(at)
}

fn render(path: &[Step]) -> String {
    let mut out = String::new();
    for s in path {
        match s {
            Step::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Step::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

fn set(v: &Value, path: &[Step], value: Value) -> Value {
    let mut out = v.clone();
    let (last, parent) = path.split_last().expect("a non-empty path");
    if let Some(p) = get_mut(&mut out, parent) {
        match (last, p) {
            (Step::Key(k), Value::Object(o)) => {
                o.insert(k.clone(), value);
            }
            (Step::Index(i), Value::Array(a)) if *i < a.len() => a[*i] = value,
            _ => {}
        }
    }
    out
}

fn remove(v: &Value, path: &[Step]) -> Value {
    let mut out = v.clone();
    let (last, parent) = path.split_last().expect("a non-empty path");
    if let (Step::Key(k), Some(Value::Object(o))) = (last, get_mut(&mut out, parent)) {
        o.remove(k);
    }
    out
}

fn regex(pattern: &str) -> regex::Regex {
    regex::Regex::new(&converge_local::validation::pattern_regex(pattern))
        .expect("a CRD pattern compiles")
}

/// Strings to try when a valid value is needed: one of them fits most patterns.
const CANDIDATES: [&str; 14] = [
    "alpha",
    "beta2",
    "gamma-3",
    "d4",
    "e_5",
    "f.6",
    "G7",
    "https://example.test/x",
    "0 3 * * *",
    "@daily",
    "10s",
    "12",
    "x",
    "ab",
];

/// A valid string for `s`, the `variant`th that fits (different variants differ).
fn synth_string(s: &Value, variant: usize) -> Option<String> {
    if let Some(e) = s.get("enum").and_then(Value::as_array) {
        let values: Vec<&str> = e.iter().filter_map(Value::as_str).collect();
        return values
            .get(variant % values.len().max(1))
            .map(|v| v.to_string());
    }
    if let Some(f) = s.get("format").and_then(Value::as_str)
        && f == "date-time"
    {
        return Some(format!("2026-01-0{}T03:04:05Z", 1 + variant % 9));
    }
    let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0) as usize;
    let max = s
        .get("maxLength")
        .and_then(Value::as_u64)
        .map_or(usize::MAX, |m| m as usize);
    let pattern = s.get("pattern").and_then(Value::as_str).map(regex);
    let fits = |c: &str| {
        c.len() >= min && c.len() <= max && pattern.as_ref().is_none_or(|p| p.is_match(c))
    };
    let mut found = Vec::new();
    for c in CANDIDATES {
        let padded = if c.len() < min {
            format!("{c}{}", "a".repeat(min - c.len()))
        } else {
            c.to_string()
        };
        if fits(&padded) {
            found.push(padded);
        }
    }
    if found.is_empty() {
        return None;
    }
    Some(found[variant % found.len()].clone())
}

/// A valid value for a schema, or None when none can be made.
fn synth(s: &Value, variant: usize) -> Option<Value> {
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
        && s.get("properties").is_none()
    {
        return Some(json!({"key": format!("value{variant}")}));
    }
    match s.get("type").and_then(Value::as_str) {
        Some("string") => synth_string(s, variant).map(Value::String),
        Some("boolean") => Some(Value::Bool(variant.is_multiple_of(2))),
        Some("integer") | Some("number") => {
            let min = s.get("minimum").and_then(Value::as_i64).unwrap_or(0);
            let max = s
                .get("maximum")
                .and_then(Value::as_i64)
                .unwrap_or(min + 100);
            Some(json!((min + 1 + variant as i64).min(max).max(min)))
        }
        Some("array") => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            let items = s.get("items")?;
            let n = min.max(1) as usize;
            let mut out = Vec::new();
            for i in 0..n {
                out.push(synth(items, variant + i)?);
            }
            Some(Value::Array(out))
        }
        Some("object") => {
            let mut out = Map::new();
            let required: Vec<&str> = s
                .get("required")
                .and_then(Value::as_array)
                .map(|r| r.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            let props = s.get("properties").and_then(Value::as_object);
            for r in required {
                let ps = props?.get(r)?;
                out.insert(r.to_string(), synth(ps, variant)?);
            }
            if props.is_none()
                && let Some(a) = s.get("additionalProperties").filter(|a| a.is_object())
            {
                out.insert(format!("k{variant}"), synth(a, variant)?);
            }
            Some(Value::Object(out))
        }
        _ => None,
    }
}

/// A value of another type than `s` wants.
fn wrong_type(s: &Value) -> Value {
    match s.get("type").and_then(Value::as_str) {
        Some("string") => json!(12345),
        Some("integer") | Some("number") => json!("not-a-number"),
        Some("boolean") => json!("maybe"),
        Some("array") => json!({"not": "a list"}),
        _ => json!("not-an-object"),
    }
}

struct Gen<'a> {
    seed: &'a Value,
    kind: String,
    out: Vec<Case>,
}

impl Gen<'_> {
    fn push(&mut self, what: String, new: Value) {
        self.out.push(Case {
            name: String::new(),
            what: format!("{} {what}", self.kind),
            old: None,
            new,
            size: false,
        });
    }

    fn update(&mut self, what: String, old: Value, new: Value) {
        self.out.push(Case {
            name: String::new(),
            what: format!("{} update: {what}", self.kind),
            old: Some(old),
            new,
            size: false,
        });
    }

    /// Mutations of the field at `path` (present in the seed or not) with schema `s`.
    fn field(&mut self, path: &[Step], s: &Value, required: bool) {
        let seed = self.seed;
        let at = render(path);
        let present = get(seed, path).cloned();
        let Some(value) = present else {
            // Absent: set it to a valid value, and to the wrong type; for a transition rule,
            // set it on the old object and change it on the new one.
            if let Some(v) = synth(s, 0) {
                let with = set(seed, path, v.clone());
                let mut g = Gen {
                    seed: &with,
                    kind: self.kind.clone(),
                    out: Vec::new(),
                };
                g.transition(path, s, &v);
                self.out.extend(g.out);
                self.push(
                    format!("sets absent {at} to {v}"),
                    set(seed, path, v.clone()),
                );
                self.children(path, s, Some(&v), true);
            }
            self.push(
                format!("sets absent {at} to the wrong type"),
                set(seed, path, wrong_type(s)),
            );
            return;
        };
        self.push(format!("{at}: wrong type"), set(seed, path, wrong_type(s)));
        self.push(format!("{at}: null"), set(seed, path, Value::Null));
        self.push(
            format!(
                "{at}: removed ({})",
                if required { "required" } else { "optional" }
            ),
            remove(seed, path),
        );
        match s.get("type").and_then(Value::as_str) {
            Some("string") => self.string(path, s),
            Some("integer") | Some("number") => self.number(path, s),
            Some("array") => self.array(path, s, &value),
            _ => {}
        }
        if let Some(e) = s.get("enum").and_then(Value::as_array) {
            for v in e {
                self.push(format!("{at}: enum value {v}"), set(seed, path, v.clone()));
            }
        }
        self.transition(path, s, &value);
        self.children(path, s, Some(&value), false);
    }

    fn children(&mut self, path: &[Step], s: &Value, value: Option<&Value>, synthesized: bool) {
        let preserve = s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
        match value {
            Some(Value::Object(_)) => {
                if synthesized {
                    return; // one level of synthesized fields is enough
                }
                let Some(props) = s.get("properties").and_then(Value::as_object) else {
                    return;
                };
                let mut unknown = path.to_vec();
                unknown.push(Step::Key("zzUnknownField".into()));
                self.push(
                    format!(
                        "unknown field {}{}",
                        render(&unknown),
                        if preserve { " (preserved)" } else { "" }
                    ),
                    set(self.seed, &unknown, json!("x")),
                );
                let required: Vec<String> = s
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| {
                        r.iter()
                            .filter_map(|v| v.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default();
                for (k, ps) in props {
                    let mut p = path.to_vec();
                    p.push(Step::Key(k.clone()));
                    self.field(&p, ps, required.contains(k));
                }
            }
            Some(Value::Array(items)) if !items.is_empty() && !synthesized => {
                if let Some(is) = s.get("items") {
                    let mut p = path.to_vec();
                    p.push(Step::Index(0));
                    if is.get("properties").is_some() {
                        self.children(&p, is, items.first(), false);
                    } else {
                        match is.get("type").and_then(Value::as_str) {
                            Some("string") => self.string(&p, is),
                            Some("integer") | Some("number") => self.number(&p, is),
                            _ => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }

    fn string(&mut self, path: &[Step], s: &Value) {
        let seed = self.seed;
        let at = render(path);
        let fill = synth_string(s, 0)
            .and_then(|v| v.chars().next())
            .unwrap_or('a');
        if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
            let max = max as usize;
            if max <= 4 * 1024 * 1024 {
                let at_max: String = std::iter::repeat_n(fill, max).collect();
                self.push(
                    format!("{at}: {max} characters (maxLength)"),
                    set(seed, path, json!(at_max)),
                );
                self.push(
                    format!("{at}: {} characters (maxLength + 1)", max + 1),
                    set(seed, path, json!(format!("{at_max}{fill}"))),
                );
                // Characters, not bytes: the apiserver counts runes.
                let wide: String = std::iter::repeat_n('é', max).collect();
                if s.get("pattern").is_none() && max <= 64 * 1024 {
                    self.push(
                        format!("{at}: {max} two-byte characters"),
                        set(seed, path, json!(wide)),
                    );
                }
            }
        }
        if let Some(min) = s.get("minLength").and_then(Value::as_u64)
            && min > 0
        {
            let short: String = std::iter::repeat_n(fill, min as usize - 1).collect();
            self.push(
                format!("{at}: {} characters (minLength - 1)", min - 1),
                set(seed, path, json!(short)),
            );
        }
        if let Some(p) = s.get("pattern").and_then(Value::as_str) {
            for bad in [
                "Not Valid!",
                "-leading-dash",
                "trailing-",
                "UPPER",
                "a\u{0663}b",
                "ok",
            ] {
                let matches = regex(p).is_match(bad);
                self.push(
                    format!(
                        "{at}: {bad:?} against {p} ({})",
                        if matches { "matches" } else { "does not match" }
                    ),
                    set(seed, path, json!(bad)),
                );
            }
        }
        if let Some(f) = s.get("format").and_then(Value::as_str) {
            self.push(
                format!("{at}: not a {f}"),
                set(seed, path, json!("not-a-valid-format-value")),
            );
        }
        if s.get("enum").is_some() {
            self.push(
                format!("{at}: a value not in the enum"),
                set(seed, path, json!("NotAnEnumValue")),
            );
        }
    }

    fn number(&mut self, path: &[Step], s: &Value) {
        let seed = self.seed;
        let at = render(path);
        if let Some(min) = s.get("minimum").and_then(Value::as_f64) {
            self.push(
                format!("{at}: minimum {min}"),
                set(seed, path, json!(min as i64)),
            );
            self.push(
                format!("{at}: minimum - 1"),
                set(seed, path, json!(min as i64 - 1)),
            );
        }
        if let Some(max) = s.get("maximum").and_then(Value::as_f64) {
            self.push(
                format!("{at}: maximum {max}"),
                set(seed, path, json!(max as i64)),
            );
            self.push(
                format!("{at}: maximum + 1"),
                set(seed, path, json!(max as i64 + 1)),
            );
        }
        if s.get("type").and_then(Value::as_str) == Some("integer") {
            self.push(format!("{at}: a fraction"), set(seed, path, json!(1.5)));
            self.push(
                format!("{at}: an integral float"),
                set(seed, path, json!(2.0)),
            );
        }
    }

    fn array(&mut self, path: &[Step], s: &Value, value: &Value) {
        let seed = self.seed;
        let at = render(path);
        let items = value.as_array().cloned().unwrap_or_default();
        self.push(format!("{at}: empty"), set(seed, path, json!([])));
        if let Some(first) = items.first() {
            let mut twice = items.clone();
            twice.push(first.clone());
            self.push(
                format!(
                    "{at}: first item repeated (list-type {})",
                    s.get("x-kubernetes-list-type")
                        .and_then(Value::as_str)
                        .unwrap_or("atomic")
                ),
                set(seed, path, Value::Array(twice)),
            );
        }
        if let (Some(max), Some(is)) = (s.get("maxItems").and_then(Value::as_u64), s.get("items"))
            && max <= 1000
        {
            // Distinct items, so that only the count is wrong.
            let mut many = Vec::new();
            for i in 0..=max as usize {
                match synth(is, i) {
                    Some(mut v) => {
                        if let (Some(keys), Some(o)) = (
                            s.get("x-kubernetes-list-map-keys")
                                .and_then(Value::as_array),
                            v.as_object_mut(),
                        ) {
                            for k in keys.iter().filter_map(Value::as_str) {
                                o.insert(k.to_string(), json!(format!("k{i}")));
                            }
                        }
                        many.push(v);
                    }
                    None => return,
                }
            }
            self.push(
                format!("{at}: {} items (maxItems + 1)", max + 1),
                set(seed, path, Value::Array(many)),
            );
        }
    }

    /// For each transition rule on the field: an update that changes it.
    fn transition(&mut self, path: &[Step], s: &Value, value: &Value) {
        let Some(rules) = s.get("x-kubernetes-validations").and_then(Value::as_array) else {
            return;
        };
        for r in rules {
            let rule = r["rule"].as_str().unwrap_or_default();
            if !rule.contains("oldSelf") {
                continue;
            }
            let changed = match value {
                Value::String(current) => (0..CANDIDATES.len())
                    .filter_map(|i| synth_string(s, i))
                    .find(|v| v != current)
                    .or_else(|| {
                        // No candidate fits the pattern: change the last character.
                        let mut v = current.clone();
                        let last = v.pop()?;
                        v.push(if last == 'x' { 'y' } else { 'x' });
                        Some(v)
                    })
                    .map(Value::String),
                Value::Object(o) => {
                    // Change the first string child.
                    let mut o = o.clone();
                    let key = o
                        .iter()
                        .find(|(_, v)| v.is_string())
                        .map(|(k, _)| k.clone());
                    key.map(|k| {
                        let old = o[&k].as_str().unwrap_or_default().to_string();
                        o.insert(k, json!(format!("{old}x")));
                        Value::Object(o)
                    })
                }
                _ => None,
            };
            if let Some(changed) = changed {
                self.update(
                    format!("{} changed ({rule})", render(path)),
                    self.seed.clone(),
                    set(self.seed, path, changed),
                );
            }
            // Removing the field does not run the rule.
            self.update(
                format!("{} removed ({rule})", render(path)),
                self.seed.clone(),
                remove(self.seed, path),
            );
        }
    }
}

/// The generated corpus for `seeds` (valid manifests: the examples).
pub fn generate(seeds: &[Value]) -> Vec<Case> {
    let crds = converge_api::crds::all();
    let mut out = Vec::new();
    for seed in seeds {
        let kind = seed["kind"].as_str().unwrap_or_default();
        let Some(crd) = crds.iter().find(|c| c.spec.names.kind == kind) else {
            continue;
        };
        let schema = serde_json::to_value(
            crd.spec.versions[0]
                .schema
                .as_ref()
                .and_then(|s| s.open_api_v3_schema.as_ref())
                .unwrap(),
        )
        .unwrap();
        let name = seed["metadata"]["name"].as_str().unwrap_or_default();
        let mut g = Gen {
            seed,
            kind: format!("{kind}/{name}"),
            out: Vec::new(),
        };
        let spec_schema = &schema["properties"]["spec"];
        g.push("unchanged".into(), seed.clone());
        g.field(&[Step::Key("spec".into())], spec_schema, true);
        g.push(
            "unknown top-level field".into(),
            set(seed, &[Step::Key("zzTop".into())], json!(1)),
        );
        // Updates that keep every rule: unchanged, and a label added.
        g.update("unchanged".into(), seed.clone(), seed.clone());
        g.update(
            "label added".into(),
            seed.clone(),
            set(
                seed,
                &[Step::Key("metadata".into()), Step::Key("labels".into())],
                json!({"team": "a"}),
            ),
        );
        out.extend(g.out);
        // Other platforms of the same kind: moving an object between them.
        for other in seeds.iter().filter(|o| o["kind"] == kind) {
            let blocks = |v: &Value| -> Vec<String> {
                v["spec"]
                    .as_object()
                    .map(|o| {
                        o.keys()
                            .filter(|k| {
                                spec_schema["properties"][*k]["nullable"] == true
                                    && ["choreo", "cycloid", "frends", "api7", "opschain"]
                                        .contains(&k.as_str())
                            })
                            .cloned()
                            .collect()
                    })
                    .unwrap_or_default()
            };
            if blocks(other) != blocks(seed) && !blocks(other).is_empty() {
                let mut moved = other.clone();
                moved["metadata"] = seed["metadata"].clone();
                out.push(Case {
                    name: String::new(),
                    what: format!("{kind}/{name} update: moved to {:?}", blocks(other)),
                    old: Some(seed.clone()),
                    new: moved,
                    size: false,
                });
            }
        }
        out.extend(size_cases(seed, &schema));
        out.extend(metadata_cases(seed));
    }
    out
}

/// Where a string field can make the object large: the whole object at sizes around the
/// apiserver's limits (1.5 MiB stored, 3 MiB request body).
fn size_cases(seed: &Value, schema: &Value) -> Vec<Case> {
    fn find(s: &Value, path: &mut Vec<Step>, out: &mut Option<Vec<Step>>) {
        if out.is_some() {
            return;
        }
        if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true))
            && s.get("type").and_then(Value::as_str) == Some("object")
        {
            let mut p = path.clone();
            p.push(Step::Key("big".into()));
            *out = Some(p);
            return;
        }
        if s.get("type").and_then(Value::as_str) == Some("string")
            && s.get("pattern").is_none()
            && s.get("enum").is_none()
            && s.get("maxLength")
                .and_then(Value::as_u64)
                .is_none_or(|m| m > 4 * 1024 * 1024)
        {
            *out = Some(path.clone());
            return;
        }
        if let Some(props) = s.get("properties").and_then(Value::as_object) {
            for (k, ps) in props {
                path.push(Step::Key(k.clone()));
                find(ps, path, out);
                path.pop();
            }
        }
    }
    let mut found = None;
    find(
        &schema["properties"]["spec"],
        &mut vec![Step::Key("spec".into())],
        &mut found,
    );
    let Some(path) = found else {
        return Vec::new();
    };
    // Only where the seed already has the parent (the field's siblings stay valid).
    if get(seed, &path[..path.len() - 1]).is_none() {
        return Vec::new();
    }
    let kind = seed["kind"].as_str().unwrap_or_default();
    [(1300, true), (1700, true), (3300, true), (64, false)]
        .into_iter()
        .map(|(kib, big)| Case {
            name: String::new(),
            what: format!(
                "{kind} of about {kib} KiB ({} = a long string)",
                render(&path)
            ),
            old: None,
            new: set(seed, &path, json!("a".repeat(kib * 1024))),
            size: big,
        })
        .collect()
}

fn metadata_cases(seed: &Value) -> Vec<Case> {
    let kind = seed["kind"].as_str().unwrap_or_default().to_string();
    let m = |what: &str, path: &[&str], v: Value| {
        let steps: Vec<Step> = path.iter().map(|p| Step::Key(p.to_string())).collect();
        Case {
            name: String::new(),
            what: format!("{kind} metadata: {what}"),
            old: None,
            new: set(seed, &steps, v),
            size: false,
        }
    };
    vec![
        m("uppercase name", &["metadata", "name"], json!("Bad_Name")),
        m(
            "name of 254 characters",
            &["metadata", "name"],
            json!("a".repeat(254)),
        ),
        m(
            "name of 253 characters",
            &["metadata", "name"],
            json!("a".repeat(253)),
        ),
        m("dotted name", &["metadata", "name"], json!("a.b.c")),
        m(
            "bad label key",
            &["metadata", "labels"],
            json!({"-bad": "x"}),
        ),
        m(
            "label value of 64 characters",
            &["metadata", "labels"],
            json!({"ok": "v".repeat(64)}),
        ),
        m(
            "prefixed label",
            &["metadata", "labels"],
            json!({"app.kubernetes.io/name": "x"}),
        ),
        m(
            "label value not a string",
            &["metadata", "labels"],
            json!({"n": 1}),
        ),
        m(
            "bad annotation key",
            &["metadata", "annotations"],
            json!({"a b": "x"}),
        ),
        m(
            "unknown metadata field",
            &["metadata", "zzUnknown"],
            json!("x"),
        ),
        m(
            "annotations over 256 KiB",
            &["metadata", "annotations"],
            json!({"big": "a".repeat(262_145)}),
        ),
        m(
            "unqualified finalizer",
            &["metadata", "finalizers"],
            json!(["Bad Finalizer"]),
        ),
    ]
}
