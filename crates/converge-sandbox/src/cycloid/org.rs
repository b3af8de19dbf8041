//! Organization-level operations: organizations (read), config repositories, service catalogs
//! (read), events, and the organization's components.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State as With};
use axum::http::HeaderMap;
use serde_json::Value;

use super::Sb;
use super::error::{ApiError, ApiResult, data, no_content, page};
use super::model::{ConfigRepository, Event, Tag};
use super::query::Query;
use super::render;
use super::validate::{
    self, CSS2_COLORS, Fields, PathRule, Pattern, check_path, is_git_url, org_param,
};

const GIT_URL_PATTERN: &str =
    r"^((/|~)[^/]*)+.(\.git)|(([\w\]+@[\w\.]+))(:(//)?)([\w\.@\:/\-~]+)(/)?";
const EVENT_TYPES: [&str; 4] = ["Cycloid", "AWS", "Monitoring", "Custom"];
const SEVERITIES: [&str; 4] = ["info", "warn", "err", "crit"];

/// `GET /organizations` (getOrgs), filtered by `organization_name`.
pub async fn list_organizations(With(sb): With<Sb>, RawQuery(raw): RawQuery) -> ApiResult {
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    let name = q.get("organization_name").map(str::to_lowercase);
    q.finish()?;
    let items = sb.read(|s| {
        s.organizations
            .iter()
            .filter(|o| {
                name.as_ref()
                    .is_none_or(|n| o.name.to_lowercase().contains(n.as_str()))
            })
            .map(render::organization)
            .collect()
    });
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

/// `GET /organizations/{org}` (getOrg).
pub async fn get_organization(With(sb): With<Sb>, Path(org): Path<String>) -> ApiResult {
    check_path(&[org_param(&org)])?;
    sb.read(|s| Ok(data(render::organization(s.org(&org)?))))
}

/// `GET /organizations/{org}/config_repositories` (listConfigRepositories); `default=true`
/// keeps only the default one.
pub async fn list_config_repositories(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    let only_default = q.boolean("default").unwrap_or(false);
    q.finish()?;
    let items = sb.read(|s| {
        Ok::<_, ApiError>(
            s.org(&org)?
                .config_repositories
                .iter()
                .filter(|c| !only_default || c.default)
                .map(render::config_repository)
                .collect(),
        )
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

/// The fields createConfigRepository and updateConfigRepository share, all required.
struct ConfigRepositoryBody {
    name: String,
    url: String,
    branch: String,
    default: bool,
    credential_canonical: String,
}

fn config_repository_body(f: &mut Fields) -> Option<ConfigRepositoryBody> {
    let name = f.string("name", true);
    let url = f.string("url", true);
    if let Some(u) = &url
        && !is_git_url(u)
    {
        f.violation(format!("url in body should match '{GIT_URL_PATTERN}'"));
    }
    let branch = f.string("branch", true);
    let default = f.boolean("default", true);
    let credential = f.string("credential_canonical", true);
    f.canonical(
        "credential_canonical",
        credential.as_deref(),
        Pattern::Canonical,
        3,
        100,
    );
    Some(ConfigRepositoryBody {
        name: name?,
        url: url?,
        branch: branch?,
        default: default?,
        credential_canonical: credential?,
    })
}

/// `POST /organizations/{org}/config_repositories` (createConfigRepository). The canonical
/// defaults to the name's slug; a new default repository takes the flag from the previous one.
/// The credential is checked for its pattern only (credentials are not modelled).
pub async fn create_config_repository(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut f = validate::body(&headers, &body)?;
    let canonical = f.string("canonical", false);
    f.canonical(
        "canonical",
        canonical.as_deref(),
        Pattern::Canonical,
        3,
        100,
    );
    let fields = config_repository_body(&mut f);
    let name = fields.as_ref().map(|b| b.name.clone());
    let derived = f.canonical_or_slug(canonical, name.as_deref(), Pattern::Canonical, 100);
    f.finish()?;
    let (Some(b), Some(canonical)) = (fields, derived) else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let id = s.next_id("config_repository");
        let o = s.org_mut(&org)?;
        if o.config_repository(&canonical).is_some() {
            return Err(ApiError::already_exists(format!(
                "config repository {canonical:?} already exists"
            )));
        }
        if b.default {
            o.config_repositories
                .iter_mut()
                .for_each(|c| c.default = false);
        }
        let repo = ConfigRepository {
            id,
            canonical,
            name: b.name,
            url: b.url,
            branch: b.branch,
            default: b.default,
            credential_canonical: b.credential_canonical,
            created_at: now,
            updated_at: now,
        };
        let out = render::config_repository(&repo);
        o.config_repositories.push(repo);
        Ok(data(out))
    })
}

fn config_repository_params<'a>(
    org: &'a str,
    cr: &'a str,
) -> [(&'static str, &'a str, PathRule); 2] {
    [
        org_param(org),
        (
            "config_repository_canonical",
            cr,
            PathRule::Pattern(Pattern::Canonical, 3, 100),
        ),
    ]
}

/// `GET /organizations/{org}/config_repositories/{cr}` (getConfigRepository).
pub async fn get_config_repository(
    With(sb): With<Sb>,
    Path((org, cr)): Path<(String, String)>,
) -> ApiResult {
    check_path(&config_repository_params(&org, &cr))?;
    sb.read(|s| {
        let repo = s
            .org(&org)?
            .config_repository(&cr)
            .ok_or_else(|| ApiError::not_found(format!("config repository {cr:?} not found")))?;
        Ok(data(render::config_repository(repo)))
    })
}

/// `PUT /organizations/{org}/config_repositories/{cr}` (updateConfigRepository): every field
/// is required; the canonical cannot change.
pub async fn update_config_repository(
    With(sb): With<Sb>,
    Path((org, cr)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&config_repository_params(&org, &cr))?;
    let mut f = validate::body(&headers, &body)?;
    let fields = config_repository_body(&mut f);
    f.finish()?;
    let Some(b) = fields else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let o = s.org_mut(&org)?;
        if o.config_repository(&cr).is_none() {
            return Err(ApiError::not_found(format!(
                "config repository {cr:?} not found"
            )));
        }
        if b.default {
            o.config_repositories
                .iter_mut()
                .for_each(|c| c.default = false);
        }
        let repo = o
            .config_repositories
            .iter_mut()
            .find(|c| c.canonical == cr)
            .expect("checked above");
        repo.name = b.name;
        repo.url = b.url;
        repo.branch = b.branch;
        repo.default = b.default;
        repo.credential_canonical = b.credential_canonical;
        repo.updated_at = now;
        Ok(data(render::config_repository(repo)))
    })
}

