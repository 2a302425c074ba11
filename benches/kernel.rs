//! Kernel-only throughput of each backend on the standard case of `../shared/peers/kernel_peer.py`: a
//! 4096x4096 RGBA8 pair with 32 regions of 256x256 px, threshold 60, histograms included, with and without
//! 3x3 smoothing, and with and without the change mask (with it, every pixel is thresholded, as the peers
//! do; without it, only the regions' pixels and their windows need computing). Scenes are loaded once,
//! outside the timing; the statistics and the mask are read back inside it.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portwatch::kernel::{self, ChangeKernel, ChangeSettings, DeviceChoice, Outputs, Radiometry};
use portwatch::rasterize::LabelRaster;
use portwatch::scene::{Scene, SceneFormat};
use rand::{Rng, SeedableRng};

const SIZE: u32 = 4096;
const REGIONS: u32 = 32;

/// The peer's case: random `a`; `b` equal to `a` but for a random 400x1500 px block.
fn pair_and_labels() -> ([Scene; 2], LabelRaster) {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let pixels = (SIZE * SIZE) as usize;
    let a: Vec<u8> = (0..pixels * 4).map(|_| rng.random()).collect();
    let mut b = a.clone();
    for y in 1000..1400 {
        let row = y * SIZE as usize * 4;
        rng.fill(&mut b[row + 500 * 4..row + 2000 * 4]);
    }
    let mut labels = vec![0u16; pixels];
    for region in 1..=REGIONS {
        let (y0, x0) = ((region * 97) % (SIZE - 300), (region * 211) % (SIZE - 300));
        for y in y0..y0 + 256 {
            labels[(y * SIZE + x0) as usize..(y * SIZE + x0 + 256) as usize].fill(region as u16);
        }
    }
    let words = labels
        .chunks(2)
        .map(|p| u32::from(p[0]) | (u32::from(p[1]) << 16))
        .collect();
    let raster = LabelRaster::from_words(SIZE, SIZE, REGIONS, words).unwrap();
    (
        [
            Scene::from_u8(SIZE, SIZE, 4, &a),
            Scene::from_u8(SIZE, SIZE, 4, &b),
        ],
        raster,
    )
}

fn kernels(format: SceneFormat, labels: &LabelRaster) -> Vec<Box<dyn ChangeKernel>> {
    let mut kernels = vec![kernel::open(DeviceChoice::Cpu, format, labels).unwrap()];
    match kernel::open(DeviceChoice::Gpu, format, labels) {
        Ok(gpu) => kernels.push(gpu),
        Err(e) => eprintln!("GPU benchmark skipped: {e}"),
    }
    kernels
}

fn kernel_only(c: &mut Criterion) {
    let (scenes, labels) = pair_and_labels();
    let format = scenes[0].format;
    let mut group = c.benchmark_group("kernel");
    group.throughput(Throughput::Elements(u64::from(SIZE * SIZE)));
    group.sample_size(10);
    for mut kernel in kernels(format, &labels) {
        for (slot, scene) in scenes.iter().enumerate() {
            kernel
                .load_scene(slot, scene.clone(), Radiometry::IDENTITY)
                .unwrap();
        }
        let description = kernel.description();
        let backend = description.split(" (").next().unwrap_or(&description);
        for radius in [0, 1] {
            let settings = ChangeSettings {
                threshold: 60,
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
                    bench.iter(|| kernel.compare(0, 1, &settings, outputs).unwrap())
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, kernel_only);
criterion_main!(benches);
