//! `portwatch report` and `run --report` end to end on the bundled sample: the page is written by both,
//! identically, holds a chart per region and two pictures per event, loads nothing from anywhere; and an
//! output directory without a run, or missing one of its files, is refused by name without a panic.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

fn portwatch(args: &[&str]) -> Output {
    std::process::Command::new(common::portwatch_bin())
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("portwatch runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `portwatch run --report` of the sample on the CPU into a new directory.
fn sample_run() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let output = portwatch(&[
        "run",
        "--report",
        "--device",
        "cpu",
        "--quiet",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "run failed: {}", stderr(&output));
    out
}

fn report(out: &Path) -> Output {
    portwatch(&["report", out.to_str().unwrap(), "--device", "cpu"])
}

/// Asserts that `output` failed with status 1 and an error naming `culprit`, not a panic.
fn assert_refused(output: &Output, culprit: &str) {
    let stderr = stderr(output);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.starts_with("error: ") && stderr.contains(culprit),
        "the error must name {culprit}: {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn run_and_report_write_the_same_self_contained_page() {
    let out = sample_run();
    for name in [
        "run.json",
        "heatmap.png",
        "background.png",
        "report.html",
        "series.csv",
    ] {
        assert!(out.path().join(name).is_file(), "{name} is missing");
    }
    let page_path = out.path().join("report.html");
    let from_run = std::fs::read_to_string(&page_path).unwrap();
    std::fs::remove_file(&page_path).unwrap();
    let output = report(out.path());
    assert!(
        output.status.success(),
        "report failed: {}",
        stderr(&output)
    );
    assert!(stderr(&output).contains("report.html (6 regions, 30 events"));
    let from_report = std::fs::read_to_string(&page_path).unwrap();
    assert!(
        from_run == from_report,
        "report.html differs between run --report and report"
    );

    let page = from_report;
    assert!(page.starts_with("<!DOCTYPE html>"));
    // Everything but the base64 payloads of the data URIs, which end at their closing quote.
    let mut parts = page.split("base64,");
    let markup: String = parts
        .next()
        .into_iter()
        .chain(parts.map(|part| part.split_once('"').map_or("", |(_, rest)| rest)))
        .collect();
    for remote in [
        "http:", "https:", "<script", "<link", "<iframe", "@import", "src=",
    ] {
        assert!(
            !markup.contains(remote),
            "report.html refers to something outside itself: {remote}"
        );
    }
    assert_eq!(
        markup.matches("url(").count(),
        markup.matches("url(#").count()
    );
    let events = std::fs::read_to_string(out.path().join("events.csv")).unwrap();
    let event_count = events.lines().count() - 1;
    assert_eq!(page.matches("class=\"chart occupancy\"").count(), 6);
    assert_eq!(page.matches("class=\"chart arrivals\"").count(), 1);
    assert_eq!(page.matches("class=\"chart fill-lead\"").count(), 1);
    assert_eq!(
        page.matches("class=\"thumbnail before\"").count(),
        event_count
    );
    assert_eq!(
        page.matches("class=\"thumbnail after\"").count(),
        event_count
    );
    assert_eq!(page.matches("class=\"event-row\"").count(), event_count);
    assert_eq!(
        page.matches("data:image/png;base64,").count(),
        2 * event_count + 2
    );
}

#[test]
fn run_json_records_the_arguments_and_what_the_run_derived() {
    let out = tempfile::tempdir().unwrap();
    let output = portwatch(&[
        "run",
        "--device",
        "cpu",
        "--quiet",
        "--threshold",
        "40",
        "--smooth",
        "0",
        "--gsd",
        "3",
        "--nodata",
        "none",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = std::fs::read_to_string(out.path().join("run.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&text).unwrap();
    let arguments = &record["arguments"];
    let samples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let samples = std::fs::canonicalize(samples).unwrap();
    assert_eq!(arguments["archive"], samples.to_str().unwrap());
    assert_eq!(
        arguments["regions"],
        samples.join("regions.geojson").to_str().unwrap()
    );
    assert_eq!(arguments["threshold"], 40);
    assert_eq!(arguments["smooth"], 0);
    assert_eq!(arguments["gsd"], 3.0);
    assert_eq!(arguments["nodata"], serde_json::Value::Null);
    assert_eq!(arguments["normalize"], true);
    assert_eq!(record["version"], 1);
    assert_eq!(record["pair_threshold"], 40);
    assert_eq!(record["corrections"].as_array().unwrap().len(), 24);
    assert_eq!(record["corrections"][0]["scene"], "2023-08-01");
    assert_eq!(
        record["corrections"][0]["gain"].as_array().unwrap().len(),
        3
    );
}

#[test]
fn a_directory_without_a_run_is_refused_by_name() {
    let empty = tempfile::tempdir().unwrap();
    assert_refused(&report(empty.path()), "run.json");
    assert!(!empty.path().join("report.html").exists());
    assert_refused(&report(&empty.path().join("absent")), "run.json");
}

#[test]
fn a_run_missing_a_file_or_mismatching_its_archive_is_refused_by_name() {
    let out = sample_run();
    let keep = |name: &str| std::fs::read(out.path().join(name)).unwrap();
    for name in [
        "series.csv",
        "events.csv",
        "summary.json",
        "heatmap.png",
        "background.png",
    ] {
        let kept = keep(name);
        std::fs::remove_file(out.path().join(name)).unwrap();
        assert_refused(&report(out.path()), name);
        std::fs::write(out.path().join(name), kept).unwrap();
    }
    let series = keep("series.csv");
    let text = String::from_utf8(series.clone()).unwrap();
    std::fs::write(
        out.path().join("series.csv"),
        text.replacen("2023-08-05,", "2023-08-04,", 1),
    )
    .unwrap();
    assert_refused(
        &report(out.path()),
        "2023-08-04 is not a scene of the archive",
    );
    std::fs::write(out.path().join("series.csv"), series).unwrap();
    std::fs::write(out.path().join("run.json"), "{}").unwrap();
    assert_refused(&report(out.path()), "run.json");
}
