//! Sharding through the binary: 4 shard processes (given `--shard I/N`, or the variables of a Kubernetes
//! Indexed Job, a Slurm job array or an AWS Batch array job) merged by `portwatch merge` write the bytes of
//! one run; shards that do not make up a run are refused by name; an archive root of site folders runs
//! as one batch, sharded or not.

mod common;

use common::run::{REGIONS, archive, assert_same_outputs, portwatch, stderr, write_rgb};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const DATES: [&str; 9] = [
    "2023-08-01",
    "2023-08-03",
    "2023-08-06",
    "2023-08-09",
    "2023-08-12",
    "2023-08-15",
    "2023-08-20",
    "2023-08-22",
    "2023-08-25",
];
const SHARDS: usize = 4;

fn run(archive: &Path, out: &Path, extra: &[&str], env: &[(&str, String)]) -> Output {
    Command::new(common::portwatch_bin())
        .args([
            "run",
            archive.to_str().unwrap(),
            "--device",
            "cpu",
            "--masks",
            "-q",
        ])
        .arg("--out")
        .arg(out)
        .args(extra)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .output()
        .unwrap()
}

fn merge(shards: &[PathBuf], out: &Path) -> Output {
    Command::new(common::portwatch_bin())
        .arg("merge")
        .args(shards)
        .args([
            "--device",
            "cpu",
            "--masks",
            "-q",
            "--allow-failures",
            "--out",
        ])
        .arg(out)
        .output()
        .unwrap()
}

/// An archive whose fifth scene is corrupt, so that failures.csv is merged too.
fn archive_with_a_failure() -> tempfile::TempDir {
    let dir = archive(&DATES);
    std::fs::write(dir.path().join(format!("{}.png", DATES[4])), b"not a png").unwrap();
    dir
}

