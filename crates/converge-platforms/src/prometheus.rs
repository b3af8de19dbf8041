//! Prometheus' HTTP API, for the canary analysis: instant queries (`GET /api/v1/query`), and
//! the query-result shape (`{"resultType": ..., "result": [...]}`) as numbers.
//!
//! Converge also reads API7 Cloud's cluster metrics payload in this shape (see
//! `api7::metrics`). Every failure here — transport, timeout, a status other than 2xx, an
//! answer that is not a query result — is a plain message: the analysis treats it as a fault
//! of the provider (asked again, never a pass).

use std::sync::LazyLock;
use std::time::Duration;

use jiff::Timestamp;
use serde_json::Value;

/// How long one query may take.
pub const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

/// One connection pool for every Prometheus server the analyses name.
static HTTP: LazyLock<reqwest::Client> = LazyLock::new(|| {
    reqwest::Client::builder()
        .user_agent(concat!("converge/", env!("CARGO_PKG_VERSION")))
        .build()
        .unwrap_or_default()
});

/// The longest Prometheus error quoted in a message.
const MAX_ERROR: usize = 300;

fn cut(s: &str) -> String {
    let mut out: String = s.chars().take(MAX_ERROR).collect();
    if out.len() < s.len() {
        out.push('…');
    }
    out
}

/// The address as messages show it: without any user or password it carries.
fn shown(address: &str) -> String {
    match reqwest::Url::parse(address) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.as_str().trim_end_matches('/').to_string()
        }
        Err(_) => "the configured address".to_string(),
    }
}

/// Runs an instant query at `time` against the server at `address`; the sample values of the
/// answer (empty when the query selects nothing). Messages never quote credentials in the
/// address.
pub async fn query(address: &str, promql: &str, time: Timestamp) -> Result<Vec<f64>, String> {
    query_within(address, promql, time, QUERY_TIMEOUT).await
}

async fn query_within(
    address: &str,
    promql: &str,
    time: Timestamp,
    timeout: Duration,
) -> Result<Vec<f64>, String> {
    let url = format!("{}/api/v1/query", address.trim_end_matches('/'));
    let address = shown(address);
    let time = format!("{:.3}", time.as_millisecond() as f64 / 1000.0);
    let response = HTTP
        .get(&url)
        .query(&[("query", promql), ("time", time.as_str())])
        .timeout(timeout)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!(
                    "Prometheus at {address} did not answer within {}ms",
                    timeout.as_millis()
                )
            } else {
                // Without the URL: it may carry credentials.
                format!(
                    "Prometheus at {address} cannot be reached: {}",
                    e.without_url()
                )
            }
        })?;
    let status = response.status();
    let body = response.bytes().await.map_err(|e| {
        format!(
            "Prometheus at {address}: reading the answer: {}",
            e.without_url()
        )
    })?;
    let json: Option<Value> = serde_json::from_slice(&body).ok();
    if !status.is_success() {
        let why = json
            .as_ref()
            .and_then(|j| {
                let kind = j["errorType"].as_str().unwrap_or("error");
                j["error"].as_str().map(|e| format!("{kind}: {e}"))
            })
            .unwrap_or_else(|| String::from_utf8_lossy(&body).trim().to_string());
        return Err(format!(
            "Prometheus answered HTTP {}: {}",
            status.as_u16(),
            cut(&why)
        ));
    }
    let json = json.ok_or_else(|| "Prometheus answered something that is not JSON".to_string())?;
    if json["status"] != "success" {
        return Err(format!(
            "Prometheus answered status {}: {}",
            json["status"],
            cut(json["error"].as_str().unwrap_or_default())
        ));
    }
    samples(&json["data"])
}

fn number(v: &Value) -> Option<f64> {
    // Prometheus sends sample values as strings ("12", "NaN", "+Inf").
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    }
}

/// The sample values of a query result: a `vector` (`result[].value`), a `matrix`
/// (`result[].values[]`) or a `scalar` (`result`), each sample `[time, "value"]`.
pub fn samples(data: &Value) -> Result<Vec<f64>, String> {
    let sample = |s: &Value| {
        s.get(1)
            .and_then(number)
            .ok_or_else(|| format!("a sample is not [time, \"value\"]: {}", cut(&s.to_string())))
    };
    let result = &data["result"];
    match data["resultType"].as_str() {
        Some("vector") => result
            .as_array()
            .ok_or("a vector result is not a list")?
            .iter()
            .map(|series| sample(&series["value"]))
            .collect(),
        Some("matrix") => {
            let mut out = Vec::new();
            for series in result.as_array().ok_or("a matrix result is not a list")? {
                for s in series["values"]
                    .as_array()
                    .ok_or("a series has no values")?
                {
                    out.push(sample(s)?);
                }
            }
            Ok(out)
        }
        Some("scalar") => Ok(vec![sample(result)?]),
        other => Err(format!(
            "not a query result (resultType {})",
            other.unwrap_or("missing")
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn vectors_matrices_and_scalars_give_their_samples() {
        let v = json!({"resultType": "vector", "result": [
            {"metric": {"code": "200"}, "value": [1700000000.1, "12"]},
            {"metric": {"code": "500"}, "value": [1700000000.1, "NaN"]}]});
        let got = samples(&v).unwrap();
        assert_eq!(got[0], 12.0);
        assert!(got[1].is_nan());
        let m = json!({"resultType": "matrix", "result": [
            {"metric": {}, "values": [[1, "1"], [2, "2.5"]]},
            {"metric": {}, "values": [[1, "4"]]}]});
        assert_eq!(samples(&m).unwrap(), vec![1.0, 2.5, 4.0]);
        let s = json!({"resultType": "scalar", "result": [1, "+Inf"]});
        assert_eq!(samples(&s).unwrap(), vec![f64::INFINITY]);
        assert_eq!(
            samples(&json!({"resultType": "vector", "result": []})).unwrap(),
            Vec::<f64>::new()
        );
    }

    #[test]
    fn what_is_not_a_query_result_says_so() {
        assert!(
            samples(&json!({"list": []}))
                .unwrap_err()
                .contains("resultType missing")
        );
        assert!(samples(&json!({"resultType": "vector", "result": [{"value": [1]}]})).is_err());
        assert!(samples(&json!({"resultType": "matrix", "result": {}})).is_err());
    }

    #[test]
    fn addresses_are_shown_without_credentials() {
        assert_eq!(shown("http://u:secret@prom:9090/"), "http://prom:9090");
        assert_eq!(shown("not a url"), "the configured address");
    }

    #[tokio::test]
    async fn a_server_that_does_not_answer_times_out() {
        // A real socket that accepts and never answers.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = format!("http://{}", silent.local_addr().unwrap());
        let held = tokio::spawn(async move {
            let (_conn, _) = silent.accept().await.unwrap();
            std::future::pending::<()>().await
        });
        let e = query_within(&address, "up", Timestamp::now(), Duration::from_millis(300))
            .await
            .unwrap_err();
        assert!(e.contains("did not answer within 300ms"), "{e}");
        held.abort();
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_message() {
        // A port nothing listens on: bind one, then close it.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let e = query(
            &format!("http://user:hunter2@127.0.0.1:{port}"),
            "up",
            Timestamp::now(),
        )
        .await
        .unwrap_err();
        assert!(e.contains("cannot be reached"), "{e}");
        assert!(!e.contains("hunter2"), "{e}");
    }
}
