//! Fuzz target `config_load`: feeds arbitrary bytes to `portcullis_fuzz::config_load`,
//! which panics on any answer the gateway must never give.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz::config_load(data));
