//! Arbitrary bytes as a opschain response: every decoder of the opschain client must answer with a
//! value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    converge_platforms::decoders::decode("opschain", body);
});
