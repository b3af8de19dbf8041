//! What can go wrong calling a platform, classified so that a reconciler knows whether to back
//! off and retry or to stop and tell a person, and carrying the platform's own message.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error)]
pub enum ClientError {
    /// The platform answered with an error status. `message` is the platform's own words.
    #[error("{platform} {operation}: HTTP {status}: {message}")]
    Status {
        platform: &'static str,
        operation: &'static str,
        status: u16,
        message: String,
        /// From Retry-After, when the platform sent one.
        retry_after: Option<Duration>,
    },
    /// No usable answer: connection refused or reset, timeout, TLS failure.
    #[error("{platform} {operation}: {message}")]
    Transport {
        platform: &'static str,
        operation: &'static str,
        message: String,
        timeout: bool,
    },
    /// An answer that does not follow the platform's contract (malformed or unexpected body).
    #[error("{platform} {operation}: unexpected response: {message}")]
    Decode {
        platform: &'static str,
        operation: &'static str,
        message: String,
    },
    /// The client cannot be built or the request cannot be formed: a configuration problem.
    #[error("{platform}: {message}")]
    Config {
        platform: &'static str,
        message: String,
    },
}

impl ClientError {
    /// Network errors, 5xx, 408 and 429 pass; a malformed answer may be a torn response, so a
    /// read is worth repeating. Everything else needs a change from a person.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Status { status, .. } => {
                *status == 408 || *status == 429 || *status >= 500
            }
            ClientError::Transport { .. } | ClientError::Decode { .. } => true,
            ClientError::Config { .. } => false,
        }
    }

    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_not_found(&self) -> bool {
        self.status() == Some(404)
    }

    /// 401 or 403 on a connection's own check: the credentials are refused. On any other call
    /// only a 401 says that; see [`ClientError::is_forbidden`].
    pub fn is_unauthorized(&self) -> bool {
        matches!(self.status(), Some(401 | 403))
    }

    /// 401: the platform did not accept the credentials at all.
    pub fn is_unauthenticated(&self) -> bool {
        self.status() == Some(401)
    }

    /// 403 on a call the connection's check did not make: the credentials were accepted (the
    /// check passes with them) but this one action is refused to their user ("You are not
    /// permitted to approve this step"). Retrying will not change that; a person must.
    pub fn is_forbidden(&self) -> bool {
        self.status() == Some(403)
    }

    /// How long the platform asked us to wait.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Status { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// The platform's message, or ours when the platform said nothing.
    pub fn message(&self) -> &str {
        match self {
            ClientError::Status { message, .. }
            | ClientError::Transport { message, .. }
            | ClientError::Decode { message, .. }
            | ClientError::Config { message, .. } => message,
        }
    }

    /// A low-cardinality label for metrics.
    pub fn metric_label(&self) -> &'static str {
        match self {
            ClientError::Status { status: 429, .. } => "throttled",
            ClientError::Status {
                status: 401 | 403, ..
            } => "unauthorized",
            ClientError::Status { status: 404, .. } => "not_found",
            ClientError::Status { status: 409, .. } => "conflict",
            ClientError::Status { status, .. } if *status >= 500 => "server_error",
            ClientError::Status { .. } => "client_error",
            ClientError::Transport { timeout: true, .. } => "timeout",
            ClientError::Transport { .. } => "transport",
            ClientError::Decode { .. } => "decode",
            ClientError::Config { .. } => "config",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> ClientError {
        ClientError::Status {
            platform: "p",
            operation: "op",
            status: s,
            message: "m".into(),
            retry_after: None,
        }
    }

    #[test]
    fn classification_follows_the_status() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(status(s).is_retryable(), "{s}");
        }
        for s in [400, 401, 403, 404, 409, 415, 422] {
            assert!(!status(s).is_retryable(), "{s}");
        }
        assert!(
            ClientError::Transport {
                platform: "p",
                operation: "o",
                message: "reset".into(),
                timeout: false
            }
            .is_retryable()
        );
        assert!(
            ClientError::Decode {
                platform: "p",
                operation: "o",
                message: "eof".into()
            }
            .is_retryable()
        );
        assert!(
            !ClientError::Config {
                platform: "p",
                message: "bad url".into()
            }
            .is_retryable()
        );
    }

    #[test]
    fn the_display_carries_the_platforms_message() {
        assert_eq!(status(422).to_string(), "p op: HTTP 422: m");
    }
}
