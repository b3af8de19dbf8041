//! Arbitrary bytes as a choreo response: every decoder of the choreo client must answer with a
//! value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    converge_platforms::decoders::decode("choreo", body);
});
