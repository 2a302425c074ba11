//! Regenerates the bundled sample archive: `cargo run --release --example make_sample [DIR]` (default
//! `samples`) renders the default synthetic port and writes its scenes, masks, regions and truth.

use portwatch::synth::{SampleSpec, write_sample};
use std::path::PathBuf;

fn main() -> anyhow::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map_or_else(|| PathBuf::from("samples"), PathBuf::from);
    write_sample(&SampleSpec::default(), &dir)?;
    println!("wrote the sample archive to {}", dir.display());
    Ok(())
}
