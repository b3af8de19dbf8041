//! Request validation with the messages API7 Cloud's go-swagger server gives: `name in body
//! should be at most 64 chars long`, `hosts in body shouldn't contain duplicates`, ... Every
//! failure of a body is collected; one is returned as is, several as `validation failure list:`
//! followed by one per line (the go-openapi composite error). Lengths count characters, not
//! bytes. JSON `null` counts as absent, as it does for a Go decoder.

use serde_json::{Map, Value};

use super::envelope::ApiError;
use super::model::Id;

/// The regular expressions the docs give, checked without a regex engine.
#[derive(Clone, Copy, Debug)]
pub enum Pattern {
    /// `^/`: paths and path prefixes.
    Slash,
    /// `^[0-9a-zA-Z-_]+$`: labels.
    Label,
    /// `^[a-zA-Z0-9_]+$`: consumer names.
    ConsumerName,
    /// `\S+`: organization names.
    NoSpace,
}

impl Pattern {
    fn text(self) -> &'static str {
        match self {
            Pattern::Slash => "^/",
            Pattern::Label => "^[0-9a-zA-Z-_]+$",
            Pattern::ConsumerName => "^[a-zA-Z0-9_]+$",
            Pattern::NoSpace => "\\S+",
        }
    }

    pub fn matches(self, s: &str) -> bool {
        match self {
            Pattern::Slash => s.starts_with('/'),
            Pattern::Label => {
                !s.is_empty()
                    && s.chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            }
            Pattern::ConsumerName => {
                !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            }
            Pattern::NoSpace => !s.is_empty() && !s.chars().any(char::is_whitespace),
        }
    }
}

/// `a.b` for nested fields, `a.0.b` inside arrays, as go-openapi names them.
pub fn field(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// A present, non-null member.
pub fn present<'a>(obj: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    obj.get(name).filter(|v| !v.is_null())
}

/// Collects the failures of one request.
#[derive(Default)]
pub struct Checker {
    errors: Vec<String>,
}

