//! The synthetic archive, measured: determinism, every nuisance visible in the pixels, truth consistent
//! with the scenes, scenario plans.

use super::*;
use crate::synth::geometry::{centre, contains};
use crate::synth::plan::present;

fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// No nuisance at all.
fn calm() -> Nuisances {
    Nuisances {
        noise_dn: 0.0,
        gain_jitter: 0.0,
        offset_jitter_dn: 0.0,
        gamma_jitter: 0.0,
        haze: 0.0,
        cloud_probability: 0.0,
        misregistration_px: 0.0,
        jpeg_probability: 0.0,
        masks: true,
    }
}

/// A small quiet port (nothing moves), so scenes differ by their nuisances only.
fn small(nuisances: Nuisances) -> SynthSpec {
    SynthSpec {
        width: 256,
        height: 256,
        gsd_m: 4.0,
        end: date("2023-08-12"),
        nuisances,
        ..Scenario::Quiet.defaults()
    }
}

fn synthesizer(spec: &SynthSpec) -> Synthesizer {
    Synthesizer::new(spec).unwrap()
}

/// Scene `index` rendered calm and with `nuisances`, as samples.
fn with_and_without(nuisances: Nuisances, index: usize) -> (Synthesizer, Vec<f64>, Vec<f64>) {
    let clean = synthesizer(&small(calm())).render(index).raster;
    let synth = synthesizer(&small(nuisances));
    let raster = synth.render(index).raster;
    (synth, samples(&clean), samples(&raster))
}

fn samples(raster: &Raster) -> Vec<f64> {
    (0..raster.pixel_count() * raster.bands)
        .map(|i| raster.get(i))
        .collect()
}

