//! OpsChain's list filtering and sorting (`filter[<attribute>_<predicate>]=value`,
//! `filter[m]=or`, `filter[sorts]=<attribute> desc`), a Ransack query over the attributes (and
//! `id`) of each listed resource. Conditions on attributes a resource does not have are
//! ignored, as Ransack ignores unknown conditions.

use std::cmp::Ordering;

use serde_json::Value;

/// Ransack predicates, longest first so `not_eq` wins over `eq`.
const PREDICATES: [&str; 18] = [
    "not_null", "not_cont", "not_eq", "not_in", "present", "blank", "start", "false", "lteq",
    "gteq", "cont", "null", "true", "end", "eq", "lt", "gt", "in",
];

/// The filters and sorts of one list request.
#[derive(Default)]
pub struct Query {
    conditions: Vec<(String, Vec<String>)>,
    any: bool,
    sorts: Vec<String>,
}

impl Query {
    /// Reads `filter[...]` parameters from a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        let mut query = Query::default();
        for pair in raw.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let (key, value) = (decode(key), decode(value));
            let Some(inner) = key.strip_prefix("filter[") else {
                continue;
            };
            let Some((name, _)) = inner.split_once(']') else {
                continue;
            };
            match name {
                "m" => query.any = value.eq_ignore_ascii_case("or"),
                "s" | "sorts" => query.sorts.push(value),
                _ => match query.conditions.iter_mut().find(|(n, _)| n == name) {
                    Some((_, values)) => values.push(value),
                    None => query.conditions.push((name.to_string(), vec![value])),
                },
            }
        }
        query
    }

    /// Keeps the resources (JSON:API resource objects) that match, sorted as asked.
    pub fn apply(&self, mut items: Vec<Value>) -> Vec<Value> {
        items.retain(|item| self.matches(item));
        for sort in self.sorts.iter().rev() {
            let mut words = sort.split_whitespace();
            let attribute = words.next().unwrap_or_default().to_string();
            let descending = words.next().is_some_and(|d| d.eq_ignore_ascii_case("desc"));
            items.sort_by(|a, b| {
                let order = compare(field(a, &attribute), field(b, &attribute));
                if descending { order.reverse() } else { order }
            });
        }
        items
    }

    fn matches(&self, item: &Value) -> bool {
        let mut results = self
            .conditions
            .iter()
            .filter_map(|(name, values)| condition(item, name, values));
        if self.any {
            let results: Vec<bool> = results.collect();
            results.is_empty() || results.contains(&true)
        } else {
            results.all(|r| r)
        }
    }
}

fn field<'a>(item: &'a Value, attribute: &str) -> Option<&'a Value> {
    if attribute == "id" {
        return item.get("id");
    }
    item.get("attributes")?.get(attribute)
}

/// `Some(matched)` for a condition on an attribute the item has, `None` to ignore it.
/// `<attribute>_text` matches against the JSON text of an object attribute, as the docs'
/// `filter[metadata_text_cont]=CR921` does.
fn condition(item: &Value, name: &str, values: &[String]) -> Option<bool> {
    PREDICATES.iter().find_map(|predicate| {
        let attribute = name.strip_suffix(predicate)?.strip_suffix('_')?;
        let attributes = item.get("attributes")?.as_object()?;
        let value = if attribute == "id" || attributes.contains_key(attribute) {
            field(item, attribute).cloned().unwrap_or(Value::Null)
        } else {
            let object = attributes.get(attribute.strip_suffix("_text")?)?;
            Value::String(object.to_string())
        };
        Some(test(predicate, &value, values))
    })
}

