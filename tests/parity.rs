//! GPU against CPU: for random scenes of many shapes and settings, both backends must produce identical
//! statistics, histograms, change masks, profiles and backgrounds. Equality, never tolerance.

mod common;

use portwatch::kernel::params::HISTOGRAM_BINS;
use portwatch::kernel::{ChangeKernel, ChangeSettings, Outputs, PairStats, Radiometry};
use portwatch::rasterize::LabelRaster;
use portwatch::scene::{Scene, SceneFormat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// One random comparison: two scenes, labels and settings.
struct Case {
    name: String,
    scenes: [Scene; 2],
    radiometry: [Radiometry; 2],
    labels: LabelRaster,
    settings: ChangeSettings,
}

/// Every combination of the optional outputs.
const ALL_OUTPUTS: [Outputs; 4] = [
    Outputs {
        change_mask: false,
        profiles: false,
    },
    Outputs {
        change_mask: true,
        profiles: false,
    },
    Outputs {
        change_mask: false,
        profiles: true,
    },
    Outputs {
        change_mask: true,
        profiles: true,
    },
];

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
    let values: Vec<u16> = samples.iter().map(|&v| v as u16).collect();
    let mut scene = Scene::from_values(format, &values);
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
    LabelRaster::from_words(width, height, region_count, words).unwrap()
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
    let mut settings = ChangeSettings {
        threshold: rng.random_range(0..=format.max_sample() * format.bands / 8),
        region_thresholds: Vec::new(),
        radius: rng.random_range(0..=3),
        nodata,
    };
    let labels = random_labels(&mut rng, width, height);
    settings.region_thresholds = random_region_thresholds(&mut rng, format, &labels);
    Case {
        name: format!("seed {seed}: {format}, {settings:?}"),
        labels,
        scenes: [a, b],
        radiometry: [Radiometry::IDENTITY; 2],
        settings,
    }
}

/// Half the time none (every region at the pair's threshold), else a random threshold for each region.
fn random_region_thresholds(
    rng: &mut ChaCha8Rng,
    format: SceneFormat,
    labels: &LabelRaster,
) -> Vec<u32> {
    let most = format.max_sample() * format.bands / 8;
    match rng.random_bool(0.5) {
        true => Vec::new(),
        false => (0..labels.region_count)
            .map(|_| rng.random_range(0..=most))
            .collect(),
    }
}

/// A random correction: gains 0.5 to 2, offsets up to ±40 (8-bit) or ±3000 (16-bit), so that corrected
/// samples clamp at both ends.
fn random_radiometry(rng: &mut ChaCha8Rng, format: SceneFormat) -> Radiometry {
    let reach = if format.bits_per_sample == 8 {
        40.0
    } else {
        3000.0
    };
    let bands = format.bands as usize;
    let gains: Vec<f64> = (0..bands).map(|_| rng.random_range(0.5..=2.0)).collect();
    let offsets: Vec<f64> = (0..bands)
        .map(|_| rng.random_range(-reach..=reach))
        .collect();
    Radiometry::from_linear(&gains, &offsets, format.bits_per_sample)
}

/// `random_case` with a random correction on each scene and regions of every shape.
fn corrected_case(seed: u64, width: u32, height: u32) -> Case {
    let mut case = random_case(seed, width, height);
    let mut rng = ChaCha8Rng::seed_from_u64(seed + 1000);
    let format = case.scenes[0].format;
    case.radiometry = [
        random_radiometry(&mut rng, format),
        random_radiometry(&mut rng, format),
    ];
    case.labels = shaped_labels(&mut rng, width, height);
    case.settings.region_thresholds = random_region_thresholds(&mut rng, format, &case.labels);
    case.name = format!("{} with {:?}", case.name, case.radiometry);
    case
}

