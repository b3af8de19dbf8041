//! Durations as manifests and flags spell them: "500ms", "30s", "5m", "1h30m"; a bare number is
//! seconds.
//!
//! Every conversion is checked: a value too large for the timers that would hold it, a negative
//! number, `inf` or `NaN` is refused with a message rather than panicking in
//! `Duration::from_secs_f64` (one manifest could otherwise stop every controller).

use std::time::Duration;

/// The longest duration accepted anywhere: a year. tokio's timers (and kube-runtime's requeue
/// queue) hold at most about two years, so nothing parsed here can overflow them.
pub const MAX: Duration = Duration::from_secs(365 * 24 * 3600);

/// Parses a duration, compound forms included ("1h30m"). The CRD pattern admits exactly these
/// (and a CEL rule bounds them); flags take a bare number of seconds too.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("not a duration: {s:?} (use 500ms, 30s, 5m, 1h or 1h30m)");
    if s.is_empty() {
        return Err(bad());
    }
    let number = |n: &str| -> Result<f64, String> {
        // Digits and one optional fraction only: no sign, exponent, "inf" or "NaN".
        let (whole, fraction) = n.split_once('.').unwrap_or((n, "0"));
        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole) || !digits(fraction) {
            return Err(bad());
        }
        n.parse::<f64>().map_err(|_| bad())
    };
    if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return within_max(s, number(s)?);
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(split);
        let n = number(num)?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, next) = tail.split_at(unit_len);
        total += n * match unit {
            "ms" => 0.001,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(bad()),
        };
        rest = next;
    }
    within_max(s, total)
}

fn within_max(s: &str, seconds: f64) -> Result<Duration, String> {
    match Duration::try_from_secs_f64(seconds) {
        Ok(d) if d <= MAX => Ok(d),
        _ => Err(format!(
            "duration {s:?} is too long: at most {}h (a year)",
            MAX.as_secs() / 3600
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_compound_and_bare_forms() {
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("5m"), Ok(Duration::from_secs(300)));
        assert_eq!(parse("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        assert_eq!(parse("8760h"), Ok(MAX));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in [
            "", "m", "5x", "1d", "s5", "1.2.3s", "-1", "-1s", "inf", "NaN", "1e9", "+5", ".5s",
            "5.s",
        ] {
            let e = parse(bad).expect_err(bad);
            assert!(e.contains("not a duration"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn refuses_what_overflows_instead_of_panicking() {
        for huge in [
            "99999999999999999999999s",
            "99999999999999999999999",
            "8761h",
            "1e400",
            "9999999999999999999999999999999999999999999h9m",
        ] {
            assert!(parse(huge).is_err(), "{huge:?} should be refused");
        }
        let e = parse("99999999999999999999999s").unwrap_err();
        assert!(e.contains("at most 8760h"), "{e}");
    }
}
