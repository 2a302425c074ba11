//! Fuzz target: `portwatch_fuzz::regions` on every input.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portwatch_fuzz::regions(data));