/// Regions of many shapes: rectangles, single pixels, diagonal strips both ways and scattered pixels.
fn shaped_labels(rng: &mut ChaCha8Rng, width: u32, height: u32) -> LabelRaster {
    let region_count = rng.random_range(1..=8u32);
    let mut labels = vec![0u16; (width * height) as usize];
    for label in 1..=region_count {
        let x0 = rng.random_range(0..width);
        let y0 = rng.random_range(0..height);
        let thickness = rng.random_range(0..3);
        let inside: Box<dyn Fn(u32, u32) -> bool> = match label % 5 {
            0 => Box::new(move |x, y| (x, y) == (x0, y0)),
            1 => Box::new(move |x, y| {
                (x as i64 - y as i64 - x0 as i64 + y0 as i64).abs() <= thickness
            }),
            2 => Box::new(move |x, y| {
                (x as i64 + y as i64 - x0 as i64 - y0 as i64).abs() <= thickness
            }),
            3 => Box::new(move |x, y| (x * 7 + y * 13) % 11 == label % 11),
            _ => {
                let x1 = rng.random_range(x0..=width);
                let y1 = rng.random_range(y0..=height);
                Box::new(move |x, y| (x0..x1).contains(&x) && (y0..y1).contains(&y))
            }
        };
        for y in 0..height {
            for x in 0..width {
                if inside(x, y) {
                    labels[(y * width + x) as usize] = label as u16;
                }
            }
        }
    }
    let words = labels
        .chunks(2)
        .map(|pair| u32::from(pair[0]) | u32::from(*pair.get(1).unwrap_or(&0)) << 16)
        .collect();
    LabelRaster::from_words(width, height, region_count, words).unwrap()
}

fn compare(kernel: &mut dyn ChangeKernel, case: &Case, outputs: Outputs) -> PairStats {
    for (slot, (scene, radiometry)) in case.scenes.iter().zip(case.radiometry).enumerate() {
        kernel
            .load_scene(slot, 0, scene.clone(), radiometry)
            .unwrap();
    }
    kernel
        .compare(
            0,
            1,
            0..case.scenes[0].format.height,
            &case.settings,
            outputs,
        )
        .unwrap()
}

fn assert_backends_agree(test: &str, case: &Case) {
    let format = case.scenes[0].format;
    if let Some(gpu) = common::gpu_kernel(test, format, &case.labels) {
        assert_agrees_with_cpu(gpu, case);
    }
}

