//! The five platforms: the one list every match over platforms is checked against.

use std::fmt;
use std::str::FromStr;

/// A platform Converge drives. Matches over it are exhaustive (no default arm), so a sixth
/// platform is a compile error everywhere it must be handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Platform {
    Choreo,
    Cycloid,
    Frends,
    Api7,
    OpsChain,
}

impl Platform {
    pub const ALL: [Platform; 5] = [
        Platform::Choreo,
        Platform::Cycloid,
        Platform::Frends,
        Platform::Api7,
        Platform::OpsChain,
    ];

    /// Every platform's id, in [`Platform::ALL`]'s order.
    pub const IDS: [&'static str; 5] = {
        let mut ids = [""; 5];
        let mut i = 0;
        while i < ids.len() {
            ids[i] = Platform::ALL[i].id();
            i += 1;
        }
        ids
    };

    /// How manifests (the spec's platform block), status, metrics and logs spell it.
    pub const fn id(self) -> &'static str {
        match self {
            Platform::Choreo => "choreo",
            Platform::Cycloid => "cycloid",
            Platform::Frends => "frends",
            Platform::Api7 => "api7",
            Platform::OpsChain => "opschain",
        }
    }

    /// How a person writes it, in Events and messages.
    pub const fn name(self) -> &'static str {
        match self {
            Platform::Choreo => "Choreo",
            Platform::Cycloid => "Cycloid",
            Platform::Frends => "Frends",
            Platform::Api7 => "API7",
            Platform::OpsChain => "OpsChain",
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Platform {
    type Err = String;
    fn from_str(s: &str) -> Result<Platform, String> {
        Platform::ALL
            .into_iter()
            .find(|p| p.id() == s)
            .ok_or_else(|| {
                format!("{s:?} is not a platform (choreo, cycloid, frends, api7, opschain)")
            })
    }
}

#[cfg(test)]
mod tests {
    use super::Platform;

    #[test]
    fn every_platform_reads_back_from_its_id() {
        for p in Platform::ALL {
            assert_eq!(p.id().parse::<Platform>(), Ok(p));
        }
        assert!(
            "none"
                .parse::<Platform>()
                .unwrap_err()
                .contains("not a platform")
        );
    }
}
