//! The catalogue of bad input, one test per case, each running the `portwatch` binary: damaged and absurd
//! scene files, bad regions, awkward archives and outputs that cannot be written. Each must end with a
//! message naming the file (or region) and what is wrong, no panic and no half-written output. A scene
//! that cannot be used is left out of the run (status 4, `failures.csv`); anything else is refused
//! (status 1, no output at all).

mod common;

use common::run::{
    REGIONS, archive, assert_error, assert_left_out, assert_refused, listing, portwatch,
    run_cpu_into, stderr, write_rgb,
};
use std::path::Path;

const DATES: [&str; 3] = ["2023-08-01", "2023-08-02", "2023-08-03"];

/// An archive of DATES as PNGs with `name` added, holding `bytes`.
fn archive_with(name: &str, bytes: &[u8]) -> tempfile::TempDir {
    let dir = archive(&DATES);
    std::fs::write(dir.path().join(name), bytes).unwrap();
    dir
}

/// A valid 32x24 RGB scene in the format `extension` names.
fn encoded(extension: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(format!("scene.{extension}"));
    write_rgb(&path, 32, 24, 7);
    std::fs::read(path).unwrap()
}

fn truncated(extension: &str) -> Vec<u8> {
    let mut bytes = encoded(extension);
    bytes.truncate(bytes.len() / 2);
    bytes
}

/// The file with its header (after the format's magic bytes) overwritten.
fn corrupt(extension: &str) -> Vec<u8> {
    let mut bytes = encoded(extension);
    for byte in &mut bytes[4..40] {
        *byte = 0xa5;
    }
    bytes
}

/// A little-endian TIFF of one band and one strip, `bits` per sample of `sample_format` (1 unsigned
/// integer, 3 float), whose strip is `strip`; the header may claim more pixels than the strip holds.
fn tiff(width: u32, height: u32, bits: u16, sample_format: u16, strip: &[u8]) -> Vec<u8> {
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    let entries: [(u16, u16, u32); 10] = [
        (256, LONG, width),
        (257, LONG, height),
        (258, SHORT, u32::from(bits)),
        (259, SHORT, 1),
        (262, SHORT, 1),
        (273, LONG, 8),
        (277, SHORT, 1),
        (278, LONG, height),
        (279, LONG, strip.len() as u32),
        (339, SHORT, u32::from(sample_format)),
    ];
    let ifd_offset = 8 + strip.len() as u32;
    let mut bytes = b"II*\0".to_vec();
    bytes.extend(ifd_offset.to_le_bytes());
    bytes.extend(strip);
    bytes.extend((entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        bytes.extend(tag.to_le_bytes());
        bytes.extend(kind.to_le_bytes());
        bytes.extend(1u32.to_le_bytes());
        bytes.extend(value.to_le_bytes());
    }
    bytes.extend(0u32.to_le_bytes());
    bytes
}

#[test]
fn truncated_png() {
    let dir = archive_with("2023-08-04.png", &truncated("png"));
    assert_left_out(dir.path(), &[], &["2023-08-04.png", "cannot decode image"]);
}

#[test]
fn corrupt_png() {
    let dir = archive_with("2023-08-04.png", &corrupt("png"));
    assert_left_out(dir.path(), &[], &["2023-08-04.png", "cannot decode image"]);
}

#[test]
fn truncated_jpeg() {
    let dir = archive_with("2023-08-04.jpg", &truncated("jpg"));
    assert_left_out(dir.path(), &[], &["2023-08-04.jpg", "cannot decode image"]);
}

#[test]
fn corrupt_jpeg() {
    let dir = archive_with("2023-08-04.jpg", &corrupt("jpg"));
    assert_left_out(dir.path(), &[], &["2023-08-04.jpg", "cannot decode image"]);
}

#[test]
fn truncated_tiff() {
    let dir = archive_with("2023-08-04.tif", &truncated("tif"));
    assert_left_out(dir.path(), &[], &["2023-08-04.tif", "cannot decode image"]);
}

#[test]
fn corrupt_tiff() {
    let dir = archive_with("2023-08-04.tif", &corrupt("tif"));
    assert_left_out(dir.path(), &[], &["2023-08-04.tif", "cannot decode image"]);
}

#[test]
fn zero_byte_scene() {
    let dir = archive_with("2023-08-04.png", b"");
    assert_left_out(dir.path(), &[], &["2023-08-04.png", "cannot decode image"]);
}

#[test]
fn zero_by_zero_image() {
    let dir = archive_with("2023-08-04.tif", &tiff(0, 0, 8, 1, &[]));
    assert_left_out(
        dir.path(),
        &[],
        &["2023-08-04.tif", "invalid dimensions: 0x0"],
    );
}

#[test]
fn image_of_100000_by_1_px() {
    let dir = archive(&DATES);
    write_rgb(&dir.path().join("2023-08-04.png"), 100_000, 1, 0);
    assert_left_out(
        dir.path(),
        &[],
        &[
            "2023-08-04.png",
            "scene is 100000x1 px, 3 bands, 8-bit but the archive's scenes are 32x24 px",
        ],
    );
    // An archive of such strips is unusual but valid.
    let strips = archive(&[]);
    for (phase, date) in DATES.iter().enumerate() {
        write_rgb(
            &strips.path().join(format!("{date}.png")),
            100_000,
            1,
            phase as u8,
        );
    }
    let regions = r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"name":"quay"},"geometry":{"type":"Polygon","coordinates":[[[10,0],[60000,0],[60000,1],[10,1],[10,0]]]}}]}"#;
    std::fs::write(strips.path().join("regions.geojson"), regions).unwrap();
    let (out, output) = run_cpu_into(strips.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pairs = std::fs::read_to_string(out.path().join("pairs.csv")).unwrap();
    assert!(
        pairs.contains("2023-08-01,2023-08-02,quay,other,59990,"),
        "{pairs}"
    );
}

