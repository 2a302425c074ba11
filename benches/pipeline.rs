//! End to end on the CPU against decoding alone: a synthetic archive of PNG scenes is run as `portwatch run`
//! measures it (decode, background, normalization, every kernel pass), and the same scenes are only
//! decoded, so the pipeline's overhead over the decoder is the ratio of the two.

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use portwatch::archive::Archive;
use portwatch::kernel::DeviceChoice;
use portwatch::prepare::Preparation;
use portwatch::progress::Progress;
use portwatch::regions::RegionSet;
use portwatch::series::measure::{MeasureOptions, SeriesRun};
use portwatch::synth::{Scenario, Synthesizer};

const SCENES: u32 = 8;
const SIZE: u32 = 2048;

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = Scenario::Busy.defaults();
    (spec.width, spec.height, spec.max_scenes) = (SIZE, SIZE, Some(SCENES));
    Synthesizer::new(&spec)
        .unwrap()
        .write(dir.path(), |_| {})
        .unwrap();
    let archive = Archive::scan(dir.path()).unwrap();
    let regions = RegionSet::read(&dir.path().join("regions.geojson")).unwrap();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Elements(
        u64::from(SIZE * SIZE) * u64::from(SCENES),
    ));
    group.bench_function("decode only", |bench| {
        bench.iter(|| {
            for entry in &archive.entries {
                entry.load(&archive.decode).unwrap();
            }
        })
    });
    let options = MeasureOptions {
        threshold: None,
        radius: 1,
        nodata: Some(0),
        normalize: true,
        window: None,
        min_valid_fraction: 0.5,
        pair_masks: false,
        preparation: Preparation::NONE,
    };
    group.bench_function("run --device cpu", |bench| {
        bench.iter(|| {
            let series = SeriesRun::open(&archive, &regions, DeviceChoice::Cpu, options).unwrap();
            let mut progress = Progress::new(u64::from(SCENES), "scenes", true);
            series.run(&mut progress, |_| Ok(())).unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, pipeline);
criterion_main!(benches);
