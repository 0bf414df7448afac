//! Fuzz target `client_server`: see `checks::client_server` for the input layout and
//! the invariants.
#![no_main]

#[allow(dead_code)]
#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::client_server(data));
