//! `portwatch bench`: throughput of each stage of the work on generated data (decoding a scene, uploading
//! it to the backend, the kernel, reading results back) and of whole runs, per backend, so that users can
//! see what their machine does with each and where the time goes.
//!
//! The kernel stages use the standard case of `../shared/peers/kernel_peer.py` scaled to the size asked
//! for: a random pair that differs in one block, and square regions. Decoding and whole runs use a
//! synthetic port archive (`portwatch synth --scenario busy`) of the same size, bands and bit depth.

use crate::archive::Archive;
use crate::cloud::CloudMasking;
use crate::error::{Error, Result};
use crate::kernel::{
    self, ChangeKernel, ChangeSettings, DeviceChoice, Outputs, PairStats, Radiometry,
};
use crate::prepare::Preparation;
use crate::progress::Progress;
use crate::rasterize::LabelRaster;
use crate::regions::RegionSet;
use crate::scene::{Scene, SceneFormat};
use crate::series::measure::{MeasureOptions, SeriesRun};
use crate::synth::{Scenario, Synthesizer};
use rand::{Rng, SeedableRng};
use rayon::prelude::*;
use serde::Serialize;
use std::time::{Duration, Instant};

/// What to measure.
#[derive(Clone, Debug)]
pub struct BenchSpec {
    pub format: SceneFormat,
    /// Square regions in the kernel stages' scenes.
    pub regions: u32,
    pub threshold: u32,
    pub radius: u32,
    /// Whether the kernel also writes and reads back the change mask (every pixel thresholded).
    pub change_mask: bool,
    /// Times each stage is measured; medians are reported.
    pub repeat: usize,
    /// Scenes in the archive of the whole runs; none to skip decoding and whole runs.
    pub scenes: u32,
}

/// The median of a stage's measurements and the megapixels each one handled.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct StageFigure {
    pub median_seconds: f64,
    pub megapixels: f64,
    pub megapixels_per_second: f64,
}

impl StageFigure {
    fn new(mut times: Vec<Duration>, megapixels: f64) -> StageFigure {
        times.sort();
        let median_seconds = times[times.len() / 2].as_secs_f64();
        StageFigure {
            median_seconds,
            megapixels,
            megapixels_per_second: megapixels / median_seconds.max(1e-9),
        }
    }
}

/// One backend's figures.
#[derive(Clone, Debug, Serialize)]
pub struct DeviceFigures {
    pub device: String,
    pub description: String,
    pub upload: Option<StageFigure>,
    pub kernel: Option<StageFigure>,
    pub readback: Option<StageFigure>,
    pub end_to_end: Option<StageFigure>,
}

/// Everything `portwatch bench` measured.
#[derive(Clone, Debug, Serialize)]
pub struct BenchReport {
    pub width: u32,
    pub height: u32,
    pub bands: u32,
    pub bits_per_sample: u32,
    pub regions: u32,
    /// The fraction of the kernel scenes' pixels inside a region.
    pub region_fraction: f64,
    pub threshold: u32,
    pub radius: u32,
    pub change_mask: bool,
    pub repeat: usize,
    pub scenes: u32,
    /// Decoding one scene of the archive.
    pub decode: Option<StageFigure>,
    /// Decoding every scene of the archive, in parallel as a run does: the floor of a whole run.
    pub decode_archive: Option<StageFigure>,
    pub devices: Vec<DeviceFigures>,
    /// Whether every backend's kernel results were identical, when more than one ran.
    pub identical: Option<bool>,
}

