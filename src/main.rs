//! The `portwatch` command line: parses flags into checked settings, runs the library, reports errors.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use portwatch::Error;
use portwatch::archive::{Archive, ArchiveEntry};
use portwatch::bench;
use portwatch::cloud::CloudMasking;
use portwatch::eval::{self, Metric, Threshold};
use portwatch::kernel::DeviceChoice;
use portwatch::kernel::gpu;
use portwatch::output::{
    PairsCsv, RasterFormat, RasterWriter, events_csv, series_csv, write_atomically,
    write_failures_csv, write_png,
};
use portwatch::pair::{self, PairOptions};
use portwatch::prepare::Preparation;
use portwatch::progress::Progress;
use portwatch::regions::RegionSet;
use portwatch::report::{self, heatmap::ChangeCounts};
use portwatch::run_record::{RUN_RECORD_FILE, RunArguments, RunRecord, SceneCorrection};
use portwatch::scene::{BandSelection, DecodeOptions, SceneFormat};
use portwatch::series::measure::{MeasureOptions, SeriesRun};
use portwatch::series::{SeriesSettings, Summary, analyse, summarize};
use portwatch::store::{self, Manifest, OutputLock, Shard, Store};
use portwatch::synth::{Cadence, Format, Scenario, Size, SynthSpec, Synthesizer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "portwatch",
    version,
    about = "Change detection over archives of satellite images of ports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Measure how much each region changed between consecutive scenes of an archive; writes pairs.csv,
    /// series.csv, events.csv, summary.json, run.json, heatmap.png and background.png.
    Run(RunArgs),
    /// Build the outputs of one run from the output folders of the shards of a run (`run --shard I/N`),
    /// byte for byte those of a single run.
    Merge(MergeArgs),
    /// Write report.html in the output directory of a run: charts, events and pictures, self-contained.
    Report(ReportArgs),
    /// List the GPU adapters wgpu can use.
    Devices,
    /// Measure each stage (decode, upload, kernel, readback) and whole runs on generated data, per backend.
    Bench(BenchArgs),
    /// Score the series.csv and events.csv of a run against truth files; exits 3 when a threshold is missed.
    Eval(EvalArgs),
    /// Compare two scenes: write the change mask and print each region's changed and valid pixels.
    Pair(PairArgs),
    /// Score `pair` on the labelled real imagery of a data folder (LEVIR-CD, DSIFN-CD, OSCD RGB) beside
    /// the classical baseline, as a Markdown table.
    EvaluatePairs(EvaluatePairsArgs),
    /// Render a synthetic port archive with ground truth: scenes, masks, regions.geojson, truth.csv and
    /// truth_events.csv. Flags override the scenario's defaults.
    Synth(SynthArgs),
}

#[derive(clap::Args)]
struct EvalArgs {
    /// Directory holding truth.csv and, optionally, truth_events.csv
    #[arg(long, value_name = "DIR")]
    truth: PathBuf,
    /// Directory holding the run's series.csv and events.csv
    #[arg(long, value_name = "DIR")]
    result: PathBuf,
    /// Also write every metric, the per-month counts and the match lists as JSON to this file
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Fail (exit 3) when the berth state accuracy is below this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    min_state_accuracy: Option<f64>,
    /// Fail (exit 3) when the fraction of truly observed cells called unobserved is above this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    max_observed_called_unobserved: Option<f64>,
    /// Fail (exit 3) when the fraction of clouded cells reported unobserved is below this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    min_clouded_caught: Option<f64>,
    /// Fail (exit 3) when the arrival F1 is below this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    min_arrival_f1: Option<f64>,
    /// Fail (exit 3) when the departure F1 is below this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    min_departure_f1: Option<f64>,
    /// Fail (exit 3) when the fill-event F1 is below this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    min_fill_f1: Option<f64>,
    /// Fail (exit 3) when the clear-event F1 is below this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    min_clear_f1: Option<f64>,
    /// Fail (exit 3) when the yard occupancy mean absolute error is above this
    #[arg(long, value_name = "X", value_parser = parse_limit)]
    max_yard_mae: Option<f64>,
    /// Fail (exit 3) when the mean vessel length error, in metres, is above this
    #[arg(long, value_name = "METRES", value_parser = parse_limit)]
    max_length_error_m: Option<f64>,
}

impl EvalArgs {
    fn thresholds(&self) -> Vec<Threshold> {
        [
            (Metric::StateAccuracy, self.min_state_accuracy),
            (
                Metric::ObservedCalledUnobserved,
                self.max_observed_called_unobserved,
            ),
            (Metric::CloudedCaught, self.min_clouded_caught),
            (Metric::ArrivalF1, self.min_arrival_f1),
            (Metric::DepartureF1, self.min_departure_f1),
            (Metric::FillF1, self.min_fill_f1),
            (Metric::ClearF1, self.min_clear_f1),
            (Metric::YardMae, self.max_yard_mae),
            (Metric::LengthErrorMean, self.max_length_error_m),
        ]
        .into_iter()
        .filter_map(|(metric, limit)| {
            Some(Threshold {
                metric,
                limit: limit?,
            })
        })
        .collect()
    }
}

/// The exit status of `portwatch eval` when a metric misses its threshold (errors are 1, usage errors 2).
const THRESHOLD_MISSED: u8 = 3;
/// The exit status of `portwatch run` when it finished but left out scenes that could not be used.
const SCENES_FAILED: u8 = 4;

#[derive(clap::Args)]
struct RunArgs {
    /// Directory of scenes named by acquisition date [default: samples]
    archive: Option<PathBuf>,
    /// GeoJSON regions in pixel coordinates, or in the scenes' map coordinates when the file has a "crs"
    /// member [default: ARCHIVE/regions.geojson]
    #[arg(long)]
    regions: Option<PathBuf>,
    /// Bands to use, in this order, numbered from 1 (e.g. 4,3,2) [default: every band]
    #[arg(long, value_name = "LIST")]
    bands: Option<BandSelection>,
    /// Output directory
    #[arg(long, default_value = "portwatch-out")]
    out: PathBuf,
    #[command(flatten)]
    output: OutputFlags,
    /// Decode only part I of N (0 <= I < N) of the archive's scenes into OUT, for `portwatch merge`
    #[arg(long, value_name = "I/N", value_parser = parse_shard)]
    shard: Option<Shard>,
    /// The number of shards N when the index comes from JOB_COMPLETION_INDEX (Kubernetes),
    /// AWS_BATCH_JOB_ARRAY_INDEX (AWS Batch) or SLURM_ARRAY_TASK_ID
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "shard")]
    shards: Option<u32>,
    /// A pixel is changed when its (smoothed) magnitude, the sum over bands of |a - b|, exceeds this
    /// [default: chosen from the data, 11 x the noise level; for yards 2/3 of their occupants' contrast]
    #[arg(long)]
    threshold: Option<u32>,
    /// Smoothing radius r: magnitudes are averaged over a (2r+1)x(2r+1) window (0 to 15)
    #[arg(long, default_value_t = 1)]
    smooth: u32,
    /// Compare raw samples instead of normalizing each scene's radiometry to the background
    #[arg(long)]
    no_normalize: bool,
    /// The background of each date is the median of the K scenes around it [default: the whole archive]
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u32).range(1..))]
    background_window: Option<u32>,
    /// A region is unobserved on a date when less than this fraction of it is valid
    #[arg(long, default_value_t = 0.5, value_parser = parse_fraction)]
    min_valid: f64,
    /// Metres per pixel, for vessel lengths [default: from the GeoTIFF georeferencing, else unknown and
    /// lengths left empty]
    #[arg(long, value_parser = parse_positive)]
    gsd: Option<f64>,
    /// A berth is occupied when its occupied stretch covers at least this fraction of its length
    #[arg(long, default_value_t = 0.25, value_parser = parse_fraction)]
    berth_occupied: f64,
    /// A yard (or other region) is occupied when at least this fraction of it differs from the background
    #[arg(long, default_value_t = 0.05, value_parser = parse_fraction)]
    yard_occupied: f64,
    /// Sample value marking nodata when every band of a pixel equals it, or "none"
    #[arg(long, default_value = "0", value_parser = parse_nodata)]
    nodata: Nodata,
    /// Find each scene's clouds and their shadows against the archive's median and leave them out
    #[arg(long, value_enum, default_value_t = CloudMasking::Auto)]
    cloud_mask: CloudMasking,
    /// Resample each scene onto the archive median's grid by its measured shift before measuring
    #[arg(long)]
    align: bool,
    /// With --align, search shifts of up to this many pixels either way (0 to 16)
    #[arg(long, default_value_t = portwatch::coregister::DEFAULT_SEARCH_RADIUS)]
    search_radius: u32,
}

