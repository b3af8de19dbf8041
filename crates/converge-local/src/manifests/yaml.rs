//! YAML read as `kubectl` reads it, with the line of every field.
//!
//! kubectl turns YAML into JSON with sigs.k8s.io/yaml, which resolves plain scalars by YAML 1.1
//! rules (go-yaml v2): `yes`, `no`, `on`, `off`, `y` and `n` are booleans, `0755` is octal,
//! `1_000` is 1000, `1.0` is the integer 1, mapping keys become strings (`on:` is `"true"`), `<<` merges mappings, and a repeated key silently keeps
//! the last value. A YAML 1.2 reader (serde_yaml) reads several of these differently, so a
//! manifest it accepts could be one the apiserver refuses, or the reverse. This module
//! reproduces go-yaml v2's resolution on top of a YAML event parser (saphyr-parser), and keeps
//! where each field came from so that an error can name its line.

use std::collections::HashMap;

use base64::Engine as _;
use saphyr_parser::{Event, Parser, ScalarStyle, Span, Tag};
use serde_json::{Map, Number, Value};

/// One step of a field path: a mapping key or a list index.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Seg {
    Key(String),
    Index(usize),
}

/// A field path, rendered as the apiserver renders it: `spec.steps[0].weight`.
pub fn render(path: &[Seg]) -> String {
    let mut out = String::new();
    for seg in path {
        match seg {
            Seg::Key(k) => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(k);
            }
            Seg::Index(i) => out.push_str(&format!("[{i}]")),
        }
    }
    out
}

/// The line (1-based) where each field of a document starts.
#[derive(Clone, Debug, Default)]
pub struct Lines {
    start: usize,
    fields: HashMap<Vec<Seg>, usize>,
}

impl Lines {
    /// The line of `path`, or of the nearest enclosing field the document has (a missing
    /// field is reported where its parent is).
    pub fn of(&self, path: &[Seg]) -> usize {
        (0..=path.len())
            .rev()
            .find_map(|n| self.fields.get(&path[..n]).copied())
            .unwrap_or(self.start)
    }

    /// The lines of `prefix`'s subtree, re-rooted at it (a `List` item becomes its own
    /// document).
    pub fn subtree(&self, prefix: &[Seg]) -> Lines {
        Lines {
            start: self.of(prefix),
            fields: self
                .fields
                .iter()
                .filter(|(p, _)| p.starts_with(prefix))
                .map(|(p, l)| (p[prefix.len()..].to_vec(), *l))
                .collect(),
        }
    }
}

/// A document of a YAML stream, converted to the JSON kubectl would send.
#[derive(Clone, Debug)]
pub struct Document {
    /// 1-based position in the stream, counting empty documents too.
    pub number: usize,
    /// `None` for an empty document (nothing but comments between two `---`).
    pub value: Option<Value>,
    pub lines: Lines,
    /// Repeated mapping keys: kubectl keeps the last value without a word; we warn.
    pub duplicate_keys: Vec<(Vec<Seg>, usize)>,
}

/// A document that cannot be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct SyntaxError {
    /// 1-based, as [`Document::number`].
    pub document: usize,
    pub line: usize,
    pub message: String,
}

/// A tree of YAML nodes with their lines, before resolution.
#[derive(Clone, Debug)]
enum Node {
    Scalar {
        text: String,
        plain: bool,
        tag: Option<Tag>,
        line: usize,
    },
    Seq {
        items: Vec<Node>,
        line: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        line: usize,
    },
}

impl Node {
    fn line(&self) -> usize {
        match self {
            Node::Scalar { line, .. } | Node::Seq { line, .. } | Node::Map { line, .. } => *line,
        }
    }
}

/// A bound on what aliases may expand to (go-yaml refuses "excessive aliasing" too): a small
/// file must not become gigabytes of JSON.
const MAX_NODES: usize = 2_000_000;

