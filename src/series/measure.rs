//! Runs the kernel over a whole archive for the series: the background of the empty port, each scene's
//! radiometric correction, the thresholds chosen from the data, then every date against the background
//! (occupancy and profiles), against the previous scene (`pairs.csv`) and against the previous scene on
//! which each region was observed (change scores). The kernel is seen only through [`ChangeKernel`].
//!
//! The scenes are decoded once, in parallel, and held while the run lasts; or, in a run with a work store
//! ([`Store`]), left there with the backgrounds and read back when needed: a stripe of rows at a time for
//! the fits, a stripe of rows of each for the medians, and for the comparisons whole scenes or, when three
//! would not fit the stripe budget, stripes of rows of each ([`Shelf::comparison_stripes`]), so that memory
//! holds a few stripes or scenes however many the archive has ([`Shelf`]). With a store, each finished step
//! (the backgrounds and radiometry, the calibration, each measured date) is checkpointed there and taken
//! from there when the run is started again. A scene that cannot be used ([`SceneFailure`]) is left out as if it
//! were not in the archive: the backgrounds, radiometry, thresholds and pairs are those of the other scenes
//! (so the pair around it compares its neighbours), and its date stays in the series with every region
//! unobserved.

use super::settle::{self, RegionPixels, Settled};
use super::shelf::{Shelf, Stripe};
use super::threshold::{
    Basis, NOISE_MULTIPLE, OCCUPANT_CONTRAST, Thresholds, YARD_NOISE_MULTIPLE,
    YARD_SPLIT_MIN_NOISE_MULTIPLE,
};
use super::{CellMeasurement, RegionInfo, longest_stretch};
use crate::acquisition::Acquisition;
use crate::archive::{Archive, SceneFailure};
use crate::error::{Error, Result};
use crate::kernel::params::Radiometry;
use crate::kernel::{
    self, ChangeKernel, ChangeSettings, DeviceChoice, Outputs, PairStats, RegionStats, SCENE_SLOTS,
    Slot,
};
use crate::prepare::{Preparation, Prepared, prepare};
use crate::progress::Progress;
use crate::radiometry::{self, FitPixels};
use crate::rasterize::LabelRaster;
use crate::regions::RegionSet;
use crate::scene::{Scene, SceneFormat};
use crate::store::{Reader, Store, Writer};
use std::collections::BTreeMap;
use std::ops::Range;

const BACKGROUND_SLOT: Slot = 0;
/// The slots that hold dates: a date and the earlier one it is compared with, so that in a pass over the
/// dates each is loaded once.
const DATE_SLOTS: [Slot; 2] = [1, 2];

/// The store's name for the backgrounds of each date's window.
const WINDOWS: &str = "window";
/// The store's name for the background of the whole archive.
const ARCHIVE_BACKGROUND: &str = "background";
/// The store's name for the background of the whole archive once settled ([`settle::settle`]).
const SETTLED_BACKGROUND: &str = "settled-background";
/// The store's names of the checkpoints of what settling found, and of the dates against each background.
const SETTLED: &str = "settled";
const CALIBRATION: &str = "calibration";
const SETTLED_CALIBRATION: &str = "settled-calibration";

/// A scene the kernel compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Compared {
    /// A background: [`Backgrounds::of_date`].
    Background(Option<usize>),
    Date(usize),
}

/// One comparison of two scenes, `a` and `b`.
struct Comparison {
    a: Compared,
    b: Compared,
    settings: ChangeSettings,
    outputs: Outputs,
}

/// How to measure.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct MeasureOptions {
    /// The change threshold; chosen from the data when `None`.
    pub threshold: Option<u32>,
    /// Smoothing radius of the magnitudes.
    pub radius: u32,
    pub nodata: Option<u32>,
    /// Fit each scene's radiometry to the background.
    pub normalize: bool,
    /// The background of each date is the median of this many scenes around it, instead of the archive's.
    pub window: Option<usize>,
    /// A region is observed on a date when at least this fraction of it is valid.
    pub min_valid_fraction: f64,
    /// Hand each consecutive pair's change mask to the caller (`masks/`, the heatmap).
    pub pair_masks: bool,
    /// Clouds masked and scenes aligned against the median of the raw scenes, once, before measuring.
    pub preparation: Preparation,
}

/// One consecutive pair of scenes and what the kernel measured, region by region in name order.
pub struct PairResult {
    pub from: Acquisition,
    pub to: Acquisition,
    pub stats: PairStats,
}

