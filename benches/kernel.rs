//! Kernel-only throughput of each backend on the standard case of `../shared/peers/kernel_peer.py`: a
//! 4096x4096 RGBA8 pair with 32 regions of 256x256 px, threshold 60, histograms included, with and without
//! 3x3 smoothing, and with and without the change mask (with it, every pixel is thresholded, as the peers
//! do; without it, only the regions' pixels and their windows need computing). Scenes are loaded once,
//! outside the timing; the statistics and the mask are read back inside it.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portwatch::bench::generated_pair;
use portwatch::kernel::{self, ChangeKernel, ChangeSettings, DeviceChoice, Outputs, Radiometry};
use portwatch::rasterize::LabelRaster;
use portwatch::scene::SceneFormat;

const SIZE: u32 = 4096;
const REGIONS: u32 = 32;

fn kernels(format: SceneFormat, labels: &LabelRaster) -> Vec<Box<dyn ChangeKernel>> {
    let mut kernels = vec![kernel::open(DeviceChoice::Cpu, format, labels).unwrap()];
    match kernel::open(DeviceChoice::Gpu, format, labels) {
        Ok(gpu) => kernels.push(gpu),
        Err(e) => eprintln!("GPU benchmark skipped: {e}"),
    }
    kernels
}

fn kernel_only(c: &mut Criterion) {
    let format = SceneFormat {
        width: SIZE,
        height: SIZE,
        bands: 4,
        bits_per_sample: 8,
    };
    let (scenes, labels) = generated_pair(format, REGIONS, 1).unwrap();
    let mut group = c.benchmark_group("kernel");
    group.throughput(Throughput::Elements(u64::from(SIZE * SIZE)));
    group.sample_size(10);
    for mut kernel in kernels(format, &labels) {
        for (slot, scene) in scenes.iter().enumerate() {
            kernel
                .load_scene(slot, 0, scene.clone(), Radiometry::IDENTITY)
                .unwrap();
        }
        let description = kernel.description();
        let backend = description.split(" (").next().unwrap_or(&description);
        for radius in [0, 1] {
            let settings = ChangeSettings {
                threshold: 60,
                region_thresholds: Vec::new(),
                radius,
                nodata: None,
            };
            for with_mask in [false, true] {
                let case = if with_mask {
                    format!("radius {radius}, mask")
                } else {
                    format!("radius {radius}")
                };
                let outputs = Outputs {
                    change_mask: with_mask,
                    profiles: false,
                };
                group.bench_function(BenchmarkId::new(case, backend), |bench| {
                    bench.iter(|| {
                        kernel
                            .compare(0, 1, 0..format.height, &settings, outputs)
                            .unwrap()
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, kernel_only);
criterion_main!(benches);