/// Reads every document of a YAML stream. An error ends the stream: what follows a syntax
/// error cannot be told apart reliably.
pub fn documents(text: &str) -> Result<Vec<Document>, SyntaxError> {
    let mut parser = Parser::new_from_str(text);
    let mut out = Vec::new();
    let mut number = 0;
    let syntax = |document: usize, line: usize, message: String| SyntaxError {
        document: document.max(1),
        line,
        message,
    };
    loop {
        let (event, span) = match parser.next_event() {
            None => break,
            Some(Ok(e)) => e,
            Some(Err(e)) => {
                return Err(syntax(number + 1, e.marker().line(), e.info().to_string()));
            }
        };
        match event {
            Event::StreamStart | Event::Nothing => {}
            Event::StreamEnd => break,
            Event::DocumentStart(_) => {
                number += 1;
                let mut builder = Builder::default();
                let root = builder
                    .node(&mut parser)
                    .map_err(|(line, m)| syntax(number, line, m))?;
                match parser.next_event() {
                    Some(Ok((Event::DocumentEnd, _))) => {}
                    Some(Err(e)) => {
                        return Err(syntax(number, e.marker().line(), e.info().to_string()));
                    }
                    _ => return Err(syntax(number, span.start.line(), "unexpected event".into())),
                }
                let start = root.line();
                let mut conv = Converter {
                    lines: Lines {
                        start,
                        fields: HashMap::new(),
                    },
                    duplicates: Vec::new(),
                    nodes: 0,
                };
                let value = conv
                    .value(&root, &mut Vec::new())
                    .map_err(|(line, m)| syntax(number, line, m))?;
                out.push(Document {
                    number,
                    value: (!value.is_null()).then_some(value),
                    lines: conv.lines,
                    duplicate_keys: conv.duplicates,
                });
            }
            other => {
                return Err(syntax(
                    number + 1,
                    span.start.line(),
                    format!("unexpected {other:?}"),
                ));
            }
        }
    }
    Ok(out)
}

/// Builds the node tree of one document, resolving aliases to copies of their anchors.
#[derive(Default)]
struct Builder {
    anchors: HashMap<usize, Node>,
    nodes: usize,
}

type Fail = (usize, String);

impl Builder {
    fn next<'a>(
        parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
    ) -> Result<(Event<'a>, Span), Fail> {
        match parser.next_event() {
            Some(Ok(e)) => Ok(e),
            Some(Err(e)) => Err((e.marker().line(), e.info().to_string())),
            None => Err((0, "unexpected end of the stream".into())),
        }
    }

    fn node<'a>(
        &mut self,
        parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
    ) -> Result<Node, Fail> {
        let (event, span) = Self::next(parser)?;
        self.event(parser, event, span)
    }

    fn count(&mut self, line: usize, n: usize) -> Result<(), Fail> {
        self.nodes += n;
        if self.nodes > MAX_NODES {
            return Err((line, "document contains excessive aliasing".into()));
        }
        Ok(())
    }

    fn event<'a>(
        &mut self,
        parser: &mut Parser<'a, saphyr_parser::StrInput<'a>>,
        event: Event<'a>,
        span: Span,
    ) -> Result<Node, Fail> {
        let line = span.start.line();
        self.count(line, 1)?;
        let (node, anchor) = match event {
            Event::Scalar(text, style, anchor, tag) => (
                Node::Scalar {
                    text: text.into_owned(),
                    plain: style == ScalarStyle::Plain,
                    tag: tag.map(|t| t.into_owned()),
                    line,
                },
                anchor,
            ),
            Event::SequenceStart(anchor, _) => {
                let mut items = Vec::new();
                loop {
                    let (e, s) = Self::next(parser)?;
                    if matches!(e, Event::SequenceEnd) {
                        break;
                    }
                    items.push(self.event(parser, e, s)?);
                }
                (Node::Seq { items, line }, anchor)
            }
            Event::MappingStart(anchor, _) => {
                let mut entries = Vec::new();
                loop {
                    let (e, s) = Self::next(parser)?;
                    if matches!(e, Event::MappingEnd) {
                        break;
                    }
                    let key = self.event(parser, e, s)?;
                    let value = self.node(parser)?;
                    entries.push((key, value));
                }
                (Node::Map { entries, line }, anchor)
            }
            Event::Alias(id) => {
                let node = self
                    .anchors
                    .get(&id)
                    .cloned()
                    .ok_or((line, format!("unknown anchor {id}")))?;
                self.count(line, size(&node))?;
                return Ok(node);
            }
            other => return Err((line, format!("unexpected {other:?}"))),
        };
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        Ok(node)
    }
}