/// Every combination of outputs of `gpu` equals the CPU's on `case`.
fn assert_agrees_with_cpu(mut gpu: Box<dyn ChangeKernel>, case: &Case) {
    let format = case.scenes[0].format;
    let mut cpu = common::cpu_kernel(format, &case.labels);
    for outputs in ALL_OUTPUTS {
        let expected = compare(cpu.as_mut(), case, outputs);
        let actual = compare(gpu.as_mut(), case, outputs);
        assert_eq!(
            actual, expected,
            "{}: GPU and CPU differ ({outputs:?})",
            case.name
        );
        let histogram_total: u64 = expected.regions.iter().flat_map(|r| r.histogram).sum();
        let valid_total: u64 = expected.regions.iter().map(|r| r.valid_px).sum();
        assert_eq!(
            histogram_total, valid_total,
            "{}: histograms must count every valid pixel",
            case.name
        );
        assert_eq!(expected.change_mask.is_some(), outputs.change_mask);
        if outputs.profiles {
            assert_eq!(expected.profiles.len(), case.labels.region_count as usize);
            for (label, (profile, region)) in
                (1..).zip(expected.profiles.iter().zip(&expected.regions))
            {
                assert_eq!(profile.valid.len(), case.labels.profile_length(label));
                let valid: u64 = profile.valid.iter().map(|&n| u64::from(n)).sum();
                let changed: u64 = profile.changed.iter().map(|&n| u64::from(n)).sum();
                assert_eq!(
                    (valid, changed),
                    (region.valid_px, region.changed_px),
                    "{}: region {label}'s profile must count its pixels",
                    case.name
                );
            }
        } else {
            assert!(expected.profiles.is_empty());
        }
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

/// Scenes too large for the adapter's buffers, as a binding limit of a few dozen rows makes them, are
/// compared in stripes with a halo for the smoothing window: the results are those of one pass.
#[test]
fn striped_comparisons_agree() {
    let shapes = [(333, 171), (64, 203), (96, 97), (1000, 40)];
    for (index, &(width, height)) in shapes.iter().enumerate() {
        for (repeat, radius) in [0, 1, 3, 15].into_iter().enumerate() {
            let seed = (index * 10 + repeat) as u64 + 3000;
            let mut case = if repeat % 2 == 0 {
                random_case(seed, width, height)
            } else {
                corrected_case(seed, width, height)
            };
            case.settings.radius = radius;
            let format = case.scenes[0].format;
            // Room for the tallest halo, 15 rows rounded to the alignment, either side, and a few rows.
            let alignment = 32 >> width.trailing_zeros().min(5);
            let rows = 2 * 15_u32.next_multiple_of(alignment) + alignment * (1 + repeat as u32);
            let row_bytes = (format.bands * format.bits_per_sample / 8).max(4) * width;
            let limit = u64::from(rows * row_bytes);
            case.name = format!(
                "{} in stripes under a {limit}-byte binding limit",
                case.name
            );
            let labels = &case.labels;
            if let Some(gpu) = common::gpu_kernel_with_binding_limit(
                "striped_comparisons_agree",
                format,
                labels,
                limit,
            ) {
                assert_agrees_with_cpu(gpu, &case);
            }
        }
    }
}

/// Compares `case` stripe by stripe as a run reading large scenes from its store does: `rows` counted rows
/// a stripe, each loaded with a 32-row halo either side (up to the scene's edges), the stripes joined.
fn compare_in_stripes(
    kernel: &mut dyn ChangeKernel,
    case: &Case,
    outputs: Outputs,
    rows: u32,
) -> PairStats {
    let height = case.scenes[0].format.height;
    let mut joined: Option<PairStats> = None;
    for first in (0..height).step_by(rows as usize) {
        let counted = first..(first + rows).min(height);
        let held = first.saturating_sub(32)..(counted.end + 32).min(height);
        for (slot, (scene, radiometry)) in case.scenes.iter().zip(case.radiometry).enumerate() {
            kernel
                .load_scene(slot, held.start, scene.rows(held.clone()), radiometry)
                .unwrap();
        }
        let stats = kernel
            .compare(0, 1, counted, &case.settings, outputs)
            .unwrap();
        match &mut joined {
            Some(above) => above.join(stats).unwrap(),
            none => *none = Some(stats),
        }
    }
    joined.unwrap()
}

/// Scenes loaded a stripe of rows at a time, each with a halo, compared counting the stripe's own rows and
/// the stripes joined give the statistics, profiles and change mask of one comparison of the whole scenes,
/// on the CPU, the GPU, and the GPU comparing each stripe in stripes of its own under a binding limit.
#[test]
fn stripes_of_scenes_joined_equal_one_comparison() {
    let test = "stripes_of_scenes_joined_equal_one_comparison";
    let shapes = [(333, 171), (64, 203), (1000, 40)];
    for (index, &(width, height)) in shapes.iter().enumerate() {
        for (repeat, radius) in [0, 1, 15].into_iter().enumerate() {
            let seed = (index * 10 + repeat) as u64 + 5000;
            let mut case = match repeat % 2 {
                0 => random_case(seed, width, height),
                _ => corrected_case(seed, width, height),
            };
            case.settings.radius = radius;
            let format = case.scenes[0].format;
            let row_bytes = (format.bands * format.bits_per_sample / 8).max(4) * width;
            let kernels = [
                Some(common::cpu_kernel(format, &case.labels)),
                common::gpu_kernel(test, format, &case.labels),
                common::gpu_kernel_with_binding_limit(
                    test,
                    format,
                    &case.labels,
                    u64::from(128 * row_bytes),
                ),
            ];
            let mut cpu = common::cpu_kernel(format, &case.labels);
            for mut kernel in kernels.into_iter().flatten() {
                for outputs in ALL_OUTPUTS {
                    let whole = compare(cpu.as_mut(), &case, outputs);
                    for rows in [32, 64] {
                        assert_eq!(
                            compare_in_stripes(kernel.as_mut(), &case, outputs, rows),
                            whole,
                            "{} in stripes of {rows} rows on {} ({outputs:?})",
                            case.name,
                            kernel.description()
                        );
                    }
                }
            }
        }
    }
}

/// A comparison of stripes is refused, naming the rows, when the slots hold different rows, when they lack
/// the halo the smoothing window reads, or when the counted rows start inside a word of 32 pixels; a shift
/// search needs whole scenes.
#[test]
fn stripes_that_cannot_give_one_comparison_are_refused() {
    let test = "stripes_that_cannot_give_one_comparison_are_refused";
    let mut case = random_case(77, 333, 171);
    case.settings.radius = 2;
    let format = case.scenes[0].format;
    let kernels = [
        Some(common::cpu_kernel(format, &case.labels)),
        common::gpu_kernel(test, format, &case.labels),
    ];
    for mut kernel in kernels.into_iter().flatten() {
        let load = |kernel: &mut dyn ChangeKernel, slot: usize, rows: std::ops::Range<u32>| {
            let scene = case.scenes[slot].rows(rows.clone());
            kernel
                .load_scene(slot, rows.start, scene, Radiometry::IDENTITY)
                .unwrap();
        };
        load(kernel.as_mut(), 0, 32..96);
        load(kernel.as_mut(), 1, 32..128);
        let outputs = Outputs::default();
        let error = kernel
            .compare(0, 1, 64..96, &case.settings, outputs)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("they hold different rows, 32..96 and 32..128"),
            "{error}"
        );
        load(kernel.as_mut(), 1, 32..96);
        let error = kernel
            .compare(0, 1, 32..64, &case.settings, outputs)
            .unwrap_err()
            .to_string();
        assert!(error.contains("short of the 2 rows"), "{error}");
        let error = kernel
            .compare(0, 1, 40..64, &case.settings, outputs)
            .unwrap_err()
            .to_string();
        assert!(error.contains("words of 32 pixels"), "{error}");
        load(kernel.as_mut(), 0, 0..96);
        load(kernel.as_mut(), 1, 0..96);
        let stats = kernel
            .compare(0, 1, 0..64, &case.settings, ALL_OUTPUTS[3])
            .unwrap();
        assert_eq!(stats.change_mask.map(|mask| mask.height), Some(64));
        let error = kernel.shift_costs(0, 1, 1, None).unwrap_err().to_string();
        assert!(error.contains("needs whole scenes"), "{error}");
        let error = kernel
            .load_scene(0, 7, case.scenes[0].rows(0..32), Radiometry::IDENTITY)
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("start inside a word of 32 pixels"),
            "{error}"
        );
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
        let outputs = ALL_OUTPUTS[3];
        let forward = compare(kernel.as_mut(), &case, outputs);
        let backward = kernel
            .compare(1, 0, 0..format.height, &case.settings, outputs)
            .unwrap();
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
    let labels = LabelRaster::from_words(
        width,
        height,
        1,
        vec![0x0001_0001; format.pixel_count() / 2],
    )
    .unwrap();
    let settings = ChangeSettings {
        threshold: 1000,
        region_thresholds: Vec::new(),
        radius: 0,
        nodata: None,
    };
    let case = Case {
        name: "full-scale change".into(),
        scenes: [black, white],
        radiometry: [Radiometry::IDENTITY; 2],
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
        let stats = compare(kernel.as_mut(), &case, Outputs::default());
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
    let labels = LabelRaster::from_words(width, height, 2, vec![0x0002_0001; pixels / 2]).unwrap();
    let settings = ChangeSettings {
        threshold: 50,
        region_thresholds: Vec::new(),
        radius: 0,
        nodata: None,
    };
    let case = Case {
        name: "large dispatch".into(),
        scenes: [a, b],
        radiometry: [Radiometry::IDENTITY; 2],
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
        Outputs::default(),
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
    case.labels = LabelRaster::from_words(width, height, region_count, words).unwrap();
    for radius in [0, 2] {
        case.settings = ChangeSettings {
            threshold: 120,
            region_thresholds: Vec::new(),
            radius,
            nodata: Some(0),
        };
        case.name = format!("{region_count} regions, radius {radius}");
        assert_backends_agree("many_regions_agree", &case);
    }
}

/// Corrected scenes, nodata included, on regions of many shapes: statistics, masks and profiles agree.
#[test]
fn corrected_scenes_and_profiles_agree() {
    let shapes = [(1, 1), (5, 9), (64, 64), (257, 3), (3, 257), (333, 171)];
    for (index, &(width, height)) in shapes.iter().enumerate() {
        for repeat in 0..4 {
            let case = corrected_case((index * 10 + repeat) as u64 + 500, width, height);
            assert_backends_agree("corrected_scenes_and_profiles_agree", &case);
        }
    }
}

/// Any two of the three slots compare, in either order, and agree between backends.
#[test]
fn every_pair_of_slots_agrees() {
    let case = corrected_case(77, 97, 41);
    let format = case.scenes[0].format;
    let mut rng = ChaCha8Rng::seed_from_u64(78);
    let third = random_scene(&mut rng, format, Some(&samples_of(&case.scenes[1])), None);
    let mut results = Vec::new();
    let kernels = [
        Some(common::cpu_kernel(format, &case.labels)),
        common::gpu_kernel("every_pair_of_slots_agrees", format, &case.labels),
    ];
    for mut kernel in kernels.into_iter().flatten() {
        compare(kernel.as_mut(), &case, Outputs::default());
        kernel
            .load_scene(
                2,
                0,
                third.clone(),
                random_radiometry(&mut ChaCha8Rng::seed_from_u64(79), format),
            )
            .unwrap();
        let mut pairs = Vec::new();
        for a in 0..3 {
            for b in (0..3).filter(|&b| b != a) {
                pairs.push(
                    kernel
                        .compare(a, b, 0..format.height, &case.settings, ALL_OUTPUTS[3])
                        .unwrap(),
                );
            }
        }
        assert!(
            kernel
                .compare(0, 3, 0..format.height, &case.settings, ALL_OUTPUTS[0])
                .is_err()
        );
        results.push(pairs);
    }
    if let [cpu, gpu] = &results[..] {
        assert_eq!(cpu, gpu);
    }
}

/// A random stack for a background: scenes with masks and nodata, each with its correction (the identity
/// for some), and about one pixel in twenty with no valid observation at all.
fn random_stack(
    rng: &mut ChaCha8Rng,
    format: SceneFormat,
    depth: usize,
    nodata: Option<u32>,
) -> Vec<(Scene, Radiometry)> {
    let first = random_scene(rng, format, None, nodata);
    let base = samples_of(&first);
    let mut stack = vec![first];
    while stack.len() < depth {
        stack.push(random_scene(rng, format, Some(&base), nodata));
    }
    let bands = format.bands as usize;
    let dead: Vec<usize> = (0..format.pixel_count())
        .filter(|_| rng.random_bool(0.05))
        .collect();
    for scene in &mut stack {
        match (&mut scene.validity, nodata) {
            (None, Some(nodata)) => {
                let mut samples = samples_of(scene);
                for &pixel in &dead {
                    samples[pixel * bands..(pixel + 1) * bands].fill(nodata);
                }
                *scene = rebuilt(format, &samples);
            }
            (validity, _) => {
                let bitmap =
                    validity.get_or_insert_with(|| vec![u32::MAX; format.bitmap_word_count()]);
                for &pixel in &dead {
                    bitmap[pixel / 32] &= !(1 << (pixel % 32));
                }
            }
        }
    }
    stack
        .into_iter()
        .map(|scene| {
            let radiometry = if rng.random_bool(0.3) {
                Radiometry::IDENTITY
            } else {
                random_radiometry(rng, format)
            };
            (scene, radiometry)
        })
        .collect()
}

fn rebuilt(format: SceneFormat, samples: &[u32]) -> Scene {
    let values: Vec<u16> = samples.iter().map(|&v| v as u16).collect();
    Scene::from_values(format, &values)
}

fn no_regions(width: u32, height: u32) -> LabelRaster {
    LabelRaster::from_words(
        width,
        height,
        0,
        vec![0; (width * height).div_ceil(2) as usize],
    )
    .unwrap()
}

/// Backgrounds of stacks of 1 to 40 scenes of odd shapes agree, the GPU's forced through stripes of a few
/// rows in most cases.
#[test]
fn backgrounds_agree() {
    let shapes = [(1, 1), (257, 3), (3, 257), (333, 171)];
    let depths = [1, 2, 3, 7, 40];
    for (i, &(width, height)) in shapes.iter().enumerate() {
        for (j, &depth) in depths.iter().enumerate() {
            let seed = (i * 10 + j) as u64;
            let mut rng = ChaCha8Rng::seed_from_u64(seed + 2000);
            let format = SceneFormat {
                width,
                height,
                bands: 1 + ((i * 5 + j) % 4) as u32,
                bits_per_sample: if (i + j) % 2 == 0 { 8 } else { 16 },
            };
            let nodata = rng
                .random_bool(0.5)
                .then(|| rng.random_range(0..=format.max_sample()));
            let stack = random_stack(&mut rng, format, depth, nodata);
            let stack: Vec<(&Scene, Radiometry)> = stack.iter().map(|(s, r)| (s, *r)).collect();
            let labels = no_regions(width, height);
            let expected = common::cpu_kernel(format, &labels)
                .background(&stack, nodata)
                .unwrap();
            assert_eq!(expected.format, format);
            let stripe_rows = [0, 1, 3, 16][(i + j) % 4];
            let name = format!(
                "seed {seed}: {depth} scenes of {format}, nodata {nodata:?}, stripes of {stripe_rows} rows"
            );
            let gpu = if stripe_rows == 0 {
                common::gpu_kernel("backgrounds_agree", format, &labels)
            } else {
                common::gpu_kernel_with_stripes("backgrounds_agree", format, &labels, stripe_rows)
            };
            let Some(mut gpu) = gpu else {
                return;
            };
            let actual = gpu.background(&stack, nodata).unwrap();
            assert_eq!(actual, expected, "{name}: GPU and CPU differ");
        }
    }
}

#[test]
fn backgrounds_refuse_unusable_stacks() {
    let format = SceneFormat {
        width: 4,
        height: 3,
        bands: 2,
        bits_per_sample: 8,
    };
    let labels = no_regions(4, 3);
    let scene = Scene::from_u8(4, 3, 2, &[7; 24]);
    let other = Scene::from_u8(3, 4, 2, &[7; 24]);
    let kernels = [
        Some(common::cpu_kernel(format, &labels)),
        common::gpu_kernel("backgrounds_refuse_unusable_stacks", format, &labels),
    ];
    for mut kernel in kernels.into_iter().flatten() {
        assert!(kernel.background(&[], None).is_err());
        assert!(
            kernel
                .background(&[(&other, Radiometry::IDENTITY)], None)
                .is_err()
        );
        assert!(
            kernel
                .background(&[(&scene, Radiometry::IDENTITY)], Some(256))
                .is_err()
        );
        let many = vec![(&scene, Radiometry::IDENTITY); 65536];
        assert!(kernel.background(&many, None).is_err());
        let background = kernel
            .background(&[(&scene, Radiometry::IDENTITY)], None)
            .unwrap();
        assert_eq!(background, scene, "{}", kernel.description());
    }
}

/// Region thresholds are one per region: any other count is refused by both backends.
#[test]
fn region_thresholds_must_match_the_regions() {
    let mut case = random_case(77, 40, 30);
    let regions = case.labels.region_count as usize;
    case.settings.region_thresholds = vec![5; regions + 1];
    let format = case.scenes[0].format;
    let kernels = [
        Some(common::cpu_kernel(format, &case.labels)),
        common::gpu_kernel(
            "region_thresholds_must_match_the_regions",
            format,
            &case.labels,
        ),
    ];
    for mut kernel in kernels.into_iter().flatten() {
        for (slot, scene) in case.scenes.iter().enumerate() {
            kernel
                .load_scene(slot, 0, scene.clone(), Radiometry::IDENTITY)
                .unwrap();
        }
        let error = kernel
            .compare(0, 1, 0..format.height, &case.settings, ALL_OUTPUTS[0])
            .unwrap_err()
            .to_string();
        assert!(error.contains("region thresholds given for"), "{error}");
    }
}