/// What a run measured: one row of cells per date, one cell per region in name order.
pub struct Measurements {
    pub acquisitions: Vec<Acquisition>,
    pub regions: Vec<RegionInfo>,
    pub cells: Vec<Vec<CellMeasurement>>,
    pub thresholds: Thresholds,
    /// The background of the whole archive (of the corrected scenes), whatever the window.
    pub background: Scene,
    /// Each scene's radiometric correction, in acquisition order; `None` for a scene left out.
    pub radiometry: Vec<Option<Radiometry>>,
    /// What preparing each scene found, in acquisition order; `None` for a scene left out, and for all
    /// without `MeasureOptions::preparation`.
    pub prepared: Vec<Option<Prepared>>,
}

/// The backgrounds a run compares its dates against.
struct Backgrounds<'a> {
    /// Of the whole archive: one scene.
    archive: Shelf<'a>,
    /// Of each date, when a window is set; empty otherwise.
    windows: Shelf<'a>,
}

impl Backgrounds<'_> {
    /// Which background the date is compared against: `None` for the archive's, else its window's.
    fn of_date(&self, date: usize) -> Option<usize> {
        (!self.windows.is_empty()).then_some(date)
    }

    fn rows(&self, which: Option<usize>, rows: Range<u32>) -> Result<Scene> {
        match which {
            Some(date) => self.windows.rows(date, rows),
            None => self.archive.rows(0, rows),
        }
    }
}

/// What one pass over the run's scenes measured, in the order of the run's scenes.
struct Measured {
    cells: Vec<Vec<CellMeasurement>>,
    thresholds: Thresholds,
    background: Scene,
    radiometry: Vec<Radiometry>,
}

/// An archive decoded and set up for a run: its scenes, its regions rasterized, its kernel open.
pub struct SeriesRun<'a> {
    archive: &'a Archive,
    /// The scenes that could be used; `entries[i]` is the archive entry of scene `i`.
    scenes: Shelf<'a>,
    entries: Vec<usize>,
    failures: Vec<SceneFailure>,
    regions: Vec<RegionInfo>,
    /// Kept to open the CPU kernel should the GPU device be lost.
    region_set: RegionSet,
    kernel: Box<dyn ChangeKernel>,
    options: MeasureOptions,
    /// The stripes of rows comparisons go in: one of every row unless scenes are read from the store.
    stripes: Vec<Stripe>,
    /// What each slot holds: which scene, in which stripe (the first row the stripe counts).
    loaded: [Option<(Compared, u32)>; SCENE_SLOTS],
    /// What preparing each scene found, once they are prepared (`MeasureOptions::preparation`).
    prepared: Option<Vec<Prepared>>,
    /// Where finished steps are checkpointed; `None` to keep nothing.
    store: Option<&'a Store>,
}

impl<'a> SeriesRun<'a> {
    /// Decodes every scene of the archive ([`Archive::load`]: those that cannot be used are failures),
    /// rasterizes the regions and opens the chosen backend.
    pub fn open(
        archive: &'a Archive,
        regions: &RegionSet,
        device: DeviceChoice,
        options: MeasureOptions,
    ) -> Result<Self> {
        let loaded = archive.load()?;
        let (entries, scenes) = loaded.scenes.into_iter().unzip();
        Self::with_scenes(
            archive,
            (entries, Shelf::held(scenes), loaded.failures),
            regions,
            device,
            options,
            None,
        )
    }

    /// Reads every scene of the archive from `store` when needed, which must hold them all
    /// ([`Store::decode_missing`]), and checkpoints each finished step there.
    pub fn from_store(
        archive: &'a Archive,
        store: &'a Store,
        regions: &RegionSet,
        device: DeviceChoice,
        options: MeasureOptions,
    ) -> Result<Self> {
        let loaded = store.load(archive)?;
        let (entries, scenes) = loaded.scenes.into_iter().unzip();
        Self::with_scenes(
            archive,
            (
                entries,
                Shelf::stored(store, "prepared", scenes),
                loaded.failures,
            ),
            regions,
            device,
            options,
            Some(store),
        )
    }

