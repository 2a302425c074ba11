//! Helpers shared by the integration tests: backends with an explicit GPU skip, and random test scenes.

#![allow(dead_code)]

pub mod run;

use portwatch::Error;
use portwatch::kernel::gpu::{AdapterPolicy, GpuKernel};
use portwatch::kernel::{self, ChangeKernel, DeviceChoice};
use portwatch::rasterize::LabelRaster;
use portwatch::scene::SceneFormat;

/// Whether a missing GPU adapter must fail the test instead of skipping it (set by CI).
pub fn gpu_required() -> bool {
    std::env::var("PORTWATCH_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The GPU kernel, or `None` after saying why the test is skipped; panics instead when
/// `PORTWATCH_REQUIRE_GPU=1`.
pub fn gpu_kernel(
    test: &str,
    format: SceneFormat,
    labels: &LabelRaster,
) -> Option<Box<dyn ChangeKernel>> {
    gpu_or_skip(test, kernel::open(DeviceChoice::Gpu, format, labels))
}

/// The GPU kernel as `gpu_kernel` gives it, but reducing background stacks in stripes of at most
/// `stripe_rows` rows.
pub fn gpu_kernel_with_stripes(
    test: &str,
    format: SceneFormat,
    labels: &LabelRaster,
    stripe_rows: u32,
) -> Option<Box<dyn ChangeKernel>> {
    let kernel = GpuKernel::new(AdapterPolicy::Any, format, labels).map(|kernel| {
        Box::new(kernel.with_background_stripe_rows(stripe_rows)) as Box<dyn ChangeKernel>
    });
    gpu_or_skip(test, kernel)
}

/// The GPU kernel as `gpu_kernel` gives it, but binding no buffer larger than `limit` bytes, so that scenes
/// are compared in stripes.
pub fn gpu_kernel_with_binding_limit(
    test: &str,
    format: SceneFormat,
    labels: &LabelRaster,
    limit: u64,
) -> Option<Box<dyn ChangeKernel>> {
    let kernel = GpuKernel::with_binding_limit(AdapterPolicy::Any, format, labels, Some(limit))
        .map(|kernel| Box::new(kernel) as Box<dyn ChangeKernel>);
    gpu_or_skip(test, kernel)
}

fn gpu_or_skip(
    test: &str,
    kernel: portwatch::Result<Box<dyn ChangeKernel>>,
) -> Option<Box<dyn ChangeKernel>> {
    match kernel {
        Ok(kernel) => Some(kernel),
        Err(Error::Gpu(why)) if !gpu_required() => {
            eprintln!(
                "SKIPPED {test}: no GPU adapter ({why}); set PORTWATCH_REQUIRE_GPU=1 to make this a failure"
            );
            None
        }
        Err(other) => panic!("{test}: GPU kernel failed to open: {other}"),
    }
}

pub fn cpu_kernel(format: SceneFormat, labels: &LabelRaster) -> Box<dyn ChangeKernel> {
    kernel::open(DeviceChoice::Cpu, format, labels).expect("the CPU kernel always opens")
}

/// Path of the `portwatch` binary built for the integration tests.
pub fn portwatch_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_portwatch"))
}

/// The data folder of real imagery: PORTWATCH_DATA, by default ../shared/data beside the checkout.
pub fn data_folder() -> std::path::PathBuf {
    std::env::var_os("PORTWATCH_DATA").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/data"),
        std::path::PathBuf::from,
    )
}

/// `portwatch eval` flags that only a perfect result passes: every threshold at its best value.
pub const PERFECT_SCORE_THRESHOLDS: [&str; 18] = [
    "--min-state-accuracy",
    "1",
    "--max-observed-called-unobserved",
    "0",
    "--min-clouded-caught",
    "1",
    "--min-arrival-f1",
    "1",
    "--min-departure-f1",
    "1",
    "--min-fill-f1",
    "1",
    "--min-clear-f1",
    "1",
    "--max-yard-mae",
    "0",
    "--max-length-error-m",
    "0",
];