/// The kernel stages' case: a random pair equal but for a block of 400/4096 of the rows and 1500/4096 of
/// the columns, and `regions` squares of a sixteenth of the smaller side, placed as the peer places them.
pub fn generated_pair(
    format: SceneFormat,
    regions: u32,
    seed: u64,
) -> Result<([Scene; 2], LabelRaster)> {
    let (width, height) = (format.width as usize, format.height as usize);
    let side = width.min(height) / 16;
    if side == 0 || regions > u32::from(u16::MAX) {
        return Err(Error::Setting(format!(
            "bench scenes of {format} with {regions} regions: scenes need 16 px a side and regions at most 65535"
        )));
    }
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let bytes_per_sample = format.bits_per_sample as usize / 8;
    let row_bytes = width * format.bands as usize * bytes_per_sample;
    let mut a = vec![0u8; row_bytes * height];
    rng.fill(&mut a[..]);
    let mut b = a.clone();
    let block_rows = height * 1000 / 4096..(height * 1400 / 4096).max(height * 1000 / 4096 + 1);
    let block_bytes = row_bytes * 500 / 4096..row_bytes * 2000 / 4096;
    for y in block_rows {
        rng.fill(&mut b[y * row_bytes + block_bytes.start..y * row_bytes + block_bytes.end]);
    }
    let scene = |bytes: &[u8]| match format.bits_per_sample {
        8 => Scene::from_u8(format.width, format.height, format.bands, bytes),
        _ => {
            let samples: Vec<u16> = bytemuck::pod_collect_to_vec(bytes);
            Scene::from_u16(format.width, format.height, format.bands, &samples)
        }
    };
    let mut labels = vec![0u16; width * height];
    let reach = |extent: usize| (extent - side * 300 / 256).max(1);
    for region in 1..=regions as usize {
        let (y0, x0) = ((region * 97) % reach(height), (region * 211) % reach(width));
        for y in y0..(y0 + side).min(height) {
            labels[y * width + x0..y * width + (x0 + side).min(width)].fill(region as u16);
        }
    }
    let words = labels
        .chunks(2)
        .map(|p| u32::from(p[0]) | (u32::from(*p.get(1).unwrap_or(&0)) << 16))
        .collect();
    let raster = LabelRaster::from_words(format.width, format.height, regions, words)?;
    Ok(([scene(&a), scene(&b)], raster))
}

/// Measures every stage `spec` asks for on each of `devices`, saying what it does on `progress`.
pub fn run(spec: &BenchSpec, devices: &[DeviceChoice], progress: &Progress) -> Result<BenchReport> {
    let format = spec.format;
    let megapixels = format.pixel_count() as f64 / 1e6;
    let mut report = BenchReport {
        width: format.width,
        height: format.height,
        bands: format.bands,
        bits_per_sample: format.bits_per_sample,
        regions: spec.regions,
        region_fraction: 0.0,
        threshold: spec.threshold,
        radius: spec.radius,
        change_mask: spec.change_mask,
        repeat: spec.repeat,
        scenes: spec.scenes,
        decode: None,
        decode_archive: None,
        devices: devices
            .iter()
            .map(|&device| DeviceFigures {
                device: format!("{device:?}").to_lowercase(),
                description: String::new(),
                upload: None,
                kernel: None,
                readback: None,
                end_to_end: None,
            })
            .collect(),
        identical: None,
    };
    progress.say(&format!(
        "generating a pair of {format} with {} regions",
        spec.regions
    ));
    let (scenes, labels) = generated_pair(format, spec.regions, 1)?;
    let in_regions = (0..format.pixel_count())
        .filter(|&p| labels.label_at(p) != 0)
        .count();
    report.region_fraction = in_regions as f64 / format.pixel_count() as f64;
    let mut results: Vec<PairStats> = Vec::new();
    for (figures, &device) in report.devices.iter_mut().zip(devices) {
        let mut kernel = kernel::open(device, format, &labels)?;
        figures.description = kernel.description();
        progress.say(&format!("kernel stages on {}", figures.description));
        let stats = measure_kernel(kernel.as_mut(), spec, &scenes, megapixels, figures)?;
        results.push(stats);
    }
    if results.len() > 1 {
        report.identical = Some(results.windows(2).all(|pair| pair[0] == pair[1]));
    }
    if spec.scenes > 0 {
        measure_archive(spec, devices, progress, &mut report)?;
    }
    Ok(report)
}