    fn with_scenes(
        archive: &'a Archive,
        (entries, scenes, failures): (Vec<usize>, Shelf<'a>, Vec<SceneFailure>),
        regions: &RegionSet,
        device: DeviceChoice,
        options: MeasureOptions,
        store: Option<&'a Store>,
    ) -> Result<Self> {
        let format = scenes.format();
        let labels = LabelRaster::rasterize(regions, format.width, format.height)?;
        let kernel = kernel::open(device, format, &labels)?;
        Ok(SeriesRun {
            archive,
            stripes: scenes.comparison_stripes(SCENE_SLOTS),
            scenes,
            entries,
            failures,
            regions: region_infos(regions, &labels),
            region_set: regions.clone(),
            kernel,
            options,
            loaded: [None; SCENE_SLOTS],
            prepared: None,
            store,
        })
    }

    fn settings(&self, threshold: u32) -> ChangeSettings {
        ChangeSettings {
            threshold,
            region_thresholds: Vec::new(),
            radius: self.options.radius,
            nodata: self.options.nodata,
        }
    }

    /// The checkpoint `name` of the store, if there is a store and it holds one.
    fn checkpoint<T>(
        &self,
        name: &str,
        decode: impl FnOnce(&mut Reader) -> Option<T>,
    ) -> Option<T> {
        self.store?.checkpoint(name, decode)
    }

    fn put_checkpoint<'w>(&self, name: &str, encode: impl FnOnce(&mut Writer<'w>)) -> Result<()> {
        match self.store {
            Some(store) => store.put_checkpoint(name, encode),
            None => Ok(()),
        }
    }

    /// Which backend and adapter do the work.
    pub fn backend(&self) -> String {
        self.kernel.description()
    }

    pub fn format(&self) -> SceneFormat {
        self.scenes.format()
    }

    pub fn regions(&self) -> &[RegionInfo] {
        &self.regions
    }

    /// The scenes left out of the run, in acquisition order.
    pub fn failures(&self) -> &[SceneFailure] {
        &self.failures
    }

    /// How many scenes the run measures: the archive's, less the failures.
    pub fn scene_count(&self) -> usize {
        self.scenes.len()
    }

    /// The acquisition time of the run's scene `date`.
    fn acquired(&self, date: usize) -> Acquisition {
        self.archive.entries[self.entries[date]].acquired
    }

    /// Measures every date, handing each consecutive pair to `on_pair` in acquisition order.
    ///
    /// When the GPU device is lost, the run says so and measures again on the CPU, whose results are
    /// identical; the pairs `on_pair` already had are not handed over twice.
    pub fn run(
        mut self,
        progress: &mut Progress,
        mut on_pair: impl FnMut(PairResult) -> Result<()>,
    ) -> Result<Measurements> {
        let mut delivered = 0;
        let measured = loop {
            let mut pair = 0;
            let measured = self.measure(progress, &mut |result| {
                pair += 1;
                if pair <= delivered {
                    return Ok(());
                }
                delivered += 1;
                on_pair(result)
            });
            match measured {
                Err(Error::DeviceLost(why)) => {
                    let format = self.format();
                    let labels =
                        LabelRaster::rasterize(&self.region_set, format.width, format.height)?;
                    self.kernel = kernel::open(DeviceChoice::Cpu, format, &labels)?;
                    self.loaded = [None; SCENE_SLOTS];
                    progress.warn(&format!(
                        "GPU device lost ({why}); measuring again on the CPU, whose results are identical"
                    ));
                    progress.restart();
                }
                measured => break measured?,
            }
        };
        // A failed scene's date: every region unobserved (no valid pixel), no correction.
        let mut by_scene = self
            .entries
            .iter()
            .zip(measured.cells.into_iter().zip(measured.radiometry))
            .peekable();
        let (cells, radiometry) = (0..self.archive.entries.len())
            .map(|entry| match by_scene.next_if(|(e, _)| **e == entry) {
                Some((_, (row, radiometry))) => (row, Some(radiometry)),
                None => (vec![CellMeasurement::default(); self.regions.len()], None),
            })
            .unzip();
        let prepared = (0..self.archive.entries.len())
            .map(|entry| {
                let date = self.entries.iter().position(|&e| e == entry)?;
                self.prepared.as_ref()?.get(date).cloned()
            })
            .collect();
        Ok(Measurements {
            prepared,
            acquisitions: self.archive.entries.iter().map(|e| e.acquired).collect(),
            regions: self.regions,
            cells,
            thresholds: measured.thresholds,
            background: measured.background,
            radiometry,
        })
    }

    /// Measures every scene of the run.
    fn measure(
        &mut self,
        progress: &mut Progress,
        on_pair: &mut impl FnMut(PairResult) -> Result<()>,
    ) -> Result<Measured> {
        let options = self.options;
        if options.preparation.is_active() && self.prepared.is_none() {
            self.prepare(progress)?;
        }
        let (mut backgrounds, radiometry) = self.backgrounds()?;
        progress.say(&describe_radiometry(&radiometry, self.format()));
        let mut calibration = self.calibration(CALIBRATION, &backgrounds, &radiometry)?;
        let mut thresholds = self.thresholds(&calibration);
        if let Some(settled) = self.settle(&mut backgrounds, &radiometry, &thresholds)? {
            progress.say(&describe_settled(&settled, &self.regions));
            calibration = self.calibration(SETTLED_CALIBRATION, &backgrounds, &radiometry)?;
            thresholds = self.thresholds(&calibration);
        }
        progress.say(&describe_thresholds(&thresholds, &self.regions));
        let observed = |stats: &RegionStats, region: &RegionInfo| {
            region.is_observed(stats.valid_px, options.min_valid_fraction)
        };

        let mut cells = Vec::with_capacity(self.scenes.len());
        let mut last_observed: Vec<Option<usize>> = vec![None; self.regions.len()];
        for (date, calibrated) in calibration.iter().enumerate() {
            let name = format!("date-{date:06}");
            let checkpoint = self.checkpoint(&name, |r| Some((r.cells()?, r.pair_stats_opt()?)));
            let (row, pair) = match checkpoint {
                Some(measured) => measured,
                None => {
                    let (row, pair) = self.measure_date(
                        date,
                        calibrated,
                        &last_observed,
                        (&backgrounds, &radiometry),
                        &thresholds,
                    )?;
                    self.put_checkpoint(&name, |w| {
                        w.cells(&row);
                        w.pair_stats_opt(pair.as_ref());
                    })?;
                    (row, pair)
                }
            };
            if let Some(stats) = pair {
                on_pair(PairResult {
                    from: self.acquired(date - 1),
                    to: self.acquired(date),
                    stats,
                })?;
            }
            for (region, stats) in calibrated.iter().enumerate() {
                if observed(stats, &self.regions[region]) {
                    last_observed[region] = Some(date);
                }
            }
            cells.push(row);
            progress.advance(&self.acquired(date).to_string());
        }
        Ok(Measured {
            cells,
            thresholds,
            background: backgrounds.archive.get(0)?,
            radiometry,
        })
    }

    /// The given threshold, or each region's chosen from its observed cells of `calibration`.
    fn thresholds(&self, calibration: &[Vec<RegionStats>]) -> Thresholds {
        if let Some(threshold) = self.options.threshold {
            return Thresholds::given(threshold, self.regions.len());
        }
        let observed_cells: Vec<Vec<Option<&RegionStats>>> = calibration
            .iter()
            .map(|row| {
                row.iter()
                    .zip(&self.regions)
                    .map(|(stats, region)| {
                        region
                            .is_observed(stats.valid_px, self.options.min_valid_fraction)
                            .then_some(stats)
                    })
                    .collect()
            })
            .collect();
        Thresholds::choose(&observed_cells, &self.regions, self.format().bands)
    }

    /// Settles the archive's background where its median holds an occupant ([`settle::settle`], at each
    /// region's threshold), saying what it found when that changed the background. Not with a window:
    /// each date's window is then its background. With a store, a changed background is kept there before
    /// what settling found, so that a later attempt takes both from there.
    fn settle(
        &mut self,
        backgrounds: &mut Backgrounds<'a>,
        radiometry: &[Radiometry],
        thresholds: &Thresholds,
    ) -> Result<Option<Settled>> {
        if !backgrounds.windows.is_empty() {
            return Ok(None);
        }
        let stored = self.checkpoint(SETTLED, |r| {
            let counts =
                |r: &mut Reader| (0..r.u64()?).map(|_| r.u64()).collect::<Option<Vec<_>>>();
            Some(Settled {
                pixels: counts(r)?,
                changed: counts(r)?,
            })
        });
        let mut archive = self.scenes.empty_like(SETTLED_BACKGROUND);
        let settled = match stored {
            Some(settled) => {
                if settled.changed_any() {
                    archive.push(|| {
                        Ok(self
                            .settled_background(backgrounds, radiometry, thresholds)?
                            .0)
                    })?;
                }
                settled
            }
            None => {
                let (background, settled) =
                    self.settled_background(backgrounds, radiometry, thresholds)?;
                if settled.changed_any() {
                    archive.push(|| Ok(background))?;
                }
                self.put_checkpoint(SETTLED, |w| {
                    for counts in [&settled.pixels, &settled.changed] {
                        w.u64(counts.len() as u64);
                        counts.iter().for_each(|&n| w.u64(n));
                    }
                })?;
                settled
            }
        };
        if !settled.changed_any() {
            return Ok(None);
        }
        backgrounds.archive = archive;
        self.loaded[BACKGROUND_SLOT] = None;
        Ok(Some(settled))
    }

    /// The archive's background settled ([`settle::settle`]), and what settling did.
    fn settled_background(
        &self,
        backgrounds: &Backgrounds,
        radiometry: &[Radiometry],
        thresholds: &Thresholds,
    ) -> Result<(Scene, Settled)> {
        let format = self.format();
        let labels = LabelRaster::rasterize(&self.region_set, format.width, format.height)?;
        let regions = RegionPixels::of(&labels);
        drop(labels);
        let mut background = backgrounds.archive.get(0)?;
        let region_thresholds: Vec<u32> = thresholds.regions.iter().map(|t| t.base).collect();
        let settled = settle::settle(
            &mut background,
            &self.scenes,
            radiometry,
            &regions,
            &region_thresholds,
            self.options.nodata,
        )?;
        Ok((background, settled))
    }

    /// Every date against its background, for the thresholds and the observed cells; `name` is the
    /// checkpoint's.
    fn calibration(
        &mut self,
        name: &str,
        backgrounds: &Backgrounds,
        radiometry: &[Radiometry],
    ) -> Result<Vec<Vec<RegionStats>>> {
        let count = self.scenes.len();
        let stored = self.checkpoint(name, |r| {
            (0..r.u64()?)
                .map(|_| r.region_stats())
                .collect::<Option<Vec<_>>>()
        });
        if let Some(calibration) = stored.filter(|c| c.len() == count) {
            return Ok(calibration);
        }
        let comparisons: Vec<Comparison> = (0..count)
            .map(|date| Comparison {
                a: Compared::Date(date),
                b: Compared::Background(backgrounds.of_date(date)),
                settings: self.settings(0),
                outputs: Outputs::default(),
            })
            .collect();
        let calibration: Vec<Vec<RegionStats>> = self
            .compare_all(&comparisons, backgrounds, radiometry)?
            .into_iter()
            .map(|stats| stats.regions)
            .collect();
        self.put_checkpoint(name, |w| {
            w.u64(calibration.len() as u64);
            for row in &calibration {
                w.region_stats(row);
            }
        })?;
        Ok(calibration)
    }

    /// The cells of one date, and the stats of the pair it ends (none for the first date): against the
    /// background at each region's threshold for the date, against the previous scene at the port's
    /// threshold for `pairs.csv`, and against the previous observation of each region at its own
    /// threshold for its change score.
    fn measure_date(
        &mut self,
        date: usize,
        calibrated: &[RegionStats],
        last_observed: &[Option<usize>],
        (backgrounds, radiometry): (&Backgrounds, &[Radiometry]),
        thresholds: &Thresholds,
    ) -> Result<(Vec<CellMeasurement>, Option<PairStats>)> {
        let options = self.options;
        let mut row = vec![CellMeasurement::default(); self.regions.len()];
        // Against the background, every region at its threshold for the date.
        let against_background = ChangeSettings {
            region_thresholds: calibrated
                .iter()
                .enumerate()
                .map(|(region, stats)| thresholds.regions[region].for_cell(stats))
                .collect(),
            ..self.settings(thresholds.port.base)
        };
        let mut comparisons = vec![Comparison {
            a: Compared::Date(date),
            b: Compared::Background(backgrounds.of_date(date)),
            settings: against_background,
            outputs: Outputs {
                change_mask: false,
                profiles: true,
            },
        }];
        // Against the previous scene at the port's threshold, for pairs.csv.
        let previous = date.checked_sub(1);
        comparisons.extend(previous.map(|previous| Comparison {
            a: Compared::Date(previous),
            b: Compared::Date(date),
            settings: self.settings(thresholds.port.base),
            outputs: Outputs {
                change_mask: options.pair_masks,
                profiles: false,
            },
        }));
        // Against the previous observation of each region, for its change score: one comparison per
        // earlier date, each region at its own threshold; the pair's serves the regions last observed on
        // the previous date when they all use the port's threshold.
        let mut by_earlier: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        for (region, last) in last_observed.iter().enumerate() {
            if let Some(earlier) = last {
                by_earlier.entry(*earlier).or_default().push(region);
            }
        }
        let at_port_threshold =
            |region: &usize| thresholds.regions[*region].base == thresholds.port.base;
        let (served_by_pair, by_earlier): (Vec<_>, Vec<_>) = by_earlier
            .into_iter()
            .rev()
            .partition(|(earlier, regions)| {
                previous == Some(*earlier) && regions.iter().all(at_port_threshold)
            });
        let at_region_thresholds = ChangeSettings {
            region_thresholds: thresholds.regions.iter().map(|t| t.base).collect(),
            ..self.settings(thresholds.port.base)
        };
        comparisons.extend(by_earlier.iter().map(|&(earlier, _)| Comparison {
            a: Compared::Date(earlier),
            b: Compared::Date(date),
            settings: at_region_thresholds.clone(),
            outputs: Outputs::default(),
        }));
        let mut measured = self
            .compare_all(&comparisons, backgrounds, radiometry)?
            .into_iter();
        let stats = measured.next().expect("one result a comparison");
        for (region, cell) in row.iter_mut().enumerate() {
            cell.valid_px = stats.regions[region].valid_px;
            cell.changed_px = stats.regions[region].changed_px;
            cell.stretch =
                longest_stretch(&stats.profiles[region], &self.regions[region].bin_pixels);
        }
        let pair_stats = previous.map(|_| measured.next().expect("one result a comparison"));
        let measured: Vec<PairStats> = measured.collect();
        let scored = by_earlier
            .iter()
            .zip(&measured)
            .chain(served_by_pair.iter().zip(&pair_stats));
        for ((_, regions), stats) in scored {
            for &region in regions {
                let r = &stats.regions[region];
                row[region].change_score =
                    (r.valid_px > 0).then(|| r.changed_px as f64 / r.valid_px as f64);
            }
        }
        for (region, stats) in calibrated.iter().enumerate() {
            if !self.regions[region].is_observed(stats.valid_px, options.min_valid_fraction) {
                row[region].change_score = None;
            }
        }
        Ok((row, pair_stats))
    }

    /// The background of the whole archive, the background of each date when a window is set, and each
    /// scene's radiometric correction. With a store, the backgrounds are kept there, not in memory.
    fn backgrounds(&mut self) -> Result<(Backgrounds<'a>, Vec<Radiometry>)> {
        const NAME: &str = "radiometry";
        let count = self.scenes.len();
        let stored = self.checkpoint(NAME, |r| {
            (0..r.u64()?)
                .map(|_| r.radiometry())
                .collect::<Option<Vec<_>>>()
        });
        let mut archive = self.scenes.empty_like(ARCHIVE_BACKGROUND);
        let radiometry = match stored.filter(|r| r.len() == count) {
            // The background is the median of the scenes as corrected, as the fitting left it.
            Some(radiometry) => {
                archive.push(|| self.median(0..count, &radiometry))?;
                radiometry
            }
            None => {
                let (background, radiometry) = self.archive_background()?;
                archive.push(|| Ok(background))?;
                self.put_checkpoint(NAME, |w| {
                    w.u64(radiometry.len() as u64);
                    for r in &radiometry {
                        w.radiometry(r);
                    }
                })?;
                radiometry
            }
        };
        let mut windows = self.scenes.empty_like(WINDOWS);
        if let Some(window) = self.options.window.filter(|&w| w < count) {
            for date in 0..count {
                let start = date.saturating_sub(window / 2).min(count - window);
                windows.push(|| self.median(start..start + window, &radiometry))?;
            }
        }
        Ok((Backgrounds { archive, windows }, radiometry))
    }

    /// The background of the whole archive and each scene's radiometric correction: a first median of the
    /// raw scenes, each scene fitted to it, the median of the corrected scenes, and each scene fitted again
    /// to that.
    fn archive_background(&mut self) -> Result<(Scene, Vec<Radiometry>)> {
        let nodata = self.options.nodata;
        let count = self.scenes.len();
        let mut radiometry = vec![Radiometry::IDENTITY; count];
        let mut archive = self.median(0..count, &radiometry)?;
        if self.options.normalize {
            for _ in 0..2 {
                radiometry = self.scenes.gather_each(
                    FitPixels::new,
                    |pixels, stripe, first_row| pixels.add(stripe, first_row, nodata),
                    |pixels| radiometry::fit_pixels(&pixels, &archive),
                )?;
                // Not held while the next is made: a background is as large as a scene.
                drop(archive);
                archive = self.median(0..count, &radiometry)?;
            }
        }
        Ok((archive, radiometry))
    }

    fn median(
        &mut self,
        dates: std::ops::Range<usize>,
        radiometry: &[Radiometry],
    ) -> Result<Scene> {
        let stack: Vec<(usize, Radiometry)> = dates.map(|date| (date, radiometry[date])).collect();
        self.scenes
            .background(self.kernel.as_mut(), &stack, self.options.nodata)
    }

    /// Masks clouds and aligns the scenes against the median of the raw scenes, saying what it found.
    fn prepare(&mut self, progress: &Progress) -> Result<()> {
        let prepared = prepare(
            self.kernel.as_mut(),
            (BACKGROUND_SLOT, DATE_SLOTS[0]),
            &mut self.scenes,
            &self.options.preparation,
            self.options.nodata,
        )?;
        self.loaded = [None; SCENE_SLOTS];
        for (date, scene) in prepared.iter().enumerate() {
            let name = self.acquired(date).to_string();
            progress.say(&scene.describe(&name));
            if let Some(shift) = scene.shift.filter(|s| s.worth_warning()) {
                progress.warn(&format!(
                    "warning: {name} was shifted by ({:.2}, {:.2}) px against the archive's median",
                    shift.dx, shift.dy
                ));
            }
        }
        self.prepared = Some(prepared);
        Ok(())
    }

    /// Runs `comparisons`, stripe by stripe of [`SeriesRun::stripes`], joining each one's stripes.
    fn compare_all(
        &mut self,
        comparisons: &[Comparison],
        backgrounds: &Backgrounds,
        radiometry: &[Radiometry],
    ) -> Result<Vec<PairStats>> {
        let mut joined: Vec<Option<PairStats>> = comparisons.iter().map(|_| None).collect();
        for stripe in self.stripes.clone() {
            for (index, comparison) in comparisons.iter().enumerate() {
                // What the slots should keep: the other scene of this comparison, then those of the next.
                let keep = |first: Compared| {
                    std::iter::once(first).chain(
                        comparisons[index + 1..]
                            .iter()
                            .flat_map(|next| [next.a, next.b]),
                    )
                };
                let a = self.slot_holding(
                    comparison.a,
                    keep(comparison.b),
                    &stripe,
                    backgrounds,
                    radiometry,
                )?;
                let b = self.slot_holding(
                    comparison.b,
                    keep(comparison.a),
                    &stripe,
                    backgrounds,
                    radiometry,
                )?;
                let stats = self.kernel.compare(
                    a,
                    b,
                    stripe.counted.clone(),
                    &comparison.settings,
                    comparison.outputs,
                )?;
                match &mut joined[index] {
                    Some(above) => above.join(stats)?,
                    none => *none = Some(stats),
                }
            }
        }
        Ok(joined.into_iter().flatten().collect())
    }

    /// The slot holding the stripe's rows of `scene`, loaded into one unless one holds them already: a
    /// background into the background slot, a date into a date slot, keeping if it can those holding
    /// what `keep` names (most needed first).
    fn slot_holding(
        &mut self,
        scene: Compared,
        keep: impl Iterator<Item = Compared>,
        stripe: &Stripe,
        backgrounds: &Backgrounds,
        radiometry: &[Radiometry],
    ) -> Result<Slot> {
        let wanted = Some((scene, stripe.counted.start));
        let (slot, rows, correction) = match scene {
            Compared::Background(which) => {
                if self.loaded[BACKGROUND_SLOT] == wanted {
                    return Ok(BACKGROUND_SLOT);
                }
                let rows = backgrounds.rows(which, stripe.held.clone())?;
                (BACKGROUND_SLOT, rows, Radiometry::IDENTITY)
            }
            Compared::Date(date) => {
                if let Some(&slot) = DATE_SLOTS.iter().find(|&&s| self.loaded[s] == wanted) {
                    return Ok(slot);
                }
                let kept: Vec<Option<(Compared, u32)>> =
                    keep.map(|k| Some((k, stripe.counted.start))).collect();
                // An empty slot, else the one whose scene is needed last (or not at all).
                let slot = *DATE_SLOTS
                    .iter()
                    .max_by_key(|&&s| match self.loaded[s] {
                        None => usize::MAX,
                        held => kept
                            .iter()
                            .position(|&k| k == held)
                            .unwrap_or(usize::MAX - 1),
                    })
                    .expect("two date slots");
                let rows = self.scenes.rows(date, stripe.held.clone())?;
                (slot, rows, radiometry[date])
            }
        };
        self.loaded[slot] = None;
        self.kernel
            .load_scene(slot, stripe.held.start, rows, correction)?;
        self.loaded[slot] = wanted;
        Ok(slot)
    }
}

