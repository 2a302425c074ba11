//! GPU against CPU: for random scenes of many shapes and settings, both backends must produce identical
//! statistics, histograms and change masks. Equality, never tolerance.

mod common;

use portwatch::kernel::params::HISTOGRAM_BINS;
use portwatch::kernel::{ChangeKernel, ChangeSettings, PairStats};
use portwatch::rasterize::LabelRaster;
use portwatch::scene::{Scene, SceneFormat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One random comparison: two scenes, labels and settings.
struct Case {
    name: String,
    scenes: [Scene; 2],
    labels: LabelRaster,
    settings: ChangeSettings,
}

fn random_scene(
    rng: &mut ChaCha8Rng,
    format: SceneFormat,
    base: Option<&[u32]>,
    nodata: Option<u32>,
) -> Scene {
    let max = format.max_sample();
    let mut samples: Vec<u32> = (0..format.pixel_count() * format.bands as usize)
        .map(|i| {
            match base {
                // Mostly small differences, some large: both sides of any threshold.
                Some(base) if rng.random_bool(0.7) => {
                    let step = rng.random_range(0..=max / 16 + 1);
                    if rng.random_bool(0.5) {
                        base[i].saturating_add(step).min(max)
                    } else {
                        base[i].saturating_sub(step)
                    }
                }
                _ => rng.random_range(0..=max),
            }
        })
        .collect();
    if let Some(nodata) = nodata {
        // Whole nodata pixels (all bands), as along a scene's border.
        for pixel in 0..format.pixel_count() {
            if rng.random_bool(0.1) {
                let bands = format.bands as usize;
                samples[pixel * bands..(pixel + 1) * bands].fill(nodata);
            }
        }
    }
    let mut scene = if format.bits_per_sample == 8 {
        let bytes: Vec<u8> = samples.iter().map(|&v| v as u8).collect();
        Scene::from_u8(format.width, format.height, format.bands, &bytes)
    } else {
        let words: Vec<u16> = samples.iter().map(|&v| v as u16).collect();
        Scene::from_u16(format.width, format.height, format.bands, &words)
    };
    if rng.random_bool(0.5) {
        scene.validity = Some(
            (0..format.bitmap_word_count())
                .map(|_| rng.random::<u32>() | rng.random::<u32>())
                .collect(),
        );
    }
    scene
}

fn samples_of(scene: &Scene) -> Vec<u32> {
    let f = scene.format;
    let per_word = 32 / f.bits_per_sample;
    (0..f.pixel_count() * f.bands as usize)
        .map(|s| {
            (scene.words[s / per_word as usize] >> ((s as u32 % per_word) * f.bits_per_sample))
                & f.max_sample()
        })
        .collect()
}

/// Random axis-aligned rectangles, clipped at the borders, some touching them, on a background of no region.
fn random_labels(rng: &mut ChaCha8Rng, width: u32, height: u32) -> LabelRaster {
    let region_count = rng.random_range(1..=6u32);
    let mut labels = vec![0u16; (width * height) as usize];
    for label in 1..=region_count {
        let x0 = rng.random_range(0..width);
        let y0 = rng.random_range(0..height);
        let x1 = rng.random_range(x0..=width);
        let y1 = rng.random_range(y0..=height);
        for y in y0..y1 {
            for x in x0..x1 {
                labels[(y * width + x) as usize] = label as u16;
            }
        }
    }
    let words = labels
        .chunks(2)
        .map(|pair| u32::from(pair[0]) | u32::from(*pair.get(1).unwrap_or(&0)) << 16)
        .collect();
    LabelRaster {
        width,
        height,
        region_count,
        words,
    }
}

fn random_case(seed: u64, width: u32, height: u32) -> Case {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let format = SceneFormat {
        width,
        height,
        bands: rng.random_range(1..=4),
        bits_per_sample: if rng.random_bool(0.5) { 8 } else { 16 },
    };
    let nodata = rng
        .random_bool(0.5)
        .then(|| rng.random_range(0..=format.max_sample()));
    let a = random_scene(&mut rng, format, None, nodata);
    let b = random_scene(&mut rng, format, Some(&samples_of(&a)), nodata);
    let settings = ChangeSettings {
        threshold: rng.random_range(0..=format.max_sample() * format.bands / 8),
        radius: rng.random_range(0..=3),
        nodata,
    };
    Case {
        name: format!("seed {seed}: {format}, {settings:?}"),
        labels: random_labels(&mut rng, width, height),
        scenes: [a, b],
        settings,
    }
}

fn compare(kernel: &mut dyn ChangeKernel, case: &Case, with_mask: bool) -> PairStats {
    for (slot, scene) in case.scenes.iter().enumerate() {
        kernel.load_scene(slot, scene.clone()).unwrap();
    }
    kernel.compare(0, 1, &case.settings, with_mask).unwrap()
}

fn assert_backends_agree(test: &str, case: &Case) {
    let format = case.scenes[0].format;
    let Some(mut gpu) = common::gpu_kernel(test, format, &case.labels) else {
        return;
    };
    let mut cpu = common::cpu_kernel(format, &case.labels);
    for with_mask in [true, false] {
        let expected = compare(cpu.as_mut(), case, with_mask);
        let actual = compare(gpu.as_mut(), case, with_mask);
        assert_eq!(
            actual, expected,
            "{}: GPU and CPU differ (mask {with_mask})",
            case.name
        );
        let histogram_total: u64 = expected.regions.iter().flat_map(|r| r.histogram).sum();
        let valid_total: u64 = expected.regions.iter().map(|r| r.valid_px).sum();
        assert_eq!(
            histogram_total, valid_total,
            "{}: histograms must count every valid pixel",
            case.name
        );
    }
}

#[test]
fn random_shapes_agree() {
    let shapes = [
        (1, 1),
        (2, 1),
        (1, 3),
        (7, 5),
        (31, 33),
        (64, 64),
        (257, 3),
        (3, 257),
        (1000, 1),
        (1, 700),
        (333, 171),
        (512, 256),
    ];
    for (index, &(width, height)) in shapes.iter().enumerate() {
        for repeat in 0..3 {
            let case = random_case((index * 10 + repeat) as u64, width, height);
            assert_backends_agree("random_shapes_agree", &case);
        }
    }
}

#[test]
fn swapped_slots_give_the_same_answer() {
    let case = random_case(99, 129, 65);
    let format = case.scenes[0].format;
    for kernel in [
        common::gpu_kernel("swapped_slots_give_the_same_answer", format, &case.labels),
        Some(common::cpu_kernel(format, &case.labels)),
    ]
    .into_iter()
    .flatten()
    {
        let mut kernel = kernel;
        let forward = compare(kernel.as_mut(), &case, true);
        let backward = kernel.compare(1, 0, &case.settings, true).unwrap();
        assert_eq!(forward, backward, "{}", kernel.description());
    }
}

/// A region of 4 megapixels of 4-band 16-bit data changing by the full scale: the magnitude sum passes 2^32,
/// so the GPU's hand-carried 64-bit sum is exercised.
#[test]
fn magnitude_sums_do_not_overflow() {
    let (width, height) = (2048, 2048);
    let format = SceneFormat {
        width,
        height,
        bands: 4,
        bits_per_sample: 16,
    };
    let black = Scene::from_u16(width, height, 4, &vec![1; format.pixel_count() * 4]);
    let white = Scene::from_u16(width, height, 4, &vec![65535; format.pixel_count() * 4]);
    let labels = LabelRaster {
        width,
        height,
        region_count: 1,
        words: vec![0x0001_0001; format.pixel_count() / 2],
    };
    let settings = ChangeSettings {
        threshold: 1000,
        radius: 0,
        nodata: None,
    };
    let case = Case {
        name: "full-scale change".into(),
        scenes: [black, white],
        labels,
        settings,
    };
    let expected_sum = format.pixel_count() as u64 * 4 * 65534;
    assert!(expected_sum > u64::from(u32::MAX));
    let mut kernels = vec![common::cpu_kernel(format, &case.labels)];
    kernels.extend(common::gpu_kernel(
        "magnitude_sums_do_not_overflow",
        format,
        &case.labels,
    ));
    for mut kernel in kernels {
        let stats = compare(kernel.as_mut(), &case, false);
        let region = &stats.regions[0];
        assert_eq!(
            region.magnitude_sum,
            expected_sum,
            "{}",
            kernel.description()
        );
        assert_eq!(region.changed_px, format.pixel_count() as u64);
        assert_eq!(
            region.histogram[HISTOGRAM_BINS - 1],
            format.pixel_count() as u64
        );
    }
}

/// More than 65535 workgroups: the dispatch must spread over two dimensions and still cover every pixel.
#[test]
fn dispatches_beyond_the_per_dimension_limit_cover_every_pixel() {
    let (width, height) = (4200, 4000);
    let format = SceneFormat {
        width,
        height,
        bands: 1,
        bits_per_sample: 8,
    };
    let pixels = format.pixel_count();
    let a = Scene::from_u8(width, height, 1, &vec![10; pixels]);
    let b = Scene::from_u8(
        width,
        height,
        1,
        &(0..pixels)
            .map(|i| if i % 3 == 0 { 200 } else { 12 })
            .collect::<Vec<u8>>(),
    );
    let labels = LabelRaster {
        width,
        height,
        region_count: 2,
        words: vec![0x0002_0001; pixels / 2],
    };
    let settings = ChangeSettings {
        threshold: 50,
        radius: 0,
        nodata: None,
    };
    let case = Case {
        name: "large dispatch".into(),
        scenes: [a, b],
        labels,
        settings,
    };
    assert_backends_agree(
        "dispatches_beyond_the_per_dimension_limit_cover_every_pixel",
        &case,
    );
    let stats = compare(
        common::cpu_kernel(format, &case.labels).as_mut(),
        &case,
        false,
    );
    let total_valid: u64 = stats.regions.iter().map(|r| r.valid_px).sum();
    let total_changed: u64 = stats.regions.iter().map(|r| r.changed_px).sum();
    assert_eq!(total_valid, pixels as u64);
    assert_eq!(total_changed, pixels.div_ceil(3) as u64);
}

/// So many regions that the CPU's per-region tally of 8-bit magnitudes would be too large: it falls back to
/// the shader's runs, and must still agree.
#[test]
fn many_regions_agree() {
    let (width, height) = (300, 200);
    let mut case = random_case(7, width, height);
    let format = SceneFormat {
        width,
        height,
        bands: 4,
        bits_per_sample: 8,
    };
    let mut rng = ChaCha8Rng::seed_from_u64(8);
    let a = random_scene(&mut rng, format, None, Some(0));
    let b = random_scene(&mut rng, format, Some(&samples_of(&a)), Some(0));
    let region_count = 1500;
    let words = (0..format.pixel_count().div_ceil(2) as u32)
        .map(|w| {
            let label = |pixel: u32| (pixel / 37 % (region_count + 1)) & 0xffff;
            label(2 * w) | (label(2 * w + 1) << 16)
        })
        .collect();
    case.scenes = [a, b];
    case.labels = LabelRaster {
        width,
        height,
        region_count,
        words,
    };
    for radius in [0, 2] {
        case.settings = ChangeSettings {
            threshold: 120,
            radius,
            nodata: Some(0),
        };
        case.name = format!("{region_count} regions, radius {radius}");
        assert_backends_agree("many_regions_agree", &case);
    }
}
