//! Arbitrary bytes as a frends response: every decoder of the frends client must answer with a
//! value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    converge_platforms::decoders::decode("frends", body);
});
