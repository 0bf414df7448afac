//! Fuzz target `client_session`: see `checks::client_session` for the input layout
//! and the invariants.
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::client_session(data));
