//! `portwatch pair` end to end through the binary: the table, the JSON and the mask; both backends write
//! the same bytes; bad input is refused by name with nothing written; clouds of a synthetic archive are
//! found and reported as invalid instead of change.

mod common;

use common::run::{portwatch, stderr};
use common::{gpu_required, portwatch_bin};
use portwatch::cloud;
use portwatch::scene::Scene;
use std::path::{Path, PathBuf};

/// Two 64x48 RGB scenes: the second a little brighter everywhere (a radiometric difference, not
/// change) with a bright 10x8 block added at (40, 30).
fn write_pair(dir: &Path) -> (PathBuf, PathBuf) {
    let texture = |x: u32, y: u32| {
        ((x.wrapping_mul(73_856_093) ^ y.wrapping_mul(19_349_663)) % 40 + 60) as f64
    };
    let before = image::RgbImage::from_fn(64, 48, |x, y| {
        let v = texture(x, y) as u8;
        image::Rgb([v, v + 10, v + 20])
    });
    let after = image::RgbImage::from_fn(64, 48, |x, y| {
        if (40..50).contains(&x) && (30..38).contains(&y) {
            return image::Rgb([230, 220, 40]);
        }
        let v = (texture(x, y) * 1.1 + 5.0) as u8;
        image::Rgb([v, v + 11, v + 22])
    });
    let (b, a) = (dir.join("before.png"), dir.join("after.png"));
    before.save(&b).unwrap();
    after.save(&a).unwrap();
    (b, a)
}

const REGIONS: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"name":"quay","kind":"berth"},"geometry":{"type":"Polygon","coordinates":[[[36,26],[60,26],[60,44],[36,44],[36,26]]]}},
 {"type":"Feature","properties":{"name":"yard","kind":"yard"},"geometry":{"type":"Polygon","coordinates":[[[2,2],[30,2],[30,20],[2,20],[2,2]]]}}]}"#;

fn pair_args<'a>(before: &'a Path, after: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["pair", before.to_str().unwrap(), after.to_str().unwrap()];
    args.extend(extra);
    args
}

#[test]
fn table_json_and_mask_describe_the_change() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = write_pair(dir.path());
    std::fs::write(dir.path().join("regions.geojson"), REGIONS).unwrap();
    let mask = dir.path().join("mask.png");
    let extra = [
        "--device",
        "cpu",
        "--regions",
        "regions.geojson",
        "--mask-out",
        "mask.png",
        "--smooth",
        "0",
    ];
    let output = portwatch(&pair_args(&before, &after, &extra), dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let table = String::from_utf8(output.stdout.clone()).unwrap();
    let lines: Vec<Vec<&str>> = table
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        lines[0],
        [
            "region",
            "kind",
            "valid_px",
            "changed_px",
            "changed_fraction"
        ]
    );
    assert_eq!(lines[1][..4], ["quay", "berth", "432", "80"], "{table}");
    assert_eq!(lines[2][..4], ["yard", "yard", "504", "0"], "{table}");
    let log = stderr(&output);
    assert!(log.contains("threshold") && log.contains("Otsu"), "{log}");
    let image = image::open(&mask).unwrap().into_luma8();
    assert_eq!(image.dimensions(), (64, 48));
    let changed: Vec<(u32, u32)> = image
        .enumerate_pixels()
        .filter(|(_, _, p)| p.0[0] == 255)
        .map(|(x, y, _)| (x, y))
        .collect();
    assert!(image.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
    assert_eq!(changed.len(), 80);
    assert!(
        changed
            .iter()
            .all(|&(x, y)| (40..50).contains(&x) && (30..38).contains(&y))
    );

    let output = portwatch(
        &pair_args(&before, &after, &["--device", "cpu", "--json"]),
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["width"], 64);
    assert_eq!(json["bits_per_sample"], 8);
    assert_eq!(json["threshold_chosen"], true);
    assert_eq!(json["smooth"], 1);
    assert_eq!(json["regions"][0]["name"], "image");
    assert_eq!(json["regions"][0]["valid_px"], 64 * 48);
    let gain = json["correction"]["gain"][0].as_f64().unwrap();
    assert!((gain - 1.0 / 1.1).abs() < 0.02, "gain {gain}");
    assert!(json["shift"]["dx"].as_f64().unwrap().abs() < 0.05, "{json}");
    assert_eq!(json["after"]["cloud_fraction"], 0.0);
}

