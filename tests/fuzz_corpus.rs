//! The fuzz targets' committed corpora (`fuzz/corpus/<target>/`, see `fuzz/`) run as an ordinary test:
//! every input goes through the function its target fuzzes, which must return without a panic.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::PathBuf;

fn run_corpus(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    inputs.sort();
    assert!(inputs.len() >= 5, "{}: too few seeds", dir.display());
    let panicked: Vec<String> = inputs
        .iter()
        .filter(|input| {
            let bytes = std::fs::read(input).unwrap();
            std::panic::catch_unwind(|| run(&bytes)).is_err()
        })
        .map(|input| input.display().to_string())
        .collect();
    assert!(panicked.is_empty(), "{target} panicked on {panicked:?}");
}

#[test]
fn date_parser_corpus() {
    run_corpus("date_parser", targets::date_parser);
}

#[test]
fn regions_corpus() {
    run_corpus("regions", targets::regions);
}

#[test]
fn image_loader_corpus() {
    run_corpus("image_loader", targets::image_loader);
}