/// `DELETE /organizations/{org}/config_repositories/{cr}` (deleteConfigRepository). A
/// repository projects still use cannot be deleted (409): their configuration lives there.
pub async fn delete_config_repository(
    With(sb): With<Sb>,
    Path((org, cr)): Path<(String, String)>,
) -> ApiResult {
    check_path(&config_repository_params(&org, &cr))?;
    sb.write(|s| {
        let o = s.org_mut(&org)?;
        let Some(i) = o.config_repositories.iter().position(|c| c.canonical == cr) else {
            return Err(ApiError::not_found(format!(
                "config repository {cr:?} not found"
            )));
        };
        let users: Vec<&str> = o
            .projects
            .iter()
            .filter(|p| p.config_repository_canonical.as_deref() == Some(cr.as_str()))
            .map(|p| p.canonical.as_str())
            .collect();
        if !users.is_empty() {
            return Err(ApiError::conflict(format!(
                "config repository {cr:?} is used by the projects {}",
                users.join(", ")
            )));
        }
        o.config_repositories.remove(i);
        Ok(no_content())
    })
}

/// `GET /organizations/{org}/service_catalogs` (listServiceCatalogs).
pub async fn list_service_catalogs(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut q = Query::parse(raw.as_deref());
    let pg = q.page();
    q.finish()?;
    let items = sb.read(|s| {
        s.org(&org)?;
        Ok::<_, ApiError>(s.stacks.iter().map(render::stack).collect())
    })?;
    let (items, pagination) = pg.slice(items);
    Ok(page(items, pagination))
}

fn check_stack_ref(org: &str, reference: &str) -> Result<(), ApiError> {
    check_path(&[org_param(org)])?;
    let valid = reference
        .split_once(':')
        .is_some_and(|(o, c)| Pattern::Canonical.matches(o) && Pattern::Canonical.matches(c));
    if valid {
        Ok(())
    } else {
        Err(ApiError::invalid_one(
            r"service_catalog_ref in path should match '^[a-z0-9]+[a-z0-9\-_]+[a-z0-9]+:[a-z0-9]+[a-z0-9\-_]+[a-z0-9]+$'",
        ))
    }
}

/// `GET /organizations/{org}/service_catalogs/{ref}` (getServiceCatalog).
pub async fn get_service_catalog(
    With(sb): With<Sb>,
    Path((org, reference)): Path<(String, String)>,
) -> ApiResult {
    check_stack_ref(&org, &reference)?;
    sb.read(|s| {
        s.org(&org)?;
        let stack = s.stack(&reference).ok_or_else(|| {
            ApiError::not_found(format!("service catalog {reference:?} not found"))
        })?;
        Ok(data(render::stack(stack)))
    })
}

/// `GET /organizations/{org}/service_catalogs/{ref}/use_cases` (getServiceCatalogUseCases).
pub async fn get_service_catalog_use_cases(
    With(sb): With<Sb>,
    Path((org, reference)): Path<(String, String)>,
) -> ApiResult {
    check_stack_ref(&org, &reference)?;
    sb.read(|s| {
        s.org(&org)?;
        let stack = s.stack(&reference).ok_or_else(|| {
            ApiError::not_found(format!("service catalog {reference:?} not found"))
        })?;
        Ok(data(Value::Array(render::use_cases(stack))))
    })
}