/// The flags of `run` and `merge` that change what is written, not the results.
#[derive(clap::Args, Clone)]
struct OutputFlags {
    /// Which backend does the work
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Also write each pair's change mask as masks/FROM_TO.png (255 = changed)
    #[arg(long)]
    masks: bool,
    /// File format of the rasters written (masks, heatmap, background): PNG, GeoTIFF carrying the scenes'
    /// georeferencing, or both
    #[arg(long, value_enum, default_value_t = RasterFormat::Png)]
    raster_format: RasterFormat,
    /// Also write report.html, as `portwatch report` does
    #[arg(long)]
    report: bool,
    /// Print nothing on stderr but errors
    #[arg(long, short)]
    quiet: bool,
    /// Exit 0 even when scenes failed to load (they are still listed in failures.csv and on stderr)
    #[arg(long)]
    allow_failures: bool,
    /// Start over when OUT holds the work or the outputs of a run with other arguments (discarding them)
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct MergeArgs {
    /// The output folders of the shards (`run --shard I/N --out OUT_I`), every one of them, in any order
    #[arg(required = true, value_name = "OUT_I")]
    shards: Vec<PathBuf>,
    /// Output directory
    #[arg(long)]
    out: PathBuf,
    #[command(flatten)]
    output: OutputFlags,
}

/// Which backends `bench` measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum BenchDevice {
    Cpu,
    Gpu,
    /// The CPU, and the GPU when wgpu finds an adapter.
    Both,
}

#[derive(clap::Args)]
struct BenchArgs {
    /// Which backends to measure
    #[arg(long, value_enum, default_value_t = BenchDevice::Both)]
    device: BenchDevice,
    /// Scene size in pixels, WIDTHxHEIGHT
    #[arg(long, default_value = "4096x4096", value_parser = parse_bench_size)]
    size: (u32, u32),
    /// Bands per pixel (1 to 16)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=16))]
    bands: u32,
    /// Bits per sample, 8 or 16
    #[arg(long, default_value_t = 8, value_parser = parse_bits)]
    bits: u32,
    /// Square regions in the kernel's scenes
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u32).range(0..=65535))]
    regions: u32,
    /// Change threshold of the kernel stages
    #[arg(long, default_value_t = 60)]
    threshold: u32,
    /// Smoothing radius of the kernel stages and whole runs (0 to 15)
    #[arg(long, default_value_t = 0)]
    smooth: u32,
    /// Also write and read back the change mask, so that every pixel is thresholded
    #[arg(long)]
    mask: bool,
    /// Measurements of each stage; the median is reported
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
    /// Scenes of the synthetic archive for decoding and whole runs; 0 measures the kernel stages only
    #[arg(long, default_value_t = 4)]
    scenes: u32,
    /// Print the figures as JSON instead of a table
    #[arg(long)]
    json: bool,
    /// Print nothing on stderr but errors
    #[arg(long, short)]
    quiet: bool,
}

/// How `pair` and `evaluate-pairs` compare a pair.
#[derive(clap::Args)]
struct PairSettingsArgs {
    /// Which backend does the work
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// A pixel is changed when its (smoothed) magnitude, the sum over bands of |a - b|, exceeds this
    /// [default: chosen from the pair, Otsu's split of its magnitudes]
    #[arg(long)]
    threshold: Option<u32>,
    /// Smoothing radius r: magnitudes are averaged over a (2r+1)x(2r+1) window (0 to 15)
    #[arg(long, default_value_t = 1)]
    smooth: u32,
    /// Sample value marking nodata when every band of a pixel equals it, or "none"
    #[arg(long, default_value = "0", value_parser = parse_nodata)]
    nodata: Nodata,
    /// Compare raw samples instead of normalizing AFTER's radiometry to BEFORE's
    #[arg(long)]
    no_normalize: bool,
    /// Find clouds and their shadows (each scene against the other) and leave them out as invalid
    #[arg(long, value_enum, default_value_t = CloudMasking::None)]
    cloud_mask: CloudMasking,
    /// Resample AFTER onto BEFORE's grid, by the shift found, before comparing
    #[arg(long)]
    align: bool,
    /// Search shifts of up to this many pixels either way (0 to 16)
    #[arg(long, default_value_t = portwatch::coregister::DEFAULT_SEARCH_RADIUS)]
    search_radius: u32,
}

impl PairSettingsArgs {
    fn options(&self) -> PairOptions {
        PairOptions {
            device: self.device,
            threshold: self.threshold,
            smooth: self.smooth,
            nodata: self.nodata.0,
            normalize: !self.no_normalize,
            clouds: self.cloud_mask,
            align: self.align,
            search_radius: self.search_radius,
        }
    }
}

#[derive(clap::Args)]
struct PairArgs {
    /// The earlier scene
    before: PathBuf,
    /// The later scene
    after: PathBuf,
    /// Bands to compare, in this order, numbered from 1 (e.g. 4,3,2) [default: every band]
    #[arg(long, value_name = "LIST")]
    bands: Option<BandSelection>,
    /// GeoJSON regions in pixel coordinates [default: the whole image as one region]
    #[arg(long)]
    regions: Option<PathBuf>,
    /// Write the change mask here as an 8-bit PNG (255 = changed)
    #[arg(long, value_name = "FILE")]
    mask_out: Option<PathBuf>,
    /// Print the results as JSON instead of a table
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    settings: PairSettingsArgs,
    /// Print nothing on stderr but errors and warnings
    #[arg(long, short)]
    quiet: bool,
}

#[derive(clap::Args)]
struct EvaluatePairsArgs {
    /// The data folder [default: $PORTWATCH_DATA, else ../shared/data]
    #[arg(long)]
    data: Option<PathBuf>,
    #[command(flatten)]
    settings: PairSettingsArgs,
}