#[test]
fn both_backends_write_the_same_mask_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let (before, after) = write_pair(dir.path());
    std::fs::write(dir.path().join("regions.geojson"), REGIONS).unwrap();
    let run = |device: &str| {
        let mask = format!("mask-{device}.png");
        let extra = [
            "--device",
            device,
            "--regions",
            "regions.geojson",
            "--json",
            "--align",
            "--cloud-mask",
            "auto",
            "--mask-out",
            &mask,
        ];
        let output = portwatch(&pair_args(&before, &after, &extra), dir.path());
        (output, std::fs::read(dir.path().join(&mask)).ok())
    };
    let (cpu, cpu_mask) = run("cpu");
    assert!(cpu.status.success(), "{}", stderr(&cpu));
    let (gpu, gpu_mask) = run("gpu");
    if !gpu.status.success() && stderr(&gpu).contains("GPU") && !gpu_required() {
        eprintln!("SKIPPED both_backends_write_the_same_mask_and_json: no GPU adapter");
        return;
    }
    assert!(gpu.status.success(), "{}", stderr(&gpu));
    assert_eq!(
        String::from_utf8(cpu.stdout).unwrap(),
        String::from_utf8(gpu.stdout).unwrap()
    );
    assert_eq!(cpu_mask.unwrap(), gpu_mask.unwrap());
}

#[test]
fn bad_input_is_refused_by_name_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (before, _) = write_pair(dir.path());
    let small = dir.path().join("small.png");
    image::RgbImage::new(32, 48).save(&small).unwrap();
    let output = portwatch(
        &pair_args(&before, &small, &["--mask-out", "mask.png"]),
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("before.png")
            && message.contains("small.png")
            && message.contains("format"),
        "{message}"
    );
    assert!(!dir.path().join("mask.png").exists());
    let missing = dir.path().join("missing.png");
    let output = portwatch(&pair_args(&before, &missing, &[]), dir.path());
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("missing.png"),
        "{}",
        stderr(&output)
    );
    let output = portwatch(
        &pair_args(&before, &before, &["--search-radius", "40", "--align"]),
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("search radius 40"),
        "{}",
        stderr(&output)
    );
    // Without --align, a pair too small for the search is compared with no shift measured.
    let tiny = [dir.path().join("tiny-a.png"), dir.path().join("tiny-b.png")];
    for path in &tiny {
        image::RgbImage::from_pixel(5, 4, image::Rgb([90, 80, 70]))
            .save(path)
            .unwrap();
    }
    let output = portwatch(&pair_args(&tiny[0], &tiny[1], &["--json"]), dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(json["shift"], serde_json::Value::Null);
    assert_eq!(json["regions"][0]["changed_px"], 0);
}

/// A synthetic archive of 384x384 px scenes that all have a cloud, without the masks that would hide
/// them, and the masks apart.
fn cloudy_archive(bits: &str) -> (tempfile::TempDir, Vec<(PathBuf, PathBuf)>) {
    let dir = tempfile::tempdir().unwrap();
    let synth = dir.path().join("synth");
    let output = std::process::Command::new(portwatch_bin())
        .args([
            "synth",
            "--scenario",
            "quiet",
            "--scenes",
            "4",
            "--size",
            "384x384",
        ])
        .args([
            "--cloud-probability",
            "1",
            "--bit-depth",
            bits,
            "--quiet",
            "--out",
        ])
        .arg(&synth)
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", stderr(&output));
    let scenes_dir = dir.path().join("scenes");
    std::fs::create_dir(&scenes_dir).unwrap();
    let mut scenes = Vec::new();
    let mut names: Vec<_> = std::fs::read_dir(&synth)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "png") && !p.to_string_lossy().ends_with(".mask.png")
        })
        .collect();
    names.sort();
    for scene in names {
        let moved = scenes_dir.join(scene.file_name().unwrap());
        std::fs::copy(&scene, &moved).unwrap();
        let stem = scene.file_stem().unwrap().to_string_lossy().into_owned();
        scenes.push((moved, synth.join(format!("{stem}.mask.png"))));
    }
    (dir, scenes)
}

