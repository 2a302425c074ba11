//! Co-registration: shifts of a scene by known sub-pixel amounts are recovered within 0.2 px on both
//! backends, whose shift costs are equal; `pair --align` removes the false change a shift makes.

mod common;

use common::run::{portwatch, stderr};
use common::{cpu_kernel, gpu_kernel};
use portwatch::coregister;
use portwatch::kernel::{ChangeKernel, Radiometry};
use portwatch::rasterize::LabelRaster;
use portwatch::scene::{Scene, SceneFormat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// A smooth, aperiodic texture: a few sinusoids of incommensurate wavelengths, 3 bands.
fn texture(x: f64, y: f64, band: usize) -> f64 {
    let b = band as f64;
    100.0
        + 40.0 * (0.21 * x + 0.05 * y + b).sin()
        + 30.0 * (0.07 * x - 0.17 * y + 0.5 * b).cos()
        + 20.0 * (0.113 * x + 0.131 * y).sin() * (0.029 * y - 0.041 * x).cos()
}

/// The texture seen by a scene whose content is shifted by (dx, dy): its pixel (x + dx, y + dy) shows
/// what the reference (dx = dy = 0) shows at (x, y).
fn scene(width: u32, height: u32, bits: u32, dx: f64, dy: f64) -> Scene {
    let scale = if bits == 8 { 1.0 } else { 40.0 };
    let samples: Vec<u16> = (0..height)
        .flat_map(|y| (0..width).map(move |x| (x, y)))
        .flat_map(|(x, y)| {
            (0..3).map(move |band| {
                (scale * texture(f64::from(x) - dx, f64::from(y) - dy, band)).round() as u16
            })
        })
        .collect();
    let format = SceneFormat {
        width,
        height,
        bands: 3,
        bits_per_sample: bits,
    };
    Scene::from_values(format, &samples)
}

fn whole_image(width: u32, height: u32) -> LabelRaster {
    let words = vec![1 | 1 << 16; (width * height).div_ceil(2) as usize];
    LabelRaster::from_words(width, height, 1, words).unwrap()
}

fn estimate(
    kernel: &mut dyn ChangeKernel,
    reference: &Scene,
    shifted: &Scene,
) -> coregister::Shift {
    kernel
        .load_scene(0, 0, reference.clone(), Radiometry::IDENTITY)
        .unwrap();
    kernel
        .load_scene(1, 0, shifted.clone(), Radiometry::IDENTITY)
        .unwrap();
    coregister::estimate(kernel, 0, 1, 3, None)
        .unwrap()
        .unwrap()
}

#[test]
fn known_shifts_are_recovered_within_a_fifth_of_a_pixel() {
    let (width, height) = (120, 90);
    for bits in [8, 16] {
        let reference = scene(width, height, bits, 0.0, 0.0);
        let format = reference.format;
        let labels = whole_image(width, height);
        let mut kernel = cpu_kernel(format, &labels);
        for (dx, dy) in [
            (0.0, 0.0),
            (0.3, -0.7),
            (1.4, 0.2),
            (-2.25, 1.5),
            (-0.5, -2.4),
        ] {
            let shift = estimate(
                kernel.as_mut(),
                &reference,
                &scene(width, height, bits, dx, dy),
            );
            assert!(
                (shift.dx - dx).abs() <= 0.2 && (shift.dy - dy).abs() <= 0.2,
                "{bits}-bit: shift ({dx}, {dy}) estimated as ({:.3}, {:.3})",
                shift.dx,
                shift.dy
            );
            assert!(!shift.at_search_edge);
        }
    }
}

#[test]
fn both_backends_measure_the_same_shift_costs() {
    let mut rng = ChaCha8Rng::seed_from_u64(5);
    for (bits, bands, width, height) in [(8, 3, 77, 41), (16, 4, 130, 33), (8, 1, 40, 40)] {
        let format = SceneFormat {
            width,
            height,
            bands,
            bits_per_sample: bits,
        };
        let labels = whole_image(width, height);
        let Some(mut gpu) = gpu_kernel(
            "both_backends_measure_the_same_shift_costs",
            format,
            &labels,
        ) else {
            return;
        };
        let mut cpu = cpu_kernel(format, &labels);
        let max = format.max_sample();
        for slot in 0..2 {
            let samples: Vec<u16> = (0..format.pixel_count() * bands as usize)
                .map(|_| {
                    if rng.random_bool(0.05) {
                        0
                    } else {
                        rng.random_range(0..=max) as u16
                    }
                })
                .collect();
            let mut scene = Scene::from_values(format, &samples);
            if slot == 1 {
                scene.validity = Some(
                    (0..format.bitmap_word_count())
                        .map(|_| rng.random::<u32>() | rng.random::<u32>())
                        .collect(),
                );
            }
            let gains: Vec<f64> = (0..bands).map(|_| rng.random_range(0.6..1.8)).collect();
            let offsets: Vec<f64> = (0..bands).map(|_| rng.random_range(-20.0..20.0)).collect();
            let radiometry = Radiometry::from_linear(&gains, &offsets, bits);
            cpu.load_scene(slot, 0, scene.clone(), radiometry).unwrap();
            gpu.load_scene(slot, 0, scene, radiometry).unwrap();
        }
        for (radius, nodata) in [(0, None), (2, Some(0)), (5, None)] {
            let on_cpu = cpu.shift_costs(0, 1, radius, nodata).unwrap();
            let on_gpu = gpu.shift_costs(0, 1, radius, nodata).unwrap();
            assert_eq!(
                on_cpu, on_gpu,
                "{format}, radius {radius}, nodata {nodata:?}"
            );
            assert_eq!(
                on_cpu.sums.len(),
                ((2 * radius + 1) * (2 * radius + 1)) as usize
            );
            assert!(on_cpu.pixels.iter().all(|&p| p > 0));
        }
    }
}

#[test]
fn align_removes_the_false_change_of_a_shift() {
    let dir = tempfile::tempdir().unwrap();
    let (width, height) = (160, 120);
    let save = |name: &str, dx: f64, dy: f64| {
        let scene = scene(width, height, 8, dx, dy);
        let image = image::RgbImage::from_fn(width, height, |x, y| {
            let p = (y * width + x) as usize;
            image::Rgb([0, 1, 2].map(|b| scene.sample(p, b) as u8))
        });
        image.save(dir.path().join(name)).unwrap();
    };
    save("before.png", 0.0, 0.0);
    save("after.png", 1.6, -0.8);
    let changed = |extra: &[&str]| {
        let mut args = vec![
            "pair",
            "before.png",
            "after.png",
            "--device",
            "cpu",
            "--json",
        ];
        args.extend(["--threshold", "30", "--smooth", "0"]);
        args.extend(extra);
        let output = portwatch(&args, dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        let json: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
        (
            json["regions"][0]["changed_px"].as_u64().unwrap(),
            json,
            stderr(&output),
        )
    };
    let (unaligned, json, log) = changed(&[]);
    assert!(log.contains("warning: after.png is shifted by ("), "{log}");
    assert!(
        (json["shift"]["dx"].as_f64().unwrap() - 1.6).abs() <= 0.2,
        "{json}"
    );
    assert!(
        (json["shift"]["dy"].as_f64().unwrap() + 0.8).abs() <= 0.2,
        "{json}"
    );
    assert_eq!(json["shift"]["aligned"], false);
    let (aligned, json, _) = changed(&["--align"]);
    assert_eq!(json["shift"]["aligned"], true);
    assert!(
        aligned * 20 < unaligned,
        "changed pixels: {aligned} aligned, {unaligned} not"
    );
}

#[test]
fn run_aligns_a_misregistered_archive_and_records_it() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("archive");
    let output = portwatch(
        &[
            "synth",
            "--scenario",
            "quiet",
            "--size",
            "256x256",
            "--gsd",
            "4",
            "--scenes",
            "5",
            "--misregistration",
            "1.5",
            "--cloud-probability",
            "0",
            "--quiet",
            "--out",
            archive.to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let run = |extra: &[&str]| {
        let out = dir.path().join(format!("out{}", extra.len()));
        let mut args = vec![
            "run",
            archive.to_str().unwrap(),
            "--device",
            "cpu",
            "--threshold",
            "60",
        ];
        args.extend(["--out", out.to_str().unwrap()]);
        args.extend(extra);
        let output = portwatch(&args, dir.path());
        assert!(output.status.success(), "{}", stderr(&output));
        let pairs = std::fs::read_to_string(out.join("pairs.csv")).unwrap();
        let changed: u64 = pairs
            .lines()
            .skip(1)
            .map(|line| line.split(',').nth(5).unwrap().parse::<u64>().unwrap())
            .sum();
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(out.join("run.json")).unwrap()).unwrap();
        (changed, record, stderr(&output))
    };
    let (unaligned, record, _) = run(&["--cloud-mask", "none"]);
    assert_eq!(record["arguments"]["align"], false);
    assert_eq!(record["corrections"][0]["shift"], serde_json::Value::Null);
    assert_eq!(
        record["corrections"][0]["cloud_fraction"],
        serde_json::Value::Null
    );
    let (aligned, record, log) = run(&["--align", "--cloud-mask", "auto"]);
    assert_eq!(record["arguments"]["align"], true);
    assert_eq!(record["arguments"]["cloud_mask"], "auto");
    let first = &record["corrections"][0];
    assert!(
        first["shift"][0].is_number() && first["cloud_fraction"].is_number(),
        "{first}"
    );
    assert_eq!(log.matches("px and aligned").count(), 5, "{log}");
    assert!(
        aligned * 2 < unaligned,
        "changed pixels of the pairs: {aligned} aligned, {unaligned} not"
    );
}
