//! When to look at the platform again (pure).

use std::time::Duration;

use converge_api::common::policy::Management;

/// Drift is checked every 10 minutes unless `spec.driftInterval` says otherwise.
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(600);
/// Never re-read a platform more often than this, whatever the spec says.
pub const MIN_INTERVAL: Duration = Duration::from_secs(5);
/// Nor less often than this: the CRD's bound on `driftInterval`.
pub const MAX_INTERVAL: Duration = Duration::from_secs(168 * 3600);

/// The drift interval the spec asks for. The CRD pattern and rule guarantee it parses within
/// bounds; a value that still does not falls back to the default rather than failing the object.
pub fn interval(management: &Management) -> Duration {
    management
        .drift_interval
        .as_deref()
        .and_then(|s| converge_core::duration::parse(s).ok())
        .unwrap_or(DEFAULT_INTERVAL)
        .clamp(MIN_INTERVAL, MAX_INTERVAL)
}

/// How old a collection list a drift check may take from another drift check of the same
/// connection (`clients::shared_reads`): a tenth of the interval, the slack its jitter already
/// allows, and never more than a minute.
pub fn share_window(management: &Management) -> Duration {
    (interval(management) / 10).min(converge_platforms::shared_reads::MAX_WINDOW)
}

/// `base` plus `fraction` (0..1) of 10%, so objects created together do not all re-read the
/// platform in the same second.
pub fn jittered(base: Duration, fraction: f64) -> Duration {
    base + base.mul_f64(0.1 * fraction.clamp(0.0, 1.0))
}

/// The next drift check for an object with this management block.
pub fn next_check(management: &Management) -> Duration {
    jittered(interval(management), rand::random::<f64>())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(interval: Option<&str>) -> Management {
        Management {
            drift_interval: interval.map(str::to_string),
            ..Default::default()
        }
    }

    #[test]
    fn interval_defaults_parses_and_has_a_floor() {
        assert_eq!(interval(&with(None)), DEFAULT_INTERVAL);
        assert_eq!(interval(&with(Some("1h30m"))), Duration::from_secs(5400));
        assert_eq!(interval(&with(Some("100ms"))), MIN_INTERVAL);
        assert_eq!(interval(&with(Some("200h"))), MAX_INTERVAL);
        // What the CRD refuses, should it get past it: the default, never a panic.
        let overflow = "99999999999999999999999s";
        assert_eq!(interval(&with(Some(overflow))), DEFAULT_INTERVAL);
    }

    #[test]
    fn drift_checks_share_lists_for_a_tenth_of_the_interval_at_most_a_minute() {
        assert_eq!(share_window(&with(Some("30s"))), Duration::from_secs(3));
        assert_eq!(share_window(&with(None)), Duration::from_secs(60));
        assert_eq!(share_window(&with(Some("2h"))), Duration::from_secs(60));
        assert_eq!(share_window(&with(Some("1s"))), Duration::from_millis(500));
    }

    #[test]
    fn jitter_adds_at_most_ten_percent() {
        let base = Duration::from_secs(100);
        assert_eq!(jittered(base, 0.0), base);
        assert_eq!(jittered(base, 1.0), Duration::from_secs(110));
        assert_eq!(jittered(base, 7.0), Duration::from_secs(110));
        let n = next_check(&with(Some("100s")));
        assert!(n >= base && n <= Duration::from_secs(110));
    }
}
