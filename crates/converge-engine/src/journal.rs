//! The journal of a rehearsal (`converge plan`): every reconcile's platform writes, in the
//! order they were made, with where the reconcile left its object.
//!
//! A plan converges the declared objects against throwaway sandboxes with writes allowed and
//! reads the journal afterwards, so what it lists is what the kinds' own code writes, follow-ons
//! included (a publish after a create, a Component's create once its Project exists), rather
//! than a second description of it kept by each kind.

use std::sync::Mutex;
use std::time::Duration;

use super::phase::Phase;

/// One reconcile of one object.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub kind: &'static str,
    pub namespace: String,
    pub name: String,
    /// The platform writes it made (`Cx::did`), in order.
    pub writes: Vec<String>,
    pub state: Reached,
    /// The phase's message.
    pub message: String,
    /// When the engine looks again.
    pub after: Duration,
}

/// Where a reconcile left its object, as a plan reads it.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Reached {
    Converged,
    Progressing,
    Waiting,
    Retrying,
    Stalled,
    Held,
}

impl Reached {
    pub fn of(phase: &Phase) -> Reached {
        match phase {
            Phase::Converged { .. } => Reached::Converged,
            Phase::Progressing { .. } => Reached::Progressing,
            Phase::Waiting { .. } => Reached::Waiting,
            Phase::Retrying { .. } => Reached::Retrying,
            Phase::Stalled { .. } => Reached::Stalled,
            Phase::Held { .. } => Reached::Held,
        }
    }
}

#[derive(Debug, Default)]
pub struct Journal {
    entries: Mutex<Vec<Entry>>,
}

impl Journal {
    pub fn record(&self, entry: Entry) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(entry);
    }

    /// Every entry so far, oldest first.
    pub fn entries(&self) -> Vec<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