#[test]
fn tiff_claiming_4_gb_of_pixels() {
    let dir = archive_with("2023-08-04.tif", &tiff(65_536, 65_536, 8, 1, &[0; 64]));
    assert_left_out(
        dir.path(),
        &[],
        &[
            "2023-08-04.tif",
            "image claims 65536x65536 px, 4096 MiB once decoded, above the 2048 MiB a scene may take",
        ],
    );
}

#[test]
fn float_scenes_in_an_8_bit_archive_are_left_out_by_their_format() {
    let samples: Vec<u8> = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.5]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    // Float samples are read as 16-bit reflectance x 10000 (tests/geotiff.rs), NaN and infinities invalid;
    // such a scene does not match an 8-bit archive.
    let dir = archive_with("2023-08-04.tif", &tiff(2, 2, 32, 3, &samples));
    assert_left_out(
        dir.path(),
        &[],
        &[
            "2023-08-04.tif",
            "scene is 2x2 px, 1 band, 16-bit but the archive's scenes are 32x24 px",
        ],
    );
    let dir = archive(&DATES);
    image::Rgb32FImage::from_fn(32, 24, |x, _| {
        image::Rgb([f32::NAN, f32::INFINITY, x as f32])
    })
    .save(dir.path().join("2023-08-04.tif"))
    .unwrap();
    assert_left_out(
        dir.path(),
        &[],
        &[
            "2023-08-04.tif",
            "scene is 32x24 px, 3 bands, 16-bit but the archive's scenes are 32x24 px, 3 bands, 8-bit",
        ],
    );
}

#[test]
fn corrupt_mask() {
    let dir = archive_with("2023-08-02.mask.png", &truncated("png"));
    assert_left_out(
        dir.path(),
        &[],
        &["2023-08-02.mask.png", "cannot decode image"],
    );
}

#[test]
fn missing_scene() {
    let dir = archive(&DATES);
    std::os::unix::fs::symlink(
        dir.path().join("not-fetched"),
        dir.path().join("2023-08-04.png"),
    )
    .unwrap();
    assert_left_out(dir.path(), &[], &["2023-08-04.png", "cannot open"]);
}

