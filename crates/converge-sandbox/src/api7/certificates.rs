//! Certificates of a cluster: `/clusters/{cluster_id}/certificates[/{certificate_id}]`.
//!
//! `certificate` and `private_key` are required PEM texts of 128..65536 characters,
//! `ca_certificate` optional (same length), `type` Server|Client (default Server), labels. The
//! certificate must parse as X.509 and the key must be a PEM private key (400 otherwise);
//! whether they match is not checked. Answers never carry the PEM texts: create, get and list
//! answer the certificate's details flat (`snis`, `not_before`, `not_after`, `subject`,
//! `issuer`, `serial_number`, `signature_algorithm`, and `ca_certificate` as details), while
//! `PUT` and `PATCH` answer them nested under `"Metadata"`, as API7 Cloud does (the Go SDK
//! adapted to it in its commit e99f885). `search` matches SNIs and the subject. A certificate
//! an application upstream uses as `client_cert_id` cannot be deleted (400).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use serde_json::{Map, Value, json};

use super::Api7;
use super::envelope::{ApiError, Reply, ok, ok_empty, ok_list};
use super::model::{CertSpec, Certificate, CertificateMetadata, Clock, Id, State as Store};
use super::orgs::clock;
use super::query::{self, ListSpec, SortKey};
use super::scope;
use super::validate::{Checker, parse_object, parse_patch, patched, path_id};
use super::x509;
use crate::Sandbox;

type Validated = (CertSpec, CertificateMetadata, Option<CertificateMetadata>);

fn validate(obj: &Map<String, Value>) -> Result<Validated, ApiError> {
    let mut c = Checker::new();
    let cert = c.string(obj, "", "certificate", true, (128, 65536));
    let key = c.string(obj, "", "private_key", true, (128, 65536));
    let ca = c.string(obj, "", "ca_certificate", false, (128, 65536));
    let labels = c.labels(obj, "");
    let kind = c
        .one_of(obj, "", "type", false, &["Server", "Client"], true)
        .unwrap_or_else(|| "Server".into());
    let metadata = cert.as_deref().and_then(|pem| {
        x509::certificate_metadata(pem)
            .map_err(|e| {
                c.fail(format!(
                    "certificate in body is not a valid certificate: {e}"
                ))
            })
            .ok()
    });
    if let Some(key) = key.as_deref()
        && let Err(e) = x509::check_private_key(key)
    {
        c.fail(format!(
            "private_key in body is not a valid private key: {e}"
        ));
    }
    let ca_metadata = ca.as_deref().and_then(|pem| {
        x509::certificate_metadata(pem)
            .map_err(|e| {
                c.fail(format!(
                    "ca_certificate in body is not a valid certificate: {e}"
                ))
            })
            .ok()
    });
    c.finish()?;
    let (Some(certificate), Some(private_key), Some(metadata)) = (cert, key, metadata) else {
        return Err(ApiError::invalid(
            "certificate and private_key are required",
        ));
    };
    Ok((
        CertSpec {
            certificate,
            private_key,
            ca_certificate: ca,
            labels,
            kind,
        },
        metadata,
        ca_metadata,
    ))
}

fn metadata_json(m: &CertificateMetadata) -> Map<String, Value> {
    match serde_json::to_value(m) {
        Ok(Value::Object(o)) => o,
        _ => Map::new(),
    }
}

/// The fields every answer carries, without the certificate's own details.
fn common(cert: &Certificate, clock: &Clock) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("id".into(), json!(cert.id));
    out.insert("cluster_id".into(), json!(cert.cluster_id));
    out.insert(
        "status".into(),
        json!(clock.entity_status(cert.updated_at, false)),
    );
    out.insert("created_at".into(), json!(cert.created_at));
    out.insert("updated_at".into(), json!(cert.updated_at));
    out.insert("labels".into(), json!(cert.spec.labels));
    out.insert("type".into(), json!(cert.spec.kind));
    if let Some(ca) = &cert.ca_metadata {
        out.insert("ca_certificate".into(), Value::Object(metadata_json(ca)));
    }
    out
}

/// CertificateDetails, flat (create, get, list).
fn render(cert: &Certificate, clock: &Clock) -> Value {
    let mut out = common(cert, clock);
    out.extend(metadata_json(&cert.metadata));
    Value::Object(out)
}

/// The update answer: the details nested under "Metadata".
fn render_updated(cert: &Certificate, clock: &Clock) -> Value {
    let mut out = common(cert, clock);
    out.insert(
        "Metadata".into(),
        Value::Object(metadata_json(&cert.metadata)),
    );
    Value::Object(out)
}

