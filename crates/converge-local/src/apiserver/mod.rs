//! An embedded, in-memory Kubernetes API server for `converge local` and `converge plan`: it
//! speaks the REST paths, verbs, patch types, list and watch protocol (including
//! metadata-only requests) that kube-rs uses, so the controller runs unchanged — the same
//! `kube::Client`, watches, finalizers, status writes and Events as in a cluster — with no
//! cluster. Every create and update goes through the apiserver's admission as
//! `crate::validation` reproduces it (strict or pruning field validation as the client asks,
//! the CRDs' schemas and defaults, CEL rules with transition rules, size), so `converge local`,
//! its `--watch` reloads and `converge plan` get the apiserver's decision in one place. It is
//! not a general apiserver: no admission webhooks, no authentication (it binds to loopback
//! only), no namespace cascade.

pub mod resources;
pub mod selectors;
pub mod store;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::validation::FieldValidation;
use resources::ResourceType;
use selectors::Selector;
use store::{ApiError, Change, PatchType, Store};

/// The longest a watch stays open, as the real apiserver bounds them too.
const MAX_WATCH: Duration = Duration::from_secs(600);

pub struct ApiServer {
    pub addr: SocketAddr,
    pub store: Arc<Store>,
    pub types: Arc<Vec<ResourceType>>,
    task: tokio::task::JoinHandle<()>,
}

impl ApiServer {
    /// Serves an empty store on a free loopback port.
    pub async fn start() -> std::io::Result<ApiServer> {
        let store = Arc::new(Store::default());
        let types = Arc::new(resources::all());
        let app = axum::Router::new()
            .fallback(handle)
            .with_state((store.clone(), types.clone()));
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Ok(ApiServer {
            addr,
            store,
            types,
            task,
        })
    }

    /// A client of this server, as a kubeconfig would give one.
    pub fn client(&self) -> anyhow::Result<kube::Client> {
        let url: http::Uri = format!("http://{}", self.addr).parse()?;
        Ok(kube::Client::try_from(kube::Config::new(url))?)
    }