#[derive(clap::Args)]
struct ReportArgs {
    /// The output directory of a run (holding run.json, series.csv, events.csv, summary.json, heatmap.png
    /// and background.png)
    out: PathBuf,
    /// Which backend computes the events' change masks
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// Print nothing on stderr but errors
    #[arg(long, short)]
    quiet: bool,
    /// Exit 0 even when scenes failed to load (they are still listed in failures.csv and on stderr)
    #[arg(long)]
    allow_failures: bool,
}

#[derive(clap::Args)]
struct SynthArgs {
    /// What happens at the port, and the defaults of every other flag
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Output directory, created if missing
    #[arg(long)]
    out: PathBuf,
    /// Random seed: the same seed and flags write the same bytes
    #[arg(long)]
    seed: Option<u64>,
    /// Scene size in pixels, WIDTHxHEIGHT (256 to 16384 a side)
    #[arg(long)]
    size: Option<Size>,
    /// First acquisition date, YYYY-MM-DD
    #[arg(long)]
    start: Option<chrono::NaiveDate>,
    /// Last possible acquisition date, YYYY-MM-DD
    #[arg(long)]
    end: Option<chrono::NaiveDate>,
    /// Days between acquisitions: N, or MIN-MAX drawn per gap
    #[arg(long)]
    cadence: Option<Cadence>,
    /// Stop after this many scenes
    #[arg(long)]
    scenes: Option<u32>,
    /// Ground sample distance in metres per pixel (1 to 10)
    #[arg(long)]
    gsd: Option<f64>,
    /// Scene file format
    #[arg(long, value_enum)]
    format: Option<Format>,
    /// Bits per sample: 8, or 16 (reflectance x 10000)
    #[arg(long)]
    bit_depth: Option<u8>,
    /// Bands: 3 (RGB) or 4 (RGB + near infrared)
    #[arg(long)]
    bands: Option<usize>,
    /// Sensor noise standard deviation, in levels of the 8-bit scale (0 to 50)
    #[arg(long, value_name = "DN")]
    noise: Option<f64>,
    /// Illumination gain per scene: 1 ± F for all bands plus ± F/2 per band (0 to 0.5)
    #[arg(long, value_name = "F")]
    gain_jitter: Option<f64>,
    /// Offset per scene and band: ± DN levels of the 8-bit scale (0 to 50)
    #[arg(long, value_name = "DN")]
    offset_jitter: Option<f64>,
    /// Gamma per scene and band: 1 ± G (0 to 0.5)
    #[arg(long, value_name = "G")]
    gamma_jitter: Option<f64>,
    /// Haze per scene: up to this fraction of the signal replaced by scattered light (0 to 1)
    #[arg(long, value_name = "F")]
    haze: Option<f64>,
    /// Chance that a scene has a cloud and its shadow (0 to 1)
    #[arg(long, value_name = "P")]
    cloud_probability: Option<f64>,
    /// Mis-registration: each scene shifted by up to ± PX pixels per axis, sub-pixel (0 to 1.5)
    #[arg(long, value_name = "PX")]
    misregistration: Option<f64>,
    /// Chance that a scene carries JPEG compression artifacts, quality 30 to 70 (0 to 1)
    #[arg(long, value_name = "P")]
    jpeg_probability: Option<f64>,
    /// Do not write the cloud masks (<date>.mask.png)
    #[arg(long)]
    no_masks: bool,
    /// Print nothing on stderr but errors
    #[arg(long, short)]
    quiet: bool,
}

impl SynthArgs {
    /// The scenario's defaults with the flags given laid over them; checked later by the library.
    fn spec(&self) -> SynthSpec {
        let mut spec = self.scenario.defaults();
        let n = &mut spec.nuisances;
        let knobs = [
            (&mut n.noise_dn, self.noise),
            (&mut n.gain_jitter, self.gain_jitter),
            (&mut n.offset_jitter_dn, self.offset_jitter),
            (&mut n.gamma_jitter, self.gamma_jitter),
            (&mut n.haze, self.haze),
            (&mut n.cloud_probability, self.cloud_probability),
            (&mut n.misregistration_px, self.misregistration),
            (&mut n.jpeg_probability, self.jpeg_probability),
        ];
        for (knob, flag) in knobs {
            if let Some(value) = flag {
                *knob = value;
            }
        }
        n.masks &= !self.no_masks;
        if let Some(Size { width, height }) = self.size {
            (spec.width, spec.height) = (width, height);
        }
        spec.seed = self.seed.unwrap_or(spec.seed);
        spec.start = self.start.unwrap_or(spec.start);
        spec.end = self.end.unwrap_or(spec.end);
        spec.cadence = self.cadence.unwrap_or(spec.cadence);
        spec.max_scenes = self.scenes.or(spec.max_scenes);
        spec.gsd_m = self.gsd.unwrap_or(spec.gsd_m);
        spec.format = self.format.unwrap_or(spec.format);
        spec.bits = self.bit_depth.unwrap_or(spec.bits);
        spec.bands = self.bands.unwrap_or(spec.bands);
        spec
    }
}

#[derive(Clone, Copy)]
struct Nodata(Option<u32>);

fn parse_bench_size(text: &str) -> Result<(u32, u32), String> {
    let parsed = text
        .split_once(['x', 'X'])
        .and_then(|(w, h)| Some((w.parse::<u32>().ok()?, h.parse::<u32>().ok()?)));
    match parsed {
        Some((w, h)) if (16..=65535).contains(&w) && (16..=65535).contains(&h) => Ok((w, h)),
        _ => Err(format!(
            "expected WIDTHxHEIGHT, 16 to 65535 a side, got \"{text}\""
        )),
    }
}

fn parse_bits(text: &str) -> Result<u32, String> {
    match text {
        "8" => Ok(8),
        "16" => Ok(16),
        _ => Err(format!("expected 8 or 16, got \"{text}\"")),
    }
}

fn parse_limit(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(limit) if limit.is_finite() && limit >= 0.0 => Ok(limit),
        _ => Err(format!("expected a number of at least 0, found {text:?}")),
    }
}

fn parse_fraction(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(format!("expected a fraction from 0 to 1, got \"{text}\"")),
    }
}

fn parse_positive(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(v) if v > 0.0 && v.is_finite() => Ok(v),
        _ => Err(format!("expected a positive number, got \"{text}\"")),
    }
}

