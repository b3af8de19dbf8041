//! Query strings (repeated keys are how the API takes lists: `type=AWS&type=Custom`) and the
//! `page_index` / `page_size` pagination.

use serde_json::{Value, json};

use super::error::ApiError;

/// Decoded `key=value` pairs of a query string or form body, in order.
pub fn pairs(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding with '+' as a space.
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| (b as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request's query.
pub struct Query {
    pairs: Vec<(String, String)>,
    errors: Vec<String>,
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Self {
        Query {
            pairs: raw.map(pairs).unwrap_or_default(),
            errors: Vec::new(),
        }
    }

    /// The first value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated key.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// An unsigned integer parameter.
    pub fn uint(&mut self, key: &str, required: bool) -> Option<u64> {
        match self.get(key).map(str::to_string) {
            None => {
                if required {
                    self.errors.push(format!("{key} in query is required"));
                }
                None
            }
            Some(v) => match v.parse::<u64>() {
                Ok(n) => Some(n),
                Err(_) => {
                    self.errors
                        .push(format!("{key} in query must be of type uint64: {v:?}"));
                    None
                }
            },
        }
    }

    /// A boolean parameter.
    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.get(key).map(str::to_string) {
            None => None,
            Some(v) => match v.as_str() {
                "true" | "1" => Some(true),
                "false" | "0" => Some(false),
                _ => {
                    self.errors
                        .push(format!("{key} in query must be of type boolean: {v:?}"));
                    None
                }
            },
        }
    }

    /// Every value of an enum list parameter, each checked.
    pub fn enum_list(&mut self, key: &str, allowed: &[&str]) -> Vec<String> {
        let values: Vec<String> = self.all(key).into_iter().map(str::to_string).collect();
        for v in &values {
            if !allowed.contains(&v.as_str()) {
                self.errors.push(format!(
                    "{key} in query should be one of [{}]",
                    allowed.join(" ")
                ));
            }
        }
        values
    }

    /// `page_index` (from 1, default 1) and `page_size` (default 1000).
    pub fn page(&mut self) -> Page {
        let index = self.uint("page_index", false).unwrap_or(1);
        let size = self.uint("page_size", false).unwrap_or(1000);
        if index < 1 {
            self.errors
                .push("page_index in query should be greater than or equal to 1".into());
        }
        if size < 1 {
            self.errors
                .push("page_size in query should be greater than or equal to 1".into());
        }
        Page { index, size }
    }

    /// Records a violation found by the caller.
    pub fn violation(&mut self, message: impl Into<String>) {
        self.errors.push(message.into());
    }

    /// 422 with every violation, or Ok.
    pub fn finish(&mut self) -> Result<(), ApiError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(std::mem::take(&mut self.errors)))
        }
    }
}

/// One page of a list.
#[derive(Clone, Copy, Debug)]
pub struct Page {
    pub index: u64,
    pub size: u64,
}

impl Page {
    /// The page's items and the `pagination` object: `index` and `size` as requested, `total`
    /// the number of items in the whole (filtered) list.
    pub fn slice(self, items: Vec<Value>) -> (Vec<Value>, Value) {
        let total = items.len() as u64;
        let skip = (self.index.saturating_sub(1)).saturating_mul(self.size);
        let page: Vec<Value> = items
            .into_iter()
            .skip(usize::try_from(skip).unwrap_or(usize::MAX))
            .take(usize::try_from(self.size).unwrap_or(usize::MAX))
            .collect();
        (
            page,
            json!({ "index": self.index, "size": self.size, "total": total }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_decode_percent_and_plus() {
        assert_eq!(
            pairs("a=1&type=AWS&type=Custom&q=a+b%2Fc&e"),
            vec![
                ("a".into(), "1".into()),
                ("type".into(), "AWS".into()),
                ("type".into(), "Custom".into()),
                ("q".into(), "a b/c".into()),
                ("e".into(), "".into()),
            ]
        );
        assert_eq!(pairs("x=%zz%4"), vec![("x".into(), "%zz%4".into())]);
    }

    #[test]
    fn pages_slice_and_count() {
        let items: Vec<Value> = (1..=5).map(|i| json!(i)).collect();
        let (page, meta) = Page { index: 2, size: 2 }.slice(items);
        assert_eq!(page, vec![json!(3), json!(4)]);
        assert_eq!(meta, json!({"index": 2, "size": 2, "total": 5}));
    }
}
