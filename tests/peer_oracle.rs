//! An independent oracle: the peer script in `../shared/peers` (OpenCV decoding, GDAL rasterization through
//! rasterio, numpy counts) must write the very same pairs.csv as portwatch on the bundled sample.
//! Needs python3 with numpy, opencv-python-headless and rasterio; skipped, saying so, when they are missing,
//! unless PORTWATCH_REQUIRE_PEERS=1.

mod common;

use std::path::PathBuf;
use std::process::Command;

fn peers_dir() -> PathBuf {
    std::env::var_os("PORTWATCH_PEERS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/peers"))
}

fn skip(why: &str) {
    assert!(
        !std::env::var("PORTWATCH_REQUIRE_PEERS").is_ok_and(|v| v == "1"),
        "PORTWATCH_REQUIRE_PEERS=1 but the peer cannot run: {why}"
    );
    eprintln!("SKIPPED peer oracle: {why}");
}

#[test]
fn peer_script_writes_the_same_pairs_csv() {
    let script = peers_dir().join("pipeline_peer.py");
    if !script.exists() {
        return skip(&format!(
            "{} is absent (set PORTWATCH_PEERS)",
            script.display()
        ));
    }
    let probe = Command::new("python3")
        .args(["-c", "import numpy, cv2, rasterio"])
        .output();
    if !probe.as_ref().is_ok_and(|o| o.status.success()) {
        return skip("python3 with numpy, opencv-python-headless and rasterio is not installed");
    }
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("samples");
    let out = tempfile::tempdir().unwrap();
    let ours = Command::new(common::portwatch_bin())
        .args([
            "run",
            sample.to_str().unwrap(),
            "--device",
            "cpu",
            "--threshold",
            "60",
            "--smooth",
            "0",
            "--no-normalize",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(
        ours.status.success(),
        "{}",
        String::from_utf8_lossy(&ours.stderr)
    );
    let peer_csv = out.path().join("peer.csv");
    let peer = Command::new("python3")
        .arg(&script)
        .args([
            sample.as_os_str(),
            sample.join("regions.geojson").as_os_str(),
            peer_csv.as_os_str(),
        ])
        .args(["--threshold", "60"])
        .output()
        .unwrap();
    assert!(
        peer.status.success(),
        "peer failed: {}",
        String::from_utf8_lossy(&peer.stderr)
    );
    let ours = std::fs::read_to_string(out.path().join("pairs.csv")).unwrap();
    let theirs = std::fs::read_to_string(&peer_csv)
        .unwrap()
        .replace("\r\n", "\n");
    assert!(
        ours.lines().count() > 100,
        "the sample should give many rows"
    );
    for (line, (a, b)) in ours.lines().zip(theirs.lines()).enumerate() {
        assert_eq!(a, b, "pairs.csv line {} differs from the peer's", line + 1);
    }
    assert_eq!(ours.lines().count(), theirs.lines().count());
}
