//! The platform's enumerations. API7 Cloud may add values at any time, and several of these
//! travel back in a `PUT` of the whole object, so an unknown value is kept exactly as sent
//! (`Other`) instead of failing the decode or being rewritten on the way back.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A string enumeration with an `Other(String)` variant that round-trips unknown values.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client does not know, kept as the platform sent it.
            Other(String),
        }

        impl $name {
            /// The value as the platform spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $text,)+
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($text => Self::$variant,)+
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok(Self::from(s.as_str()))
            }
        }
    };
}

/// An integer enumeration with an `Other(i64)` variant that round-trips unknown values.
macro_rules! int_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $value:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
            /// A value this client does not know, kept as the platform sent it.
            Other(i64),
        }

        impl $name {
            /// The value as the platform sends it.
            pub fn value(self) -> i64 {
                match self {
                    $(Self::$variant => $value,)+
                    Self::Other(n) => n,
                }
            }
        }

        impl From<i64> for $name {
            fn from(n: i64) -> Self {
                match n {
                    $($value => Self::$variant,)+
                    other => Self::Other(other),
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_i64(self.value())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                i64::deserialize(d).map(Self::from)
            }
        }
    };
}

int_enum! {
    /// `status` of applications, APIs, canary releases, consumers and certificates: whether
    /// the configuration has reached the gateways.
    EntityStatus {
        /// Saved, not yet delivered to the gateways.
        Uninitialized = 0,
        /// Delivered: the gateways run it.
        Normal = 50,
        /// Being removed.
        Deleted = 100,
    }
}

int_enum! {
    /// `active` of applications and APIs. Note the inversion: 0 is published.
    #[derive(Default)]
    Active {
        /// Serves traffic (the platform's default).
        #[default]
        Published = 0,
        /// Configured but not serving.
        Unpublished = 1,
    }
}

impl Active {
    /// `Published` for true.
    pub fn from_published(published: bool) -> Self {
        if published {
            Active::Published
        } else {
            Active::Unpublished
        }
    }
}

int_enum! {
    /// `status` of a cluster.
    ClusterStatus {
        Pending = 1,
        Creating = 2,
        /// Ready: writes into the cluster are accepted.
        Normal = 3,
        CreateFailed = 4,
        Deleting = 5,
        Deleted = 6,
    }
}

string_enum! {
    /// The protocols an application listens on.
    Protocol {
        Http = "HTTP",
        Https = "HTTPS",
    }
}

string_enum! {
    /// How the gateway talks to an upstream's targets.
    UpstreamScheme {
        Http = "http",
        Https = "https",
    }
}

string_enum! {
    /// Load balancing across an upstream's targets.
    LbType {
        Roundrobin = "roundrobin",
        ConsistentHash = "consistent_hash",
        Ewma = "ewma",
        LeastConn = "least_conn",
    }
}

string_enum! {
    /// How an API path matches.
    PathType {
        Prefix = "Prefix",
        Exact = "Exact",
    }
}

string_enum! {
    /// Kinds of API.
    ApiType {
        Rest = "Rest",
        WebSocket = "WebSocket",
    }
}

string_enum! {
    /// How route match expressions combine.
    LogicalRelationship {
        All = "All",
        Any = "Any",
    }
}

string_enum! {
    /// Where a canary release is: started and paused go back and forth; finished is final.
    CanaryState {
        Paused = "paused",
        InProgress = "in_progress",
        Finished = "finished",
    }
}

string_enum! {
    /// How a canary release picks requests: a share of them, or those matching expressions.
    CanaryType {
        Percent = "percent",
        Rule = "rule",
    }
}

string_enum! {
    /// What a certificate is for: serving TLS, or authenticating to an upstream.
    CertificateType {
        Server = "Server",
        Client = "Client",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_values_round_trip_unchanged() {
        let state: CanaryState = serde_json::from_str("\"rolling_back\"").unwrap();
        assert_eq!(state, CanaryState::Other("rolling_back".into()));
        assert_eq!(serde_json::to_string(&state).unwrap(), "\"rolling_back\"");
        let status: EntityStatus = serde_json::from_str("75").unwrap();
        assert_eq!(status, EntityStatus::Other(75));
        assert_eq!(serde_json::to_string(&status).unwrap(), "75");
    }

    #[test]
    fn known_values_map_to_their_variants() {
        assert_eq!(
            serde_json::from_str::<CanaryState>("\"in_progress\"").unwrap(),
            CanaryState::InProgress
        );
        assert_eq!(serde_json::to_string(&Active::Published).unwrap(), "0");
        assert_eq!(
            serde_json::from_str::<Active>("1").unwrap(),
            Active::Unpublished
        );
        assert_eq!(LbType::ConsistentHash.as_str(), "consistent_hash");
    }
}