fn size(node: &Node) -> usize {
    match node {
        Node::Scalar { .. } => 1,
        Node::Seq { items, .. } => 1 + items.iter().map(size).sum::<usize>(),
        Node::Map { entries, .. } => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
    }
}

/// A scalar resolved by go-yaml v2's rules.
#[derive(Clone, Debug, PartialEq)]
enum Scalar {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
}

const CORE: &str = "tag:yaml.org,2002:";

/// The core-schema name of a tag (`str` for `!!str`), or None for an application tag.
fn core_tag(tag: &Tag) -> Option<&str> {
    (tag.handle == CORE || tag.handle == "!!").then_some(tag.suffix.as_str())
}

fn resolve(text: &str, plain: bool, tag: Option<&Tag>) -> Result<Scalar, String> {
    let core = tag.and_then(core_tag);
    match (core, tag) {
        (None, Some(_)) => return Ok(Scalar::Str(text.to_string())), // !custom: kept as text
        (Some("str"), _) => return Ok(Scalar::Str(text.to_string())),
        (Some("binary"), _) => {
            let compact: String = text.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .map_err(|_| "!!binary value contains invalid base64 data".to_string())?;
            return Ok(Scalar::Str(String::from_utf8_lossy(&bytes).into_owned()));
        }
        (None, None) if !plain => return Ok(Scalar::Str(text.to_string())),
        _ => {}
    }
    let resolved = resolve_plain(text);
    let name = |s: &Scalar| match s {
        Scalar::Null => "null",
        Scalar::Bool(_) => "bool",
        Scalar::Int(_) => "int",
        Scalar::Float(_) => "float",
        Scalar::Str(_) => "str",
    };
    match core {
        None => Ok(resolved),
        Some(wanted) if wanted == name(&resolved) => Ok(resolved),
        Some("float") => match resolved {
            Scalar::Int(i) => Ok(Scalar::Float(i as f64)),
            other => Err(format!(
                "cannot decode !!{} `{text}` as a !!float",
                name(&other)
            )),
        },
        Some(wanted @ ("null" | "bool" | "int")) => Err(format!(
            "cannot decode !!{} `{text}` as a !!{wanted}",
            name(&resolved)
        )),
        // !!map, !!seq on a scalar, or an unknown core tag: go-yaml keeps the text.
        Some(_) => Ok(Scalar::Str(text.to_string())),
    }
}

/// go-yaml v2's `resolve` for an untagged plain scalar.
fn resolve_plain(text: &str) -> Scalar {
    match text {
        "y" | "Y" | "yes" | "Yes" | "YES" | "true" | "True" | "TRUE" | "on" | "On" | "ON" => {
            return Scalar::Bool(true);
        }
        "n" | "N" | "no" | "No" | "NO" | "false" | "False" | "FALSE" | "off" | "Off" | "OFF" => {
            return Scalar::Bool(false);
        }
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY);
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        _ => {}
    }
    let first = text.as_bytes()[0];
    match first {
        b'.' => {
            if let Some(f) = go_parse_float(text) {
                return Scalar::Float(f);
            }
        }
        b'0'..=b'9' | b'+' | b'-' => {
            // go-yaml resolves `2024-01-02` as a timestamp, but hands it to an untyped
            // target (as kubectl decodes) as the text it was: it stays a string below.
            let plain: String = text.chars().filter(|c| *c != '_').collect();
            if let Some(i) = go_parse_int(&plain) {
                return Scalar::Int(i);
            }
            if is_yaml_float(&plain)
                && let Some(f) = go_parse_float(&plain)
            {
                return Scalar::Float(f);
            }
            if let Some(bin) = plain.strip_prefix("0b")
                && let Some(i) = parse_radix(bin, 2)
            {
                return Scalar::Int(i);
            }
            if let Some(bin) = plain.strip_prefix("-0b")
                && let Some(i) = parse_radix(bin, 2)
            {
                return Scalar::Int(-i);
            }
        }
        _ => {}
    }
    Scalar::Str(text.to_string())
}

