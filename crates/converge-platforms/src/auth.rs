//! Credentials as a client holds them: never printed, and easy to find in text to redact.

use reqwest::RequestBuilder;

/// A secret string: `Debug` and `Display` print `[redacted]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("[redacted]")
    }
}

/// How requests authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Auth {
    /// `Authorization: Bearer <token>`.
    Bearer(Secret),
    /// HTTP basic authentication.
    Basic { username: String, password: Secret },
}

impl Auth {
    pub fn bearer(token: impl Into<String>) -> Self {
        Auth::Bearer(Secret::new(token))
    }

    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Auth::Basic {
            username: username.into(),
            password: Secret::new(password),
        }
    }

    pub(crate) fn apply(&self, request: RequestBuilder) -> RequestBuilder {
        match self {
            Auth::Bearer(token) => request.bearer_auth(token.expose()),
            Auth::Basic { username, password } => {
                request.basic_auth(username, Some(password.expose()))
            }
        }
    }

    /// Replaces every occurrence of the secret in `text`, so a platform that echoes a credential
    /// in an error message cannot leak it into status, Events or logs.
    pub fn redact(&self, text: &str) -> String {
        let secret = match self {
            Auth::Bearer(s) => s.expose(),
            Auth::Basic { password, .. } => password.expose(),
        };
        if secret.len() < 4 {
            // Too short to redact without mangling ordinary words; such a secret is refused
            // when the connection is checked.
            return text.to_string();
        }
        text.replace(secret, "[redacted]")
    }
}