/// Uploads and compares the pair `spec.repeat` times; the last comparison's results.
fn measure_kernel(
    kernel: &mut dyn ChangeKernel,
    spec: &BenchSpec,
    scenes: &[Scene; 2],
    megapixels: f64,
    figures: &mut DeviceFigures,
) -> Result<PairStats> {
    let settings = ChangeSettings {
        threshold: spec.threshold,
        region_thresholds: Vec::new(),
        radius: spec.radius,
        nodata: None,
    };
    let outputs = Outputs {
        change_mask: spec.change_mask,
        profiles: false,
    };
    let (mut uploads, mut kernels, mut readbacks) = (Vec::new(), Vec::new(), Vec::new());
    let mut stats = None;
    for _ in 0..spec.repeat {
        let before = kernel.stage_times();
        for (slot, scene) in scenes.iter().enumerate() {
            kernel.load_scene(slot, 0, scene.clone(), Radiometry::IDENTITY)?;
        }
        let loaded = kernel.stage_times();
        stats = Some(kernel.compare(0, 1, 0..scenes[0].format.height, &settings, outputs)?);
        let compared = kernel.stage_times() - loaded;
        // Per scene, as the other stages' throughput is per pixel of one scene; striped comparisons
        // upload inside the comparison, which counts as upload too.
        uploads.push(((loaded - before).upload + compared.upload) / 2);
        kernels.push(compared.kernel);
        readbacks.push(compared.readback);
    }
    // A backend that computes where its scenes were decoded and its results are read (the CPU) has no
    // upload and no readback stage.
    let stage = |times: Vec<Duration>| {
        times
            .iter()
            .any(|time| !time.is_zero())
            .then(|| StageFigure::new(times, megapixels))
    };
    figures.upload = stage(uploads);
    figures.kernel = Some(StageFigure::new(kernels, megapixels));
    figures.readback = stage(readbacks);
    Ok(stats.expect("at least one repeat"))
}

/// Writes the synthetic archive, then measures decoding one scene and all of them, and a whole run of
/// the archive (as `portwatch run` measures it, writing nothing) on each device.
fn measure_archive(
    spec: &BenchSpec,
    devices: &[DeviceChoice],
    progress: &Progress,
    report: &mut BenchReport,
) -> Result<()> {
    let format = spec.format;
    let dir = tempfile::tempdir().map_err(|source| Error::Write {
        path: std::env::temp_dir(),
        source,
    })?;
    let mut synth = Scenario::Busy.defaults();
    (synth.width, synth.height) = (format.width, format.height);
    (synth.bands, synth.bits) = (format.bands as usize, format.bits_per_sample as u8);
    synth.max_scenes = Some(spec.scenes);
    // Small scenes get coarser pixels, so that the port (about 1 km a side) still fits.
    let side = format.width.min(format.height);
    synth.gsd_m = synth.gsd_m.max(1001.0 / f64::from(side));
    progress.say(&format!(
        "writing a synthetic archive of {} scenes of {format}",
        spec.scenes
    ));
    Synthesizer::new(&synth)?.write(dir.path(), |_| {})?;
    let archive = Archive::scan(dir.path())?;
    let regions = RegionSet::read(&dir.path().join("regions.geojson"))?;
    let megapixels = format.pixel_count() as f64 / 1e6;
    let archive_megapixels = megapixels * archive.entries.len() as f64;
    let first = &archive.entries[0].image;
    let bytes = std::fs::read(first).map_err(|e| Error::input(first, e.to_string()))?;
    report.decode = Some(StageFigure::new(
        timed(spec.repeat, || Scene::decode_bytes(&bytes, first).map(drop))?,
        megapixels,
    ));
    report.decode_archive = Some(StageFigure::new(
        timed(spec.repeat, || {
            archive
                .entries
                .par_iter()
                .try_for_each(|entry| entry.load(&archive.decode).map(drop))
        })?,
        archive_megapixels,
    ));
    let options = MeasureOptions {
        threshold: None,
        radius: spec.radius,
        nodata: Some(0),
        normalize: true,
        window: None,
        min_valid_fraction: 0.5,
        pair_masks: spec.change_mask,
        // As `portwatch run` does by default.
        preparation: Preparation {
            clouds: CloudMasking::Auto,
            ..Preparation::NONE
        },
    };
    for (figures, &device) in report.devices.iter_mut().zip(devices) {
        progress.say(&format!("whole runs on {device:?}").to_lowercase());
        let times = timed(spec.repeat, || {
            let series = SeriesRun::open(&archive, &regions, device, options)?;
            let mut quiet = Progress::new(archive.entries.len() as u64, "scenes", true);
            series.run(&mut quiet, |_| Ok(())).map(drop)
        })?;
        figures.end_to_end = Some(StageFigure::new(times, archive_megapixels));
    }
    Ok(())
}

