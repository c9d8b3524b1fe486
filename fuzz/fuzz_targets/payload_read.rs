//! Fuzz target `payload_read`: feeds arbitrary bytes to `portcullis_fuzz::payload_read`,
//! which panics when the quick payload reading and the full one disagree.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz::payload_read(data));
