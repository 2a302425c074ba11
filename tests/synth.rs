//! `portwatch synth` end to end: the same seed and flags write the same bytes, and bad flags are refused
//! before anything is written.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn synth(out: &Path, flags: &[&str]) -> Output {
    Command::new(common::portwatch_bin())
        .arg("synth")
        .arg("--out")
        .arg(out)
        .args(flags)
        .output()
        .unwrap()
}

fn files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    files
}

const SMALL_QUIET: [&str; 12] = [
    "--scenario",
    "quiet",
    "--size",
    "256x256",
    "--gsd",
    "4",
    "--end",
    "2023-08-06",
    "--cloud-probability",
    "0.5",
    "--jpeg-probability",
    "0.5",
];

#[test]
fn same_seed_and_flags_write_the_same_bytes() {
    let (a, b, c) = (
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
        tempfile::tempdir().unwrap(),
    );
    for (dir, seed) in [(&a, "7"), (&b, "7"), (&c, "8")] {
        let output = synth(dir.path(), &[&SMALL_QUIET[..], &["--seed", seed]].concat());
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let (first, second, other) = (files(a.path()), files(b.path()), files(c.path()));
    assert!(
        first.len() >= 6,
        "{:?}",
        first.iter().map(|f| &f.0).collect::<Vec<_>>()
    );
    assert!(first == second, "the same seed wrote different files");
    assert!(first != other, "another seed wrote the same files");
    let names: Vec<&str> = first.iter().map(|(n, _)| n.as_str()).collect();
    for name in [
        "2023-08-01.png",
        "regions.geojson",
        "truth.csv",
        "truth_events.csv",
    ] {
        assert!(names.contains(&name), "{name} missing from {names:?}");
    }
}

#[test]
fn bad_flags_are_refused_before_anything_is_written() {
    let cases: [(&[&str], &str); 6] = [
        (&["--size", "100x100"], "--size"),
        (&["--size", "big"], "WIDTHxHEIGHT"),
        (&["--cadence", "0"], "--cadence"),
        (&["--format", "jpeg", "--bit-depth", "16"], "--format jpeg"),
        (&["--misregistration", "3"], "--misregistration"),
        (&["--start", "2023-09-01", "--end", "2023-08-01"], "--start"),
    ];
    for (flags, message) in cases {
        let parent = tempfile::tempdir().unwrap();
        let out = parent.path().join("out");
        let output = synth(&out, &[&["--scenario", "quiet"], flags].concat());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{flags:?} was accepted");
        assert!(stderr.contains(message), "{flags:?}: {stderr}");
        assert!(!out.exists(), "{flags:?} wrote {}", out.display());
    }
}
