//! Fuzz target: `portwatch_fuzz::date_parser` on every input.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portwatch_fuzz::date_parser(data));