/// `GET /organizations/{org}/components` (getOrganizationComponents).
pub async fn list_organization_components(
    With(sb): With<Sb>,
    Path(org): Path<String>,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    sb.read(|s| {
        let o = s.org(&org)?;
        let items: Vec<Value> = o
            .projects
            .iter()
            .flat_map(|p| {
                p.environments.iter().flat_map(move |e| {
                    e.components
                        .iter()
                        .map(move |c| render::component(o, p, e, c, &s.stacks))
                })
            })
            .collect();
        Ok(data(Value::Array(items)))
    })
}

/// `POST /organizations/{org}/events` (sendEvent). The docs' response sample shows `data` as
/// an array (the spec says an object): the sandbox follows the docs and answers
/// `{"data": [event]}` with the registered event.
pub async fn send_event(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut f = validate::body(&headers, &body)?;
    let kind = f.string("type", true);
    f.one_of("type", kind.as_deref(), &EVENT_TYPES);
    let title = f.string("title", true);
    f.length("title", title.as_deref(), 1, 0);
    let message = f.string("message", true);
    f.length("message", message.as_deref(), 1, 0);
    let icon = f.string("icon", false);
    f.length("icon", icon.as_deref(), 3, 0);
    let severity = f.string("severity", true);
    f.one_of("severity", severity.as_deref(), &SEVERITIES);
    let color = f.string("color", false);
    if f.length("color", color.as_deref(), 3, 20) {
        f.pattern("color", color.as_deref(), Pattern::Color);
        if let Some(c) = &color
            && Pattern::Color.matches(c)
            && !CSS2_COLORS.contains(&c.as_str())
        {
            f.violation(format!(
                "color in body should be one of [{}]",
                CSS2_COLORS.join(" ")
            ));
        }
    }
    let tags = f.array("tags", true).map(|items| tags_of(&mut f, items));
    f.finish()?;
    let (Some(kind), Some(title), Some(message), Some(severity), Some(tags)) =
        (kind, title, message, severity, tags)
    else {
        return Err(ApiError::invalid_one("body in body is required"));
    };
    let now = sb.now();
    sb.write(|s| {
        let id = s.next_id("event");
        let o = s.org_mut(&org)?;
        let event = Event {
            id,
            kind,
            title,
            message,
            severity,
            icon,
            color,
            tags,
            timestamp: now.as_millisecond().max(0) as u64,
        };
        let out = render::event(&event);
        o.events.push(event);
        Ok(data(Value::Array(vec![out])))
    })
}

fn tags_of(f: &mut Fields, items: Vec<Value>) -> Vec<Tag> {
    let mut tags = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let key = item.get("key").and_then(Value::as_str);
        let value = item.get("value").and_then(Value::as_str);
        match (key, value) {
            (Some(key), Some(value)) => {
                let len = key.chars().count();
                if len < 1 {
                    f.violation(format!(
                        "tags.{i}.key in body should be at least 1 chars long"
                    ));
                } else if len > 254 {
                    f.violation(format!(
                        "tags.{i}.key in body should be at most 254 chars long"
                    ));
                }
                if value.chars().count() > 254 {
                    f.violation(format!(
                        "tags.{i}.value in body should be at most 254 chars long"
                    ));
                } else if !Pattern::TagValue.matches(value) {
                    f.violation(format!(
                        "tags.{i}.value in body should match '{}'",
                        Pattern::TagValue.source()
                    ));
                }
                tags.push(Tag {
                    key: key.to_string(),
                    value: value.to_string(),
                });
            }
            _ => {
                if key.is_none() {
                    f.violation(format!("tags.{i}.key in body is required"));
                }
                if value.is_none() {
                    f.violation(format!("tags.{i}.value in body is required"));
                }
            }
        }
    }
    tags
}

/// `GET /organizations/{org}/events` (getEvents): `begin` and `end` (Unix milliseconds) are
/// required, `type` and `severity` may repeat; filters combine with AND.
pub async fn list_events(
    With(sb): With<Sb>,
    Path(org): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult {
    check_path(&[org_param(&org)])?;
    let mut q = Query::parse(raw.as_deref());
    let begin = q.uint("begin", true);
    let end = q.uint("end", true);
    let types = q.enum_list("type", &EVENT_TYPES);
    let severities = q.enum_list("severity", &SEVERITIES);
    q.finish()?;
    let (begin, end) = (begin.unwrap_or(0), end.unwrap_or(u64::MAX));
    sb.read(|s| {
        let items: Vec<Value> = s
            .org(&org)?
            .events
            .iter()
            .filter(|e| e.timestamp >= begin && e.timestamp <= end)
            .filter(|e| types.is_empty() || types.contains(&e.kind))
            .filter(|e| severities.is_empty() || severities.contains(&e.severity))
            .map(render::event)
            .collect();
        Ok(data(Value::Array(items)))
    })
}