#[test]
fn synthetic_clouds_and_shadows_are_found_on_8_and_16_bits() {
    for bits in ["8", "16"] {
        let (_dir, scenes) = cloudy_archive(bits);
        let mut totals = (0, 0);
        for (index, (scene_path, mask_path)) in scenes.iter().enumerate() {
            let scene = Scene::decode(scene_path).unwrap();
            // Judged against the next scene, which has its own cloud elsewhere.
            let reference = Scene::decode(&scenes[(index + 1) % scenes.len()].0).unwrap();
            let mut cover = cloud::detect(&scene, &reference, Some(0));
            let mut masked = scene.clone();
            cover.mask(&mut masked);
            let truth = image::open(mask_path).unwrap().into_luma8();
            let (mut caught, mut clouded, mut wrongly) = (0, 0, 0);
            for (pixel, value) in truth.pixels().enumerate() {
                let hidden = !masked.is_valid(pixel, None);
                if value.0[0] == 0 {
                    clouded += 1;
                    caught += u32::from(hidden);
                } else {
                    wrongly += u32::from(hidden);
                }
            }
            let pixels = truth.len() as f64;
            eprintln!(
                "{bits}-bit {}: {clouded} px clouded in truth, {caught} caught, {wrongly} clear px masked",
                scene_path.display()
            );
            assert!(
                f64::from(wrongly) <= 0.1 * pixels,
                "{bits}-bit {}: {wrongly} clear pixels masked",
                scene_path.display()
            );
            totals.0 += caught;
            totals.1 += clouded;
        }
        // Measured: 72% on 8 and 16 bits alike; the thin edges of clouds over water are missed.
        assert!(
            f64::from(totals.0) >= 0.7 * f64::from(totals.1),
            "{bits}-bit: caught {} of {} clouded pixels",
            totals.0,
            totals.1
        );
    }
}

#[test]
fn pair_reports_cloud_fractions_and_leaves_clouds_out_of_change() {
    let (dir, scenes) = cloudy_archive("8");
    let (before, after) = (&scenes[0].0, &scenes[1].0);
    let run = |mode: &str| {
        // A threshold given, so that both runs count change alike.
        let extra = [
            "--device",
            "cpu",
            "--json",
            "--threshold",
            "90",
            "--cloud-mask",
            mode,
        ];
        let output = portwatch(&pair_args(before, after, &extra), dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        serde_json::from_slice::<serde_json::Value>(&output.stdout).unwrap()
    };
    let (auto, none) = (run("auto"), run("none"));
    let fraction =
        |json: &serde_json::Value, scene: &str| json[scene]["cloud_fraction"].as_f64().unwrap();
    assert!(
        fraction(&auto, "before") > 0.01 && fraction(&auto, "after") > 0.01,
        "{auto}"
    );
    assert_eq!(fraction(&none, "after"), 0.0);
    let changed = |json: &serde_json::Value| json["regions"][0]["changed_px"].as_u64().unwrap();
    let valid = |json: &serde_json::Value| json["regions"][0]["valid_px"].as_u64().unwrap();
    assert!(valid(&auto) < valid(&none));
    assert!(
        changed(&auto) * 2 < changed(&none),
        "changed with masking {}, without {}",
        changed(&auto),
        changed(&none)
    );
}