fn parse_radix(digits: &str, radix: u32) -> Option<i128> {
    if digits.is_empty() {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    (v <= u64::MAX as i128).then_some(v)
}

/// Go's `strconv.ParseInt(s, 0, 64)`, falling back to `ParseUint` as go-yaml does: a sign,
/// then `0x`, `0o`, `0b` or a leading `0` (octal) prefix.
fn go_parse_int(s: &str) -> Option<i128> {
    let (neg, body) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(d) = body.strip_prefix("0x").or(body.strip_prefix("0X")) {
        (16, d)
    } else if let Some(d) = body.strip_prefix("0o").or(body.strip_prefix("0O")) {
        (8, d)
    } else if let Some(d) = body.strip_prefix("0b").or(body.strip_prefix("0B")) {
        (2, d)
    } else if body.len() > 1 && body.starts_with('0') {
        (8, &body[1..])
    } else {
        (10, body)
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let v = i128::from_str_radix(digits, radix).ok()?;
    let v = if neg { -v } else { v };
    if neg {
        (v >= i64::MIN as i128).then_some(v)
    } else {
        // ParseInt, else ParseUint (only without a sign for the latter).
        (v <= i64::MAX as i128 || (v <= u64::MAX as i128 && !s.starts_with('+'))).then_some(v)
    }
}

/// go-yaml's `yamlStyleFloat`: `^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$`.
fn is_yaml_float(s: &str) -> bool {
    let b = s.as_bytes();
    let mut i = 0;
    if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
        i += 1;
    }
    let digits = |i: &mut usize| {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        *i - start
    };
    if i < b.len() && b[i] == b'.' {
        i += 1;
        if digits(&mut i) == 0 {
            return false;
        }
    } else {
        if digits(&mut i) == 0 {
            return false;
        }
        if i < b.len() && b[i] == b'.' {
            i += 1;
            digits(&mut i);
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'-' || b[i] == b'+') {
            i += 1;
        }
        if digits(&mut i) == 0 {
            return false;
        }
    }
    i == b.len()
}

/// Go's `strconv.ParseFloat(s, 64)` for the decimal forms YAML plain scalars take.
fn go_parse_float(s: &str) -> Option<f64> {
    let lower = s.to_ascii_lowercase();
    if lower.contains("inf") || lower.contains("nan") || lower.contains('x') {
        return None;
    }
    s.parse::<f64>().ok()
}

/// A resolved scalar as the JSON kubectl sends: Go's encoding/json writes an integral float
/// below 1e21 without a fraction, which the apiserver then reads as an integer.
fn to_json(s: Scalar, line: usize) -> Result<Value, Fail> {
    Ok(match s {
        Scalar::Null => Value::Null,
        Scalar::Bool(b) => Value::Bool(b),
        Scalar::Int(i) => int_value(i),
        Scalar::Float(f) if !f.is_finite() => {
            return Err((line, format!("json: unsupported value: {f}")));
        }
        Scalar::Float(f) => float_value(f),
        Scalar::Str(s) => Value::String(s),
    })
}

fn int_value(i: i128) -> Value {
    if let Ok(v) = i64::try_from(i) {
        Value::Number(v.into())
    } else if let Ok(v) = u64::try_from(i) {
        Value::Number(v.into())
    } else {
        float_value(i as f64)
    }
}

/// A float as the apiserver reads what kubectl sends: integral values below 1e21 are integers.
pub fn float_value(f: f64) -> Value {
    if f.fract() == 0.0 && f.abs() < 1e21 {
        if f >= i64::MIN as f64 && f < i64::MAX as f64 {
            return Value::Number((f as i64).into());
        }
        if f >= 0.0 && f < u64::MAX as f64 {
            return Value::Number((f as u64).into());
        }
    }
    Number::from_f64(f)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

/// A mapping key as sigs.k8s.io/yaml turns it into a JSON key.
fn key_string(s: Scalar, line: usize) -> Result<String, Fail> {
    Ok(match s {
        Scalar::Str(s) => s,
        Scalar::Bool(b) => b.to_string(),
        Scalar::Int(i) => i.to_string(),
        Scalar::Float(f) => go_float32_g(f),
        Scalar::Null => {
            return Err((line, "unsupported map key of type: <nil>".to_string()));
        }
    })
}

/// `strconv.FormatFloat(f, 'g', -1, 32)` for the floats a key can hold.
fn go_float32_g(f: f64) -> String {
    if f.is_nan() {
        return ".nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 {
            ".inf".into()
        } else {
            "-.inf".into()
        };
    }
    let f32v = f as f32;
    let s = format!("{f32v}");
    if f32v.fract() == 0.0 && f32v.abs() < 1e21 {
        return format!("{}", f32v as i64);
    }
    s
}

struct Converter {
    lines: Lines,
    duplicates: Vec<(Vec<Seg>, usize)>,
    nodes: usize,
}

impl Converter {
    fn value(&mut self, node: &Node, path: &mut Vec<Seg>) -> Result<Value, Fail> {
        self.nodes += 1;
        if self.nodes > MAX_NODES {
            return Err((node.line(), "document contains excessive aliasing".into()));
        }
        self.lines.fields.entry(path.clone()).or_insert(node.line());
        match node {
            Node::Scalar {
                text,
                plain,
                tag,
                line,
            } => to_json(
                resolve(text, *plain, tag.as_ref()).map_err(|m| (*line, m))?,
                *line,
            ),
            Node::Seq { items, .. } => {
                let mut out = Vec::with_capacity(items.len());
                for (i, item) in items.iter().enumerate() {
                    path.push(Seg::Index(i));
                    out.push(self.value(item, path)?);
                    path.pop();
                }
                Ok(Value::Array(out))
            }
            Node::Map { .. } => {
                let mut out = Map::new();
                self.mapping(node, path, &mut out)?;
                Ok(Value::Object(out))
            }
        }
    }

    /// Fills `out` from a mapping, in order, with go-yaml v2's merge (`<<`) semantics: a merge
    /// sets its keys where it stands, so keys after it override it and keys before it do not.
    fn mapping(
        &mut self,
        node: &Node,
        path: &mut Vec<Seg>,
        out: &mut Map<String, Value>,
    ) -> Result<(), Fail> {
        let Node::Map { entries, .. } = node else {
            return Err((
                node.line(),
                "map merge requires map or sequence of maps as the value".into(),
            ));
        };
        for (k, v) in entries {
            if let Node::Scalar {
                text,
                plain: true,
                tag: None,
                ..
            } = k
                && text == "<<"
            {
                match v {
                    Node::Map { .. } => self.mapping(v, path, out)?,
                    Node::Seq { items, .. } => {
                        for item in items {
                            self.mapping(item, path, out)?;
                        }
                    }
                    _ => {
                        return Err((
                            v.line(),
                            "map merge requires map or sequence of maps as the value".into(),
                        ));
                    }
                }
                continue;
            }
            let key = match k {
                Node::Scalar {
                    text,
                    plain,
                    tag,
                    line,
                } => key_string(
                    resolve(text, *plain, tag.as_ref()).map_err(|m| (*line, m))?,
                    *line,
                )?,
                other => {
                    return Err((
                        other.line(),
                        "unsupported map key: a mapping or sequence".into(),
                    ));
                }
            };
            path.push(Seg::Key(key.clone()));
            if out.contains_key(&key) {
                self.duplicates.push((path.clone(), k.line()));
                // The last value wins, and so does its line.
                self.lines.fields.insert(path.clone(), k.line());
            } else {
                self.lines.fields.insert(path.clone(), k.line());
            }
            let value = self.value(v, path)?;
            path.pop();
            out.insert(key, value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn one(text: &str) -> Value {
        let docs = documents(text).unwrap();
        assert_eq!(docs.len(), 1, "{docs:?}");
        docs[0].value.clone().unwrap()
    }

    #[test]
    fn plain_scalars_resolve_as_kubectl_resolves_them() {
        let v = one(
            "a: yes\nb: off\nc: 0755\nd: 1_000\ne: 0x1F\nf: 1.0\ng: 1e3\nh: 2024-1-2\ni: '0755'\nj: ~\nk: 1.5\nl: -0b11\nm: 08\nq: N\no: .5\np: 12:30\n",
        );
        assert_eq!(
            v,
            json!({"a": true, "b": false, "c": 493, "d": 1000, "e": 31, "f": 1, "g": 1000,
                   "h": "2024-1-2", "i": "0755", "j": null, "k": 1.5, "l": -3, "m": 8,
                   "q": false, "o": 0.5, "p": "12:30"})
        );
    }

    #[test]
    fn keys_become_strings_and_merges_follow_go_yaml() {
        let v = one("on: 1\n1.0: x\nbase: &b {x: 1, z: 2}\nm:\n  x: 0\n  <<: *b\n  z: 3\n");
        assert_eq!(
            v,
            json!({"true": 1, "1": "x", "base": {"x": 1, "z": 2}, "m": {"x": 1, "z": 3}})
        );
    }

    #[test]
    fn tags_force_or_refuse_a_type() {
        assert_eq!(
            one("a: !!str 10\nb: !!float 1\nc: !!binary aGk=\n"),
            json!({"a": "10", "b": 1, "c": "hi"})
        );
        let e = documents("a: !!int abc\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(
            e.message.contains("cannot decode !!str `abc` as a !!int"),
            "{e}"
        );
    }

    #[test]
    fn documents_are_numbered_from_one_with_the_line_of_each_field() {
        let docs = documents(
            "a: 1\n---\n# nothing\n---\nkind: X\nspec:\n  steps:\n  - weight: 0\n    pause: 1s\n",
        )
        .unwrap();
        assert_eq!(docs.len(), 3);
        assert!(docs[1].value.is_none());
        let d = &docs[2];
        assert_eq!(d.number, 3);
        let path = [
            Seg::Key("spec".into()),
            Seg::Key("steps".into()),
            Seg::Index(0),
            Seg::Key("pause".into()),
        ];
        assert_eq!(d.lines.of(&path), 9);
        assert_eq!(render(&path), "spec.steps[0].pause");
        // A missing field is placed at its parent.
        assert_eq!(
            d.lines
                .of(&[Seg::Key("spec".into()), Seg::Key("nope".into())]),
            6
        );
    }

    #[test]
    fn a_repeated_key_keeps_the_last_value_and_is_noted() {
        let docs = documents("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(docs[0].value, Some(json!({"a": 3, "b": 2})));
        assert_eq!(
            docs[0].duplicate_keys,
            vec![(vec![Seg::Key("a".into())], 3)]
        );
    }

    #[test]
    fn a_syntax_error_names_the_document_and_line() {
        let e = documents("a: 1\n---\nb: [1, 2\nc: 3\n").unwrap_err();
        assert_eq!(e.document, 2);
        assert!(e.line >= 3, "{e:?}");
    }

    #[test]
    fn alias_bombs_are_refused() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..9 {
            let prev = format!("*a{}", i - 1);
            text.push_str(&format!(
                "a{i}: &a{i} [{}]\n",
                std::iter::repeat_n(prev.as_str(), 10)
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        let e = documents(&text).unwrap_err();
        assert!(e.message.contains("excessive aliasing"), "{e}");
    }
}