fn band(samples: &[f64], bands: usize, b: usize) -> Vec<f64> {
    samples.iter().skip(b).step_by(bands).copied().collect()
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

fn std_dev(values: &[f64]) -> f64 {
    let m = mean(values);
    (values.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / values.len() as f64).sqrt()
}

#[test]
fn same_seed_gives_same_scenes_and_other_seeds_differ() {
    let spec = SynthSpec {
        end: date("2023-08-05"),
        ..small(Scenario::Quiet.defaults().nuisances)
    };
    let (a, b) = (synthesizer(&spec), synthesizer(&spec));
    let c = synthesizer(&SynthSpec { seed: 99, ..spec });
    for k in 0..a.dates().len().min(c.dates().len()) {
        let (x, y) = (a.render(k), b.render(k));
        assert_eq!(x, y);
        assert!(samples(&x.raster).iter().all(|&v| v >= 1.0), "nodata");
        assert_ne!(x.raster, c.render(k).raster);
    }
    assert_eq!(a.truth_csv(), b.truth_csv());
}

#[test]
fn noise_has_the_standard_deviation_asked() {
    let (_, clean, noisy) = with_and_without(
        Nuisances {
            noise_dn: 3.0,
            ..calm()
        },
        0,
    );
    let difference: Vec<f64> = noisy.iter().zip(&clean).map(|(a, b)| a - b).collect();
    let sigma = std_dev(&difference);
    assert!((2.8..3.3).contains(&sigma), "noise sigma {sigma}");
    assert!(mean(&difference).abs() < 0.05);
}

#[test]
fn misregistration_is_recovered_by_a_shift_search() {
    let (synth, clean, shifted) = with_and_without(
        Nuisances {
            misregistration_px: 1.5,
            ..calm()
        },
        1,
    );
    let truth = synth.scenes[1].shift;
    assert!(truth[0].abs().max(truth[1].abs()) > 0.3, "{truth:?}");
    // The green band of the clean scene, resampled at pixel - shift, against the shifted scene.
    let green = band(&clean, 3, 1);
    let target = band(&shifted, 3, 1);
    let at = |x: f64, y: f64| {
        let (x0, y0) = (x.floor(), y.floor());
        let (tx, ty) = (x - x0, y - y0);
        let px = |x: f64, y: f64| green[y as usize * 256 + x as usize];
        let top = px(x0, y0) * (1.0 - tx) + px(x0 + 1.0, y0) * tx;
        let bottom = px(x0, y0 + 1.0) * (1.0 - tx) + px(x0 + 1.0, y0 + 1.0) * tx;
        top * (1.0 - ty) + bottom * ty
    };
    let error = |dx: f64, dy: f64| {
        let mut sum = 0.0;
        for y in (40..216).step_by(2) {
            for x in (40..216).step_by(2) {
                let d = at(x as f64 - dx, y as f64 - dy) - target[y * 256 + x];
                sum += d * d;
            }
        }
        sum
    };
    let steps: Vec<f64> = (-8..=8).map(|i| f64::from(i) * 0.25).collect();
    let mut best = (f64::MAX, [0.0; 2]);
    for &dy in &steps {
        for &dx in &steps {
            let e = error(dx, dy);
            if e < best.0 {
                best = (e, [dx, dy]);
            }
        }
    }
    let found = best.1;
    assert!(
        (found[0] - truth[0]).abs() <= 0.15 && (found[1] - truth[1]).abs() <= 0.15,
        "found {found:?}, true shift {truth:?}"
    );
}

#[test]
fn jpeg_artifacts_are_blocky_at_8_px_boundaries() {
    let (synth, clean, compressed) = with_and_without(
        Nuisances {
            jpeg_probability: 1.0,
            ..calm()
        },
        0,
    );
    assert!(synth.scenes[0].jpeg_quality.is_some());
    // How much JPEG sharpens the step from column x to x + 1, on the three bands.
    let (mut at_boundary, mut inside) = (Vec::new(), Vec::new());
    for y in 0..256 {
        for x in 0..255 {
            let step = |s: &[f64]| {
                (0..3)
                    .map(|b| (s[(y * 256 + x + 1) * 3 + b] - s[(y * 256 + x) * 3 + b]).abs())
                    .sum::<f64>()
            };
            let sharpened = step(&compressed) - step(&clean);
            if x % 8 == 7 {
                at_boundary.push(sharpened);
            } else {
                inside.push(sharpened);
            }
        }
    }
    let (boundary, within) = (mean(&at_boundary), mean(&inside));
    assert!(
        boundary > within + 1.5,
        "steps grow by {boundary} across block boundaries, {within} within blocks"
    );
}

#[test]
fn haze_lowers_contrast() {
    let knobs = Nuisances {
        haze: 0.8,
        ..calm()
    };
    let synth = synthesizer(&small(knobs.clone()));
    let index = (0..synth.dates().len())
        .max_by(|&a, &b| synth.scenes[a].haze.total_cmp(&synth.scenes[b].haze))
        .unwrap();
    let (synth, clean, hazy) = with_and_without(knobs, index);
    let haze = synth.scenes[index].haze;
    for b in 0..3 {
        let (before, after) = (std_dev(&band(&clean, 3, b)), std_dev(&band(&hazy, 3, b)));
        assert!(
            after < before * (1.0 - 0.3 * haze),
            "band {b}: contrast {before} -> {after} under haze {haze}"
        );
    }
}

#[test]
fn gain_offset_and_gamma_move_band_means_as_drawn() {
    let (synth, clean, lit) = with_and_without(
        Nuisances {
            gain_jitter: 0.2,
            offset_jitter_dn: 10.0,
            gamma_jitter: 0.3,
            ..calm()
        },
        2,
    );
    let scene = &synth.scenes[2];
    let mut moved = 0;
    for b in 0..3 {
        let predicted: Vec<f64> = band(&clean, 3, b)
            .iter()
            .map(|&v| {
                let lit = (v * scene.gain[b] + scene.offset[b]).max(0.0);
                (255.0 * (lit / 255.0).powf(scene.gamma[b]))
                    .round()
                    .clamp(1.0, 255.0)
            })
            .collect();
        let actual = mean(&band(&lit, 3, b));
        assert!(
            (mean(&predicted) - actual).abs() < 1.0,
            "band {b}: predicted {} measured {actual}",
            mean(&predicted)
        );
        moved += usize::from((actual - mean(&band(&clean, 3, b))).abs() > 3.0);
    }
    assert!(moved >= 2, "the illumination should move the band means");
}

#[test]
fn clouds_brighten_and_shadows_darken_where_the_mask_says() {
    let (synth, clean, cloudy) = with_and_without(
        Nuisances {
            cloud_probability: 1.0,
            ..calm()
        },
        0,
    );
    let mask = synth.render(0).mask.expect("a cloudy scene has a mask");
    let cloud = synth.scenes[0].cloud.as_ref().unwrap();
    let (mut under_cloud, mut under_shadow, mut unmasked_changes) = (Vec::new(), Vec::new(), 0);
    for (i, pixel) in mask.pixels().enumerate() {
        let brightness = |s: &[f64]| (s[i * 3] + s[i * 3 + 1] + s[i * 3 + 2]) / 3.0;
        let (before, after) = (brightness(&clean), brightness(&cloudy));
        if pixel.0[0] == 255 {
            unmasked_changes += usize::from(before != after);
            continue;
        }
        let (cover, shade) = cloud.cover_and_shade(centre(i % 256, i / 256));
        if cover > 0.6 {
            under_cloud.push(after - before);
        } else if cover == 0.0 && shade > 0.6 {
            under_shadow.push(after / before);
        }
    }
    assert_eq!(unmasked_changes, 0, "the cloud reaches past its mask");
    assert!(under_cloud.len() > 100 && under_shadow.len() > 100);
    assert!(mean(&under_cloud) > 60.0, "cloud {}", mean(&under_cloud));
    assert!(mean(&under_shadow) < 0.8, "shadow {}", mean(&under_shadow));
}

#[test]
fn sixteen_bit_scenes_are_reflectance_and_infrared_sees_vegetation_and_water() {
    let spec = SynthSpec {
        bits: 16,
        bands: 4,
        ..small(calm())
    };
    let synth = synthesizer(&spec);
    let raster = synth.render(0).raster;
    assert!(matches!(raster.samples, Samples::Sixteen(_)));
    let all = samples(&raster);
    let max = all.iter().copied().fold(0.0, f64::max);
    assert!((4000.0..=6375.0).contains(&max), "brightest {max}");
    assert!(all.iter().all(|&v| v >= 1.0));
    let mean_in = |rect: &geometry::Rect, b: usize| {
        let mut values = Vec::new();
        for y in rect.y0.max(0.0) as usize..(rect.y1 as usize).min(256) {
            for x in rect.x0.max(0.0) as usize..(rect.x1 as usize).min(256) {
                values.push(all[(y * 256 + x) * 4 + b]);
            }
        }
        mean(&values)
    };
    let water = synth.layout.berths[0].rect;
    assert!(
        mean_in(&water, 3) < 0.5 * mean_in(&water, 0),
        "water is dark in NIR"
    );
    let crowns: Vec<&[f64]> = all
        .chunks(4)
        .filter(|p| p[1] > 1.2 * p[0].max(p[2]))
        .collect();
    assert!(crowns.len() > 50, "too few green pixels: {}", crowns.len());
    assert!(
        crowns.iter().all(|p| p[3] > 2.0 * p[0]),
        "vegetation is bright in NIR"
    );
}

#[test]
fn ships_stacks_and_wagons_lie_inside_their_regions() {
    let spec = SynthSpec {
        end: date("2023-10-31"),
        ..small(calm())
    };
    let spec = SynthSpec {
        scenario: Scenario::Busy,
        start: date("2023-09-01"),
        ..spec
    };
    let synth = synthesizer(&spec);
    let background = paint::paint_background(&synth.layout, spec.seed);
    let mut seen = 0;
    for &day in synth.dates() {
        let mut canvas = background.clone();
        paint::paint_activity(&mut canvas, &synth.layout, &synth.plan, spec.seed, day);
        let occupied: Vec<usize> = synth
            .truth
            .occupied_regions(synth.dates().iter().position(|&d| d == day).unwrap());
        // A stack's shadow falls in the lane beside its block: inside the paved yard, outside the region.
        let reach = |r: usize, p| {
            let region = &synth.regions[r];
            match synth.layout.yards.iter().find(|y| y.name == region.name) {
                Some(yard) => contains(&yard.ring, p),
                None => region.contains(p),
            }
        };
        for i in 0..canvas.w * canvas.h {
            if canvas.differs_at(&background, i) {
                let p = centre(i % canvas.w, i / canvas.w);
                assert!(
                    occupied.iter().any(|&r| reach(r, p)),
                    "{day}: {p:?} is outside the occupied regions {occupied:?}"
                );
                seen += 1;
            }
        }
    }
    assert!(seen > 0);
    assert!(!synth.plan.visits.is_empty());
    for (k, visit) in synth.plan.visits.iter().enumerate() {
        let day = synth.dates()[visit.seen];
        assert!(present(&synth.plan.visits, day).any(|(j, _)| j == k));
    }
}

#[test]
fn clouded_regions_are_unobserved_as_their_masks_say() {
    let spec = small(Nuisances {
        cloud_probability: 1.0,
        misregistration_px: 1.5,
        ..calm()
    });
    let synth = synthesizer(&spec);
    let truth = synth.truth_csv();
    let rows: Vec<&str> = truth.lines().skip(1).collect();
    let mut unobserved = 0;
    for k in 0..synth.dates().len() {
        let mask = synth.render(k).mask.unwrap();
        for (r, region) in synth.regions().iter().enumerate() {
            let (mut inside, mut masked) = (0, 0);
            for (x, y, pixel) in mask.enumerate_pixels() {
                if region.contains(centre(x as usize, y as usize)) {
                    inside += 1;
                    masked += usize::from(pixel.0[0] == 0);
                }
            }
            let observed = masked as f64 / inside as f64 <= super::truth::UNOBSERVED_ABOVE;
            let row = rows[k * synth.regions().len() + r];
            let field: Vec<&str> = row.split(',').collect();
            assert_eq!(field[1], region.name);
            assert_eq!(
                field[3] == "1",
                observed,
                "{row}: {masked} of {inside} masked"
            );
            unobserved += usize::from(!observed);
        }
    }
    assert!(unobserved > 0, "some region should be clouded");
}

/// Arrival events per month of `events_csv`.
fn arrivals_by_month(events: &str) -> Vec<(String, usize)> {
    let mut months: Vec<(String, usize)> = Vec::new();
    for line in events.lines().skip(1).filter(|l| l.contains(",arrival,")) {
        let month = line[..7].to_string();
        match months.iter_mut().find(|(m, _)| *m == month) {
            Some((_, n)) => *n += 1,
            None => months.push((month, 1)),
        }
    }
    months
}

#[test]
fn rajin_2023_has_1_2_and_11_arrivals_for_many_seeds() {
    for seed in 1..=12 {
        let spec = SynthSpec {
            seed,
            width: 256,
            height: 256,
            gsd_m: 4.0,
            ..Scenario::Rajin2023.defaults()
        };
        let synth = synthesizer(&spec);
        let expected =
            [("2023-08", 1), ("2023-09", 2), ("2023-10", 11)].map(|(m, n)| (m.to_string(), n));
        assert_eq!(
            arrivals_by_month(&synth.events_csv()),
            expected,
            "seed {seed}"
        );
        let dates = synth.dates();
        assert!(
            dates
                .windows(2)
                .all(|d| (1..=3).contains(&(d[1] - d[0]).num_days()))
        );
        assert_eq!(dates[0], date("2023-08-01"));
        assert!(*dates.last().unwrap() <= date("2023-10-31"));
        for visit in &synth.plan.visits {
            let stay = (visit.departure - visit.arrival).num_days();
            assert!((2..=6).contains(&stay), "seed {seed}: stay of {stay} days");
            assert!((80.0..=200.0).contains(&visit.length_m));
        }
        let berths: std::collections::HashSet<usize> =
            synth.plan.visits.iter().map(|v| v.berth).collect();
        assert_eq!(berths.len(), 3, "arrivals spread over the berths");
        for fill in &synth.plan.yard_fills {
            let lead = (synth.plan.visits[fill.visit].arrival - fill.filled).num_days();
            assert!(
                (1..=4).contains(&lead),
                "seed {seed}: containers {lead} days ahead"
            );
        }
    }
}

#[test]
fn quiet_has_no_events_and_busy_has_back_to_back_arrivals() {
    let quiet = synthesizer(&small(Scenario::Quiet.defaults().nuisances));
    assert_eq!(
        quiet.events_csv().lines().count(),
        1,
        "{}",
        quiet.events_csv()
    );
    assert!(
        quiet
            .truth_csv()
            .lines()
            .skip(1)
            .all(|l| l.contains(",0,0.0000,"))
    );
    let busy = synthesizer(&SynthSpec {
        width: 256,
        height: 256,
        gsd_m: 4.0,
        ..Scenario::Busy.defaults()
    });
    let events = busy.events_csv();
    let lines: Vec<Vec<&str>> = events
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let back_to_back = lines.iter().any(|departure| {
        departure[3] == "departure"
            && lines
                .iter()
                .any(|a| a[3] == "arrival" && a[0] == departure[0] && a[1] == departure[1])
    });
    assert!(back_to_back, "{events}");
    let overlapping = busy
        .dates()
        .iter()
        .filter(|&&d| present(&busy.plan.visits, d).count() >= 2)
        .count();
    assert!(
        overlapping > busy.dates().len() / 2,
        "{overlapping} scenes with two ships or more"
    );
}

#[test]
fn large_plans_a_few_10000_px_scenes_and_renders_cropped() {
    let spec = Scenario::Large.defaults();
    spec.validate().unwrap();
    assert_eq!((spec.width, spec.height), (10_000, 10_000));
    let layout = Layout::new(spec.width, spec.height, spec.gsd_m);
    let plan = Plan::draw(&spec, &layout, &spec.scenario.activity()).unwrap();
    assert!((2..=5).contains(&plan.dates.len()), "{:?}", plan.dates);
    let small = synthesizer(&SynthSpec {
        width: 400,
        height: 400,
        ..spec
    });
    assert_eq!(small.dates(), plan.dates);
    assert_eq!(small.render(0).raster.width, 400);
}

#[test]
fn regions_are_disjoint_and_inside_the_image_at_any_valid_size() {
    for (width, height, gsd_m) in [
        (512, 512, 3.0),
        (256, 256, 4.0),
        (300, 700, 5.0),
        (1000, 1000, 1.0),
        (256, 256, 10.0),
    ] {
        let layout = Layout::new(width, height, gsd_m);
        let regions = layout.regions();
        assert!(regions.iter().filter(|r| r.kind == "berth").count() >= 3);
        assert!(regions.iter().filter(|r| r.kind == "yard").count() >= 2);
        assert!(regions.iter().any(|r| r.kind == "rail"));
        for (i, a) in regions.iter().enumerate() {
            assert!(!a.polygons.is_empty());
            for ring in &a.polygons {
                assert_eq!(ring.first(), ring.last());
            }
            let inside = |&[x, y]: &[f64; 2]| {
                (0.0..=f64::from(width)).contains(&x) && (0.0..=f64::from(height)).contains(&y)
            };
            assert!(
                a.polygons.concat().iter().all(inside),
                "{} leaves the image",
                a.name
            );
            for b in &regions[i + 1..] {
                for y in 0..height as usize {
                    for x in 0..width as usize {
                        let p = centre(x, y);
                        assert!(
                            !(a.contains(p) && b.contains(p)),
                            "{p:?} in {} and {}",
                            a.name,
                            b.name
                        );
                    }
                }
            }
        }
        assert!(layout.max_ship_m >= 80.0);
        assert!(
            layout
                .yards
                .iter()
                .all(|y| y.blocks.len() >= layout::BERTH_COUNT)
        );
        assert!(layout.siding.capacity >= 6);
    }
}

#[test]
fn bad_settings_name_their_flag() {
    let base = small(calm());
    let cases: [(SynthSpec, &str); 8] = [
        (
            SynthSpec {
                start: date("1066-10-14"),
                ..base.clone()
            },
            "--start",
        ),
        (
            SynthSpec {
                width: 100,
                ..base.clone()
            },
            "--size",
        ),
        (
            SynthSpec {
                gsd_m: 0.5,
                ..base.clone()
            },
            "--gsd",
        ),
        (
            SynthSpec {
                start: date("2023-09-01"),
                end: date("2023-08-01"),
                ..base.clone()
            },
            "--start",
        ),
        (
            SynthSpec {
                cadence: Cadence::days(3, 1),
                ..base.clone()
            },
            "--cadence",
        ),
        (
            SynthSpec {
                bits: 12,
                ..base.clone()
            },
            "--bit-depth",
        ),
        (
            SynthSpec {
                format: Format::Jpeg,
                bands: 4,
                ..base.clone()
            },
            "--format jpeg",
        ),
        (
            SynthSpec {
                nuisances: Nuisances {
                    misregistration_px: 2.0,
                    ..calm()
                },
                ..base.clone()
            },
            "--misregistration",
        ),
    ];
    for (spec, flag) in cases {
        match Synthesizer::new(&spec) {
            Err(Error::Setting(message)) => assert!(message.starts_with(flag), "{message}"),
            other => panic!("{flag}: expected a setting error, got {:?}", other.err()),
        }
    }
    let few = SynthSpec {
        cadence: Cadence::days(5, 5),
        ..Scenario::Rajin2023.defaults()
    };
    let error = Synthesizer::new(&few).err().unwrap().to_string();
    assert!(
        error.contains("2023-10") && error.contains("cadence"),
        "{error}"
    );
    assert_eq!("1-3".parse::<Cadence>(), Ok(Cadence::days(1, 3)));
    assert_eq!("2".parse::<Cadence>(), Ok(Cadence::days(2, 2)));
    assert!("1-x".parse::<Cadence>().is_err());
    assert_eq!(
        "640x480".parse::<Size>(),
        Ok(Size {
            width: 640,
            height: 480
        })
    );
    assert!("640".parse::<Size>().is_err());
}

#[test]
fn every_output_format_round_trips() {
    for (format, bits, bands) in [
        (Format::Png, 16, 4),
        (Format::Png, 8, 4),
        (Format::Tiff, 16, 3),
        (Format::Tiff, 8, 4),
        (Format::Jpeg, 8, 3),
    ] {
        let spec = SynthSpec {
            format,
            bits,
            bands,
            end: date("2023-08-01"),
            ..small(Nuisances {
                cloud_probability: 1.0,
                ..calm()
            })
        };
        let dir = tempfile::tempdir().unwrap();
        let synth = synthesizer(&spec);
        synth.write(dir.path(), |_| {}).unwrap();
        let scene = synth.render(0);
        let path = dir
            .path()
            .join(format!("2023-08-01.{}", format.extension()));
        let decoded = image::open(&path).unwrap();
        assert_eq!(usize::from(decoded.color().channel_count()), bands);
        assert_eq!(
            decoded.color().bytes_per_pixel() as usize,
            bands * usize::from(bits) / 8
        );
        if format != Format::Jpeg {
            let expected = samples(&scene.raster);
            let found: Vec<f64> = if bits == 16 {
                decoded
                    .into_rgba16()
                    .pixels()
                    .flat_map(|p| p.0[..bands].to_vec())
                    .map(f64::from)
                    .collect()
            } else {
                decoded
                    .into_rgba8()
                    .pixels()
                    .flat_map(|p| p.0[..bands].to_vec())
                    .map(f64::from)
                    .collect()
            };
            assert!(
                found == expected,
                "{path:?} differs from the rendered scene"
            );
        }
        assert!(dir.path().join("2023-08-01.mask.png").exists());
        for name in ["regions.geojson", "truth.csv", "truth_events.csv"] {
            assert!(dir.path().join(name).exists(), "{name}");
        }
        let leftovers = std::fs::read_dir(dir.path()).unwrap().filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".tmp")
        });
        assert_eq!(leftovers.count(), 0);
        // The engine reads the regions as they were written.
        let read = crate::regions::RegionSet::read(&dir.path().join("regions.geojson")).unwrap();
        let names: Vec<(&str, &str)> = read
            .regions
            .iter()
            .map(|r| (r.name.as_str(), r.kind.as_str()))
            .collect();
        let written: Vec<(&str, &str)> = synth
            .regions()
            .iter()
            .map(|r| (r.name.as_str(), r.kind.as_str()))
            .collect();
        assert_eq!(names, written);
    }
}
