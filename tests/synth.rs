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

/// synth's truth files are what eval reads: a result built from the truth itself scores perfectly.
#[test]
fn eval_scores_a_result_copied_from_the_truth_as_perfect() {
    let archive = tempfile::tempdir().unwrap();
    let flags = [
        "--scenario",
        "busy",
        "--size",
        "400x400",
        "--scenes",
        "24",
        "--cloud-probability",
        "0.4",
    ];
    let output = synth(archive.path(), &flags);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let truth = std::fs::read_to_string(archive.path().join("truth.csv")).unwrap();
    let mut series = String::from("date,region,kind,valid_fraction,change_score,occupancy,state\n");
    let (mut clouded, mut arrivals) = (0, 0);
    for line in truth.lines().skip(1) {
        let [date, region, kind, observed, occupied, fill, _length] =
            line.split(',').collect::<Vec<_>>()[..]
        else {
            panic!("truth.csv row {line:?} does not have 7 fields");
        };
        let state = match (observed, occupied) {
            ("0", _) => "unobserved",
            (_, "1") => "occupied",
            _ => "empty",
        };
        clouded += usize::from(observed == "0");
        series += &format!("{date},{region},{kind},1.0000,0.0000,{fill},{state}\n");
    }
    let events = std::fs::read_to_string(archive.path().join("truth_events.csv")).unwrap();
    arrivals += events.lines().filter(|l| l.contains(",arrival,")).count();
    assert!(
        arrivals >= 3 && clouded > 0,
        "the archive should have arrivals ({arrivals}) and clouds ({clouded})"
    );
    let result = tempfile::tempdir().unwrap();
    std::fs::write(result.path().join("series.csv"), series).unwrap();
    std::fs::write(result.path().join("events.csv"), events).unwrap();
    let eval = Command::new(common::portwatch_bin())
        .args([
            "eval",
            "--truth",
            archive.path().to_str().unwrap(),
            "--result",
            result.path().to_str().unwrap(),
        ])
        .args(common::PERFECT_SCORE_THRESHOLDS)
        .output()
        .unwrap();
    assert!(
        eval.status.success(),
        "{}{}",
        String::from_utf8_lossy(&eval.stdout),
        String::from_utf8_lossy(&eval.stderr)
    );
}
