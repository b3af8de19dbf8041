//! Arbitrary bytes as a api7 response: every decoder of the api7 client must answer with a
//! value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    converge_platforms::decoders::decode("api7", body);
});