/// Each region's name, kind, pixel count and pixels per profile bin.
fn region_infos(regions: &RegionSet, labels: &LabelRaster) -> Vec<RegionInfo> {
    let mut pixel_counts = vec![0u64; regions.regions.len() + 1];
    let mut bin_pixels: Vec<Vec<u32>> = (0..=regions.regions.len())
        .map(|label| {
            vec![
                0;
                if label == 0 {
                    0
                } else {
                    labels.profile_length(label)
                }
            ]
        })
        .collect();
    for pixel in 0..labels.width as usize * labels.height as usize {
        let label = usize::from(labels.label_at(pixel));
        pixel_counts[label] += 1;
        if label > 0 {
            bin_pixels[label][usize::from(labels.position_at(pixel))] += 1;
        }
    }
    regions
        .regions
        .iter()
        .zip(bin_pixels.into_iter().skip(1))
        .enumerate()
        .map(|(index, (region, bin_pixels))| RegionInfo {
            name: region.name.clone(),
            kind: region.kind.clone(),
            pixel_count: pixel_counts[index + 1],
            bin_pixels,
        })
        .collect()
}

fn describe_settled(settled: &Settled, regions: &[RegionInfo]) -> String {
    let per_region: Vec<String> = regions
        .iter()
        .zip(settled.pixels.iter().zip(&settled.changed))
        .filter(|(_, (_, changed))| **changed > 0)
        .map(|(region, (&pixels, &changed))| {
            format!(
                "{} {:.1}%",
                region.name,
                100.0 * changed as f64 / pixels as f64
            )
        })
        .collect();
    format!(
        "background: the median held occupants, taken instead from the observations nearest each region's settled surface, in {}",
        per_region.join(", ")
    )
}

