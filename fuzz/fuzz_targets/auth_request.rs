//! Fuzz target `auth_request`: feeds arbitrary bytes to `portcullis_fuzz::auth_request`,
//! which panics on any answer the gateway must never give.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz::auth_request(data));