#[test]
fn every_scene_unusable() {
    let dir = archive(&[]);
    for date in DATES {
        std::fs::write(dir.path().join(format!("{date}.png")), b"").unwrap();
    }
    assert_refused(
        dir.path(),
        &[],
        &[
            "none of the archive's 3 scenes could be read",
            "2023-08-01.png",
        ],
    );
}

/// A regions file with one feature `name` whose polygon's coordinates are `coordinates`.
fn regions_with(name: &str, coordinates: &str) -> String {
    REGIONS.replace(
        "{\"name\":\"yard, north\",\"kind\":\"yard\"},\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[[4,12],[30,12],[30,24],[4,24],[4,12]]]}",
        &format!("{{\"name\":\"{name}\",\"kind\":\"yard\"}},\"geometry\":{{\"type\":\"Polygon\",\"coordinates\":{coordinates}}}"),
    )
}

fn assert_regions_refused(regions: &str, culprits: &[&str]) {
    assert_ne!(regions, REGIONS, "the case must change the regions");
    let dir = archive(&DATES);
    std::fs::write(dir.path().join("regions.geojson"), regions).unwrap();
    let mut culprits = culprits.to_vec();
    culprits.push("regions.geojson");
    assert_refused(dir.path(), &[], &culprits);
}

#[test]
fn self_intersecting_polygon() {
    assert_regions_refused(
        &regions_with("bowtie", "[[[4,12],[30,24],[30,12],[4,24],[4,12]]]"),
        &[
            "region \"bowtie\"",
            "ring crosses or touches itself",
            "the edge from (4, 12) to (30, 24)",
        ],
    );
}

#[test]
fn empty_polygon() {
    assert_regions_refused(
        &regions_with("nothing", "[]"),
        &["region \"nothing\"", "polygon has no rings"],
    );
    assert_regions_refused(
        &regions_with("hollow", "[[]]"),
        &["region \"hollow\"", "ring has 0 positions"],
    );
}

#[test]
fn unclosed_polygon() {
    assert_regions_refused(
        &regions_with("open", "[[[4,12],[30,12],[30,24],[4,24]]]"),
        &["region \"open\"", "ring is not closed"],
    );
}

#[test]
fn non_finite_coordinates() {
    for (value, what) in [
        ("1e999", "number out of range"),
        ("NaN", "expected value"),
        ("Infinity", "expected value"),
    ] {
        assert_regions_refused(
            &regions_with(
                "far",
                &format!("[[[4,12],[{value},12],[30,24],[4,24],[4,12]]]"),
            ),
            &["not a GeoJSON FeatureCollection", what, "line 3"],
        );
    }
    assert_regions_refused(
        &regions_with("flat", "[[[4,12],[30],[30,24],[4,24],[4,12]]]"),
        &["region \"flat\"", "is not a pair of finite numbers"],
    );
}

