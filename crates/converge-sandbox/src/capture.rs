//! The traffic recording the contract test validates: with `CONVERGE_SANDBOX_CAPTURE=<dir>` in
//! the environment, every exchange on a platform route (admin calls under `/_sandbox/` are not
//! platform traffic) is appended to `<dir>/<platform>-<pid>.jsonl`, one JSON object a line:
//! method, path, query, request headers, request body, status, response headers and body.
//!
//! Recording rather than proxying keeps the suite's timing untouched: nothing sits between the
//! clients and the sandboxes while the tests run, and the recorded exchanges are replayed through
//! a validator afterwards, one at a time (`tests/contract.rs`).
//!
//! Secrets never reach the file: the Authorization header keeps only its scheme, and an API key
//! sent in the query (`api_key`) is replaced.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

/// The environment variable naming the directory to record into.
pub const ENV: &str = "CONVERGE_SANDBOX_CAPTURE";

/// The largest body recorded; a larger one is recorded as truncated (never the case for what
/// Converge sends: documents are bounded well below this).
const BODY_LIMIT: usize = 32 * 1024 * 1024;

/// One request and its response, as recorded.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Exchange {
    pub platform: String,
    pub method: String,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// Whether the sandbox serves this path as one of the platform's routes (a request to a
    /// path it does not know is answered by its not-found fallback).
    #[serde(default)]
    pub routed: bool,
    /// Lower-case names; `authorization` holds the scheme only (`Bearer`, `Basic`).
    pub request_headers: Vec<(String, String)>,
    pub request_body: Body64,
    pub status: u16,
    pub response_headers: Vec<(String, String)>,
    pub response_body: Body64,
    /// An injected fault (error, throttle, reset, malformed): not the platform's behaviour.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

impl Exchange {
    pub fn request_header(&self, name: &str) -> Option<&str> {
        header_value(&self.request_headers, name)
    }

    pub fn response_header(&self, name: &str) -> Option<&str> {
        header_value(&self.response_headers, name)
    }
}

fn header_value<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// A body: text when it is UTF-8, base64 otherwise.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Body64 {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base64: Option<String>,
}

impl Body64 {
    fn of(bytes: &[u8]) -> Self {
        match std::str::from_utf8(bytes) {
            Ok(t) => Body64 {
                text: Some(t.to_string()),
                base64: None,
            },
            Err(_) => Body64 {
                text: None,
                base64: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            },
        }
    }

    pub fn bytes(&self) -> Vec<u8> {
        match (&self.text, &self.base64) {
            (Some(t), _) => t.clone().into_bytes(),
            (None, Some(b)) => base64::engine::general_purpose::STANDARD
                .decode(b)
                .unwrap_or_default(),
            (None, None) => Vec::new(),
        }
    }
}

/// Where this process records, if anywhere (read once).
fn directory() -> Option<&'static PathBuf> {
    static DIR: OnceLock<Option<PathBuf>> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(std::env::var_os(ENV)?);
        std::fs::create_dir_all(&dir).ok()?;
        Some(dir)
    })
    .as_ref()
}

/// Whether exchanges are recorded.
pub fn enabled() -> bool {
    directory().is_some()
}

/// Reads a body whole so that it can be recorded and passed on.
pub async fn buffer(body: Body) -> Bytes {
    axum::body::to_bytes(body, BODY_LIMIT)
        .await
        .unwrap_or_default()
}

/// The request headers as recorded: no credentials.
pub fn request_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .filter(|(n, _)| *n != header::COOKIE)
        .map(|(n, v)| {
            let value = v.to_str().unwrap_or_default();
            let value = if *n == header::AUTHORIZATION {
                value.split(' ').next().unwrap_or_default().to_string()
            } else {
                value.to_string()
            };
            (n.as_str().to_string(), value)
        })
        .collect()
}

pub fn response_headers(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_string(),
                v.to_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// The query without the values of credential parameters.
pub fn query(query: Option<&str>, secret: Option<&str>) -> Option<String> {
    let query = query?;
    let Some(secret) = secret else {
        return Some(query.to_string());
    };
    Some(
        query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((k, _)) if k == secret => format!("{k}=redacted"),
                _ => pair.to_string(),
            })
            .collect::<Vec<_>>()
            .join("&"),
    )
}

/// Records one exchange; a write error is ignored (recording never changes an answer).
#[allow(clippy::too_many_arguments)]
pub fn record(
    platform: &str,
    method: &str,
    path: &str,
    query: Option<String>,
    routed: bool,
    request_headers: Vec<(String, String)>,
    request_body: &[u8],
    status: u16,
    response_headers: Vec<(String, String)>,
    response_body: &[u8],
    fault: Option<&str>,
) {
    let Some(dir) = directory() else {
        return;
    };
    let exchange = Exchange {
        platform: platform.to_string(),
        method: method.to_string(),
        path: path.to_string(),
        query,
        routed,
        request_headers,
        request_body: Body64::of(request_body),
        status,
        response_headers,
        response_body: Body64::of(response_body),
        fault: fault.map(str::to_string),
    };
    let Ok(mut line) = serde_json::to_vec(&exchange) else {
        return;
    };
    line.push(b'\n');
    // One append of a whole line per exchange: a process killed mid-suite leaves whole lines,
    // and the lock keeps this process's sandboxes of one platform from interleaving.
    static LOCK: Mutex<()> = Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let file = dir.join(format!("{platform}-{}.jsonl", std::process::id()));
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
    {
        let _ = f.write_all(&line);
    }
}

/// Every exchange recorded in `dir`, file by file in name order, each file in the order written.
/// Lines that do not parse (a process killed mid-write) are skipped.
pub fn read_all(dir: &std::path::Path) -> std::io::Result<Vec<Exchange>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f)?;
        out.extend(
            text.lines()
                .filter_map(|l| serde_json::from_str::<Exchange>(l).ok()),
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_the_record() {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        h.insert(header::COOKIE, "a=s3cret".parse().unwrap());
        h.insert(header::CONTENT_TYPE, "application/json".parse().unwrap());
        let recorded = format!("{:?}", request_headers(&h));
        assert!(!recorded.contains("s3cret"), "{recorded}");
        assert!(recorded.contains("Bearer"));
        assert_eq!(
            query(Some("page_index=1&api_key=s3cret"), Some("api_key")).as_deref(),
            Some("page_index=1&api_key=redacted")
        );
    }

    #[test]
    fn bodies_round_trip_as_text_or_base64() {
        assert_eq!(Body64::of(b"{\"a\":1}").bytes(), b"{\"a\":1}");
        assert_eq!(Body64::of(&[0xff, 0x00]).bytes(), vec![0xff, 0x00]);
        assert!(Body64::of(&[0xff]).text.is_none());
    }
}