fn parse_nodata(text: &str) -> Result<Nodata, String> {
    if text.eq_ignore_ascii_case("none") {
        return Ok(Nodata(None));
    }
    text.parse()
        .map(|v| Nodata(Some(v)))
        .map_err(|_| format!("expected a sample value (0 to 65535) or \"none\", found {text:?}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run(args) => run(&args),
        Command::Merge(args) => merge(&args),
        Command::Report(args) => {
            write_report(&args.out, args.device, args.quiet).map(|()| ExitCode::SUCCESS)
        }
        Command::Devices => devices().map(|()| ExitCode::SUCCESS),
        Command::Bench(args) => bench(&args).map(|()| ExitCode::SUCCESS),
        Command::Eval(args) => eval(&args),
        Command::Synth(args) => synth(&args).map(|()| ExitCode::SUCCESS),
        Command::Pair(args) => compare_pair(&args).map(|()| ExitCode::SUCCESS),
        Command::EvaluatePairs(args) => evaluate_pairs(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &RunArgs) -> Result<ExitCode> {
    let shard = shard_of_this_process(args.shard, args.shards, |name| std::env::var(name).ok())?;
    let archive_dir = args
        .archive
        .clone()
        .unwrap_or_else(|| PathBuf::from("samples"));
    let sites = match &args.regions {
        Some(_) => Vec::new(),
        None => site_folders(&archive_dir)?,
    };
    if sites.is_empty() {
        let regions_path = args
            .regions
            .clone()
            .unwrap_or_else(|| archive_dir.join("regions.geojson"));
        let (archive, regions) = read_inputs(&archive_dir, &regions_path, selected_bands(args))?;
        let arguments = run_arguments(args, &archive_dir, &regions_path)?;
        let part = shard.map(|shard| Part {
            shard,
            first_item: 0,
        });
        let outcome = run_site(&archive, &regions, arguments, &args.out, &args.output, part)?;
        return Ok(exit_status(&args.output, outcome.failed));
    }
    let mut outcomes = Vec::new();
    let mut first_item = 0;
    for site in &sites {
        let site_dir = archive_dir.join(site);
        let regions_path = site_dir.join("regions.geojson");
        let (archive, regions) = read_inputs(&site_dir, &regions_path, selected_bands(args))?;
        let arguments = run_arguments(args, &site_dir, &regions_path)?;
        let part = shard.map(|shard| Part { shard, first_item });
        let out = args.out.join(site);
        let outcome = run_site(&archive, &regions, arguments, &out, &args.output, part)
            .with_context(|| format!("site {site}"))?;
        first_item += outcome.entries;
        outcomes.push((site.clone(), outcome));
    }
    finish_batch(&args.out, &args.output, &outcomes, shard)
}

/// The sites of an archive root that holds one folder per site: its sub-folders holding a
/// `regions.geojson`, by name; none when the root has a `regions.geojson` of its own.
fn site_folders(root: &Path) -> Result<Vec<String>> {
    if root.join("regions.geojson").exists() {
        return Ok(Vec::new());
    }
    let Ok(listing) = std::fs::read_dir(root) else {
        // Archive::scan names the folder and what is wrong with it.
        return Ok(Vec::new());
    };
    let mut sites = Vec::new();
    for item in listing {
        let path = item
            .with_context(|| format!("cannot list {}", root.display()))?
            .path();
        if path.is_dir() && path.join("regions.geojson").is_file() {
            sites.push(store::file_name(&path));
        }
    }
    sites.sort();
    Ok(sites)
}

/// The per-site outputs are written; a whole batch also writes the combined `summary.json`.
fn finish_batch(
    out: &Path,
    flags: &OutputFlags,
    outcomes: &[(String, SiteOutcome)],
    shard: Option<Shard>,
) -> Result<ExitCode> {
    if shard.is_some() {
        return Ok(ExitCode::SUCCESS);
    }
    let sites: Vec<serde_json::Value> = outcomes
        .iter()
        .map(|(site, outcome)| {
            serde_json::json!({
                "site": site,
                "scenes": outcome.entries,
                "failed_scenes": outcome.failed,
                "summary": outcome.summary,
            })
        })
        .collect();
    let json = serde_json::to_string_pretty(&serde_json::json!({ "sites": sites }))
        .context("cannot encode summary.json")?;
    write_atomically(&out.join("summary.json"), (json + "\n").as_bytes())?;
    if !flags.quiet {
        eprintln!(
            "portwatch: {} sites; wrote {}",
            outcomes.len(),
            out.join("summary.json").display()
        );
    }
    let failed = outcomes.iter().map(|(_, outcome)| outcome.failed).sum();
    Ok(exit_status(flags, failed))
}

/// Exit 0, or [`SCENES_FAILED`] when scenes were left out and that is not allowed.
fn exit_status(flags: &OutputFlags, failed: usize) -> ExitCode {
    if failed > 0 && !flags.allow_failures {
        ExitCode::from(SCENES_FAILED)
    } else {
        ExitCode::SUCCESS
    }
}

/// The shard this process runs: `--shard I/N`; else, with `--shards N`, the index of this task of a
/// Kubernetes Indexed Job, an AWS Batch array job or a Slurm job array; else, without either flag, the
/// task of a Slurm job array (its index and count); else none.
fn shard_of_this_process(
    flag: Option<Shard>,
    shards: Option<u32>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<Option<Shard>> {
    if flag.is_some() {
        return Ok(flag);
    }
    let number = |name: &str| -> Result<Option<u32>> {
        env(name)
            .map(|value| {
                value.trim().parse::<u32>().with_context(|| {
                    format!("environment variable {name}={value:?} is not a shard index or count")
                })
            })
            .transpose()
    };
    let slurm_index = match number("SLURM_ARRAY_TASK_ID")? {
        Some(id) => {
            let first = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            Some((
                id.checked_sub(first).with_context(|| {
                    format!("SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {first}")
                })?,
                "SLURM_ARRAY_TASK_ID",
            ))
        }
        None => None,
    };
    let slurm_count = number("SLURM_ARRAY_TASK_COUNT")?;
    let (index, count, source) = match shards {
        Some(count) => {
            let index = [
                ("JOB_COMPLETION_INDEX", number("JOB_COMPLETION_INDEX")?),
                (
                    "AWS_BATCH_JOB_ARRAY_INDEX",
                    number("AWS_BATCH_JOB_ARRAY_INDEX")?,
                ),
            ]
            .into_iter()
            .find_map(|(name, index)| Some((index?, name)))
            .or(slurm_index);
            let Some((index, source)) = index else {
                bail!(
                    "--shards {count} takes the shard index from JOB_COMPLETION_INDEX, AWS_BATCH_JOB_ARRAY_INDEX or SLURM_ARRAY_TASK_ID, and none is set; give --shard I/N instead"
                );
            };
            if let Some(slurm) =
                slurm_count.filter(|&n| source == "SLURM_ARRAY_TASK_ID" && n != count)
            {
                bail!("--shards {count} but SLURM_ARRAY_TASK_COUNT is {slurm}");
            }
            (index, count, source)
        }
        None => match (slurm_index, slurm_count) {
            (Some((index, source)), Some(count)) => (index, count, source),
            _ => return Ok(None),
        },
    };
    if index >= count {
        bail!(
            "{source} gives shard {index}, but there are {count} shards (0 to {})",
            count - 1
        );
    }
    Ok(Some(Shard { index, count }))
}

fn parse_shard(text: &str) -> Result<Shard, String> {
    let parsed = text
        .split_once('/')
        .and_then(|(i, n)| Some((i.parse::<u32>().ok()?, n.parse::<u32>().ok()?)));
    match parsed {
        Some((index, count)) if index < count => Ok(Shard { index, count }),
        _ => Err(format!(
            "expected I/N with 0 <= I < N (shards count from 0), found {text:?}"
        )),
    }
}

/// Which scenes of a site a shard decodes: the site's scenes are items `first_item..` of the work list
/// (the sites' scenes one site after another, by site name).
#[derive(Clone, Copy)]
struct Part {
    shard: Shard,
    first_item: usize,
}

/// What one site's run ended with.
struct SiteOutcome {
    /// Scenes in the archive.
    entries: usize,
    failed: usize,
    /// `None` for a shard, which measures nothing.
    summary: Option<Summary>,
}

/// Runs one archive into `out`: its scenes decoded into the work store (those of `part` only for a
/// shard, which stops there), then measured, resuming from whatever the store holds.
fn run_site(
    archive: &Archive,
    regions: &RegionSet,
    arguments: RunArguments,
    out: &Path,
    flags: &OutputFlags,
    part: Option<Part>,
) -> Result<SiteOutcome> {
    let store = Store::new(out);
    let manifest = Manifest::new(arguments, part.map(|p| p.shard), &archive.entries);
    let (created, _lock) = prepare_out(out, &store, &manifest, flags)?;
    let result = decode_and_measure(archive, regions, &manifest, &store, out, flags, part);
    if let Err(error) = &result {
        // Bad input or a missing GPU must be fixed first, and a store that holds no scene saves
        // nothing: neither is kept. A failed write (a full disk) leaves the finished work for the next
        // attempt, as a kill does.
        let bad_input = error
            .downcast_ref::<Error>()
            .is_some_and(|e| !matches!(e, Error::Write { .. }));
        if bad_input || !store.holds_scenes() {
            let _ = store.remove();
            if created {
                let _ = std::fs::remove_dir(out);
            }
        }
    }
    result
}

/// Creates `out` (saying whether it was created), holds it for this process while the returned lock lives,
/// and readies its work store for `manifest`: refuses a store or finished run made with other arguments
/// unless `--force`, which discards them.
fn prepare_out(
    out: &Path,
    store: &Store,
    manifest: &Manifest,
    flags: &OutputFlags,
) -> Result<(bool, OutputLock)> {
    let created = !out.exists();
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let lock = OutputLock::acquire(out)?;
    let previous = match Manifest::read(store.work_dir()) {
        Err(_) if flags.force => {
            store.remove()?;
            None
        }
        previous => previous?,
    };
    let conflict = match &previous {
        Some(previous) => manifest_difference(previous, manifest),
        None if manifest.shard.is_none() => RunRecord::read(out)
            .ok()
            .and_then(|record| arguments_difference(&record.arguments, &manifest.arguments)),
        None => None,
    };
    if let Some(difference) = &conflict {
        if !flags.force {
            bail!(
                "{} holds the work or outputs of a run made with other arguments ({difference}); run again with the same arguments to resume it, or add --force to discard it and start over",
                out.display()
            );
        }
        store.remove()?;
        let masks = out.join("masks");
        if masks.is_dir() {
            std::fs::remove_dir_all(&masks)
                .with_context(|| format!("cannot remove {}", masks.display()))?;
        }
    } else if previous
        .as_ref()
        .is_some_and(|p| p.scenes != manifest.scenes || p.regions_file != manifest.regions_file)
    {
        // Scenes were added or removed, or the regions changed: what was measured is of no use.
        store.discard_checkpoints()?;
    }
    if conflict.is_some() || previous.as_ref() != Some(manifest) {
        manifest.write(store.work_dir()).inspect_err(|_| {
            if !store.holds_scenes() {
                let _ = store.remove();
            }
        })?;
    }
    for dir in [out.to_path_buf(), out.join("masks")] {
        remove_stale_temporaries(&dir)?;
    }
    store.remove_stale_temporaries()?;
    Ok((created, lock))
}

/// What differs between the arguments of two runs, field by field, or `None` when nothing does.
fn arguments_difference(before: &RunArguments, now: &RunArguments) -> Option<String> {
    let (before, now) = (serde_json::json!(before), serde_json::json!(now));
    let (Some(before), Some(now)) = (before.as_object(), now.as_object()) else {
        return None;
    };
    let differences: Vec<String> = now
        .iter()
        .filter(|(field, value)| before.get(*field) != Some(*value))
        .map(|(field, value)| {
            let shown = |value: Option<&serde_json::Value>| match value {
                None | Some(serde_json::Value::Null) => "not set".to_owned(),
                Some(value) => value.to_string(),
            };
            format!(
                "{field} was {}, now {}",
                shown(before.get(field)),
                shown(Some(value))
            )
        })
        .collect();
    (!differences.is_empty()).then(|| differences.join("; "))
}

fn manifest_difference(before: &Manifest, now: &Manifest) -> Option<String> {
    let describe = |shard: Option<Shard>| {
        shard.map_or("a whole run".to_owned(), |s| {
            format!("shard {}/{}", s.index, s.count)
        })
    };
    let shard = (before.shard != now.shard).then(|| {
        format!(
            "it was {}, now {}",
            describe(before.shard),
            describe(now.shard)
        )
    });
    let version = (before.version != now.version || before.portwatch != now.portwatch).then(|| {
        format!(
            "it was made by portwatch {} (store version {}), this is {}",
            before.portwatch, before.version, now.portwatch
        )
    });
    let parts: Vec<String> = [
        arguments_difference(&before.arguments, &now.arguments),
        shard,
        version,
    ]
    .into_iter()
    .flatten()
    .collect();
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Removes the temporary files (`.NAME.PID.tmp`) that a killed run left in `dir`.
fn remove_stale_temporaries(dir: &Path) -> Result<()> {
    store::remove_temporaries(dir).with_context(|| format!("cannot clean {}", dir.display()))
}

fn decode_and_measure(
    archive: &Archive,
    regions: &RegionSet,
    manifest: &Manifest,
    store: &Store,
    out: &Path,
    flags: &OutputFlags,
    part: Option<Part>,
) -> Result<SiteOutcome> {
    let items: Vec<&ArchiveEntry> = (archive.entries.iter().enumerate())
        .filter(|(index, _)| part.is_none_or(|p| p.shard.covers(p.first_item + index)))
        .map(|(_, entry)| entry)
        .collect();
    let progress = Mutex::new(Progress::new(
        items.len() as u64,
        "scenes read",
        flags.quiet,
    ));
    let decoded = store.decode_missing(&items, &archive.decode, |entry| {
        let mut progress = progress.lock().unwrap_or_else(|e| e.into_inner());
        progress.advance(&store::file_name(&entry.image));
    })?;
    let progress = progress.into_inner().unwrap_or_else(|e| e.into_inner());
    progress.finish();
    if decoded > 0 {
        // Anything measured before was measured from scenes that have changed or were not there.
        store.discard_checkpoints()?;
    }
    if decoded < items.len() {
        progress.say(&format!(
            "{} of {} scenes already decoded in {}",
            items.len() - decoded,
            items.len(),
            store.work_dir().display()
        ));
    }
    if let Some(part) = part {
        progress.say(&format!(
            "shard {}/{}: {} of the archive's {} scenes decoded into {}; build the outputs with `portwatch merge` over every shard's folder",
            part.shard.index,
            part.shard.count,
            items.len(),
            archive.entries.len(),
            store.work_dir().display()
        ));
        return Ok(SiteOutcome {
            entries: archive.entries.len(),
            failed: 0,
            summary: None,
        });
    }
    let arguments = manifest.arguments.clone();
    measure_site(archive, regions, arguments, store, out, flags)
}

/// Measures every date from the scenes in the store and writes the outputs; removes the store after.
fn measure_site(
    archive: &Archive,
    regions: &RegionSet,
    arguments: RunArguments,
    store: &Store,
    out: &Path,
    flags: &OutputFlags,
) -> Result<SiteOutcome> {
    let started = Instant::now();
    let options = MeasureOptions {
        threshold: arguments.threshold,
        radius: arguments.smooth,
        nodata: arguments.nodata,
        normalize: arguments.normalize,
        window: arguments.background_window.map(|k| k as usize),
        min_valid_fraction: arguments.min_valid,
        pair_masks: true,
        preparation: Preparation {
            clouds: arguments.cloud_mask,
            align: arguments.align,
            search_radius: arguments.search_radius,
        },
    };
    let series_settings = SeriesSettings {
        min_valid_fraction: arguments.min_valid,
        berth_occupied_above: arguments.berth_occupied,
        yard_occupied_above: arguments.yard_occupied,
        gsd_m: arguments.gsd,
        ..SeriesSettings::default()
    };
    let georeference = archive.georeference();
    let rasters = RasterWriter {
        format: flags.raster_format,
        georeference,
    };
    let series = SeriesRun::from_store(archive, store, regions, flags.device, options)?;
    let series_settings = SeriesSettings {
        gsd_m: series_settings.gsd_m.or_else(|| {
            let format = series.format();
            let georeference = rasters.georeference.as_ref()?;
            match georeference.ground_sample_distance(format.width, format.height) {
                Ok(gsd) => Some(gsd),
                Err(why) => {
                    eprintln!("portwatch: vessel lengths left empty: {why}; give --gsd");
                    None
                }
            }
        }),
        ..series_settings
    };
    // Failed scenes are reported even with --quiet: they change the exit status.
    for failure in series.failures() {
        eprintln!("portwatch: scene left out, its date unobserved: {failure}");
    }
    let failed = series.failures().len();
    let scene_count = series.scene_count();
    let mut progress = Progress::new(scene_count as u64, "scenes", flags.quiet);
    progress.say(&format!("backend {}", series.backend()));
    progress.say(&format!(
        "{scene_count} scenes of {}{}, {} regions, smoothing radius {}",
        series.format(),
        match failed {
            0 => String::new(),
            n => format!(" ({n} more failed)"),
        },
        regions.regions.len(),
        arguments.smooth
    ));
    let failures = series.failures().to_vec();
    let pixels = series.format().pixel_count() as f64;
    let masks_dir = out.join("masks");
    if flags.masks {
        std::fs::create_dir_all(&masks_dir)
            .with_context(|| format!("cannot create {}", masks_dir.display()))?;
    }
    let pairs_path = out.join("pairs.csv");
    let mut pairs = PairsCsv::create(&pairs_path)?;
    let format = series.format();
    let mut change_counts = ChangeCounts::new(format.width, format.height);
    let measurements = series.run(&mut progress, |pair| {
        pairs.add_pair(pair.from, pair.to, &regions.regions, &pair.stats.regions)?;
        let mask = pair
            .stats
            .change_mask
            .as_ref()
            .expect("the series hands over pair masks when asked");
        change_counts.add(mask);
        if flags.masks {
            rasters.write_mask(
                &masks_dir.join(mask_name(&pair.from.to_string(), &pair.to.to_string())),
                mask,
            )?;
        }
        Ok(())
    })?;
    let analysis = analyse(&measurements.regions, &measurements.cells, &series_settings);
    let dates: Vec<_> = measurements.acquisitions.iter().map(|a| a.date).collect();
    let summary = summarize(&dates, &measurements.regions, &analysis);
    let acquisitions = &measurements.acquisitions;
    pairs.commit()?;
    write_atomically(
        &out.join("series.csv"),
        series_csv(acquisitions, &measurements.regions, &analysis).as_bytes(),
    )?;
    write_atomically(
        &out.join("events.csv"),
        events_csv(acquisitions, &measurements.regions, &analysis).as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&summary).context("cannot encode summary.json")?;
    write_atomically(&out.join("summary.json"), (json + "\n").as_bytes())?;
    write_failures_csv(&out.join("failures.csv"), &failures)?;
    report::write_run_images(out, &measurements.background, &change_counts, &rasters)?;
    let clouds_masked = arguments.cloud_mask == CloudMasking::Auto;
    let corrections = (acquisitions.iter().zip(&measurements.radiometry))
        .zip(&measurements.prepared)
        .filter_map(|((&acquired, radiometry), prepared)| {
            let correction =
                SceneCorrection::new(acquired, radiometry.as_ref()?, format.bands as usize);
            Some(match prepared {
                Some(prepared) => correction.with_preparation(prepared, clouds_masked),
                None => correction,
            })
        })
        .collect();
    let record = RunRecord::new(
        arguments,
        measurements.thresholds.port.base,
        corrections,
        flags.raster_format,
    );
    write_atomically(&out.join(RUN_RECORD_FILE), record.to_json().as_bytes())?;
    store.remove()?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let pair_count = scene_count.saturating_sub(1);
    progress.say(&format!(
        "{scene_count} scenes, {pair_count} pairs, {} events, {:.1} Mpx compared in {seconds:.2} s ({:.1} Mpx/s); wrote pairs.csv, series.csv, events.csv, summary.json, failures.csv, run.json, heatmap and background ({}) in {}",
        analysis.events.len(),
        pixels * pair_count as f64 / 1e6,
        pixels * pair_count as f64 / 1e6 / seconds,
        flags.raster_format.extensions().join(", "),
        out.display()
    ));
    if flags.report {
        write_report(out, flags.device, flags.quiet)?;
    }
    if failed > 0 {
        eprintln!(
            "portwatch: {failed} of {} scenes failed and were left out (listed in {})",
            archive.entries.len(),
            out.join("failures.csv").display()
        );
    }
    Ok(SiteOutcome {
        entries: archive.entries.len(),
        failed,
        summary: Some(summary),
    })
}

/// `portwatch merge`: checks that the shards' folders are every shard of one run, gathers their
/// decoded scenes into the store of `--out` and measures from there, site by site for a batch.
fn merge(args: &MergeArgs) -> Result<ExitCode> {
    let sites = shard_sites(&args.shards[0])?;
    for shard in &args.shards[1..] {
        let others = shard_sites(shard)?;
        if others != sites {
            bail!(
                "{} and {} are not shards of the same run: they hold different sites",
                args.shards[0].display(),
                shard.display()
            );
        }
    }
    let mut outcomes = Vec::new();
    let mut first_item = 0;
    for site in &sites {
        let in_site = |dir: &Path| site.as_ref().map_or(dir.to_path_buf(), |s| dir.join(s));
        let shards: Vec<PathBuf> = args.shards.iter().map(|dir| in_site(dir)).collect();
        let out = in_site(&args.out);
        let merged = merge_site(&shards, &out, &args.output, first_item);
        let outcome = match site {
            Some(site) => merged.with_context(|| format!("site {site}"))?,
            None => merged?,
        };
        first_item += outcome.entries;
        outcomes.push((site.clone().unwrap_or_default(), outcome));
    }
    match sites.as_slice() {
        [None] => Ok(exit_status(&args.output, outcomes[0].1.failed)),
        _ => finish_batch(&args.out, &args.output, &outcomes, None),
    }
}

/// The sites of a shard's folder: `[None]` for a single archive (the folder holds a work store), else the
/// name of each sub-folder that holds one.
fn shard_sites(dir: &Path) -> Result<Vec<Option<String>>> {
    let has_store = |dir: &Path| {
        dir.join(store::WORK_DIR)
            .join(store::MANIFEST_FILE)
            .is_file()
    };
    if has_store(dir) {
        return Ok(vec![None]);
    }
    let listing = std::fs::read_dir(dir)
        .with_context(|| format!("cannot list the shard folder {}", dir.display()))?;
    let mut sites = Vec::new();
    for item in listing {
        let path = item
            .with_context(|| format!("cannot list {}", dir.display()))?
            .path();
        if has_store(&path) {
            sites.push(Some(store::file_name(&path)));
        }
    }
    if sites.is_empty() {
        bail!(
            "{} holds no shard's work ({}/{}): is it the --out of `portwatch run --shard I/N`, and did that run finish?",
            dir.display(),
            store::WORK_DIR,
            store::MANIFEST_FILE
        );
    }
    sites.sort();
    Ok(sites)
}

/// Merges the shards of one site into `out`.
fn merge_site(
    shards: &[PathBuf],
    out: &Path,
    flags: &OutputFlags,
    first_item: usize,
) -> Result<SiteOutcome> {
    let manifests = shards
        .iter()
        .map(|dir| {
            let work = dir.join(store::WORK_DIR);
            Manifest::read(&work)?
                .with_context(|| format!("{} holds no shard's work", dir.display()))
        })
        .collect::<Result<Vec<Manifest>>>()?;
    let count = shards.len();
    let mut by_index: Vec<Option<&Path>> = vec![None; count];
    for (dir, manifest) in shards.iter().zip(&manifests) {
        let Some(shard) = manifest.shard else {
            bail!(
                "{} holds the work of a whole run, not of a shard (`run --shard I/N`)",
                dir.display()
            );
        };
        if shard.count as usize != count {
            bail!(
                "{} is shard {}/{} but {count} shard folders were given: give all {} of them",
                dir.display(),
                shard.index,
                shard.count,
                shard.count
            );
        }
        if let Some(difference) = manifest_difference(
            &Manifest {
                shard: Some(shard),
                ..manifests[0].clone()
            },
            manifest,
        ) {
            bail!(
                "{} and {} are not shards of the same run: {difference}",
                shards[0].display(),
                dir.display()
            );
        }
        if manifest.scenes != manifests[0].scenes {
            bail!(
                "{} and {} saw different archive listings: the archive changed while the shards ran",
                shards[0].display(),
                dir.display()
            );
        }
        if let Some(other) = by_index[shard.index as usize].replace(dir) {
            bail!(
                "shard {}/{count} given twice: {} and {}",
                shard.index,
                other.display(),
                dir.display()
            );
        }
    }
    let arguments = manifests[0].arguments.clone();
    let (archive, regions) = read_inputs(
        &arguments.archive,
        &arguments.regions,
        arguments.bands.as_deref(),
    )?;
    let whole = Manifest::new(arguments.clone(), None, &archive.entries);
    if whole.scenes != manifests[0].scenes {
        bail!(
            "the archive {} has changed since the shards ran: run them again",
            arguments.archive.display()
        );
    }
    let store = Store::new(out);
    let (_, lock) = prepare_out(out, &store, &whole, flags)?;
    for (index, entry) in archive.entries.iter().enumerate() {
        let shard = (first_item + index) % count;
        let dir = by_index[shard].expect("every shard index was given once");
        let source = Store::new(dir).scene_path(entry);
        if !source.is_file() {
            bail!(
                "{} has not finished: it holds no entry for {}; run shard {shard}/{count} again (it resumes)",
                dir.display(),
                entry.image.display()
            );
        }
        store
            .adopt_scene(entry, &source)
            .with_context(|| format!("cannot gather {}", source.display()))?;
    }
    // `run_site` holds the folder again to measure: should another process take it in between, `run_site`
    // is refused, so no two processes ever write it at once.
    drop(lock);
    run_site(&archive, &regions, arguments, out, flags, None)
}

/// The archive's listing and the regions, read before anything is written.
/// The archive, its scenes to be decoded with `bands` picked, and the regions in its pixel grid.
fn read_inputs(
    archive: &Path,
    regions: &Path,
    bands: Option<&[u32]>,
) -> Result<(Archive, RegionSet)> {
    let bands = bands
        .map(|bands| BandSelection::new(bands.to_vec()))
        .transpose()
        .map_err(anyhow::Error::msg)?;
    let archive = Archive::scan(archive)?.with_decode_options(DecodeOptions { bands });
    let regions = RegionSet::read(regions)?.in_pixels(archive.georeference().as_ref())?;
    Ok((archive, regions))
}

/// The `--bands` numbers, if given.
fn selected_bands(args: &RunArgs) -> Option<&[u32]> {
    args.bands.as_ref().map(BandSelection::bands)
}

/// The arguments of a run as `run.json` records them, paths made absolute.
fn run_arguments(args: &RunArgs, archive: &Path, regions: &Path) -> Result<RunArguments> {
    let absolute = |path: &Path| {
        std::fs::canonicalize(path).with_context(|| format!("cannot resolve {}", path.display()))
    };
    Ok(RunArguments {
        archive: absolute(archive)?,
        regions: absolute(regions)?,
        threshold: args.threshold,
        smooth: args.smooth,
        normalize: !args.no_normalize,
        background_window: args.background_window,
        min_valid: args.min_valid,
        gsd: args.gsd,
        berth_occupied: args.berth_occupied,
        yard_occupied: args.yard_occupied,
        nodata: args.nodata.0,
        cloud_mask: args.cloud_mask,
        align: args.align,
        search_radius: args.search_radius,
        bands: selected_bands(args).map(<[u32]>::to_vec),
    })
}

/// Writes `report.html` in `out`, saying on stderr what it holds unless `quiet`.
fn write_report(out: &Path, device: DeviceChoice, quiet: bool) -> Result<()> {
    let contents = report::write_report(out, device)?;
    if !quiet {
        let backend = contents
            .backend
            .map_or_else(String::new, |b| format!("; event masks by backend {b}"));
        eprintln!(
            "portwatch: wrote {} ({} regions, {} events{backend})",
            out.join(report::REPORT_FILE).display(),
            contents.regions,
            contents.events
        );
    }
    Ok(())
}

/// `FROM_TO` (the extension follows) with the acquisition times made safe for every file system.
fn mask_name(from: &str, to: &str) -> String {
    format!("{}_{}", from.replace(':', ""), to.replace(':', ""))
}

fn eval(args: &EvalArgs) -> Result<ExitCode> {
    let report = eval::evaluate(&args.truth, &args.result)?;
    let verdicts: Vec<_> = args.thresholds().iter().map(|t| t.judge(&report)).collect();
    if report.cells_missing_from_result > 0 {
        eprintln!(
            "portwatch: warning: {} of {} truth cells have no row in {}; they are left out of the cell metrics",
            report.cells_missing_from_result,
            report.truth_cells,
            args.result.join(eval::tables::RESULT_CELLS_FILE).display()
        );
    }
    if let Some(reason) = &report.events_unavailable {
        eprintln!("portwatch: event metrics are not available: {reason}");
    }
    let table = eval::render_table(&report, &verdicts);
    match std::io::stdout().write_all(table.as_bytes()) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(error).context("cannot write the table to stdout");
        }
        _ => {}
    }
    if let Some(path) = &args.json {
        write_atomically(path, eval::to_json(&report, &verdicts).as_bytes())?;
    }
    let failures: Vec<&str> = verdicts
        .iter()
        .filter_map(|v| v.failure.as_deref())
        .collect();
    for failure in &failures {
        eprintln!("portwatch: threshold missed: {failure}");
    }
    Ok(if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(THRESHOLD_MISSED)
    })
}

fn compare_pair(args: &PairArgs) -> Result<()> {
    let regions = args.regions.as_deref().map(RegionSet::read).transpose()?;
    let decode = DecodeOptions {
        bands: args.bands.clone(),
    };
    let before = pair::load_scene(&args.before, &decode)?;
    let after = pair::load_scene(&args.after, &decode)?;
    let names = [args.before.as_path(), args.after.as_path()];
    let options = args.settings.options();
    let result = pair::compare(before, after, names, regions.as_ref(), &options)?;
    if let Some(path) = &args.mask_out {
        write_png(path, &result.mask.to_image())?;
    }
    if !args.quiet {
        for line in result.log_lines(names) {
            eprintln!("portwatch: {line}");
        }
    }
    if let Some(shift) = result.shift.filter(|s| s.worth_warning()) {
        eprintln!(
            "portwatch: warning: {} is shifted by ({:.2}, {:.2}) px against {}{}",
            args.after.display(),
            shift.dx,
            shift.dy,
            args.before.display(),
            if result.aligned {
                "; resampled onto it (--align)"
            } else {
                "; --align resamples it before comparing"
            }
        );
    }
    let text = if args.json {
        result.to_json(names, options.smooth)
    } else {
        result.table()
    };
    std::io::stdout()
        .write_all(text.as_bytes())
        .context("cannot write the results to stdout")
}

fn evaluate_pairs(args: &EvaluatePairsArgs) -> Result<()> {
    let data = args
        .data
        .clone()
        .unwrap_or_else(pair::evaluation::data_folder);
    if !data.is_dir() {
        bail!("data folder {} does not exist", data.display());
    }
    let scores = pair::evaluation::evaluate(&data, &args.settings.options())?;
    if scores.is_empty() {
        bail!("no dataset found in {}", data.display());
    }
    print!("{}", pair::evaluation::render_table(&scores));
    Ok(())
}

fn synth(args: &SynthArgs) -> Result<()> {
    let synthesizer = Synthesizer::new(&args.spec())?;
    let scenes = synthesizer.dates().len();
    let mut progress = Progress::new(scenes as u64, "scenes", args.quiet);
    progress.say(&format!(
        "synth {}: {scenes} scenes, {} regions, into {}",
        args.scenario,
        synthesizer.regions().len(),
        args.out.display()
    ));
    synthesizer.write(&args.out, |name| progress.advance(name))?;
    progress.finish();
    progress.say(&format!(
        "wrote {scenes} scenes and their truth in {:.1} s",
        progress.elapsed_seconds()
    ));
    Ok(())
}

fn bench(args: &BenchArgs) -> Result<()> {
    let progress = Progress::new(0, "stages", args.quiet);
    let devices = match args.device {
        BenchDevice::Cpu => vec![DeviceChoice::Cpu],
        BenchDevice::Gpu => vec![DeviceChoice::Gpu],
        BenchDevice::Both if gpu::adapters().is_empty() => {
            progress.warn("no GPU adapter found: measuring the CPU only");
            vec![DeviceChoice::Cpu]
        }
        BenchDevice::Both => vec![DeviceChoice::Cpu, DeviceChoice::Gpu],
    };
    let (width, height) = args.size;
    let spec = bench::BenchSpec {
        format: SceneFormat {
            width,
            height,
            bands: args.bands,
            bits_per_sample: args.bits,
        },
        regions: args.regions,
        threshold: args.threshold,
        radius: args.smooth,
        change_mask: args.mask,
        repeat: args.repeat as usize,
        scenes: args.scenes,
    };
    let report = bench::run(&spec, &devices, &progress)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.table());
    }
    if report.identical == Some(false) {
        bail!("the backends' kernel results differ");
    }
    Ok(())
}

