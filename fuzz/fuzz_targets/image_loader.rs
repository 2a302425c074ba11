//! Fuzz target: `portwatch_fuzz::image_loader` on every input.

#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portwatch_fuzz::image_loader(data));
