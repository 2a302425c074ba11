//! The occupancy series end to end through the binary: synthesize an archive with its truth, run
//! portwatch on it, and score the run with `portwatch eval` against the accuracy figures. Which
//! seeds tuned which rule is in the README, beside the accuracy table.

mod common;

use std::path::Path;
use std::process::{Command, Output};

fn portwatch(args: &[&str]) -> Output {
    Command::new(common::portwatch_bin())
        .args(args)
        .env("XDG_RUNTIME_DIR", std::env::temp_dir())
        .output()
        .unwrap()
}

fn succeed(args: &[&str]) -> String {
    let output = portwatch(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "portwatch {args:?} failed: {stderr}"
    );
    stderr
}

/// Synthesizes `scenario` with `seed`, runs it on the CPU at 3 m pixels and returns eval's JSON report.
fn run_and_score(scenario: &str, seed: &str, dir: &Path, thresholds: &[&str]) -> serde_json::Value {
    let archive = dir.join("archive");
    let out = dir.join("out");
    let (archive, out) = (archive.to_str().unwrap(), out.to_str().unwrap());
    succeed(&[
        "synth",
        "--scenario",
        scenario,
        "--seed",
        seed,
        "--out",
        archive,
        "--quiet",
    ]);
    let log = succeed(&[
        "run", archive, "--out", out, "--device", "cpu", "--gsd", "3",
    ]);
    assert!(log.contains("thresholds chosen as "), "{log}");
    let report = dir.join("report.json");
    let mut args = vec!["eval", "--truth", archive, "--result", out, "--json"];
    args.push(report.to_str().unwrap());
    args.extend(thresholds);
    let output = portwatch(&args);
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{scenario} seed {seed} misses a figure:\n{table}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&std::fs::read_to_string(report).unwrap()).unwrap()
}

#[test]
fn rajin_2023_gives_the_reported_figures() {
    let dir = tempfile::tempdir().unwrap();
    let report = run_and_score(
        "rajin-2023",
        "21",
        dir.path(),
        &[
            "--min-state-accuracy",
            "0.98",
            "--min-arrival-f1",
            "0.95",
            "--max-length-error-m",
            "10",
            "--min-clouded-caught",
            "0.8",
            "--max-yard-mae",
            "0.05",
        ],
    );
    let months = &report["events"]["arrivals_per_month"]["port"];
    for (month, expected) in [("2023-08", 1), ("2023-09", 2), ("2023-10", 11)] {
        assert_eq!(months[month]["truth"], expected, "{month}");
        assert_eq!(months[month]["result"], expected, "{month}: {months}");
    }
    let summary: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.path().join("out/summary.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(summary["port"]["arrivals"], 14);
    assert_eq!(summary["port"]["arrivals_per_month"]["2023-10"], 11);
    assert!(summary["port"]["median_fill_lead_days"].as_f64().unwrap() >= 0.0);
}

#[test]
fn a_quiet_port_has_no_arrival_and_no_fill() {
    let dir = tempfile::tempdir().unwrap();
    run_and_score(
        "quiet",
        "21",
        dir.path(),
        &[
            "--min-state-accuracy",
            "0.98",
            "--min-clouded-caught",
            "0.8",
            "--max-yard-mae",
            "0.05",
        ],
    );
    let events = std::fs::read_to_string(dir.path().join("out/events.csv")).unwrap();
    assert_eq!(events, "date,region,kind,event,length_m\n");
}

/// On `busy` the berths are occupied on nine dates of ten and the yards stacked on most, so the per-pixel
/// median holds ships and the yards' own histograms hardly show their noise: the settled background and
/// the yards' thresholds (from their occupants' contrast) must still give the figures. Not its arrival F1
/// of 0.95 yet (0.94 on this seed: back-to-back ships of like length are merged), so that one guards the
/// gain (0.84 before this seed's yards and berths were thresholded from the low tail).
#[test]
fn a_busy_port_is_measured_against_its_empty_berths() {
    let dir = tempfile::tempdir().unwrap();
    run_and_score(
        "busy",
        "21",
        dir.path(),
        &[
            "--min-state-accuracy",
            "0.98",
            "--min-arrival-f1",
            "0.9",
            "--max-length-error-m",
            "10",
            "--max-yard-mae",
            "0.05",
            "--min-clouded-caught",
            "0.8",
        ],
    );
}

/// `busy` has back-to-back stays: a ship leaves and the next moors at the same berth between two passes.
/// The new ship is told from the moored one by where its ends lie, so the arrivals reach the F1.
/// Seed 53 was made before the new-ship rule was chosen, and its stretches were not used in choosing it;
/// nor was it used in choosing the fraction of the occupants' contrast that sets the yards' thresholds.
#[test]
fn back_to_back_ships_at_a_berth_are_told_apart() {
    let dir = tempfile::tempdir().unwrap();
    run_and_score(
        "busy",
        "53",
        dir.path(),
        &[
            "--min-state-accuracy",
            "0.98",
            "--min-arrival-f1",
            "0.95",
            "--min-departure-f1",
            "0.95",
            "--max-length-error-m",
            "10",
            "--max-yard-mae",
            "0.05",
        ],
    );
}

#[test]
fn series_csv_has_one_row_per_date_and_region() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    succeed(&[
        "run",
        "samples",
        "--out",
        out.to_str().unwrap(),
        "--device",
        "cpu",
        "-q",
    ]);
    let series = std::fs::read_to_string(out.join("series.csv")).unwrap();
    let lines: Vec<&str> = series.lines().collect();
    assert_eq!(
        lines[0],
        "date,region,kind,valid_fraction,change_score,occupancy,state"
    );
    // 24 scenes, 6 regions.
    assert_eq!(lines.len(), 1 + 24 * 6);
    for line in &lines[1..] {
        let fields: Vec<&str> = line.split(',').collect();
        assert_eq!(fields.len(), 7, "{line}");
        assert_eq!(fields[0].len(), 10, "{line}");
        assert!(
            ["occupied", "empty", "unobserved"].contains(&fields[6]),
            "{line}"
        );
        for fraction in &fields[3..6] {
            if !fraction.is_empty() {
                assert_eq!(fraction.split('.').nth(1).map(str::len), Some(4), "{line}");
            }
        }
    }
    let events = std::fs::read_to_string(out.join("events.csv")).unwrap();
    assert!(events.starts_with("date,region,kind,event,length_m\n"));
    // Without --gsd the lengths are unknown.
    assert!(events.lines().skip(1).all(|l| l.ends_with(',')), "{events}");
}
