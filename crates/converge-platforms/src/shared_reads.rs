//! Collection reads that the drift checks of one connection share.
//!
//! At rest every object is re-read once per drift interval. Many of those reads are the same
//! collection (a Choreo organization's environments, an API7 cluster's applications, OpsChain's
//! projects), so a drift check may take a list another drift check of the same connection read
//! moments ago instead of reading again. Three rules keep that safe:
//! - only a drift check shares (a client from [`super::Http::sharing`]); a reconcile after a
//!   spec change, a create or an error reads fresh;
//! - a list is taken only if it is younger than the reader's window (a tenth of its drift
//!   interval, the same slack as the interval's jitter);
//! - any write through the connection forgets every list, so Converge never reads its own
//!   past. A list whose read began before a write is not kept either (the write generation).
//!
//! One read per key runs at a time, so checks that come together wait for one answer.
//! moka's caches have one time-to-live per cache; here the age is judged by each reader and a
//! write must invalidate reads still in flight, hence this small map.

use std::any::Any;
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::ClientError;

/// Lists older than this are dropped from memory whoever asks (the longest window).
pub const MAX_WINDOW: Duration = Duration::from_secs(60);

type Value = Arc<dyn Any + Send + Sync>;

struct Entry {
    at: Instant,
    generation: u64,
    value: Value,
}

type Slot = Arc<tokio::sync::Mutex<Option<Entry>>>;

#[derive(Default)]
pub struct SharedReads {
    /// Moves on every write through the connection.
    generation: AtomicU64,
    slots: Mutex<Slots>,
}

#[derive(Default)]
struct Slots {
    by_key: HashMap<String, Slot>,
    pruned: Option<Instant>,
}

impl SharedReads {
    /// A write went out: no list read before it may answer a later check.
    pub fn wrote(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The list under `key` if one younger than `window` was read since the last write;
    /// otherwise `read` runs (once, however many checks ask together) and its answer is kept.
    pub async fn get<T, F>(
        &self,
        key: &str,
        window: Duration,
        read: F,
    ) -> Result<Arc<T>, ClientError>
    where
        T: Send + Sync + 'static,
        F: Future<Output = Result<T, ClientError>>,
    {
        let slot = self.slot(key);
        let mut entry = slot.lock().await;
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(e) = entry.as_ref()
            && e.generation == generation
            && e.at.elapsed() <= window
            && let Ok(value) = e.value.clone().downcast::<T>()
        {
            return Ok(value);
        }
        let at = Instant::now();
        let value = Arc::new(read.await?);
        // Kept only if no write went out while it was read.
        *entry = (self.generation.load(Ordering::SeqCst) == generation).then(|| Entry {
            at,
            generation,
            value: value.clone(),
        });
        Ok(value)
    }

    fn slot(&self, key: &str) -> Slot {
        let mut slots = self.slots.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        if slots
            .pruned
            .is_none_or(|p| now.duration_since(p) > MAX_WINDOW)
        {
            // Keep the slots someone holds or that hold a list still young enough for anyone.
            slots.by_key.retain(|_, slot| match slot.try_lock() {
                Ok(entry) => entry
                    .as_ref()
                    .is_some_and(|e| now.duration_since(e.at) <= MAX_WINDOW),
                Err(_) => true,
            });
            slots.pruned = Some(now);
        }
        slots.by_key.entry(key.to_string()).or_default().clone()
    }

    #[cfg(test)]
    fn keys(&self) -> usize {
        self.slots.lock().unwrap().by_key.len()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    async fn counting(reads: &AtomicUsize, answer: u32) -> Result<u32, ClientError> {
        reads.fetch_add(1, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(20)).await;
        Ok(answer)
    }

    #[tokio::test]
    async fn checks_within_the_window_share_one_read() {
        let shared = SharedReads::default();
        let reads = AtomicUsize::new(0);
        let w = Duration::from_secs(5);
        let (a, b) = tokio::join!(
            shared.get("k", w, counting(&reads, 1)),
            shared.get("k", w, counting(&reads, 2)),
        );
        assert_eq!((*a.unwrap(), *b.unwrap()), (1, 1));
        assert_eq!(*shared.get("k", w, counting(&reads, 3)).await.unwrap(), 1);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        // Another key is another list.
        assert_eq!(*shared.get("j", w, counting(&reads, 4)).await.unwrap(), 4);
        assert_eq!(reads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn a_reader_with_a_shorter_window_reads_again() {
        let shared = SharedReads::default();
        let reads = AtomicUsize::new(0);
        shared
            .get("k", Duration::from_secs(5), counting(&reads, 1))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(30)).await;
        let v = shared
            .get("k", Duration::from_millis(10), counting(&reads, 2))
            .await
            .unwrap();
        assert_eq!((*v, reads.load(Ordering::SeqCst)), (2, 2));
    }

    #[tokio::test]
    async fn a_write_forgets_lists_and_reads_in_flight() {
        let shared = SharedReads::default();
        let reads = AtomicUsize::new(0);
        let w = Duration::from_secs(5);
        shared.get("k", w, counting(&reads, 1)).await.unwrap();
        shared.wrote();
        assert_eq!(*shared.get("k", w, counting(&reads, 2)).await.unwrap(), 2);
        // A write while a read is under way: that answer serves its caller, nobody after.
        let during = async {
            reads.fetch_add(1, Ordering::SeqCst);
            shared.wrote();
            Ok(3)
        };
        assert_eq!(*shared.get("k", w, during).await.unwrap(), 3);
        assert_eq!(*shared.get("k", w, counting(&reads, 4)).await.unwrap(), 4);
        assert_eq!(reads.load(Ordering::SeqCst), 4);
    }

    #[tokio::test]
    async fn errors_are_not_kept() {
        let shared = SharedReads::default();
        let w = Duration::from_secs(5);
        let failed = shared
            .get::<u32, _>("k", w, async {
                Err(ClientError::Config {
                    platform: "choreo",
                    message: "down".into(),
                })
            })
            .await;
        assert!(failed.is_err());
        assert_eq!(*shared.get("k", w, async { Ok(7u32) }).await.unwrap(), 7);
    }

    #[tokio::test]
    async fn old_lists_leave_memory() {
        let shared = SharedReads::default();
        shared
            .get("k", MAX_WINDOW, async { Ok(1u32) })
            .await
            .unwrap();
        assert_eq!(shared.keys(), 1);
        // Make the entry and the last prune look older than the longest window.
        {
            let slots = shared.slots.lock().unwrap();
            let slot = slots.by_key["k"].clone();
            let mut e = slot.try_lock().unwrap();
            e.as_mut().unwrap().at -= MAX_WINDOW * 2;
        }
        shared.slots.lock().unwrap().pruned = Some(Instant::now() - MAX_WINDOW * 2);
        shared
            .get("j", MAX_WINDOW, async { Ok(2u32) })
            .await
            .unwrap();
        assert_eq!(shared.keys(), 1, "only the new key is left");
    }
}