fn single_run(archive: &Path) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let output = run(archive, out.path(), &["--allow-failures"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    out
}

/// The flags and environment variables of shard `index`.
type ShardSetting = (Vec<String>, Vec<(&'static str, String)>);

/// Runs the 4 shards as `shard(i)` sets each, merges them and compares with a single run.
fn shards_merge_to_a_single_run(shard: impl Fn(usize) -> ShardSetting) {
    let dir = archive_with_a_failure();
    let expected = single_run(dir.path());
    let work = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> = (0..SHARDS)
        .map(|i| work.path().join(format!("shard-{i}")))
        .collect();
    // In reverse order: nothing depends on which shard runs first.
    for (index, out) in shards.iter().enumerate().rev() {
        let (flags, env) = shard(index);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let output = run(dir.path(), out, &flags, &env);
        assert!(
            output.status.success(),
            "shard {index}: {}",
            stderr(&output)
        );
        assert!(!out.join("series.csv").exists(), "a shard measures nothing");
    }
    let merged = work.path().join("merged");
    let output = merge(&shards, &merged);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_outputs(expected.path(), &merged);
}

fn shards_flag() -> Vec<String> {
    vec!["--shards".into(), SHARDS.to_string()]
}

#[test]
fn four_shards_by_flag_merge_to_a_single_run() {
    shards_merge_to_a_single_run(|index| {
        (vec!["--shard".into(), format!("{index}/{SHARDS}")], vec![])
    });
}

#[test]
fn four_shards_of_a_kubernetes_indexed_job_merge_to_a_single_run() {
    shards_merge_to_a_single_run(|index| {
        (
            shards_flag(),
            vec![("JOB_COMPLETION_INDEX", index.to_string())],
        )
    });
}

#[test]
fn four_shards_of_a_slurm_array_merge_to_a_single_run() {
    // --array=1-4: the index counts from SLURM_ARRAY_TASK_MIN.
    shards_merge_to_a_single_run(|index| {
        let env = vec![
            ("SLURM_ARRAY_TASK_ID", (index + 1).to_string()),
            ("SLURM_ARRAY_TASK_MIN", "1".to_owned()),
            ("SLURM_ARRAY_TASK_COUNT", SHARDS.to_string()),
        ];
        (vec![], env)
    });
}

#[test]
fn four_shards_of_an_aws_batch_array_merge_to_a_single_run() {
    shards_merge_to_a_single_run(|index| {
        (
            shards_flag(),
            vec![("AWS_BATCH_JOB_ARRAY_INDEX", index.to_string())],
        )
    });
}

#[test]
fn shards_that_do_not_make_a_run_are_refused_by_name() {
    let dir = archive(&DATES);
    let work = tempfile::tempdir().unwrap();
    let shard = |i: usize, extra: &[&str]| {
        let out = work.path().join(format!("shard-{i}-{}", extra.len()));
        let index = format!("{i}/3");
        let mut args = vec!["--shard", index.as_str()];
        args.extend(extra);
        let output = run(dir.path(), &out, &args, &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        out
    };
    let (a, b, c) = (shard(0, &[]), shard(1, &[]), shard(2, &[]));
    let refused = |shards: &[PathBuf], culprits: &[&str]| {
        let output = merge(shards, &work.path().join("merged"));
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(1), "{message}");
        for culprit in culprits {
            assert!(
                message.contains(culprit),
                "{message:?} should name {culprit:?}"
            );
        }
        assert!(!work.path().join("merged").join("series.csv").exists());
    };
    refused(&[a.clone(), b.clone()], &["2 shard folders", "give all 3"]);
    refused(
        &[a.clone(), b.clone(), b.clone()],
        &["given twice", b.to_str().unwrap()],
    );
    let other = shard(2, &["--threshold", "40"]);
    refused(
        &[a.clone(), b.clone(), other.clone()],
        &["not shards of the same run", "threshold"],
    );
    // A shard killed before it finished: its missing scene is named.
    std::fs::remove_file(
        std::fs::read_dir(c.join("work/scenes"))
            .unwrap()
            .next()
            .unwrap()
            .unwrap()
            .path(),
    )
    .unwrap();
    refused(
        &[a.clone(), b.clone(), c.clone()],
        &["has not finished", c.to_str().unwrap()],
    );
    let whole = work.path().join("whole");
    let output = Command::new(common::portwatch_bin())
        .args([
            "run",
            dir.path().to_str().unwrap(),
            "--device",
            "cpu",
            "-q",
            "--out",
        ])
        .arg(&whole)
        .env("PORTWATCH_TEST_ABORT_AFTER", "2")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), None);
    refused(
        &[a, b, whole.clone()],
        &["whole run", whole.to_str().unwrap()],
    );
    let output = portwatch(&["run", "--shard", "3/3"], work.path());
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let output = run(
        dir.path(),
        &work.path().join("x"),
        &["--shards", "3"],
        &[("JOB_COMPLETION_INDEX", "3".into())],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("JOB_COMPLETION_INDEX gives shard 3"),
        "{}",
        stderr(&output)
    );
}

/// An archive root of three sites, each with its regions and scenes.
fn sites() -> tempfile::TempDir {
    let root = tempfile::tempdir().unwrap();
    for (site, count) in [("chongjin", 4), ("nampo", 6), ("rajin", 5)] {
        let dir = root.path().join(site);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("regions.geojson"), REGIONS).unwrap();
        for (index, date) in DATES[..count].iter().enumerate() {
            write_rgb(
                &dir.join(format!("{date}.png")),
                32,
                24,
                (index * 7 + count) as u8,
            );
        }
    }
    root
}

#[test]
fn a_root_of_site_folders_runs_as_one_batch_sharded_or_not() {
    let root = sites();
    let batch = tempfile::tempdir().unwrap();
    let output = run(root.path(), batch.path(), &[], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    // Each site's outputs are those of a run of that site alone.
    for site in ["chongjin", "nampo", "rajin"] {
        let alone = single_run(&root.path().join(site));
        assert_same_outputs(alone.path(), &batch.path().join(site));
    }
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(batch.path().join("summary.json")).unwrap()).unwrap();
    let sites = summary["sites"].as_array().unwrap();
    let names: Vec<&str> = sites.iter().map(|s| s["site"].as_str().unwrap()).collect();
    assert_eq!(names, ["chongjin", "nampo", "rajin"]);
    assert_eq!(sites[1]["scenes"], 6);
    assert_eq!(sites[1]["failed_scenes"], 0);
    let site_summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(batch.path().join("nampo/summary.json")).unwrap())
            .unwrap();
    assert_eq!(sites[1]["summary"], site_summary);
    // Sharded over (site, scene) work items: 15 items over 4 shards, then merged.
    let work = tempfile::tempdir().unwrap();
    let shards: Vec<PathBuf> = (0..SHARDS)
        .map(|i| work.path().join(format!("shard-{i}")))
        .collect();
    for (index, out) in shards.iter().enumerate() {
        let output = run(
            root.path(),
            out,
            &["--shard", &format!("{index}/{SHARDS}")],
            &[],
        );
        assert!(output.status.success(), "{}", stderr(&output));
    }
    let merged = work.path().join("merged");
    let output = merge(&shards, &merged);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_outputs(batch.path(), &merged);
}
