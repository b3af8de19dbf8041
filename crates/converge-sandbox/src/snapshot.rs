//! An optional JSON file holding every platform's state, so a demo survives a restart.
//! Written after every change (write to a temporary file, then rename).

use std::path::PathBuf;
use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;

#[derive(Clone)]
pub struct SnapshotFile {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    data: Mutex<serde_json::Map<String, serde_json::Value>>,
}

impl SnapshotFile {
    /// Opens (or prepares to create) the snapshot at `path`. An unreadable file is an error:
    /// silently starting empty would lose the demo's state on the next write.
    pub fn open(path: PathBuf) -> anyhow::Result<Self> {
        let data = match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: not a sandbox snapshot: {e}", path.display()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => serde_json::Map::new(),
            Err(e) => return Err(anyhow::anyhow!("{}: {e}", path.display())),
        };
        Ok(SnapshotFile {
            inner: std::sync::Arc::new(Inner {
                path,
                data: Mutex::new(data),
            }),
        })
    }

    /// A platform's saved state, if the snapshot has one that still parses.
    pub fn load<S: DeserializeOwned>(&self, platform: &str) -> Option<S> {
        let data = self.inner.data.lock().unwrap();
        data.get(platform).and_then(|v| match serde_json::from_value(v.clone()) {
            Ok(s) => Some(s),
            Err(e) => {
                tracing::warn!(platform, error = %e, "ignoring the snapshot's state for this platform");
                None
            }
        })
    }

    pub fn save<S: Serialize>(&self, platform: &str, state: &S) {
        let mut data = self.inner.data.lock().unwrap();
        data.insert(
            platform.to_string(),
            serde_json::to_value(state).unwrap_or_default(),
        );
        let tmp = self.inner.path.with_extension("tmp");
        let result = serde_json::to_vec_pretty(&*data)
            .map_err(std::io::Error::other)
            .and_then(|bytes| std::fs::write(&tmp, bytes))
            .and_then(|()| std::fs::rename(&tmp, &self.inner.path));
        if let Err(e) = result {
            tracing::warn!(path = %self.inner.path.display(), error = %e, "cannot write the sandbox snapshot");
        }
    }
}
