//! Fuzz target `token_verify`: feeds arbitrary bytes to `portcullis_fuzz::token_verify`,
//! which panics on any answer the gateway must never give.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz::token_verify(data));
