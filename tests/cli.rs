//! The `portwatch` binary end to end: the sample run on both backends, the output format, and bad input,
//! which must fail with a message naming the culprit, a non-zero exit and no output file left behind.

mod common;

use common::run::{
    REGIONS, archive, assert_left_out, assert_refused, portwatch, run_cpu_into, stderr, write_rgb,
};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The outputs of one `run`.
struct RunOutput {
    out: tempfile::TempDir,
    pairs: String,
    stderr: String,
}

/// `portwatch run ARGS --device DEVICE --out TMP` in `cwd`, which must succeed; `None` (after saying why)
/// when the GPU is asked for, there is no adapter and none is required.
fn run_on(device: &str, args: &[&str], cwd: &Path, test: &str) -> Option<RunOutput> {
    run_on_with_env(device, args, cwd, test, &[])
}

/// `run_on` with the variables `env` set, the test hooks among them.
fn run_on_with_env(
    device: &str,
    args: &[&str],
    cwd: &Path,
    test: &str,
    env: &[(&str, &str)],
) -> Option<RunOutput> {
    let out = tempfile::tempdir().unwrap();
    let mut args = [&["run"], args].concat();
    args.extend(["--device", device, "--out", out.path().to_str().unwrap()]);
    let output = Command::new(common::portwatch_bin())
        .args(&args)
        .current_dir(cwd)
        .envs(env.iter().copied())
        .output()
        .expect("portwatch runs");
    let stderr = stderr(&output);
    if device == "gpu" && stderr.contains("GPU: no adapter") && !common::gpu_required() {
        eprintln!(
            "SKIPPED {test}: no GPU adapter; set PORTWATCH_REQUIRE_GPU=1 to make this a failure"
        );
        return None;
    }
    assert!(
        output.status.success(),
        "portwatch {args:?} failed: {stderr}"
    );
    let pairs = std::fs::read_to_string(out.path().join("pairs.csv")).unwrap();
    Some(RunOutput { out, pairs, stderr })
}

/// Every file a run writes.
const RUN_OUTPUTS: [&str; 8] = [
    "pairs.csv",
    "series.csv",
    "events.csv",
    "summary.json",
    "failures.csv",
    "run.json",
    "heatmap.png",
    "background.png",
];

/// Runs on the CPU and on the GPU, asserts that both wrote the same files, byte for byte, and returns
/// both runs.
fn run_on_both(args: &[&str], cwd: &Path, test: &str) -> (RunOutput, Option<RunOutput>) {
    let cpu = run_on("cpu", args, cwd, test).expect("the CPU always runs");
    let gpu = run_on("gpu", args, cwd, test);
    if let Some(gpu) = &gpu {
        for name in RUN_OUTPUTS {
            let read = |run: &RunOutput| std::fs::read(run.out.path().join(name)).unwrap();
            assert!(
                read(gpu) == read(&cpu),
                "{test}: {name} differs between the CPU and GPU runs"
            );
        }
    }
    (cpu, gpu)
}

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A run of `archive` on the CPU with `flags`.
fn run_cpu(archive: &Path, flags: &[&str]) -> RunOutput {
    let args = [&[archive.to_str().unwrap()], flags].concat();
    run_on("cpu", &args, archive, "").expect("the CPU always runs")
}

#[test]
fn sample_run_is_byte_identical_on_cpu_and_gpu() {
    let (cpu, gpu) = run_on_both(
        &["--report"],
        &repo_root(),
        "sample_run_is_byte_identical_on_cpu_and_gpu",
    );
    let report = |run: &RunOutput| std::fs::read(run.out.path().join("report.html")).unwrap();
    if let Some(gpu) = &gpu {
        assert!(
            report(gpu) == report(&cpu),
            "report.html differs between the CPU and GPU runs"
        );
    }
    assert!(
        cpu.stderr.contains("backend cpu"),
        "the run must say which backend ran: {}",
        cpu.stderr
    );
    if let Some(gpu) = gpu {
        assert!(gpu.stderr.contains("backend gpu: "), "{}", gpu.stderr);
    }
}