fn test(predicate: &str, value: &Value, params: &[String]) -> bool {
    let param = params.first().map(String::as_str).unwrap_or_default();
    let text = as_text(value);
    let lower = |s: &str| s.to_lowercase();
    match predicate {
        "eq" => equals(value, param),
        "not_eq" => !value.is_null() && !equals(value, param),
        "in" => params.iter().any(|p| equals(value, p)),
        "not_in" => !value.is_null() && !params.iter().any(|p| equals(value, p)),
        "lt" | "lteq" | "gt" | "gteq" => {
            if value.is_null() {
                return false;
            }
            let order = compare(Some(value), Some(&Value::String(param.to_string())));
            match predicate {
                "lt" => order == Ordering::Less,
                "lteq" => order != Ordering::Greater,
                "gt" => order == Ordering::Greater,
                _ => order != Ordering::Less,
            }
        }
        "cont" => text.is_some_and(|t| lower(&t).contains(&lower(param))),
        "not_cont" => text.is_some_and(|t| !lower(&t).contains(&lower(param))),
        "start" => text.is_some_and(|t| lower(&t).starts_with(&lower(param))),
        "end" => text.is_some_and(|t| lower(&t).ends_with(&lower(param))),
        "null" => value.is_null() == truthy(param),
        "not_null" => value.is_null() != truthy(param),
        "present" => text.is_some_and(|t| !t.trim().is_empty()) == truthy(param),
        "blank" => text.is_none_or(|t| t.trim().is_empty()) == truthy(param),
        "true" => (value == &Value::Bool(true)) == truthy(param),
        "false" => (value == &Value::Bool(false)) == truthy(param),
        _ => true,
    }
}

fn truthy(param: &str) -> bool {
    matches!(param, "1" | "true" | "t" | "yes")
}

fn as_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn equals(value: &Value, param: &str) -> bool {
    match value {
        Value::Bool(b) => {
            truthy(param) == *b && matches!(param, "1" | "0" | "true" | "false" | "t" | "f")
        }
        Value::Number(n) => param.parse::<f64>().ok() == n.as_f64(),
        Value::String(s) => s == param,
        _ => false,
    }
}

/// Numbers compare as numbers, everything else as text (timestamps sort as text); nulls first.
fn compare(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let number = |v: Option<&Value>| v.and_then(|v| as_text(v)?.parse::<f64>().ok());
    match (number(a), number(b)) {
        (Some(x), Some(y)) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        _ => {
            let text = |v: Option<&Value>| v.and_then(as_text);
            text(a).cmp(&text(b))
        }
    }
}

/// Percent-decoding of a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn items() -> Vec<Value> {
        vec![
            json!({"id": "1", "attributes": {"code": "web", "name": "Web", "archived": false, "version": 2}}),
            json!({"id": "2", "attributes": {"code": "ops", "name": "Ops prod", "archived": true, "version": 10}}),
        ]
    }

    fn codes(query: &str) -> Vec<String> {
        Query::parse(Some(query))
            .apply(items())
            .iter()
            .map(|i| i["attributes"]["code"].as_str().unwrap().to_string())
            .collect()
    }

    #[test]
    fn predicates_match_as_documented() {
        assert_eq!(codes("filter%5Bcode_eq%5D=web"), ["web"]);
        assert_eq!(codes("filter[code_not_eq]=web"), ["ops"]);
        assert_eq!(codes("filter[archived_eq]=true"), ["ops"]);
        assert_eq!(codes("filter[name_cont]=PROD"), ["ops"]);
        assert_eq!(codes("filter[code_in][]=web&filter[code_in][]=x"), ["web"]);
        assert_eq!(codes("filter[version_gt]=3"), ["ops"]);
        assert_eq!(
            codes("filter[name_start]=we&filter[archived_eq]=true&filter[m]=or"),
            ["web", "ops"]
        );
        assert_eq!(codes("filter[unknown_eq]=1"), ["web", "ops"]);
        assert_eq!(codes("filter[sorts]=version+desc"), ["ops", "web"]);
        assert_eq!(codes("filter[id_eq]=2"), ["ops"]);
        let runs =
            vec![json!({"id": "r", "attributes": {"metadata": {"change_request": "CR921"}}})];
        let query = Query::parse(Some("filter[metadata_text_cont]=cr921"));
        assert_eq!(query.apply(runs.clone()).len(), 1);
        assert!(
            Query::parse(Some("filter[metadata_text_cont]=CR922"))
                .apply(runs)
                .is_empty()
        );
    }
}
