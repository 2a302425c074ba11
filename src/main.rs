//! The `portwatch` command line: parses flags into checked settings, runs the library, reports errors.

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use portwatch::archive::Archive;
use portwatch::eval::{self, Metric, Threshold};
use portwatch::kernel::DeviceChoice;
use portwatch::kernel::gpu;
use portwatch::output::{
    PairsCsv, RasterFormat, RasterWriter, events_csv, series_csv, write_atomically,
    write_failures_csv,
};
use portwatch::progress::Progress;
use portwatch::regions::RegionSet;
use portwatch::report::{self, heatmap::ChangeCounts};
use portwatch::run_record::{RUN_RECORD_FILE, RunArguments, RunRecord, SceneCorrection};
use portwatch::scene::{BandSelection, DecodeOptions};
use portwatch::series::measure::{MeasureOptions, SeriesRun};
use portwatch::series::{SeriesSettings, analyse, summarize};
use portwatch::synth::{Cadence, Format, Scenario, Size, SynthSpec, Synthesizer};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
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
    /// Write report.html in the output directory of a run: charts, events and pictures, self-contained.
    Report(ReportArgs),
    /// List the GPU adapters wgpu can use.
    Devices,
    /// Score the series.csv and events.csv of a run against truth files; exits 3 when a threshold is missed.
    Eval(EvalArgs),
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
    /// Which backend does the work
    #[arg(long, value_enum, default_value_t = DeviceChoice::Auto)]
    device: DeviceChoice,
    /// A pixel is changed when its (smoothed) magnitude, the sum over bands of |a - b|, exceeds this
    /// [default: chosen from the data, 6 x the noise level]
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
        Command::Run(args) => run(args),
        Command::Report(args) => {
            write_report(&args.out, args.device, args.quiet).map(|()| ExitCode::SUCCESS)
        }
        Command::Devices => devices().map(|()| ExitCode::SUCCESS),
        Command::Eval(args) => eval(&args),
        Command::Synth(args) => synth(&args).map(|()| ExitCode::SUCCESS),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: RunArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let archive_dir = args
        .archive
        .clone()
        .unwrap_or_else(|| PathBuf::from("samples"));
    let regions_path = args
        .regions
        .clone()
        .unwrap_or_else(|| archive_dir.join("regions.geojson"));
    let archive = Archive::scan(&archive_dir)?.with_decode_options(DecodeOptions {
        bands: args.bands.clone(),
    });
    let georeference = archive.georeference();
    let regions = RegionSet::read(&regions_path)?.in_pixels(georeference.as_ref())?;
    let arguments = run_arguments(&args, &archive_dir, &regions_path)?;
    let options = MeasureOptions {
        threshold: args.threshold,
        radius: args.smooth,
        nodata: args.nodata.0,
        normalize: !args.no_normalize,
        window: args.background_window.map(|k| k as usize),
        min_valid_fraction: args.min_valid,
        pair_masks: true,
    };
    let series_settings = SeriesSettings {
        min_valid_fraction: args.min_valid,
        berth_occupied_above: args.berth_occupied,
        yard_occupied_above: args.yard_occupied,
        gsd_m: args.gsd,
        ..SeriesSettings::default()
    };
    let rasters = RasterWriter {
        format: args.raster_format,
        georeference,
    };
    let series = SeriesRun::open(&archive, &regions, args.device, options)?;
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
    let mut progress = Progress::new(scene_count as u64, "scenes", args.quiet);
    progress.say(&format!("backend {}", series.backend()));
    progress.say(&format!(
        "{scene_count} scenes of {}{}, {} regions, smoothing radius {}",
        series.format(),
        match failed {
            0 => String::new(),
            n => format!(" ({n} more failed)"),
        },
        regions.regions.len(),
        args.smooth
    ));
    let failures = series.failures().to_vec();
    let pixels = series.format().pixel_count() as f64;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("cannot create output directory {}", args.out.display()))?;
    let masks_dir = args.out.join("masks");
    if args.masks {
        std::fs::create_dir_all(&masks_dir)
            .with_context(|| format!("cannot create {}", masks_dir.display()))?;
    }
    let pairs_path = args.out.join("pairs.csv");
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
        if args.masks {
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
        &args.out.join("series.csv"),
        series_csv(acquisitions, &measurements.regions, &analysis).as_bytes(),
    )?;
    write_atomically(
        &args.out.join("events.csv"),
        events_csv(acquisitions, &measurements.regions, &analysis).as_bytes(),
    )?;
    let json = serde_json::to_string_pretty(&summary).context("cannot encode summary.json")?;
    write_atomically(&args.out.join("summary.json"), (json + "\n").as_bytes())?;
    write_failures_csv(&args.out.join("failures.csv"), &failures)?;
    report::write_run_images(
        &args.out,
        &measurements.background,
        &change_counts,
        &rasters,
    )?;
    let corrections = (acquisitions.iter().zip(&measurements.radiometry))
        .filter_map(|(&acquired, radiometry)| {
            let radiometry = radiometry.as_ref()?;
            Some(SceneCorrection::new(
                acquired,
                radiometry,
                format.bands as usize,
            ))
        })
        .collect();
    let record = RunRecord::new(
        arguments,
        measurements.thresholds.port.base,
        corrections,
        args.raster_format,
    );
    write_atomically(&args.out.join(RUN_RECORD_FILE), record.to_json().as_bytes())?;
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let pair_count = scene_count.saturating_sub(1);
    progress.say(&format!(
        "{scene_count} scenes, {pair_count} pairs, {} events, {:.1} Mpx compared in {seconds:.2} s ({:.1} Mpx/s); wrote pairs.csv, series.csv, events.csv, summary.json, failures.csv, run.json, heatmap and background ({}) in {}",
        analysis.events.len(),
        pixels * pair_count as f64 / 1e6,
        pixels * pair_count as f64 / 1e6 / seconds,
        args.raster_format.extensions().join(", "),
        args.out.display()
    ));
    if args.report {
        write_report(&args.out, args.device, args.quiet)?;
    }
    if failed == 0 {
        return Ok(ExitCode::SUCCESS);
    }
    eprintln!(
        "portwatch: {failed} of {} scenes failed and were left out (listed in {})",
        archive.entries.len(),
        args.out.join("failures.csv").display()
    );
    Ok(if args.allow_failures {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(SCENES_FAILED)
    })
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
        bands: args.bands.as_ref().map(|bands| bands.bands().to_vec()),
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