fn devices() -> Result<()> {
    let adapters = gpu::adapters();
    if adapters.is_empty() {
        bail!(
            "no GPU adapter found (set WGPU_BACKEND to try other backends; --device cpu needs none)"
        );
    }
    for (info, largest_buffer) in adapters {
        let mib = largest_buffer >> 20;
        println!(
            "{}; largest storage buffer {mib} MiB",
            gpu::describe_adapter(&info)
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard_from(
        flag: Option<Shard>,
        shards: Option<u32>,
        vars: &[(&str, &str)],
    ) -> Result<Option<Shard>> {
        shard_of_this_process(flag, shards, |name| {
            vars.iter()
                .find(|(var, _)| *var == name)
                .map(|(_, value)| value.to_string())
        })
    }

    #[test]
    fn shards_come_from_the_flag_or_the_schedulers_variables() {
        let shard = |index, count| Some(Shard { index, count });
        let given = shard(1, 3);
        assert_eq!(
            shard_from(given, None, &[("JOB_COMPLETION_INDEX", "2")]).unwrap(),
            given
        );
        assert_eq!(
            shard_from(None, None, &[("JOB_COMPLETION_INDEX", "2")]).unwrap(),
            None
        );
        assert_eq!(
            shard_from(None, Some(4), &[("JOB_COMPLETION_INDEX", "2")]).unwrap(),
            shard(2, 4)
        );
        assert_eq!(
            shard_from(None, Some(4), &[("AWS_BATCH_JOB_ARRAY_INDEX", "3")]).unwrap(),
            shard(3, 4)
        );
        let slurm = [
            ("SLURM_ARRAY_TASK_ID", "5"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "8"),
        ];
        assert_eq!(shard_from(None, None, &slurm).unwrap(), shard(4, 8));
        assert_eq!(shard_from(None, Some(8), &slurm).unwrap(), shard(4, 8));
        let refused = |shards, vars: &[(&str, &str)], says: &str| {
            let error = shard_from(None, shards, vars).unwrap_err().to_string();
            assert!(error.contains(says), "{error:?} should say {says:?}");
        };
        refused(Some(4), &[], "none is set");
        refused(
            Some(4),
            &[("JOB_COMPLETION_INDEX", "4")],
            "JOB_COMPLETION_INDEX gives shard 4",
        );
        refused(
            Some(4),
            &[("JOB_COMPLETION_INDEX", "x")],
            "JOB_COMPLETION_INDEX=\"x\"",
        );
        refused(Some(3), &slurm, "SLURM_ARRAY_TASK_COUNT is 8");
        assert_eq!(parse_shard("0/4"), Ok(Shard { index: 0, count: 4 }));
        assert!(parse_shard("4/4").is_err() && parse_shard("1").is_err());
    }
}