impl Checker {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn fail(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    pub fn is_ok(&self) -> bool {
        self.errors.is_empty()
    }

    /// Ok when nothing failed, else the 400 with every failure.
    pub fn finish(self) -> Result<(), ApiError> {
        match self.errors.len() {
            0 => Ok(()),
            1 => Err(ApiError::invalid(self.errors.into_iter().next().unwrap())),
            _ => Err(ApiError::invalid(format!(
                "validation failure list:\n{}",
                self.errors.join("\n")
            ))),
        }
    }

    fn wrong_type(&mut self, f: &str, want: &str, got: &Value) {
        self.fail(format!(
            "{f} in body must be of type {want}: \"{}\"",
            converge_core::json_type(got)
        ));
    }

    fn required(&mut self, f: &str) {
        self.fail(format!("{f} in body is required"));
    }

    /// A string of `min..=max` characters.
    pub fn string(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
        (min, max): (usize, usize),
    ) -> Option<String> {
        let f = field(path, name);
        match present(obj, name) {
            None => {
                if required {
                    self.required(&f);
                }
                None
            }
            Some(v) => self.string_value(v, &f, (min, max)),
        }
    }

    /// A string value (a member or an array item) of `min..=max` characters.
    pub fn string_value(
        &mut self,
        v: &Value,
        f: &str,
        (min, max): (usize, usize),
    ) -> Option<String> {
        let Some(s) = v.as_str() else {
            self.wrong_type(f, "string", v);
            return None;
        };
        let n = s.chars().count();
        if n < min {
            self.fail(format!("{f} in body should be at least {min} chars long"));
            return None;
        }
        if n > max {
            self.fail(format!("{f} in body should be at most {max} chars long"));
            return None;
        }
        Some(s.to_string())
    }

    /// Whether `s` matches `pattern`; records the failure when not.
    pub fn pattern(&mut self, f: &str, s: &str, pattern: Pattern) -> bool {
        let ok = pattern.matches(s);
        if !ok {
            self.fail(format!("{f} in body should match '{}'", pattern.text()));
        }
        ok
    }

    /// A string from `allowed`. `empty_is_absent` treats "" as not given: the Go SDK sends the
    /// zero value of some optional enums (a canary's `state`, an upstream's `scheme`).
    pub fn one_of(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
        allowed: &[&str],
        empty_is_absent: bool,
    ) -> Option<String> {
        let f = field(path, name);
        let v = present(obj, name).filter(|v| !(empty_is_absent && v.as_str() == Some("")));
        let Some(v) = v else {
            if required {
                self.required(&f);
            }
            return None;
        };
        let Some(s) = v.as_str() else {
            self.wrong_type(&f, "string", v);
            return None;
        };
        if allowed.contains(&s) {
            Some(s.to_string())
        } else {
            self.fail(format!(
                "{f} in body should be one of [{}]",
                allowed.join(" ")
            ));
            None
        }
    }

    /// An integer in `min..=max` (either bound optional).
    pub fn integer(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
        min: Option<i64>,
        max: Option<i64>,
    ) -> Option<i64> {
        let f = field(path, name);
        let Some(v) = present(obj, name) else {
            if required {
                self.required(&f);
            }
            return None;
        };
        let Some(n) = v.as_i64() else {
            self.wrong_type(&f, "integer", v);
            return None;
        };
        if let Some(min) = min.filter(|m| n < *m) {
            self.fail(format!(
                "{f} in body should be greater than or equal to {min}"
            ));
            return None;
        }
        if let Some(max) = max.filter(|m| n > *m) {
            self.fail(format!("{f} in body should be less than or equal to {max}"));
            return None;
        }
        Some(n)
    }

    /// An integer from `allowed` (the `active` flags).
    pub fn int_enum(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        name: &str,
        allowed: &[i64],
    ) -> Option<i64> {
        let f = field(path, name);
        let v = present(obj, name)?;
        let Some(n) = v.as_i64() else {
            self.wrong_type(&f, "integer", v);
            return None;
        };
        if allowed.contains(&n) {
            Some(n)
        } else {
            let list: Vec<String> = allowed.iter().map(i64::to_string).collect();
            self.fail(format!("{f} in body should be one of [{}]", list.join(" ")));
            None
        }
    }

    pub fn boolean(&mut self, obj: &Map<String, Value>, path: &str, name: &str) -> Option<bool> {
        let v = present(obj, name)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.wrong_type(&field(path, name), "boolean", v);
                None
            }
        }
    }

    /// A JSON object member.
    pub fn object<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
    ) -> Option<&'a Map<String, Value>> {
        let f = field(path, name);
        let Some(v) = present(obj, name) else {
            if required {
                self.required(&f);
            }
            return None;
        };
        match v.as_object() {
            Some(m) => Some(m),
            None => {
                self.wrong_type(&f, "object", v);
                None
            }
        }
    }

    /// An array of `min..=max` items, optionally without duplicates.
    pub fn array<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
        (min, max): (usize, usize),
        unique: bool,
    ) -> Option<&'a Vec<Value>> {
        let f = field(path, name);
        let Some(v) = present(obj, name) else {
            if required {
                self.required(&f);
            }
            return None;
        };
        let Some(items) = v.as_array() else {
            self.wrong_type(&f, "array", v);
            return None;
        };
        if items.len() < min {
            self.fail(format!("{f} in body should have at least {min} items"));
            return None;
        }
        if items.len() > max {
            self.fail(format!("{f} in body should have at most {max} items"));
            return None;
        }
        if unique && has_duplicates(items) {
            self.fail(format!("{f} in body shouldn't contain duplicates"));
            return None;
        }
        Some(items)
    }

    /// An array of strings, each `item_len` characters long and matching `pattern`.
    #[allow(clippy::too_many_arguments)]
    pub fn strings(
        &mut self,
        obj: &Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
        items: (usize, usize),
        unique: bool,
        item_len: (usize, usize),
        pattern: Option<Pattern>,
    ) -> Option<Vec<String>> {
        let list = self.array(obj, path, name, required, items, unique)?;
        let f = field(path, name);
        let mut out = Vec::with_capacity(list.len());
        let mut ok = true;
        for (i, v) in list.iter().enumerate() {
            let fi = format!("{f}.{i}");
            match self.string_value(v, &fi, item_len) {
                Some(s) if pattern.is_none_or(|p| self.pattern(&fi, &s, p)) => out.push(s),
                _ => ok = false,
            }
        }
        ok.then_some(out)
    }

    /// `labels`: 0..32 unique items of 1..32 characters matching `^[0-9a-zA-Z-_]+$`.
    pub fn labels(&mut self, obj: &Map<String, Value>, path: &str) -> Vec<String> {
        self.strings(
            obj,
            path,
            "labels",
            false,
            (0, 32),
            true,
            (1, 32),
            Some(Pattern::Label),
        )
        .unwrap_or_default()
    }

    /// `plugins`: any object.
    pub fn plugins(&mut self, obj: &Map<String, Value>, path: &str) -> Map<String, Value> {
        self.object(obj, path, "plugins", false)
            .cloned()
            .unwrap_or_default()
    }
}

fn has_duplicates(items: &[Value]) -> bool {
    items
        .iter()
        .enumerate()
        .any(|(i, a)| items[..i].iter().any(|b| a == b))
}

/// The request body as a JSON object.
pub fn parse_object(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::invalid("request body is required"));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ApiError::invalid(format!(
            "request body must be a JSON object, not {}",
            converge_core::json_type(&other)
        ))),
        Err(e) => Err(ApiError::invalid(format!(
            "request body is not valid JSON: {e}"
        ))),
    }
}

/// What a PATCH leaves: the stored object with the patch's top-level fields laid over it; a
/// PUT (`merge` false) replaces it whole.
pub fn patched<T: serde::Serialize>(
    current: &T,
    body: Map<String, Value>,
    merge: bool,
) -> Map<String, Value> {
    if !merge {
        return body;
    }
    let mut merged = match serde_json::to_value(current) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    merged.extend(body);
    merged
}

/// A PATCH body: an object with at least one property (go-swagger's minProperties wording).
pub fn parse_patch(body: &[u8]) -> Result<Map<String, Value>, ApiError> {
    let obj = parse_object(body)?;
    if obj.is_empty() {
        return Err(ApiError::invalid(
            "request body should have at least 1 properties",
        ));
    }
    Ok(obj)
}

/// An id in the path: `^[1-9][0-9]*$`, within 64 bits.
pub fn path_id(name: &str, raw: &str) -> Result<Id, ApiError> {
    Id::parse(raw)
        .ok_or_else(|| ApiError::invalid(format!("{name} in path should match '^[1-9][0-9]*$'")))
}
