//! List parameters as the docs give them: `page` (from 1, default 1), `page_size` (at least 1,
//! default 10), `order_by` (an enum per resource, default `updated_at`), `direction` (`ASC` or
//! `DESC`, case-insensitive, default `DESC`), `search`, and where documented `labels` and
//! `active`. Lists answer `payload: {"list": [...], "count": N}` where `count` is the number of
//! matches over all pages.
//!
//! Choices where the docs are silent: `search` matches the name case-insensitively (and an id
//! exactly); `labels` may repeat (`labels=a&labels=b`) or be comma-separated, and an item must
//! carry every label given; equal sort keys fall back to the id, in the same direction.

use jiff::Timestamp;

use super::envelope::ApiError;
use super::model::Id;
use super::validate::Pattern;

/// What one list endpoint accepts.
pub struct ListSpec {
    pub order_by: &'static [&'static str],
    pub labels: bool,
    pub active: bool,
}

/// A parsed list request.
#[derive(Debug)]
pub struct ListQuery {
    pub page: usize,
    pub page_size: usize,
    pub order_by: String,
    pub descending: bool,
    pub search: Option<String>,
    pub labels: Vec<String>,
    /// `Some(0|1)` to keep published or unpublished items only; `-1` (any) is `None`.
    pub active: Option<i64>,
}

/// What lists sort on.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SortKey {
    Time(Option<Timestamp>),
    Text(String),
}

impl ListQuery {
    /// Whether an item named `name` with id `id` matches `search`.
    pub fn matches_search(&self, id: Id, names: &[&str]) -> bool {
        let Some(search) = &self.search else {
            return true;
        };
        let needle = search.to_lowercase();
        id.to_string() == *search || names.iter().any(|n| n.to_lowercase().contains(&needle))
    }

    /// Whether an item carries every label asked for.
    pub fn matches_labels(&self, labels: &[String]) -> bool {
        self.labels.iter().all(|l| labels.contains(l))
    }

    pub fn matches_active(&self, active: i64) -> bool {
        self.active.is_none_or(|a| a == active)
    }

    /// Sorts by `key` (then id), and returns the requested page and the total count.
    pub fn page<T>(
        &self,
        mut items: Vec<T>,
        key: impl Fn(&T, &str) -> (SortKey, Id),
    ) -> (Vec<T>, usize) {
        items.sort_by(|a, b| {
            let ord = key(a, &self.order_by).cmp(&key(b, &self.order_by));
            if self.descending { ord.reverse() } else { ord }
        });
        let count = items.len();
        let start = (self.page - 1).saturating_mul(self.page_size);
        let page = items.into_iter().skip(start).take(self.page_size).collect();
        (page, count)
    }
}

/// Percent-decodes a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The query string's pairs, decoded.
pub fn pairs(raw: Option<&str>) -> Vec<(String, String)> {
    raw.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn positive(name: &str, value: &str) -> Result<usize, ApiError> {
    let n: i64 = value.parse().map_err(|_| {
        ApiError::invalid(format!(
            "{name} in query must be of type int64: \"{value}\""
        ))
    })?;
    if n < 1 {
        return Err(ApiError::invalid(format!(
            "{name} in query should be greater than or equal to 1"
        )));
    }
    Ok(n as usize)
}

/// Parses and validates a list request.
pub fn parse(raw: Option<&str>, spec: &ListSpec) -> Result<ListQuery, ApiError> {
    let mut q = ListQuery {
        page: 1,
        page_size: 10,
        order_by: "updated_at".into(),
        descending: true,
        search: None,
        labels: Vec::new(),
        active: None,
    };
    for (k, v) in pairs(raw) {
        match k.as_str() {
            "page" => q.page = positive("page", &v)?,
            "page_size" => q.page_size = positive("page_size", &v)?,
            "order_by" => {
                if !spec.order_by.contains(&v.as_str()) {
                    return Err(ApiError::invalid(format!(
                        "order_by in query should be one of [{}]",
                        spec.order_by.join(" ")
                    )));
                }
                q.order_by = v;
            }
            "direction" => match v.to_ascii_uppercase().as_str() {
                "ASC" => q.descending = false,
                "DESC" => q.descending = true,
                _ => {
                    return Err(ApiError::invalid(
                        "direction in query should be one of [ASC DESC]",
                    ));
                }
            },
            "search" if !v.is_empty() => q.search = Some(v),
            "labels" | "labels[]" if spec.labels => {
                for label in v.split(',').filter(|l| !l.is_empty()) {
                    let n = label.chars().count();
                    if n > 32 {
                        return Err(ApiError::invalid(
                            "labels in query should be at most 32 chars long",
                        ));
                    }
                    if !Pattern::Label.matches(label) {
                        return Err(ApiError::invalid(
                            "labels in query should match '^[0-9a-zA-Z-_]+$'",
                        ));
                    }
                    q.labels.push(label.to_string());
                }
            }
            "active" if spec.active => {
                q.active = match v.as_str() {
                    "-1" | "" => None,
                    "0" => Some(0),
                    "1" => Some(1),
                    _ => {
                        return Err(ApiError::invalid(
                            "active in query should be one of [-1 0 1]",
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    if q.labels.len() > 32 {
        return Err(ApiError::invalid(
            "labels in query should have at most 32 items",
        ));
    }
    Ok(q)
}
