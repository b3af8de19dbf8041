//! Leader election on a coordination.k8s.io Lease (the `kube-lease-manager` crate).
//!
//! Only the holder runs the controllers. A follower stays alive and ready: /readyz answers
//! 200 with "follower" in its body, because readiness gates a rollout and the metrics Service,
//! and a standby replica is exactly as ready as it should be. On losing the Lease the leader
//! exits non-zero at once, without the shutdown grace: another replica may already be
//! reconciling, and a restarted pod rejoins as a follower with nothing left over in memory.
//! On a signal it stops its controllers, then releases the Lease so a follower takes over at
//! once instead of waiting for the Lease to expire.
//!
//! The lease manager keeps believing it leads while it cannot reach the apiserver, so the
//! leader also reads its Lease itself: when the last renewal it could see is about to expire
//! (another replica may take it over then), the Lease counts as lost.

use std::time::Duration;

use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

use anyhow::Context as _;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube_lease_manager::{LeaseManager, LeaseManagerBuilder};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::cli::ElectionArgs;

pub struct Election {
    pub identity: String,
    pub lease: String,
    pub namespace: String,
    leading: watch::Receiver<bool>,
    task: JoinHandle<kube_lease_manager::Result<LeaseManager>>,
    leases: Api<Lease>,
    duration: Duration,
    renew_before: Duration,
}

/// The Lease's namespace: the flag, else the pod's own namespace, else the watched one.
pub fn lease_namespace(args: &ElectionArgs, watched: Option<&str>) -> String {
    args.lease_namespace
        .clone()
        .or_else(|| {
            std::env::var("POD_NAMESPACE")
                .ok()
                .filter(|s| !s.is_empty())
        })
        .or_else(|| watched.map(str::to_string))
        .unwrap_or_else(|| "default".into())
}

impl Election {
    /// Joins the election; the Lease is created if missing.
    pub async fn join(
        client: kube::Client,
        args: &ElectionArgs,
        watched: Option<&str>,
    ) -> anyhow::Result<Election> {
        let duration = args.lease_duration.as_secs();
        let grace = args.lease_renew_before.as_secs();
        anyhow::ensure!(
            duration >= 2 && grace >= 1 && grace < duration,
            "--lease-renew-before ({grace}s) must be at least 1s and below --lease-duration ({duration}s)"
        );
        let identity = args
            .lease_identity
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| format!("converge-{}", uuid::Uuid::new_v4()));
        let namespace = lease_namespace(args, watched);
        let leases = Api::namespaced(client.clone(), &namespace);
        let manager = LeaseManagerBuilder::new(client, &args.lease_name)
            .with_namespace(&namespace)
            .with_identity(&identity)
            .with_duration(duration)
            .with_grace(grace)
            .build()
            .await
            .with_context(|| {
                format!(
                    "joining the election on Lease {namespace}/{}",
                    args.lease_name
                )
            })?;
        let (leading, task) = manager.watch().await;
        Ok(Election {
            identity,
            lease: args.lease_name.clone(),
            namespace,
            leading,
            task,
            leases,
            duration: args.lease_duration,
            renew_before: args.lease_renew_before,
        })
    }

    /// Resolves once this replica holds the Lease.
    pub async fn acquired(&mut self) -> anyhow::Result<()> {
        self.leading
            .wait_for(|leading| *leading)
            .await
            .context("the lease manager stopped")?;
        Ok(())
    }

    /// Resolves when this replica no longer holds the Lease, or cannot tell that it does.
    pub async fn lost(&mut self) {
        let watchdog = watchdog(
            &self.leases,
            &self.lease,
            &self.identity,
            self.duration,
            self.renew_before / 2,
        );
        tokio::select! {
            _ = self.leading.wait_for(|leading| !*leading) => {}
            _ = watchdog => {}
        }
    }

    /// Releases the Lease (if held) and waits, at most `timeout`, for that to reach the
    /// apiserver.
    pub async fn release(self, timeout: Duration) {
        drop(self.leading);
        match tokio::time::timeout(timeout, self.task).await {
            Ok(Ok(Ok(_))) => tracing::info!("released the Lease"),
            Ok(Ok(Err(e))) => {
                tracing::warn!(error = %e, "could not release the Lease; it expires on its own")
            }
            Ok(Err(e)) => tracing::warn!(error = %e, "the lease manager failed"),
            Err(_) => tracing::warn!("releasing the Lease timed out; it expires on its own"),
        }
    }
}

/// Resolves once the Lease names another holder, or once it would have expired (its last
/// renewal seen plus `duration`, less half the renewal margin) without a newer renewal read.
/// The renewal time is the leader's own clock, so no skew enters the comparison.
pub async fn watchdog(
    leases: &Api<Lease>,
    name: &str,
    identity: &str,
    duration: Duration,
    margin: Duration,
) {
    let poll = duration / 3;
    let mut expires = Instant::now() + duration;
    loop {
        let deadline = expires.checked_sub(margin).unwrap_or(expires);
        tokio::time::sleep(poll.min(deadline.saturating_duration_since(Instant::now()))).await;
        match leases.get(name).await {
            Ok(lease) => {
                let spec = lease.spec.unwrap_or_default();
                if spec.holder_identity.as_deref() != Some(identity) {
                    tracing::error!(
                        holder = spec.holder_identity.as_deref().unwrap_or("(none)"),
                        "the Lease has another holder"
                    );
                    return;
                }
                if let Some(renewed) = spec.renew_time {
                    let age = Timestamp::now().duration_since(renewed.0);
                    let age = Duration::try_from(age).unwrap_or_default();
                    expires = Instant::now() + duration.saturating_sub(age);
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the Lease"),
        }
        if Instant::now() >= expires.checked_sub(margin).unwrap_or(expires) {
            tracing::error!(?duration, "the Lease is about to expire without a renewal");
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(lease_namespace: Option<&str>) -> ElectionArgs {
        ElectionArgs {
            leader_election: true,
            lease_name: "converge".into(),
            lease_namespace: lease_namespace.map(str::to_string),
            lease_duration: Duration::from_secs(15),
            lease_renew_before: Duration::from_secs(5),
            lease_identity: None,
        }
    }

    #[test]
    fn the_flag_then_the_watched_namespace_name_the_lease_namespace() {
        assert_eq!(lease_namespace(&args(Some("ops")), Some("team")), "ops");
        if std::env::var_os("POD_NAMESPACE").is_none() {
            assert_eq!(lease_namespace(&args(None), Some("team")), "team");
            assert_eq!(lease_namespace(&args(None), None), "default");
        }
    }
}