#[test]
fn smoothed_runs_and_masks_agree_across_backends() {
    let dir = archive(&["2023-08-01", "2023-08-03", "20230806T0130", "2023-08-09"]);
    let args = [
        dir.path().to_str().unwrap(),
        "--smooth",
        "2",
        "--threshold",
        "100",
        "--masks",
        "--report",
    ];
    let (cpu, gpu) = run_on_both(
        &args,
        dir.path(),
        "smoothed_runs_and_masks_agree_across_backends",
    );
    let mask = "2023-08-03_2023-08-06T013000.png";
    let cpu_mask = std::fs::read(cpu.out.path().join("masks").join(mask)).unwrap();
    if let Some(gpu) = gpu {
        assert!(
            std::fs::read(gpu.out.path().join("masks").join(mask)).unwrap() == cpu_mask,
            "{mask} differs"
        );
    }
    let report = std::fs::read_to_string(cpu.out.path().join("report.html")).unwrap();
    assert!(
        report.contains("data-region=\"yard, north\""),
        "a region name with a comma reaches the report"
    );
    let decoded = image::load_from_memory(&cpu_mask).unwrap().into_luma8();
    assert_eq!(decoded.dimensions(), (32, 24));
    assert!(decoded.pixels().all(|p| p.0[0] == 0 || p.0[0] == 255));
}

#[test]
fn pairs_csv_has_one_row_per_pair_and_region_in_order() {
    let dir = archive(&["20230805", "2023-08-01", "2023-08-03"]);
    let raw = ["--threshold", "60", "--smooth", "0", "--no-normalize"];
    let pairs = run_cpu(dir.path(), &raw).pairs;
    let lines: Vec<&str> = pairs.lines().collect();
    assert_eq!(
        lines[0],
        "date_from,date_to,region,kind,valid_px,changed_px,magnitude_sum,change_score"
    );
    let keys: Vec<String> = lines[1..]
        .iter()
        .map(|l| l.split(',').take(3).collect::<Vec<_>>().join(","))
        .collect();
    assert_eq!(
        keys,
        [
            "2023-08-01,2023-08-03,berth-1",
            "2023-08-01,2023-08-03,\"yard",
            "2023-08-03,2023-08-05,berth-1",
            "2023-08-03,2023-08-05,\"yard",
        ]
    );
    // berth-1 is 20x8 px; the stripes shift by one pixel a scene, so 2 of every 3 pixels change by 160 in
    // red, and every pixel by 1 in green.
    let berth: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        &berth[3..],
        [
            "berth",
            "160",
            "107",
            &(107 * 161 + 53).to_string(),
            "0.668750"
        ]
    );
    assert!(
        lines[2].starts_with("2023-08-01,2023-08-03,\"yard, north\",yard,312,"),
        "{}",
        lines[2]
    );
}