#[test]
fn ten_thousand_regions() {
    // 100 x 100 squares of 2x2 px on a 200x200 px archive.
    let features: Vec<String> = (0..10_000)
        .map(|i| {
            let (x, y) = (i % 100 * 2, i / 100 * 2);
            format!(
                r#"{{"type":"Feature","properties":{{"name":"r{i:05}","kind":"yard"}},"geometry":{{"type":"Polygon","coordinates":[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]}}}}"#,
                x + 2,
                x + 2,
                y + 2,
                y + 2
            )
        })
        .collect();
    let dir = archive(&[]);
    for (phase, date) in DATES.iter().enumerate() {
        write_rgb(
            &dir.path().join(format!("{date}.png")),
            200,
            200,
            phase as u8,
        );
    }
    let regions = format!(
        r#"{{"type":"FeatureCollection","features":[{}]}}"#,
        features.join(",")
    );
    std::fs::write(dir.path().join("regions.geojson"), regions).unwrap();
    let (out, output) = run_cpu_into(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let series = std::fs::read_to_string(out.path().join("series.csv")).unwrap();
    assert_eq!(series.lines().count(), 1 + 3 * 10_000);
    assert!(
        series.contains("\n2023-08-03,r09999,yard,1.0000,"),
        "{}",
        &series[..200]
    );
}

#[test]
fn duplicate_dates() {
    let dir = archive(&DATES);
    write_rgb(&dir.path().join("20230802.tif"), 32, 24, 0);
    assert_refused(
        dir.path(),
        &[],
        &[
            "2023-08-02.png",
            "20230802.tif",
            "two scenes share the acquisition time 2023-08-02",
        ],
    );
}

#[test]
fn non_utf8_file_names() {
    use std::os::unix::ffi::OsStrExt;
    let name = |stem: &[u8]| std::ffi::OsStr::from_bytes(stem).to_owned();
    // A dated scene whose name is not UTF-8 is read like any other.
    let dir = archive(&DATES);
    write_rgb(&dir.path().join(name(b"2023-08-04_\xff.png")), 32, 24, 4);
    let (out, output) = run_cpu_into(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let pairs = std::fs::read_to_string(out.path().join("pairs.csv")).unwrap();
    assert!(pairs.contains("2023-08-03,2023-08-04,berth-1,"), "{pairs}");
    // An unusable one is named, lossily, on stderr and in failures.csv.
    let broken = archive(&DATES);
    std::fs::write(broken.path().join(name(b"2023-08-04_\xff.png")), b"").unwrap();
    assert_left_out(broken.path(), &[], &["2023-08-04_\u{fffd}.png"]);
    // One without a date is refused by name.
    let undated = archive(&DATES);
    write_rgb(&undated.path().join(name(b"scene_\xfe.png")), 32, 24, 4);
    assert_refused(
        undated.path(),
        &[],
        &["scene_\u{fffd}.png", "no acquisition date"],
    );
}

#[test]
fn unwritable_out() {
    let dir = archive(&DATES);
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, b"").unwrap();
    for out in [blocker.clone(), blocker.join("out")] {
        let output = portwatch(
            &[
                "run",
                dir.path().to_str().unwrap(),
                "--device",
                "cpu",
                "--out",
                out.to_str().unwrap(),
            ],
            dir.path(),
        );
        assert_error(
            &output,
            &["cannot create output directory", out.to_str().unwrap()],
        );
    }
    assert_eq!(std::fs::read(&blocker).unwrap(), b"");
}

#[cfg(target_os = "linux")]
#[test]
fn full_disk() {
    let dir = archive(&DATES);
    let (out, output) = run_cpu_into(dir.path(), &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let before = listing(out.path());
    let read = |name: &str| std::fs::read(out.path().join(name)).unwrap();
    let pairs = read("pairs.csv");
    let output = std::process::Command::new(common::portwatch_bin())
        .args([
            "run",
            dir.path().to_str().unwrap(),
            "--device",
            "cpu",
            "--out",
        ])
        .arg(out.path())
        .env("PORTWATCH_TEST_FULL_DISK", "1")
        .output()
        .unwrap();
    assert_error(
        &output,
        &[
            "cannot write",
            // The first file a run writes is its work store's manifest.
            &out.path().join("work").display().to_string(),
            "No space left on device",
        ],
    );
    assert_eq!(listing(out.path()), before, "no temporary file is left");
    assert_eq!(read("pairs.csv"), pairs, "the earlier output survives");
}

#[test]
fn scene_paths_in_messages_are_the_files_themselves() {
    // A failed scene is listed by the path it was read from, so it can be found and fixed.
    let dir = archive_with("2023-08-04.png", b"");
    let (_, failures) = assert_left_out(dir.path(), &[], &["2023-08-04.png"]);
    let row = failures.lines().nth(1).unwrap();
    let file = row.split(',').next().unwrap();
    assert!(Path::new(file).exists(), "{row}");
}
