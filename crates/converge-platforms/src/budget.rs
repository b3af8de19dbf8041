//! A connection's request budget: a token bucket (governor) that serves first reconciles and
//! spec changes before drift checks, and measures how long calls wait for it.
//!
//! With the budget saturated, drift checks of objects already Ready used to take their share
//! of every second and doubled the time new objects took to become Ready. A drift check now
//! takes a token only while no other call waits for one: it is the work that can wait.

use std::num::NonZeroU32;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tokio::sync::Notify;

/// Who asks for a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// First reconciles, spec changes, work in progress, connection checks.
    Urgent,
    /// Drift checks of objects at rest: served only while nothing urgent waits.
    Background,
}

impl Priority {
    /// The `priority` label of the budget wait metric.
    pub fn label(self) -> &'static str {
        match self {
            Priority::Urgent => "urgent",
            Priority::Background => "drift",
        }
    }
}

/// How calls fared against the budget since the last `take_window`.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// When the window began: the previous `take_window`, or the budget's creation.
    pub since: jiff::Timestamp,
    pub calls: u64,
    /// Calls that waited for a token at all.
    pub waited: u64,
    pub total_wait: Duration,
    pub max_wait: Duration,
}

impl Window {
    fn starting_now() -> Window {
        Window {
            since: jiff::Timestamp::now(),
            calls: 0,
            waited: 0,
            total_wait: Duration::ZERO,
            max_wait: Duration::ZERO,
        }
    }

    pub fn average_wait(&self) -> Duration {
        u32::try_from(self.calls)
            .ok()
            .filter(|n| *n > 0)
            .map_or(Duration::ZERO, |n| self.total_wait / n)
    }

    /// Saturated: calls waited a tenth of a second on average or more, so the budget, not the
    /// platform, sets the pace.
    pub fn saturated(&self) -> bool {
        self.average_wait() >= Duration::from_millis(100)
    }
}

pub struct Budget {
    limiter: DefaultDirectRateLimiter,
    urgent_waiting: AtomicUsize,
    urgent_served: Notify,
    window: Mutex<Window>,
}

/// Counts an urgent waiter for as long as it waits, cancellation included.
struct Waiting<'a>(&'a Budget);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if self.0.urgent_waiting.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.urgent_served.notify_waiters();
        }
    }
}

impl Budget {
    pub fn new(requests_per_second: u32, burst: u32) -> Budget {
        let rate = NonZeroU32::new(requests_per_second.max(1)).expect("max(1) is non-zero");
        let burst =
            NonZeroU32::new(burst.max(requests_per_second).max(1)).expect("max(1) is non-zero");
        Budget {
            limiter: RateLimiter::direct(Quota::per_second(rate).allow_burst(burst)),
            urgent_waiting: AtomicUsize::new(0),
            urgent_served: Notify::new(),
            window: Mutex::new(Window::starting_now()),
        }
    }

    /// Waits for a token; returns how long that took.
    pub async fn acquire(&self, priority: Priority) -> Duration {
        let started = Instant::now();
        match priority {
            Priority::Urgent => {
                self.urgent_waiting.fetch_add(1, Ordering::SeqCst);
                let _waiting = Waiting(self);
                self.limiter.until_ready().await;
            }
            Priority::Background => loop {
                self.no_urgent_waiter().await;
                match self.limiter.check() {
                    Ok(()) => break,
                    Err(not_until) => {
                        let wait = not_until.wait_time_from(DefaultClock::default().now());
                        tokio::time::sleep(wait).await;
                    }
                }
            },
        }
        let waited = started.elapsed();
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        w.calls += 1;
        // A token at hand still takes a few microseconds to hand out.
        if waited >= Duration::from_millis(1) {
            w.waited += 1;
        }
        w.total_wait += waited;
        w.max_wait = w.max_wait.max(waited);
        waited
    }

    async fn no_urgent_waiter(&self) {
        loop {
            let served = self.urgent_served.notified();
            tokio::pin!(served);
            // Registered before the check: a last urgent waiter leaving in between still wakes us.
            served.as_mut().enable();
            if self.urgent_waiting.load(Ordering::SeqCst) == 0 {
                return;
            }
            served.await;
        }
    }

    /// The calls since the window began, and a new window, once at least `min_calls` calls
    /// were made; None (the window goes on) before that.
    pub fn take_window(&self, min_calls: u64) -> Option<Window> {
        let mut w = self.window.lock().unwrap_or_else(|e| e.into_inner());
        (w.calls >= min_calls).then(|| std::mem::replace(&mut *w, Window::starting_now()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Ten tokens a second (the bucket holds at least a second's worth), bucket emptied.
    async fn drained() -> Arc<Budget> {
        let budget = Arc::new(Budget::new(10, 1));
        for _ in 0..10 {
            budget.acquire(Priority::Urgent).await;
        }
        budget.take_window(0);
        budget
    }

    /// With urgent calls queued, a drift check waits until every one of them is served (they
    /// registered first, so this is not a race).
    #[tokio::test]
    async fn drift_checks_wait_while_urgent_calls_queue() {
        let budget = drained().await;
        let order = Arc::new(Mutex::new(Vec::new()));
        let spawn = |name: &'static str, p: Priority| {
            let (b, o) = (budget.clone(), order.clone());
            tokio::spawn(async move {
                b.acquire(p).await;
                o.lock().unwrap().push(name);
            })
        };
        let mut tasks = vec![
            spawn("new", Priority::Urgent),
            spawn("new", Priority::Urgent),
            spawn("new", Priority::Urgent),
        ];
        while budget.urgent_waiting.load(Ordering::SeqCst) < 3 {
            tokio::task::yield_now().await;
        }
        tasks.push(spawn("drift", Priority::Background));
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), ["new", "new", "new", "drift"]);
        assert_eq!(budget.take_window(5), None, "fewer calls than asked for");
        let window = budget.take_window(4).unwrap();
        assert_eq!((window.calls, window.waited), (4, 4), "{window:?}");
        assert!(window.saturated(), "{window:?}");
        assert!(window.max_wait >= Duration::from_millis(300), "{window:?}");
        let next = budget.take_window(0).unwrap();
        assert_eq!(next.calls, 0);
        assert!(next.since >= window.since);
    }

    #[tokio::test]
    async fn a_drift_check_goes_at_once_when_nothing_else_waits() {
        let budget = Budget::new(10, 20);
        budget.acquire(Priority::Background).await;
        let window = budget.take_window(1).unwrap();
        assert_eq!((window.calls, window.waited), (1, 0), "{window:?}");
        assert!(!window.saturated());
    }

    #[tokio::test]
    async fn a_cancelled_urgent_call_does_not_hold_drift_checks_back() {
        let budget = drained().await;
        let b = budget.clone();
        let urgent = tokio::spawn(async move { b.acquire(Priority::Urgent).await });
        while budget.urgent_waiting.load(Ordering::SeqCst) < 1 {
            tokio::task::yield_now().await;
        }
        urgent.abort();
        let _ = urgent.await;
        assert_eq!(budget.urgent_waiting.load(Ordering::SeqCst), 0);
        // A hang guard, not a timing assertion: the token comes within 100 ms.
        tokio::time::timeout(
            Duration::from_secs(30),
            budget.acquire(Priority::Background),
        )
        .await
        .expect("the drift check was served");
    }
}