#[test]
fn regions_default_to_the_archive_and_can_be_given() {
    let dir = archive(&["2023-08-01", "2023-08-02"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let regions = elsewhere.path().join("berths.geojson");
    std::fs::write(&regions, REGIONS.replace("berth-1", "quay-7")).unwrap();
    let default_pairs = run_cpu(dir.path(), &[]).pairs;
    assert!(default_pairs.contains(",berth-1,"));
    let given_pairs = run_cpu(dir.path(), &["--regions", regions.to_str().unwrap()]).pairs;
    assert!(given_pairs.contains(",quay-7,") && !given_pairs.contains("berth-1"));
}

#[test]
fn masks_and_nodata_exclude_pixels() {
    let dir = archive(&["2023-08-01", "2023-08-02"]);
    let mask =
        image::GrayImage::from_fn(32, 24, |x, _| image::Luma([if x < 10 { 0 } else { 255 }]));
    mask.save(dir.path().join("2023-08-02.mask.png")).unwrap();
    let pairs = run_cpu(dir.path(), &[]).pairs;
    let berth: Vec<&str> = pairs.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(
        berth[4], "80",
        "berth-1 is 20x8 px, its left 10 columns are masked"
    );
    write_rgb(&dir.path().join("2023-08-02.png"), 32, 24, 0);
    let black = image::RgbImage::from_pixel(32, 24, image::Rgb([0, 0, 0]));
    black.save(dir.path().join("2023-08-03.png")).unwrap();
    let pairs = run_cpu(dir.path(), &[]).pairs;
    let last_berth: Vec<&str> = pairs.lines().nth(3).unwrap().split(',').collect();
    assert_eq!(
        (last_berth[4], last_berth[7]),
        ("0", ""),
        "an all-nodata scene leaves no valid pixel"
    );
    let pairs = run_cpu(dir.path(), &["--nodata", "none"]).pairs;
    assert_eq!(pairs.lines().nth(3).unwrap().split(',').nth(4), Some("80"));
}

#[test]
fn bad_archives_are_refused_by_name() {
    let undated = archive(&["2023-08-01", "2023-08-02"]);
    write_rgb(&undated.path().join("overview.png"), 32, 24, 0);
    assert_refused(
        undated.path(),
        &[],
        &["overview.png", "no acquisition date"],
    );

    let twice = archive(&["2023-08-01", "20230801"]);
    assert_refused(
        twice.path(),
        &[],
        &[
            "2023-08-01.png",
            "20230801.png",
            "share the acquisition time",
        ],
    );

    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("regions.geojson"), REGIONS).unwrap();
    assert_refused(
        empty.path(),
        &[],
        &[empty.path().to_str().unwrap(), "no scenes"],
    );

    let missing = tempfile::tempdir().unwrap();
    assert_refused(
        &missing.path().join("nowhere"),
        &[],
        &["nowhere", "cannot list archive"],
    );

    let orphan = archive(&["2023-08-01", "2023-08-02"]);
    image::GrayImage::new(32, 24)
        .save(orphan.path().join("2023-08-09.mask.png"))
        .unwrap();
    assert_refused(orphan.path(), &[], &["2023-08-09.mask.png", "no scene"]);
}

#[test]
fn bad_regions_are_refused_by_name() {
    let cases: [(&str, &[&str]); 5] = [
        (
            "{\"type\": \"FeatureCollection\", \"features\": [",
            &["regions.geojson", "not a GeoJSON"],
        ),
        (
            r#"{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"kind":"berth"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[5,0],[5,5],[0,0]]]}}]}"#,
            &["regions.geojson", "feature 0 has no \"name\""],
        ),
        (
            &REGIONS.replace("yard, north", "berth-1"),
            &[
                "regions.geojson",
                "region \"berth-1\"",
                "more than one feature",
            ],
        ),
        (
            &REGIONS.replace(
                "[[[4,12],[30,12],[30,24],[4,24],[4,12]]]",
                "[[[4,6],[30,6],[30,24],[4,24],[4,6]]]",
            ),
            &[
                "regions.geojson",
                "region \"yard, north\"",
                "overlaps region \"berth-1\"",
            ],
        ),
        (
            &REGIONS.replace(
                "[[[4,12],[30,12],[30,24],[4,24],[4,12]]]",
                "[[[40,40],[50,40],[50,50],[40,40]]]",
            ),
            &["region \"yard, north\"", "wholly outside"],
        ),
    ];
    for (text, culprits) in cases {
        let dir = archive(&["2023-08-01", "2023-08-02"]);
        std::fs::write(dir.path().join("regions.geojson"), text).unwrap();
        assert_refused(dir.path(), &[], culprits);
    }
    let dir = archive(&["2023-08-01", "2023-08-02"]);
    assert_refused(
        dir.path(),
        &["--regions", "absent.geojson"],
        &["absent.geojson", "cannot read regions"],
    );
}

#[test]
fn bad_settings_are_refused() {
    let dir = archive(&["2023-08-01", "2023-08-02"]);
    assert_refused(dir.path(), &["--smooth", "16"], &["smoothing radius 16"]);
    assert_refused(
        dir.path(),
        &["--nodata", "300"],
        &["nodata value 300", "8-bit"],
    );
    let output = portwatch(&["run", "--nodata", "black"], dir.path());
    assert_eq!(
        output.status.code(),
        Some(2),
        "a malformed flag is a usage error"
    );
}

#[test]
fn a_corrupt_scene_in_the_middle_is_left_out_and_its_date_unobserved() {
    let dates = [
        "2023-08-01",
        "2023-08-03",
        "2023-08-05",
        "2023-08-07",
        "2023-08-09",
    ];
    let dir = archive(&dates);
    let without = archive(&[]);
    for date in dates.iter().filter(|&&d| d != "2023-08-05") {
        let name = format!("{date}.png");
        std::fs::copy(dir.path().join(&name), without.path().join(&name)).unwrap();
    }
    let corrupt = dir.path().join("2023-08-05.png");
    let bytes = std::fs::read(&corrupt).unwrap();
    std::fs::write(&corrupt, &bytes[..bytes.len() / 2]).unwrap();

    let (out, failures) =
        assert_left_out(dir.path(), &[], &["2023-08-05.png", "cannot decode image"]);
    assert_eq!(failures.lines().count(), 2, "{failures}");
    // Everything but the failed date's rows is what the archive without the file gives: the pair around
    // it compares its neighbours.
    let reference = run_cpu(without.path(), &[]);
    let read = |dir: &Path, name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    for name in ["pairs.csv", "events.csv"] {
        assert_eq!(
            read(out.path(), name),
            read(reference.out.path(), name),
            "{name}"
        );
    }
    assert!(reference.pairs.contains("2023-08-03,2023-08-07,berth-1,"));
    let series = read(out.path(), "series.csv");
    let (unobserved, observed): (Vec<&str>, Vec<&str>) = series
        .lines()
        .partition(|line| line.starts_with("2023-08-05,"));
    assert_eq!(
        unobserved,
        [
            "2023-08-05,berth-1,berth,0.0000,,,unobserved",
            "2023-08-05,\"yard, north\",yard,0.0000,,,unobserved"
        ]
    );
    assert_eq!(
        observed.join("\n") + "\n",
        read(reference.out.path(), "series.csv")
    );

    let (allowed, output) = run_cpu_into(dir.path(), &["--allow-failures"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("1 of 5 scenes failed and were left out"),
        "{}",
        stderr(&output)
    );
    for name in RUN_OUTPUTS {
        let bytes = |dir: &Path| std::fs::read(dir.join(name)).unwrap();
        assert!(bytes(allowed.path()) == bytes(out.path()), "{name} differs");
    }
    run_on_both(
        &[dir.path().to_str().unwrap(), "--allow-failures"],
        dir.path(),
        "a_corrupt_scene_in_the_middle_is_left_out_and_its_date_unobserved",
    );
}

#[test]
fn a_lost_gpu_device_hands_the_run_to_the_cpu() {
    let test = "a_lost_gpu_device_hands_the_run_to_the_cpu";
    let dir = archive(&[
        "2023-08-01",
        "2023-08-03",
        "2023-08-05",
        "2023-08-07",
        "2023-08-09",
    ]);
    let cpu = run_cpu(dir.path(), &[]);
    // Lost at the first comparison, during the pairs, and at the last date.
    for lose_after in ["0", "6", "10"] {
        let env = [("PORTWATCH_TEST_LOSE_GPU_AFTER", lose_after)];
        let archive = [dir.path().to_str().unwrap()];
        let Some(gpu) = run_on_with_env("gpu", &archive, dir.path(), test, &env) else {
            return;
        };
        assert!(
            gpu.stderr.contains(
                "portwatch: GPU device lost (Destroyed); measuring again on the CPU, whose results are identical"
            ),
            "lost after {lose_after}: {}",
            gpu.stderr
        );
        for name in RUN_OUTPUTS {
            let read = |dir: &Path| std::fs::read(dir.join(name)).unwrap();
            assert!(
                read(gpu.out.path()) == read(cpu.out.path()),
                "{name} differs from the CPU run's when the device is lost after {lose_after} comparisons"
            );
        }
    }
}

/// An adapter whose buffers hold 100 rows of the sample's 512x512 scenes compares them in stripes of 70
/// rows (a 15-row halo either side), and reduces backgrounds in stripes too: the run's outputs are the CPU's.
#[test]
fn scenes_too_large_for_the_adapter_are_compared_in_stripes() {
    let test = "scenes_too_large_for_the_adapter_are_compared_in_stripes";
    let cpu = run_on("cpu", &["--masks"], &repo_root(), test).expect("the CPU always runs");
    let limit = (100 * 512 * 4).to_string();
    let env = [("PORTWATCH_TEST_GPU_BINDING_LIMIT", limit.as_str())];
    let Some(gpu) = run_on_with_env("gpu", &["--masks"], &repo_root(), test, &env) else {
        return;
    };
    assert!(
        gpu.stderr.contains("compared in stripes of 70 rows"),
        "{}",
        gpu.stderr
    );
    let masks = common::run::listing(&cpu.out.path().join("masks"));
    let files = RUN_OUTPUTS
        .iter()
        .map(|name| name.to_string())
        .chain(masks.iter().map(|mask| format!("masks/{mask}")));
    for name in files {
        let read = |dir: &Path| std::fs::read(dir.join(&name)).unwrap();
        assert!(
            read(gpu.out.path()) == read(cpu.out.path()),
            "{name} differs between the CPU run and the striped GPU run"
        );
    }
}

/// The scenes in the work store read in stripes rather than whole, the least stripes there are (32 rows of
/// every scene for the medians; 32 counted rows, with a 32-row halo either side, for the comparisons): the
/// run's outputs are the same, with the archive's background and with one per date's window, on the CPU
/// and on the GPU.
#[test]
fn scenes_read_in_stripes_from_the_store_give_the_outputs_of_one_pass() {
    let test = "scenes_read_in_stripes_from_the_store_give_the_outputs_of_one_pass";
    let env = [("PORTWATCH_TEST_STACK_STRIPE_BYTES", "1")];
    for flags in [&["--masks"][..], &["--masks", "--background-window", "3"]] {
        let whole = run_on("cpu", flags, &repo_root(), test).expect("the CPU always runs");
        for device in ["cpu", "gpu"] {
            if let Some(striped) = run_on_with_env(device, flags, &repo_root(), test, &env) {
                common::run::assert_same_outputs(whole.out.path(), striped.out.path());
            }
        }
    }
}

#[test]
fn an_earlier_output_survives_a_failed_run() {
    let dir = archive(&["2023-08-01", "2023-08-02", "2023-08-03"]);
    let RunOutput { out, .. } = run_cpu(dir.path(), &[]);
    let outputs = RUN_OUTPUTS;
    let before: Vec<Vec<u8>> = outputs
        .iter()
        .map(|name| std::fs::read(out.path().join(name)).unwrap())
        .collect();
    std::fs::write(dir.path().join("regions.geojson"), b"{broken").unwrap();
    let output = portwatch(
        &[
            "run",
            dir.path().to_str().unwrap(),
            "--device",
            "cpu",
            "--out",
            out.path().to_str().unwrap(),
        ],
        dir.path(),
    );
    assert!(!output.status.success());
    for (name, before) in outputs.iter().zip(&before) {
        let after = std::fs::read(out.path().join(name)).unwrap();
        assert_eq!(&after, before, "{name} changed");
    }
    assert_eq!(
        std::fs::read_dir(out.path()).unwrap().count(),
        outputs.len(),
        "no temporary file is left"
    );
}

#[test]
fn devices_lists_adapters_or_says_there_are_none() {
    let output = portwatch(&["devices"], &repo_root());
    if output.status.success() {
        assert!(!output.stdout.is_empty());
    } else {
        assert!(
            stderr(&output).contains("no GPU adapter"),
            "{}",
            stderr(&output)
        );
        assert!(
            !common::gpu_required(),
            "PORTWATCH_REQUIRE_GPU=1 but no adapter is listed"
        );
    }
}

#[test]
fn tiff_jpeg_and_two_band_archives_run_alike_on_both_backends() {
    type Rgba16 = image::ImageBuffer<image::Rgba<u16>, Vec<u16>>;
    let tiff = archive(&[]);
    for (index, name) in [
        "20231019_013045_22_2424_3B_AnalyticMS.tif",
        "20231021_014500_10_2424_3B_AnalyticMS.tif",
    ]
    .iter()
    .enumerate()
    {
        let k = index as u16;
        Rgba16::from_fn(32, 24, |x, y| {
            image::Rgba([
                (x as u16) * 900 + k * 3000,
                1000 + (y as u16) * 50,
                20_000,
                40_000 - k * 9000,
            ])
        })
        .save(tiff.path().join(name))
        .unwrap();
    }
    let jpeg = archive(&[]);
    for (index, date) in ["2023-08-01", "2023-08-02"].iter().enumerate() {
        let image = image::RgbImage::from_fn(32, 24, |x, y| {
            image::Rgb([(x * 7) as u8, (y * 9) as u8, 100 + index as u8 * 90])
        });
        image.save(jpeg.path().join(format!("{date}.jpg"))).unwrap();
    }
    let gray_alpha = archive(&[]);
    for (index, date) in ["2023-08-01", "2023-08-02"].iter().enumerate() {
        let image = image::GrayAlphaImage::from_fn(32, 24, |x, _| {
            image::LumaA([(x * 5) as u8 + 1, 255 - index as u8 * 200])
        });
        image
            .save(gray_alpha.path().join(format!("{date}.png")))
            .unwrap();
    }
    let expectations = [
        (
            &tiff,
            "2 scenes of 32x24 px, 4 bands, 16-bit",
            "2023-10-19T01:30:45,2023-10-21T01:45:00,berth-1",
        ),
        (
            &jpeg,
            "2 scenes of 32x24 px, 3 bands, 8-bit",
            "2023-08-01,2023-08-02,berth-1",
        ),
        (
            &gray_alpha,
            "2 scenes of 32x24 px, 2 bands, 8-bit",
            "2023-08-01,2023-08-02,berth-1",
        ),
    ];
    for (dir, format, first_row) in expectations {
        let test = "tiff_jpeg_and_two_band_archives_run_alike_on_both_backends";
        let (cpu, _) = run_on_both(&[dir.path().to_str().unwrap()], dir.path(), test);
        assert!(cpu.stderr.contains(format), "{}", cpu.stderr);
        assert!(
            cpu.pairs.lines().nth(1).unwrap().starts_with(first_row),
            "{}",
            cpu.pairs
        );
        let changed: u64 = cpu
            .pairs
            .lines()
            .skip(1)
            .map(|l| l.split(',').nth(5).unwrap().parse::<u64>().unwrap())
            .sum();
        assert!(
            changed > 0,
            "the scenes differ, so some pixels must change: {}",
            cpu.pairs
        );
    }
}

#[test]
fn an_adapter_name_that_matches_nothing_is_a_clear_error() {
    let dir = archive(&["2023-08-01", "2023-08-02"]);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(common::portwatch_bin())
        .args([
            "run",
            dir.path().to_str().unwrap(),
            "--device",
            "gpu",
            "--out",
            out.path().to_str().unwrap(),
        ])
        .env("WGPU_ADAPTER_NAME", "no-such-adapter-anywhere")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(message.contains("error: GPU: no adapter"), "{message}");
    assert!(std::fs::read_dir(out.path()).unwrap().next().is_none());
}

#[test]
fn progress_goes_to_stderr_as_lines_and_quiet_silences_it() {
    let dir = archive(&["2023-08-01", "2023-08-02", "2023-08-03"]);
    let logged = run_cpu(dir.path(), &[]);
    let lines: Vec<&str> = logged.stderr.lines().collect();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("portwatch: 3/3 scenes done (2023-08-03), ")),
        "{}",
        logged.stderr
    );
    let last = lines.last().unwrap();
    assert!(
        last.starts_with("portwatch: 3 scenes, 2 pairs, 0 events, 0.0 Mpx compared in "),
        "{last}"
    );
    assert!(last.contains(" Mpx/s); wrote "), "{last}");
    let quiet = run_cpu(dir.path(), &["--quiet"]);
    assert_eq!(quiet.stderr, "");
    assert_eq!(quiet.pairs, logged.pairs);
}