    /// The type of an object with this apiVersion and kind, if served.
    pub fn type_of(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        resources::of_kind(&self.types, api_version, kind)
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What a request path names.
#[derive(Debug, PartialEq)]
struct Target {
    group: String,
    version: String,
    plural: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn parse_path(path: &str) -> Option<Target> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match segs.as_slice() {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return None,
    };
    let (namespace, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        _ => (None, rest),
    };
    let (plural, name, subresource) = match rest {
        [plural] => (*plural, None, None),
        [plural, name] => (*plural, Some(name.to_string()), None),
        [plural, name, sub] => (*plural, Some(name.to_string()), Some(sub.to_string())),
        _ => return None,
    };
    Some(Target {
        group: group.into(),
        version: version.into(),
        plural: plural.into(),
        namespace,
        name,
        subresource,
    })
}

fn error(e: ApiError) -> Response {
    let code = StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(e.status())).into_response()
}

fn ok(code: StatusCode, v: Value) -> Response {
    (code, axum::Json(v)).into_response()
}

/// The object as a metadata-only request sees it.
fn partial(obj: &Value) -> Value {
    json!({
        "apiVersion": "meta.k8s.io/v1",
        "kind": "PartialObjectMetadata",
        "metadata": obj["metadata"],
    })
}

async fn handle(
    State((store, types)): State<(Arc<Store>, Arc<Vec<ResourceType>>)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match serve(&store, &types, &method, &uri, &headers, &body) {
        Ok(Reply::Now(code, v)) => ok(code, v),
        Ok(Reply::Watch(w)) => watch_response(*w),
        Err(e) => error(e),
    }
}

enum Reply {
    Now(StatusCode, Value),
    Watch(Box<Watch>),
}

struct Watch {
    backlog: Vec<Arc<Change>>,
    rx: tokio::sync::broadcast::Receiver<Arc<Change>>,
    rt: ResourceType,
    namespace: Option<String>,
    selector: Selector,
    metadata_only: bool,
    timeout: Duration,
}

fn serve(
    store: &Store,
    types: &[ResourceType],
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Reply, ApiError> {
    let target = parse_path(uri.path())
        .ok_or_else(|| ApiError::bad_request(format!("no such path: {}", uri.path())))?;
    let rt = resources::find(types, &target.group, &target.version, &target.plural).ok_or_else(
        || {
            ApiError::bad_request(format!(
                "the embedded apiserver does not serve {}",
                uri.path()
            ))
        },
    )?;
    let query: HashMap<String, String> =
        serde_urlencoded::from_str(uri.query().unwrap_or_default())
            .map_err(|e| ApiError::bad_request(format!("invalid query: {e}")))?;
    let metadata_only = headers
        .get(header::ACCEPT)
        .and_then(|a| a.to_str().ok())
        .is_some_and(|a| a.contains("as=PartialObjectMetadata"));
    let show = |v: Value| if metadata_only { partial(&v) } else { v };
    let status = match target.subresource.as_deref() {
        None => false,
        Some("status") if rt.status_subresource => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "the embedded apiserver has no subresource {other:?} on {}",
                rt.plural
            )));
        }
    };
    let namespace = target.namespace.clone().unwrap_or_default();
    if rt.namespaced && target.name.is_some() && target.namespace.is_none() {
        return Err(ApiError::bad_request(format!(
            "{} are namespaced: name a namespace",
            rt.plural
        )));
    }
    let parse_body = || -> Result<Value, ApiError> {
        serde_json::from_slice(body)
            .map_err(|e| ApiError::bad_request(format!("the body is not JSON: {e}")))
    };
    let now = |code, v| Ok(Reply::Now(code, v));
    // As the apiserver: unknown fields are dropped unless the client asks for strict field
    // validation (kubectl does; kube-rs does not).
    let fields = match query.get("fieldValidation").map(String::as_str) {
        Some("Strict") => FieldValidation::Strict,
        _ => FieldValidation::Prune,
    };
    match (method, target.name.as_deref()) {
        (&Method::GET, Some(name)) => now(StatusCode::OK, show(store.get(rt, &namespace, name)?)),
        (&Method::GET, None) => {
            let selector = Selector::parse(
                query.get("labelSelector").map(String::as_str),
                query.get("fieldSelector").map(String::as_str),
            )
            .map_err(ApiError::bad_request)?;
            let ns = target.namespace.as_deref();
            if matches!(query.get("watch").map(String::as_str), Some("true" | "1")) {
                let since = query
                    .get("resourceVersion")
                    .filter(|v| !v.is_empty() && *v != "0")
                    .map(|v| {
                        v.parse::<u64>().map_err(|_| {
                            ApiError::bad_request(format!("invalid resourceVersion {v:?}"))
                        })
                    })
                    .transpose()?;
                // No resourceVersion: the current objects first, as ADDED, then changes.
                let (initial, since) = match since {
                    Some(rv) => (Vec::new(), rv),
                    None => {
                        let (items, rv) = store.list(rt, ns, &selector);
                        (items, rv)
                    }
                };
                let (mut backlog, rx) = store.watch(rt, since)?;
                let mut added: Vec<Arc<Change>> = initial
                    .into_iter()
                    .map(|object| {
                        Arc::new(Change {
                            rv: since,
                            kind: store::ChangeKind::Added,
                            key: store::Key {
                                group: rt.group.clone(),
                                plural: rt.plural.clone(),
                                namespace: object["metadata"]["namespace"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .into(),
                                name: object["metadata"]["name"]
                                    .as_str()
                                    .unwrap_or_default()
                                    .into(),
                            },
                            object,
                        })
                    })
                    .collect();
                added.append(&mut backlog);
                let timeout = query
                    .get("timeoutSeconds")
                    .and_then(|t| t.parse().ok())
                    .map(Duration::from_secs)
                    .unwrap_or(MAX_WATCH)
                    .min(MAX_WATCH);
                return Ok(Reply::Watch(Box::new(Watch {
                    backlog: added,
                    rx,
                    rt: rt.clone(),
                    namespace: target.namespace.clone(),
                    selector,
                    metadata_only,
                    timeout,
                })));
            }
            let (items, rv) = store.list(rt, ns, &selector);
            let (api_version, kind, items) = if metadata_only {
                (
                    "meta.k8s.io/v1".to_string(),
                    "PartialObjectMetadataList".to_string(),
                    items.iter().map(partial).collect::<Vec<_>>(),
                )
            } else {
                (rt.api_version(), format!("{}List", rt.kind), items)
            };
            now(
                StatusCode::OK,
                json!({
                    "apiVersion": api_version,
                    "kind": kind,
                    "metadata": {"resourceVersion": rv.to_string()},
                    "items": items,
                }),
            )
        }
        (&Method::POST, None) => {
            if rt.namespaced && target.namespace.is_none() {
                return Err(ApiError::bad_request("create needs a namespace"));
            }
            now(
                StatusCode::CREATED,
                show(store.create(rt, &namespace, parse_body()?, fields)?),
            )
        }
        (&Method::PUT, Some(name)) => now(
            StatusCode::OK,
            show(store.update(rt, &namespace, name, parse_body()?, status, fields)?),
        ),
        (&Method::PATCH, Some(name)) => {
            let content_type = headers
                .get(header::CONTENT_TYPE)
                .and_then(|c| c.to_str().ok())
                .unwrap_or_default();
            let patch_type = PatchType::from_content_type(content_type).ok_or_else(|| {
                ApiError::unsupported_media_type(format!(
                    "the patch type {content_type:?} is not supported"
                ))
            })?;
            now(
                StatusCode::OK,
                show(store.patch(
                    rt,
                    &namespace,
                    name,
                    patch_type,
                    &parse_body()?,
                    status,
                    fields,
                )?),
            )
        }
        (&Method::DELETE, Some(name)) => {
            now(StatusCode::OK, show(store.delete(rt, &namespace, name)?))
        }
        _ => Err(ApiError::method_not_allowed(format!(
            "{method} {} is not supported by the embedded apiserver",
            uri.path()
        ))),
    }
}