const CERT_LIST: ListSpec = ListSpec {
    order_by: &["not_after", "created_at", "updated_at"],
    labels: true,
    active: false,
};

pub async fn list(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    RawQuery(raw): RawQuery,
) -> Reply {
    let q = query::parse(raw.as_deref(), &CERT_LIST)?;
    let clock = clock(&sb);
    sb.read(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        let found: Vec<&Certificate> = s
            .certificates
            .values()
            .filter(|c| c.cluster_id == cluster && q.matches_labels(&c.spec.labels))
            .filter(|c| {
                let mut names: Vec<&str> = c.metadata.snis.iter().map(String::as_str).collect();
                names.push(&c.metadata.subject);
                q.matches_search(c.id, &names)
            })
            .collect();
        let (page, count) = q.page(found, |c, by| {
            let key = match by {
                "not_after" => SortKey::Time(c.metadata.not_after),
                "created_at" => SortKey::Time(Some(c.created_at)),
                _ => SortKey::Time(Some(c.updated_at)),
            };
            (key, c.id)
        });
        Ok(ok_list(
            page.iter().map(|c| render(c, &clock)).collect(),
            count,
        ))
    })
}

pub async fn create(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path(cid): Path<String>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    let clock = clock(&sb);
    sb.write(|s| {
        let cluster = scope::cluster(s, &headers, &cid)?;
        scope::writable(s, cluster, &clock)?;
        let (spec, metadata, ca_metadata) = validate(&obj)?;
        let id = s.new_id();
        let cert = Certificate {
            id,
            cluster_id: cluster,
            spec,
            metadata,
            ca_metadata,
            created_at: clock.now,
            updated_at: clock.now,
        };
        let out = render(&cert, &clock);
        s.certificates.insert(id, cert);
        Ok(ok(out))
    })
}

fn find(s: &Store, headers: &HeaderMap, cid: &str, raw: &str) -> Result<(Id, Id), ApiError> {
    let cluster = scope::cluster(s, headers, cid)?;
    let id = path_id("certificate_id", raw)?;
    match s.certificates.get(&id) {
        Some(c) if c.cluster_id == cluster => Ok((cluster, id)),
        _ => Err(ApiError::not_found("certificate", id)),
    }
}

pub async fn get(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, cert)): Path<(String, String)>,
) -> Reply {
    let clock = clock(&sb);
    sb.read(|s| {
        let (_, id) = find(s, &headers, &cid, &cert)?;
        Ok(ok(render(&s.certificates[&id], &clock)))
    })
}

fn replace(
    sb: &Sandbox<Api7>,
    headers: &HeaderMap,
    cid: &str,
    cert: &str,
    obj: Map<String, Value>,
    merge: bool,
) -> Reply {
    let clock = clock(sb);
    sb.write(|s| {
        let (cluster, id) = find(s, headers, cid, cert)?;
        scope::writable(s, cluster, &clock)?;
        let obj = patched(&s.certificates[&id].spec, obj, merge);
        let (spec, metadata, ca_metadata) = validate(&obj)?;
        let c = s.certificates.get_mut(&id).expect("found above");
        c.spec = spec;
        c.metadata = metadata;
        c.ca_metadata = ca_metadata;
        c.updated_at = clock.now;
        Ok(ok(render_updated(c, &clock)))
    })
}

pub async fn update(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, cert)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_object(&body)?;
    replace(&sb, &headers, &cid, &cert, obj, false)
}

pub async fn patch(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, cert)): Path<(String, String)>,
    body: Bytes,
) -> Reply {
    let obj = parse_patch(&body)?;
    replace(&sb, &headers, &cid, &cert, obj, true)
}

fn uses_cert(upstream: &Value, id: &str) -> bool {
    let outer = upstream.get("client_cert_id").and_then(Value::as_str) == Some(id);
    let inner = upstream
        .get("upstream")
        .and_then(|u| u.get("client_cert_id"))
        .and_then(Value::as_str)
        == Some(id);
    outer || inner
}

pub async fn delete(
    State(sb): State<Sandbox<Api7>>,
    headers: HeaderMap,
    Path((cid, cert)): Path<(String, String)>,
) -> Reply {
    sb.write(|s| {
        let (_, id) = find(s, &headers, &cid, &cert)?;
        let key = id.to_string();
        if let Some(app) = s
            .applications
            .values()
            .find(|a| a.spec.upstreams.iter().any(|u| uses_cert(u, &key)))
        {
            return Err(ApiError::invalid(format!(
                "certificate {id} is used by application {} as an upstream client certificate",
                app.id
            )));
        }
        s.certificates.remove(&id);
        Ok(ok_empty())
    })
}
