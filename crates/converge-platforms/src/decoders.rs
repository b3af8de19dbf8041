//! Every decoder that turns a platform's response bytes into typed values or errors, callable
//! on arbitrary bytes. The fuzz targets (`fuzz/`) and the bounded run on stable
//! (`tests/decoders.rs`) feed them malformed responses: each must answer with an error, never
//! panic, whatever a platform (or something pretending to be one) sends.

use serde::de::DeserializeOwned;

/// The platforms, in the order `decode` takes them.
pub const PLATFORMS: [&str; 5] = converge_core::Platform::IDS;

/// Whether `body` decodes as `T` the way the HTTP layer decodes every answer (0 or 1).
pub fn accepts<T: DeserializeOwned>(body: &[u8]) -> usize {
    usize::from(super::http::decode::<T>("fuzz", "fuzz", body).is_ok())
}

/// Runs every decoder of `platform` (and the Retry-After header parser) over `body`; how many
/// accepted it.
pub fn decode(platform: &str, body: &[u8]) -> usize {
    let retry_after = usize::from(super::http::retry_after_value(body).is_some());
    retry_after
        + match platform {
            "choreo" => super::choreo::decode_every_way(body),
            "cycloid" => super::cycloid::decode_every_way(body),
            "frends" => super::frends::decode_every_way(body),
            "api7" => super::api7::decode_every_way(body),
            "opschain" => super::opschain::decode_every_way(body),
            _ => 0,
        }
}
