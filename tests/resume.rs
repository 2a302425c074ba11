//! Resuming through the binary: runs interrupted at chosen points (the abort test hook) and at random
//! moments (kill -9 after a seeded delay), each started again until it finishes, must write the same bytes
//! as a run never interrupted; a run with other arguments on the same output folder is refused unless
//! `--force`.

mod common;

use common::run::{archive, assert_same_outputs, contents, listing, portwatch, stderr};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const DATES: [&str; 7] = [
    "2023-08-01",
    "2023-08-03",
    "2023-08-06",
    "2023-08-09",
    "2023-08-12",
    "2023-08-15",
    "2023-08-20",
];

fn run_args<'a>(archive: &'a Path, out: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "run",
        archive.to_str().unwrap(),
        "--device",
        "cpu",
        "--masks",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend(extra);
    args
}

/// A run never interrupted, into a new folder.
fn reference(archive: &Path, extra: &[&str]) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let output = portwatch(&run_args(archive, out.path(), extra), archive);
    assert!(output.status.success(), "{}", stderr(&output));
    out
}

#[test]
fn runs_aborted_after_each_unit_of_work_resume_to_the_same_bytes() {
    let dir = archive(&DATES);
    // The store's units: 7 scenes, 7 prepared scenes and what preparing each found, (7 backgrounds of
    // windows,) the backgrounds, the calibration, 7 dates.
    let windowed_and_aligned = ["--background-window", "3", "--align"];
    let expected = [
        reference(dir.path(), &[]),
        reference(dir.path(), &windowed_and_aligned),
    ];
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    for trial in 0..4 {
        let extra: &[&str] = [&[][..], &windowed_and_aligned][trial % 2];
        let out = tempfile::tempdir().unwrap();
        let mut attempts = 0;
        loop {
            attempts += 1;
            assert!(attempts < 40, "trial {trial}: the run never finished");
            let abort_after = rng.random_range(1..=5u32).to_string();
            let output = Command::new(common::portwatch_bin())
                .args(run_args(dir.path(), out.path(), extra))
                .env("PORTWATCH_TEST_ABORT_AFTER", &abort_after)
                .output()
                .unwrap();
            if output.status.success() {
                break;
            }
            assert_eq!(
                output.status.code(),
                None,
                "trial {trial}: only the hook's abort may end the run: {}",
                stderr(&output)
            );
        }
        assert!(
            attempts > 2,
            "trial {trial}: the hook never interrupted the run"
        );
        assert_same_outputs(expected[trial % 2].path(), out.path());
    }
}

/// An archive of `DATES` as 768x512 RGB PNGs, large enough that a run lasts long enough to be killed.
fn larger_archive() -> tempfile::TempDir {
    let dir = archive(&[]);
    for (index, date) in DATES.iter().enumerate() {
        common::run::write_rgb(
            &dir.path().join(format!("{date}.png")),
            768,
            512,
            index as u8,
        );
    }
    dir
}

#[test]
fn runs_killed_at_random_moments_resume_to_the_same_bytes() {
    let dir = larger_archive();
    let expected = reference(dir.path(), &[]);
    let started = std::time::Instant::now();
    reference(dir.path(), &[]);
    let run_ms = started.elapsed().as_millis().max(10) as u64;
    let mut rng = ChaCha8Rng::seed_from_u64(2026);
    let mut killed = 0;
    for _ in 0..3 {
        let out = tempfile::tempdir().unwrap();
        for attempt in 0.. {
            assert!(attempt < 60, "the run never finished");
            let mut child = Command::new(common::portwatch_bin())
                .args(run_args(dir.path(), out.path(), &[]))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            // Anywhere within the time of a whole run, so that most attempts are killed midway.
            std::thread::sleep(Duration::from_millis(rng.random_range(1..run_ms)));
            if child.try_wait().unwrap().is_none() {
                // SIGKILL: nothing of the process runs after it.
                child.kill().unwrap();
                child.wait().unwrap();
                killed += 1;
                continue;
            }
            let status = child.wait().unwrap();
            assert!(status.success(), "{status}");
            break;
        }
        assert_same_outputs(expected.path(), out.path());
    }
    assert!(killed > 0, "no run was killed: the runs end too soon");
    eprintln!("{killed} runs killed and resumed (a run takes {run_ms} ms)");
}

