//! Running the `portwatch` binary on small archives written on the fly, and checking how a run that
//! meets bad input ends: refused with a message naming the culprit, or finished with the culprit left out.

use std::path::Path;
use std::process::{Command, Output};

pub fn portwatch(args: &[&str], cwd: &Path) -> Output {
    Command::new(super::portwatch_bin())
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("portwatch runs")
}

pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Six dates two days apart, for archives whose dates matter less than their order.
pub const SIX_DATES: [&str; 6] = [
    "2023-08-01",
    "2023-08-03",
    "2023-08-05",
    "2023-08-07",
    "2023-08-09",
    "2023-08-11",
];

pub const REGIONS: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"name":"berth-1","kind":"berth"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[20,0],[20,8],[0,8],[0,0]]]}},
 {"type":"Feature","properties":{"name":"yard, north","kind":"yard"},"geometry":{"type":"Polygon","coordinates":[[[4,12],[30,12],[30,24],[4,24],[4,12]]]}}]}"#;

/// A small archive: `dates` as 32x24 RGB PNGs whose content changes with the date, plus REGIONS.
pub fn archive(dates: &[&str]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (index, date) in dates.iter().enumerate() {
        write_rgb(&dir.path().join(format!("{date}.png")), 32, 24, index as u8);
    }
    std::fs::write(dir.path().join("regions.geojson"), REGIONS).unwrap();
    dir
}

pub fn write_rgb(path: &Path, width: u32, height: u32, phase: u8) {
    image::RgbImage::from_fn(width, height, |x, y| {
        let on = (x + y + u32::from(phase)) % 3 == 0;
        image::Rgb([
            if on { 200 } else { 40 },
            90 + phase,
            60u8.wrapping_add(x as u8),
        ])
    })
    .save(path)
    .unwrap();
}

/// `portwatch run DIR --device cpu --out OUT EXTRA` in OUT, a new temporary directory.
pub fn run_cpu_into(dir: &Path, extra: &[&str]) -> (tempfile::TempDir, Output) {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        dir.to_str().unwrap(),
        "--device",
        "cpu",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend(extra);
    let output = portwatch(&args, out.path());
    (out, output)
}

/// `portwatch run ARCHIVE FLAGS --device DEVICE --out OUT`, which must succeed; the new output folder and
/// stderr, or `None` (after saying so) when the GPU is asked for and there is none, and none is required.
pub fn run_on(device: &str, archive: &Path, flags: &[&str]) -> Option<(tempfile::TempDir, String)> {
    let out = tempfile::tempdir().unwrap();
    let mut args = vec!["run", archive.to_str().unwrap()];
    args.extend(flags);
    args.extend(["--device", device, "--out", out.path().to_str().unwrap()]);
    let output = portwatch(&args, out.path());
    let message = stderr(&output);
    if device == "gpu" && message.contains("GPU: no adapter") && !super::gpu_required() {
        eprintln!(
            "SKIPPED GPU run: no GPU adapter; set PORTWATCH_REQUIRE_GPU=1 to make this a failure"
        );
        return None;
    }
    assert!(output.status.success(), "portwatch {args:?}: {message}");
    Some((out, message))
}

/// The names in `dir`, sorted.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Asserts that a run failed with status 1, its last line an `error: ` naming every one of `culprits`,
/// without a panic.
pub fn assert_error(output: &Output, culprits: &[&str]) {
    let message = stderr(output);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the run should fail: {message}"
    );
    assert!(
        message
            .lines()
            .last()
            .is_some_and(|l| l.starts_with("error: ")),
        "{message}"
    );
    for culprit in culprits {
        assert!(
            message.contains(culprit),
            "{message:?} should name {culprit:?}"
        );
    }
    assert!(!message.contains("panicked"), "{message}");
}

/// Runs on a broken archive: must fail, name `culprits` in the message, and leave no output file.
pub fn assert_refused(dir: &Path, extra: &[&str], culprits: &[&str]) {
    let (out, output) = run_cpu_into(dir, extra);
    assert_error(&output, culprits);
    let left = listing(out.path());
    assert!(left.is_empty(), "a failed run left {left:?} behind");
}

/// Runs on an archive with an unusable scene: the run must finish with status 4, report the scene on
/// stderr and in `failures.csv`, both naming every one of `culprits`, and leave every output complete
/// and no temporary file. Returns the output directory and `failures.csv`.
pub fn assert_left_out(
    dir: &Path,
    extra: &[&str],
    culprits: &[&str],
) -> (tempfile::TempDir, String) {
    let (out, output) = run_cpu_into(dir, extra);
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(4), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    let failures = std::fs::read_to_string(out.path().join("failures.csv")).unwrap();
    assert!(failures.starts_with("file,reason\n"), "{failures}");
    for culprit in culprits {
        assert!(
            message
                .lines()
                .any(|l| l.starts_with("portwatch: scene left out") && l.contains(culprit)),
            "stderr should name {culprit:?}: {message}"
        );
        assert!(
            failures.contains(culprit),
            "failures.csv should name {culprit:?}: {failures}"
        );
    }
    assert_eq!(
        listing(out.path()),
        [
            "background.png",
            "events.csv",
            "failures.csv",
            "heatmap.png",
            "pairs.csv",
            "run.json",
            "series.csv",
            "summary.json"
        ]
    );
    (out, failures)
}

/// Every file under `dir`, by relative path, with its bytes.
pub fn contents(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for item in std::fs::read_dir(&folder).unwrap() {
            let path = item.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else {
                let name = path.strip_prefix(dir).unwrap().display().to_string();
                files.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    files.sort();
    files
}

/// Asserts that `actual` holds the same files as `expected`, byte for byte.
pub fn assert_same_outputs(expected: &Path, actual: &Path) {
    let (expected, actual) = (contents(expected), contents(actual));
    let names = |files: &[(String, Vec<u8>)]| files.iter().map(|f| f.0.clone()).collect::<Vec<_>>();
    assert_eq!(names(&actual), names(&expected));
    for ((name, a), (_, b)) in actual.iter().zip(&expected) {
        assert!(a == b, "{name} differs");
    }
}
