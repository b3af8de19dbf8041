//! Arbitrary bytes as a cycloid response: every decoder of the cycloid client must answer with a
//! value or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| {
    converge_platforms::decoders::decode("cycloid", body);
});