/// `bench` measures every stage on each backend, says the backends agree, and prints JSON on request.
#[test]
fn bench_measures_every_stage_and_prints_json() {
    let test = "bench_measures_every_stage_and_prints_json";
    let device = if common::gpu_required() {
        "both"
    } else {
        "cpu"
    };
    let args = [
        "bench",
        "--size",
        "256x256",
        "--bands",
        "3",
        "--regions",
        "5",
        "--repeat",
        "2",
        "--scenes",
        "2",
        "--smooth",
        "1",
        "--device",
        device,
    ];
    let output = portwatch(&[&args[..], &["--json"]].concat(), &repo_root());
    assert!(output.status.success(), "{test}: {}", stderr(&output));
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["width"], 256);
    assert_eq!(report["bands"], 3);
    assert_eq!(report["regions"], 5);
    assert!(report["decode"]["megapixels_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(
        report["decode_archive"]["megapixels"],
        2.0 * 256.0 * 256.0 / 1e6
    );
    let devices = report["devices"].as_array().unwrap();
    assert_eq!(devices.len(), if device == "both" { 2 } else { 1 });
    for figures in devices {
        for stage in ["kernel", "end_to_end"] {
            assert!(
                figures[stage]["median_seconds"].as_f64().unwrap() > 0.0,
                "{test}: {stage} of {figures}"
            );
        }
    }
    // The CPU compares scenes where they were decoded: it has no upload and no readback.
    if device != "gpu" {
        assert!(devices[0]["upload"].is_null(), "{test}: {}", devices[0]);
        assert!(devices[0]["readback"].is_null(), "{test}: {}", devices[0]);
    }
    if device == "both" {
        assert_eq!(report["identical"], true);
        for stage in ["upload", "readback"] {
            assert!(devices[1][stage]["median_seconds"].as_f64().unwrap() > 0.0);
        }
    }
    let table = portwatch(&args, &repo_root());
    assert!(table.status.success(), "{test}: {}", stderr(&table));
    let table = String::from_utf8(table.stdout).unwrap();
    // The CPU has no upload stage: its row is there only with the GPU.
    let upload = (device == "both").then_some("upload (per scene)");
    for row in ["decode (one scene)", "kernel", "whole run (2 scenes)"]
        .into_iter()
        .chain(upload)
    {
        assert!(table.contains(row), "{test}: no {row:?} in\n{table}");
    }
    let refused = portwatch(&["bench", "--size", "8x8"], &repo_root());
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert!(stderr(&refused).contains("16 to 65535 a side"));
}
