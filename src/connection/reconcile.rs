//! The PlatformConnection reconciler: fetch the Secret (and CA bundle) → credentials (pure) →
//! one cheap authenticated call → status (pure) → apply status and record an Event when the
//! connection's health changed. Re-checks periodically and whenever its Secret changes.

use std::sync::Arc;
use std::time::Instant;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::api::Api;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Resource, ResourceExt};

use super::crd::PlatformConnection;
use super::credentials;
use super::decide::{Observed, decide};
use crate::controller::context::Context;
use crate::controller::error::Error;
use crate::controller::metrics::KindLabels;
use crate::controller::status;

pub const KIND: &str = "PlatformConnection";

pub async fn reconcile(conn: Arc<PlatformConnection>, ctx: Arc<Context>) -> Result<Action, Error> {
    let started = Instant::now();
    ctx.metrics
        .reconciles
        .get_or_create(&KindLabels { kind: KIND })
        .inc();
    let result = reconcile_inner(&conn, &ctx).await;
    ctx.metrics
        .durations
        .get_or_create(&KindLabels { kind: KIND })
        .observe(started.elapsed().as_secs_f64());
    result
}

async fn reconcile_inner(conn: &PlatformConnection, ctx: &Context) -> Result<Action, Error> {
    let ns = conn
        .namespace()
        .ok_or_else(|| Error::NotNamespaced(conn.name_any()))?;
    let secret = Api::<Secret>::namespaced(ctx.client.clone(), &ns)
        .get_opt(&conn.spec.credentials.secret_name)
        .await?;
    let secret_version = secret.as_ref().and_then(|s| s.resource_version());
    let platform = crate::clients::Settings::platform_of(&conn.spec);

    let ca_bundle = match conn.spec.tls.as_ref().and_then(|t| t.ca_bundle.as_ref()) {
        None => Ok(None),
        Some(r) => {
            let cm = Api::<ConfigMap>::namespaced(ctx.client.clone(), &ns)
                .get_opt(&r.name)
                .await?;
            match cm.and_then(|cm| cm.data.and_then(|mut d| d.remove(&r.key))) {
                Some(pem) => Ok(Some(pem.into_bytes())),
                None => Err(format!(
                    "tls.caBundle: ConfigMap {:?} has no key {:?}",
                    r.name, r.key
                )),
            }
        }
    };

    let credentials = credentials::from_secret(&conn.spec.credentials, secret.as_ref());
    let checked;
    let invalid;
    let observed = match (&credentials, &ca_bundle) {
        (Err(problem), _) => {
            ctx.connections.forget(&ns, &conn.name_any());
            Observed::Credentials(problem)
        }
        (_, Err(message)) => Observed::Invalid(message),
        (Ok(auth), Ok(ca)) => match ctx.connections.connect(conn, auth.clone(), ca.clone()) {
            Err(e) => {
                invalid = e.to_string();
                Observed::Invalid(&invalid)
            }
            Ok(client) => {
                checked = client.check().await;
                ctx.connections.mark(conn, checked.is_ok());
                Observed::Checked(checked.as_ref())
            }
        },
    };

    let decision = decide(
        conn,
        platform,
        secret_version,
        observed,
        Time(k8s_openapi::jiff::Timestamp::now()),
    );
    let api = Api::<PlatformConnection>::namespaced(ctx.client.clone(), &ns);
    status::apply(&api, conn, conn.status.as_ref(), &decision.status).await?;
    if let Some(t) = decision.event {
        let event = Event {
            type_: if t.warning {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: t.reason.to_string(),
            note: Some(t.note),
            action: "CheckConnection".into(),
            secondary: None,
        };
        if let Err(e) = ctx.recorder.publish(&event, &conn.object_ref(&())).await {
            tracing::warn!(connection = %conn.name_any(), error = %e, "cannot record an Event");
        }
    }
    Ok(Action::requeue(decision.requeue))
}
