//! Durations as manifests and flags spell them: "500ms", "30s", "5m", "1h30m"; a bare number is
//! seconds.

use std::time::Duration;

/// Parses a duration, compound forms included ("1h30m"). The CRD pattern admits exactly these.
pub fn parse(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let bad = || format!("not a duration: {s:?} (use 500ms, 30s, 5m, 1h or 1h30m)");
    if s.is_empty() {
        return Err(bad());
    }
    if let Ok(n) = s.parse::<f64>() {
        return Ok(Duration::from_secs_f64(n));
    }
    let mut total = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let split = rest
            .find(|c: char| !c.is_ascii_digit() && c != '.')
            .ok_or_else(bad)?;
        let (num, tail) = rest.split_at(split);
        let n: f64 = num.parse().map_err(|_| bad())?;
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
    Ok(Duration::from_secs_f64(total))
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
        assert_eq!(parse("2"), Ok(Duration::from_secs(2)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
    }

    #[test]
    fn refuses_what_is_not_a_duration() {
        for bad in ["", "m", "5x", "1d", "s5", "1.2.3s"] {
            assert!(parse(bad).is_err(), "{bad:?} should be refused");
        }
    }
}
