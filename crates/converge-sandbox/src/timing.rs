//! How fast the sandboxes' state machines move. States are computed from the time an object
//! was created, so a snapshot restored after a restart continues where it was.

use std::time::Duration;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timing {
    /// Time spent in each intermediate state (Pending, InProgress...). Zero makes every state
    /// machine reach its final state on the first read after it started.
    pub step: Duration,
}

impl Timing {
    pub const INSTANT: Timing = Timing {
        step: Duration::ZERO,
    };

    pub fn seconds(s: u64) -> Timing {
        Timing {
            step: Duration::from_secs(s),
        }
    }

    /// Which of `stages` states an object started at `since` is in at `now`: 0 for the first,
    /// `stages - 1` (the final state) once `(stages - 1) * step` has passed.
    pub fn stage(&self, since: jiff::Timestamp, now: jiff::Timestamp, stages: usize) -> usize {
        let last = stages.saturating_sub(1);
        if self.step.is_zero() {
            return last;
        }
        let elapsed = now.duration_since(since).as_secs_f64().max(0.0);
        ((elapsed / self.step.as_secs_f64()) as usize).min(last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn instant_timing_is_always_final() {
        assert_eq!(Timing::INSTANT.stage(t(100), t(100), 3), 2);
    }

    #[test]
    fn stages_advance_one_step_at_a_time_and_stop_at_the_last() {
        let timing = Timing::seconds(2);
        assert_eq!(timing.stage(t(0), t(0), 3), 0);
        assert_eq!(timing.stage(t(0), t(1), 3), 0);
        assert_eq!(timing.stage(t(0), t(2), 3), 1);
        assert_eq!(timing.stage(t(0), t(5), 3), 2);
        assert_eq!(timing.stage(t(0), t(500), 3), 2);
    }

    #[test]
    fn a_clock_that_went_backwards_stays_at_the_first_stage() {
        assert_eq!(Timing::seconds(1).stage(t(10), t(5), 3), 0);
    }
}