fn describe_thresholds(thresholds: &Thresholds, regions: &[RegionInfo]) -> String {
    let Basis::Noise(noise) = thresholds.port.basis else {
        return format!("threshold {} (given)", thresholds.port.base);
    };
    let (numerator, denominator) = OCCUPANT_CONTRAST;
    let per_region: Vec<String> = regions
        .iter()
        .zip(&thresholds.regions)
        .map(
            |(region, threshold)| match (region.is_yard(), threshold.basis) {
                (true, Basis::Occupants) => {
                    format!("{} {} (occupants)", region.name, threshold.base)
                }
                (true, _) => format!("{} {} (noise)", region.name, threshold.base),
                (false, _) => format!("{} {}", region.name, threshold.base),
            },
        )
        .collect();
    format!(
        "thresholds chosen as {NOISE_MULTIPLE} x each region's noise level, for yards {numerator}/{denominator} \
         of the mean magnitude of their occupants (the upper class of Otsu's split over the archive; \
         {YARD_NOISE_MULTIPLE} x the port's noise level where that is under {YARD_SPLIT_MIN_NOISE_MULTIPLE} x \
         it): {}; raised on dates when a whole region other than \
         a yard reads above its usual level; pairs.csv at {} ({NOISE_MULTIPLE} x the port's noise level {noise})",
        per_region.join(", "),
        thresholds.port.base,
    )
}

fn describe_radiometry(radiometry: &[Radiometry], format: SceneFormat) -> String {
    let bands = format.bands as usize;
    let gains = radiometry
        .iter()
        .flat_map(|r| r.gain[..bands].iter().map(|&g| f64::from(g) / 4096.0));
    let (lo, hi) = gains.fold((f64::MAX, f64::MIN), |(lo, hi), g| (lo.min(g), hi.max(g)));
    if radiometry.iter().all(Radiometry::is_identity) {
        "radiometry: not normalized".to_owned()
    } else {
        format!("radiometry: each scene normalized to the background, gains {lo:.3} to {hi:.3}")
    }
}