fn event_line(kind: &str, object: Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object}))
        .expect("JSON values serialize");
    line.push(b'\n');
    Bytes::from(line)
}

impl Watch {
    fn wants(&self, c: &Change) -> bool {
        c.key.group == self.rt.group
            && c.key.plural == self.rt.plural
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| c.key.namespace == ns)
            && self.selector.matches(&c.object)
    }

    fn line(&self, c: &Change) -> Bytes {
        let object = if self.metadata_only {
            partial(&c.object)
        } else {
            c.object.clone()
        };
        event_line(c.kind.as_str(), object)
    }
}

fn watch_response(w: Watch) -> Response {
    let first: Vec<Result<Bytes, std::convert::Infallible>> = w
        .backlog
        .iter()
        .filter(|c| w.wants(c))
        .map(|c| Ok(w.line(c)))
        .collect();
    let deadline = tokio::time::Instant::now() + w.timeout;
    let rest = futures::stream::unfold(Some(w), move |state| async move {
        let mut w = state?;
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return None,
                next = w.rx.recv() => match next {
                    Ok(c) if w.wants(&c) => {
                        let line = w.line(&c);
                        return Some((Ok(line), Some(w)));
                    }
                    Ok(_) => continue,
                    // Fell behind: say so as the apiserver does, and the client lists again.
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let gone = ApiError::gone("the watch fell behind; list again");
                        return Some((Ok(event_line("ERROR", gone.status())), None));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                },
            }
        }
    });
    let stream = futures::StreamExt::chain(futures::stream::iter(first), rest);
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from_stream(stream))
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_group_namespace_object_and_subresource() {
        let t = parse_path("/apis/converge.dev/v1alpha1/namespaces/ns/projects/p/status").unwrap();
        assert_eq!(
            t,
            Target {
                group: "converge.dev".into(),
                version: "v1alpha1".into(),
                plural: "projects".into(),
                namespace: Some("ns".into()),
                name: Some("p".into()),
                subresource: Some("status".into()),
            }
        );
        let all = parse_path("/apis/converge.dev/v1alpha1/projects").unwrap();
        assert_eq!((all.namespace, all.name), (None, None));
        let ns = parse_path("/api/v1/namespaces/default").unwrap();
        assert_eq!(
            (ns.plural.as_str(), ns.name.as_deref()),
            ("namespaces", Some("default"))
        );
        let secrets = parse_path("/api/v1/namespaces/default/secrets").unwrap();
        assert_eq!(secrets.namespace.as_deref(), Some("default"));
        assert!(parse_path("/healthz").is_none());
    }
}