/// An archive of `DATES` and the output folder of a run of it aborted after writing three store entries.
fn interrupted_run() -> (tempfile::TempDir, tempfile::TempDir) {
    let dir = archive(&DATES);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(common::portwatch_bin())
        .args(run_args(dir.path(), out.path(), &[]))
        .env("PORTWATCH_TEST_ABORT_AFTER", "3")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), None, "{}", stderr(&output));
    (dir, out)
}

/// A run on an output folder that another process holds is refused, naming the folder, and changes nothing
/// there; once the folder is free, the same run goes through.
#[test]
fn an_output_folder_in_use_is_refused() {
    // Interrupted, so that the folder holds a work store that a second process could spoil.
    let (dir, out) = interrupted_run();
    let before = contents(out.path());
    let holder = std::fs::File::open(out.path()).unwrap();
    holder.lock().unwrap();
    let output = portwatch(&run_args(dir.path(), out.path(), &[]), dir.path());
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    assert!(
        message.contains(out.path().to_str().unwrap())
            && message.contains("another portwatch process is writing to this output folder"),
        "{message}"
    );
    assert_eq!(
        contents(out.path()),
        before,
        "a refused run changes nothing"
    );
    drop(holder);
    let output = portwatch(&run_args(dir.path(), out.path(), &[]), dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_outputs(reference(dir.path(), &[]).path(), out.path());
}

#[test]
fn other_arguments_are_refused_unless_forced() {
    // Interrupted, then started again with another threshold: refused, its work kept.
    let (dir, out) = interrupted_run();
    let before = contents(out.path());
    let output = portwatch(
        &run_args(dir.path(), out.path(), &["--threshold", "40"]),
        dir.path(),
    );
    let message = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{message}");
    for part in [
        "other arguments",
        "threshold was not set, now 40",
        "--force",
    ] {
        assert!(message.contains(part), "{message:?} should say {part:?}");
    }
    assert_eq!(
        contents(out.path()),
        before,
        "a refused run changes nothing"
    );
    // With --force it starts over with the new arguments.
    let output = portwatch(
        &run_args(dir.path(), out.path(), &["--threshold", "40", "--force"]),
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = tempfile::tempdir().unwrap();
    let output = portwatch(
        &run_args(dir.path(), expected.path(), &["--threshold", "40"]),
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_outputs(expected.path(), out.path());
    // A finished run's outputs are protected as its work was.
    let output = portwatch(&run_args(dir.path(), out.path(), &[]), dir.path());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(stderr(&output).contains("threshold was 40, now not set"));
    // The same arguments again simply run again.
    let output = portwatch(
        &run_args(dir.path(), out.path(), &["--threshold", "40"]),
        dir.path(),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(!listing(out.path()).contains(&"work".to_owned()));
}

#[test]
fn a_changed_scene_is_decoded_again() {
    let dir = archive(&DATES);
    let out = tempfile::tempdir().unwrap();
    let output = Command::new(common::portwatch_bin())
        .args(run_args(dir.path(), out.path(), &[]))
        .env("PORTWATCH_TEST_ABORT_AFTER", "9")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), None, "{}", stderr(&output));
    // The scene's file is replaced after its entry was stored: the entry must not be used.
    common::run::write_rgb(&dir.path().join("2023-08-06.png"), 32, 24, 40);
    let output = portwatch(&run_args(dir.path(), out.path(), &[]), dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = reference(dir.path(), &[]);
    assert_same_outputs(expected.path(), out.path());
}

#[test]
fn changed_regions_are_measured_again() {
    let dir = archive(&DATES);
    let out = tempfile::tempdir().unwrap();
    // Interrupted once some dates are measured, region by region.
    let output = Command::new(common::portwatch_bin())
        .args(run_args(dir.path(), out.path(), &[]))
        .env("PORTWATCH_TEST_ABORT_AFTER", "12")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), None, "{}", stderr(&output));
    let regions = common::run::REGIONS.replace("[20,0],[20,8]", "[28,0],[28,8]");
    std::fs::write(dir.path().join("regions.geojson"), regions).unwrap();
    let output = portwatch(&run_args(dir.path(), out.path(), &[]), dir.path());
    assert!(output.status.success(), "{}", stderr(&output));
    let expected = reference(dir.path(), &[]);
    assert_same_outputs(expected.path(), out.path());
}