/// The time of each of `repeat` calls of `work`.
fn timed(repeat: usize, mut work: impl FnMut() -> Result<()>) -> Result<Vec<Duration>> {
    (0..repeat)
        .map(|_| {
            let started = Instant::now();
            work()?;
            Ok(started.elapsed())
        })
        .collect()
}

impl BenchReport {
    /// The figures as a table: a row per stage, a column pair (median ms, Mpx/s) per device, and the
    /// GPU/CPU throughput ratio when both ran.
    pub fn table(&self) -> String {
        let mut lines = vec![format!(
            "{}x{} px, {} bands, {}-bit; kernel: {} regions ({:.1}% of the pixels), threshold {}, radius {}, \
             change mask {}; median of {}",
            self.width,
            self.height,
            self.bands,
            self.bits_per_sample,
            self.regions,
            self.region_fraction * 100.0,
            self.threshold,
            self.radius,
            if self.change_mask { "yes" } else { "no" },
            self.repeat
        )];
        for device in &self.devices {
            lines.push(format!("{}: {}", device.device, device.description));
            if device.description.contains(", software") {
                lines.push(format!(
                    "{}: a software adapter: these are not GPU figures",
                    device.device
                ));
            }
        }
        let ratio_column = self.gpu_and_cpu().is_some();
        let mut header = format!("{:<26}", "stage");
        for device in &self.devices {
            header += &format!(" {:>12} {:>12}", format!("{} ms", device.device), "Mpx/s");
        }
        if ratio_column {
            header += &format!(" {:>8}", "gpu/cpu");
        }
        lines.push(header);
        let cell = |figure: Option<StageFigure>| match figure {
            Some(f) => format!(
                " {:>12.2} {:>12.1}",
                f.median_seconds * 1e3,
                f.megapixels_per_second
            ),
            None => format!(" {:>12} {:>12}", "-", "-"),
        };
        let shared = |figure: Option<StageFigure>| {
            (0..self.devices.len())
                .map(|_| cell(figure))
                .collect::<String>()
        };
        type Stage = fn(&DeviceFigures) -> Option<StageFigure>;
        let stages: [(&str, Stage); 4] = [
            ("upload (per scene)", |d| d.upload),
            ("kernel", |d| d.kernel),
            ("readback", |d| d.readback),
            ("whole run", |d| d.end_to_end),
        ];
        if self.decode.is_some() {
            lines.push(format!(
                "{:<26}{}",
                "decode (one scene)",
                shared(self.decode)
            ));
            let label = format!("decode ({} scenes)", self.scenes);
            lines.push(format!("{label:<26}{}", shared(self.decode_archive)));
        }
        for (name, stage) in stages {
            if self.devices.iter().all(|d| stage(d).is_none()) {
                continue;
            }
            let label = match name {
                "whole run" => format!("whole run ({} scenes)", self.scenes),
                _ => name.to_string(),
            };
            let mut line = format!("{label:<26}");
            for device in &self.devices {
                line += &cell(stage(device));
            }
            if let Some((gpu, cpu)) = self.gpu_and_cpu()
                && let (Some(g), Some(c)) = (stage(gpu), stage(cpu))
            {
                line += &format!(
                    " {:>7.2}x",
                    g.megapixels_per_second / c.megapixels_per_second
                );
            }
            lines.push(line);
        }
        if let Some(decode) = self.decode_archive {
            for device in &self.devices {
                if let Some(run) = device.end_to_end {
                    lines.push(format!(
                        "whole run on {} takes {:.2}x the time of decoding its scenes",
                        device.device,
                        run.median_seconds / decode.median_seconds
                    ));
                }
            }
        }
        match self.identical {
            Some(true) => lines.push("kernel results: identical on every backend".into()),
            Some(false) => lines.push("kernel results: DIFFER between backends".into()),
            None => {}
        }
        lines.join("\n") + "\n"
    }

    fn gpu_and_cpu(&self) -> Option<(&DeviceFigures, &DeviceFigures)> {
        let find = |name: &str| self.devices.iter().find(|d| d.device == name);
        Some((find("gpu")?, find("cpu")?))
    }
}
