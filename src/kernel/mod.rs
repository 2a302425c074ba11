//! The change kernel's contract: what both backends compute for a pair of scenes, and the one narrow
//! interface through which the driver uses them without knowing which ran.
//!
//! Each slot's scene carries a per-band radiometric correction ([`Radiometry`]) applied to its samples
//! before they are compared. For every pixel valid in both scenes (validity bitmap, and nodata tested on
//! the raw samples), magnitude = Σ over bands |a′ − b′| of the corrected samples on the native scale;
//! optionally smoothed to the integer mean of the valid magnitudes in a (2r + 1)² window; changed when the
//! (smoothed) magnitude is greater than the threshold. Per region: valid and changed pixel counts, the
//! 64-bit sum of (smoothed) magnitudes and a 64-bin histogram of them ([`params::histogram_bin`]); on
//! request, per region, valid and changed pixel counts along the region's long axis (its profile, see
//! [`LabelRaster`] for the positions).
//!
//! Separately, [`ChangeKernel::background`] reduces a stack of scenes to their per-pixel, per-band lower
//! median of the corrected samples of the valid observations, and [`ChangeKernel::shift_costs`] measures
//! how well scene b matches scene a under every integer shift within a search radius (co-registration).
//! Everything is integer arithmetic, so the GPU and CPU results are equal, not merely close.

pub mod cpu;
pub mod gpu;
pub mod params;

use crate::error::{Error, Result};
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};
pub use params::Radiometry;
use params::{
    COST_PIXELS, COST_SUM_HI, COST_SUM_LO, HISTOGRAM_BINS, KernelParams, MAX_BANDS,
    MAX_SEARCH_RADIUS, MAX_SMOOTHING_RADIUS, PROFILE_CHANGED, PROFILE_VALID, PROFILE_WORDS, Search,
};
use std::ops::Range;
use std::time::Duration;

/// A place on the backend that holds one loaded scene.
pub type Slot = usize;
/// Slots per kernel: the background, the current scene and a previous one; any two can be compared.
pub const SCENE_SLOTS: usize = 3;
/// Most scenes in one background stack: the count of valid observations must fit 16 bits.
pub const MAX_STACK_SCENES: usize = 65535;

/// Which backend does the work.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum DeviceChoice {
    /// A hardware GPU when there is one, otherwise the CPU (never a software GPU adapter).
    Auto,
    /// A GPU adapter through wgpu (honours WGPU_BACKEND and WGPU_ADAPTER_NAME); an error when none exists.
    Gpu,
    /// The rayon CPU path.
    Cpu,
}

/// How a pair is compared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeSettings {
    /// A pixel is changed when its (smoothed) magnitude is greater than this: in the change mask, and in
    /// the statistics and profile of every region without a threshold of its own.
    pub threshold: u32,
    /// Each region's own threshold for its statistics and profile, in label order; empty when every region
    /// uses `threshold`. Regions of different noise are measured in one pass this way.
    pub region_thresholds: Vec<u32>,
    /// Smoothing window radius r, window (2r + 1)²; 0 for none.
    pub radius: u32,
    /// A pixel whose bands all equal this value is invalid; `None` to keep every pixel.
    pub nodata: Option<u32>,
}

impl ChangeSettings {
    /// Refuses settings the kernels cannot honour for scenes of `format`.
    pub fn check(&self, format: SceneFormat) -> Result<()> {
        if self.radius > MAX_SMOOTHING_RADIUS {
            return Err(Error::Setting(format!(
                "smoothing radius {} is above the largest supported, {MAX_SMOOTHING_RADIUS}",
                self.radius
            )));
        }
        check_nodata(format, self.nodata)
    }

    /// The threshold of each of `region_count` regions, in label order.
    fn thresholds_by_region(&self, region_count: u32) -> Result<Vec<u32>> {
        match self.region_thresholds.len() {
            0 => Ok(vec![self.threshold; region_count as usize]),
            n if n == region_count as usize => Ok(self.region_thresholds.clone()),
            n => Err(Error::Setting(format!(
                "{n} region thresholds given for {region_count} regions"
            ))),
        }
    }
}

/// Refuses a nodata value that no sample of `format` can take.
fn check_nodata(format: SceneFormat, nodata: Option<u32>) -> Result<()> {
    if let Some(nodata) = nodata.filter(|&v| v > format.max_sample()) {
        return Err(Error::Setting(format!(
            "nodata value {nodata} does not fit {}-bit samples",
            format.bits_per_sample
        )));
    }
    Ok(())
}

/// What the kernel measured in one region.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionStats {
    pub valid_px: u64,
    pub changed_px: u64,
    pub magnitude_sum: u64,
    pub histogram: [u64; HISTOGRAM_BINS],
}

impl Default for RegionStats {
    fn default() -> Self {
        RegionStats {
            valid_px: 0,
            changed_px: 0,
            magnitude_sum: 0,
            histogram: [0; HISTOGRAM_BINS],
        }
    }
}

impl RegionStats {
    pub fn add(&mut self, other: &RegionStats) {
        self.valid_px += other.valid_px;
        self.changed_px += other.changed_px;
        self.magnitude_sum += other.magnitude_sum;
        for (total, count) in self.histogram.iter_mut().zip(&other.histogram) {
            *total += count;
        }
    }
}

/// One bit per pixel, row by row, 32 pixels to a word with the lowest bit first; 1 = changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeMask {
    pub width: u32,
    pub height: u32,
    pub words: Vec<u32>,
}

impl ChangeMask {
    pub fn is_changed(&self, x: u32, y: u32) -> bool {
        let pixel = y as usize * self.width as usize + x as usize;
        params::bitmap_bit(self.words[pixel / 32], pixel as u32)
    }

    /// The mask as an 8-bit image: 255 = changed, 0 = unchanged or invalid.
    pub fn to_image(&self) -> image::GrayImage {
        image::GrayImage::from_fn(self.width, self.height, |x, y| {
            image::Luma([if self.is_changed(x, y) { 255 } else { 0 }])
        })
    }
}

/// What a comparison returns beyond the per-region statistics, which it always returns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Outputs {
    /// The change bitmap of every pixel.
    pub change_mask: bool,
    /// Every region's profile along its long axis.
    pub profiles: bool,
}

/// One region's pixels along its long axis: bin i counts the region's pixels at position i
/// ([`LabelRaster::position_at`]) whose (smoothed) magnitude is valid, and those of them that changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RegionProfile {
    pub valid: Vec<u32>,
    pub changed: Vec<u32>,
}

/// The kernel's answer for one pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairStats {
    /// One entry per region, in label order.
    pub regions: Vec<RegionStats>,
    pub change_mask: Option<ChangeMask>,
    /// One entry per region, in label order, each of the region's profile length; empty unless asked for.
    pub profiles: Vec<RegionProfile>,
}

impl PairStats {
    /// Adds the statistics of the rows just below this comparison's, `below`, to its own: the regions'
    /// counts, sums and histograms and their profiles add up, and the change masks are stacked. This
    /// comparison's rows must end on a whole word of the change mask, as every stripe but a scene's last does.
    pub fn join(&mut self, below: PairStats) -> Result<()> {
        for (total, stats) in self.regions.iter_mut().zip(&below.regions) {
            total.add(stats);
        }
        for (total, profile) in self.profiles.iter_mut().zip(&below.profiles) {
            for (sum, count) in total.valid.iter_mut().zip(&profile.valid) {
                *sum += count;
            }
            for (sum, count) in total.changed.iter_mut().zip(&profile.changed) {
                *sum += count;
            }
        }
        if let (Some(mask), Some(below)) = (&mut self.change_mask, below.change_mask) {
            if mask.width != below.width || !(mask.width * mask.height).is_multiple_of(32) {
                return Err(Error::Setting(format!(
                    "a change mask of {}x{} px cannot be joined to one {} px wide: it must end on a whole word",
                    mask.width, mask.height, below.width
                )));
            }
            mask.height += below.height;
            mask.words.extend(below.words);
        }
        Ok(())
    }
}

/// Splits the regions' concatenated profiles, `PROFILE_WORDS` words per bin, into one per region, each
/// starting at its entry of `profile_offsets` ([`LabelRaster::profile_offsets`]).
fn split_profiles(profile_offsets: &[u32], words: &[u32]) -> Vec<RegionProfile> {
    profile_offsets
        .windows(2)
        .map(|bins| {
            let (start, end) = (bins[0] as usize, bins[1] as usize);
            let words = &words[start * PROFILE_WORDS..end * PROFILE_WORDS];
            let bins = words.chunks_exact(PROFILE_WORDS);
            RegionProfile {
                valid: bins.clone().map(|bin| bin[PROFILE_VALID]).collect(),
                changed: bins.map(|bin| bin[PROFILE_CHANGED]).collect(),
            }
        })
        .collect()
}

/// How well scene b matches scene a under each integer shift d within ±`radius` px on each axis: over the
/// pixels p at least `radius` px from every edge, valid in a at p and in b at p + d, their count and the
/// sum of Σ over bands |a′(p) − b′(p + d)| of the corrected samples. Entry i is the shift
/// dx = i mod (2r + 1) − r, dy = i div (2r + 1) − r.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShiftCosts {
    pub radius: u32,
    pub pixels: Vec<u64>,
    pub sums: Vec<u64>,
}

impl ShiftCosts {
    /// The costs from the stage's words, [`params::COST_WORDS`] per shift.
    fn from_words(radius: u32, words: &[u32]) -> ShiftCosts {
        let shifts = words.chunks_exact(params::COST_WORDS);
        ShiftCosts {
            radius,
            pixels: shifts.clone().map(|w| u64::from(w[COST_PIXELS])).collect(),
            sums: shifts
                .map(|w| u64::from(w[COST_SUM_HI]) << 32 | u64::from(w[COST_SUM_LO]))
                .collect(),
        }
    }

    /// The shift of entry `index`, (dx, dy).
    pub fn shift(&self, index: usize) -> (i32, i32) {
        let side = 2 * self.radius as usize + 1;
        let r = self.radius as i32;
        ((index % side) as i32 - r, (index / side) as i32 - r)
    }
}

/// The search block and parameter block of a co-registration within ±`radius` px, after refusing a radius
/// above [`MAX_SEARCH_RADIUS`] or too large for the scenes.
fn search_params(
    format: SceneFormat,
    radius: u32,
    nodata: Option<u32>,
    validity: [bool; 2],
) -> Result<(Search, KernelParams)> {
    if radius > MAX_SEARCH_RADIUS {
        return Err(Error::Setting(format!(
            "co-registration search radius {radius} is above the largest supported, {MAX_SEARCH_RADIUS}"
        )));
    }
    if format.width <= 2 * radius || format.height <= 2 * radius {
        return Err(Error::Setting(format!(
            "scenes of {format} are too small to search shifts of up to {radius} px"
        )));
    }
    let settings = ChangeSettings {
        threshold: 0,
        region_thresholds: Vec::new(),
        radius: 0,
        nodata,
    };
    let params = kernel_params(
        format,
        0,
        &settings,
        validity,
        Outputs::default(),
        &CountedPixels::all(format),
    )?;
    Ok((Search::new(format.width, format.height, radius), params))
}

/// A backend, set up for one archive's scene format and label raster.
///
/// A slot holds a scene's rows `first_row..first_row + scene height`: all of them, or a stripe, so that a
/// scene too large to hold can be compared stripe by stripe, each stripe read with a halo of rows either
/// side for the smoothing window and counting only its own rows. The statistics, profiles and change mask
/// of the stripes, joined ([`PairStats::join`]), are those of one comparison of the whole scenes.
pub trait ChangeKernel: Send {
    /// Which backend and adapter do the work, for the run's log.
    fn description(&self) -> String;
    /// Makes `scene` the content of `slot`: rows `first_row..first_row + scene.format.height` of a scene
    /// of the kernel's format (its width, band count and sample size, within its height, starting on a
    /// word of 32 pixels), its samples to be compared after `radiometry`.
    fn load_scene(
        &mut self,
        slot: Slot,
        first_row: u32,
        scene: Scene,
        radiometry: Radiometry,
    ) -> Result<()>;
    /// Compares the scenes in slots `a` and `b`, which hold the same rows, counting `rows` of them (rows of
    /// the scene, not of the slots) with the extra `outputs` asked for: the regions' statistics and
    /// profiles over those rows, and their change mask (`rows.len()` rows high). The slots must hold the
    /// smoothing window's rows either side of `rows`, up to the scene's edges, and `rows` must start on a
    /// word of 32 pixels and end on one or at the scene's last row.
    fn compare(
        &mut self,
        a: Slot,
        b: Slot,
        rows: Range<u32>,
        settings: &ChangeSettings,
        outputs: Outputs,
    ) -> Result<PairStats>;
    /// The background of `stack`: per pixel and band, the lower median of the corrected samples of the
    /// valid observations (validity bit set and, with `nodata`, not every raw band equal to it), that is
    /// the smallest m such that at least (n + 1) / 2 of the n valid observations are at most m. A pixel
    /// with no valid observation has samples 0 and validity bit 0; the bitmap is `None` when every pixel
    /// has one. Scenes must share the kernel's width, band count and sample size and have as many rows as
    /// one another (a stripe of each scene gives that stripe of the background); 1 to
    /// [`MAX_STACK_SCENES`] of them.
    fn background(&mut self, stack: &[(&Scene, Radiometry)], nodata: Option<u32>) -> Result<Scene>;
    /// The cost of every integer shift of the scene in slot `b` against the one in slot `a` within
    /// ±`radius` px ([`ShiftCosts`]), validity as in [`ChangeKernel::compare`]; both slots must hold whole
    /// scenes.
    fn shift_costs(
        &mut self,
        a: Slot,
        b: Slot,
        radius: u32,
        nodata: Option<u32>,
    ) -> Result<ShiftCosts>;
    /// The time spent so far in each stage of loading and comparing scenes.
    fn stage_times(&self) -> StageTimes;
}

/// Time spent in each stage of the kernel's work, summed over its calls: uploading scenes to the backend,
/// computing comparisons, reading their results back to the host.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StageTimes {
    pub upload: Duration,
    pub kernel: Duration,
    pub readback: Duration,
}

impl std::ops::Sub for StageTimes {
    type Output = StageTimes;

    fn sub(self, earlier: StageTimes) -> StageTimes {
        StageTimes {
            upload: self.upload - earlier.upload,
            kernel: self.kernel - earlier.kernel,
            readback: self.readback - earlier.readback,
        }
    }
}

/// Sets up the chosen backend for scenes of `format` and the regions in `labels`.
pub fn open(
    choice: DeviceChoice,
    format: SceneFormat,
    labels: &LabelRaster,
) -> Result<Box<dyn ChangeKernel>> {
    check_format(format, labels)?;
    Ok(match choice {
        DeviceChoice::Cpu => Box::new(cpu::CpuKernel::new(format, labels.clone())),
        DeviceChoice::Gpu => Box::new(gpu::GpuKernel::new(
            gpu::AdapterPolicy::Any,
            format,
            labels,
        )?),
        DeviceChoice::Auto => {
            match gpu::GpuKernel::new(gpu::AdapterPolicy::HardwareOnly, format, labels) {
                Ok(kernel) => Box::new(kernel),
                Err(Error::Gpu(why)) => {
                    Box::new(cpu::CpuKernel::new(format, labels.clone()).chosen_because(why))
                }
                Err(other) => return Err(other),
            }
        }
    })
}

fn check_format(format: SceneFormat, labels: &LabelRaster) -> Result<()> {
    if !(1..=MAX_BANDS).contains(&format.bands) {
        return Err(Error::Setting(format!(
            "{} bands: 1 to {MAX_BANDS} are supported",
            format.bands
        )));
    }
    if ![8, 16].contains(&format.bits_per_sample) {
        return Err(Error::Setting(format!(
            "{}-bit samples: 8 and 16 are supported",
            format.bits_per_sample
        )));
    }
    if format.pixel_count() as u64 * u64::from(format.bands) > u64::from(u32::MAX) {
        return Err(Error::Setting(format!(
            "scenes of {format} hold more than 2^32 samples"
        )));
    }
    if (labels.width, labels.height) != (format.width, format.height) {
        return Err(Error::Setting(format!(
            "label raster is {}x{} px but scenes are {}x{} px",
            labels.width, labels.height, format.width, format.height
        )));
    }
    Ok(())
}

/// Refuses a slot the kernels do not have.
fn check_slot(slot: Slot) -> Result<()> {
    if slot >= SCENE_SLOTS {
        return Err(Error::Setting(format!(
            "slot {slot} does not exist: the kernels have {SCENE_SLOTS}"
        )));
    }
    Ok(())
}

/// What [`ChangeKernel::load_scene`] refuses, for a kernel of `format`: a slot it does not have, rows it
/// does not hold ([`check_rows`], whose rows it returns) and a correction out of range.
fn check_load(
    format: SceneFormat,
    (slot, first_row): (Slot, u32),
    scene: &Scene,
    radiometry: &Radiometry,
) -> Result<Range<u32>> {
    check_slot(slot)?;
    let rows = check_rows(format, first_row, scene)?;
    check_radiometry(format, radiometry)?;
    Ok(rows)
}

/// Refuses a radiometric correction outside the documented ranges for scenes of `format`.
fn check_radiometry(format: SceneFormat, radiometry: &Radiometry) -> Result<()> {
    if !radiometry.fits(format.bits_per_sample) {
        return Err(Error::Setting(format!(
            "radiometric correction {radiometry:?} is out of range for {}-bit samples",
            format.bits_per_sample
        )));
    }
    Ok(())
}

/// The format of a background stack's scenes; refuses a stack the kernels cannot reduce: empty, too deep,
/// of scenes of different formats or of another width, band count or sample size than the kernel's, or with
/// a nodata value or correction out of range.
fn check_stack(
    kernel_format: SceneFormat,
    stack: &[(&Scene, Radiometry)],
    nodata: Option<u32>,
) -> Result<SceneFormat> {
    if stack.is_empty() {
        return Err(Error::Setting("background of an empty stack".into()));
    }
    if stack.len() > MAX_STACK_SCENES {
        return Err(Error::Setting(format!(
            "background of {} scenes: at most {MAX_STACK_SCENES} are supported",
            stack.len()
        )));
    }
    let format = stack[0].0.format;
    check_scene(kernel_format.with_height(format.height), stack[0].0)?;
    check_nodata(format, nodata)?;
    for (scene, radiometry) in stack {
        check_scene(format, scene)?;
        check_radiometry(format, radiometry)?;
    }
    Ok(format)
}

/// The error for a comparison asked of slots that do not both hold a scene.
fn unloaded_slots(a: Slot, b: Slot) -> Error {
    Error::Setting(format!(
        "compare of slots {a} and {b}, which do not both hold a scene"
    ))
}

/// Refuses a scene whose format differs from the kernel's.
fn check_scene(expected: SceneFormat, scene: &Scene) -> Result<()> {
    if scene.format != expected {
        return Err(Error::Setting(format!(
            "scene is {} but the kernel was set up for {expected}",
            scene.format
        )));
    }
    Ok(())
}

/// The parameter block of the background stage, identical for both backends: the scene layout and nodata.
fn background_params(format: SceneFormat, nodata: Option<u32>) -> Result<KernelParams> {
    let settings = ChangeSettings {
        threshold: 0,
        region_thresholds: Vec::new(),
        radius: 0,
        nodata,
    };
    kernel_params(
        format,
        0,
        &settings,
        [false; 2],
        Outputs::default(),
        &CountedPixels::all(format),
    )
}

/// The pixels of one pass of a stage that count, and where the pass lies in the label raster.
#[derive(Clone, Debug, PartialEq, Eq)]
struct CountedPixels {
    /// The label raster's pixel under the pass's first.
    label_offset: u32,
    /// The pass's pixels that count.
    pixels: Range<u32>,
}

impl CountedPixels {
    /// Every pixel of a pass over the whole of a scene of `format`.
    fn all(format: SceneFormat) -> CountedPixels {
        CountedPixels {
            label_offset: 0,
            pixels: 0..format.pixel_count() as u32,
        }
    }

    /// Of a pass over the scene rows `passed` that counts its rows `counted`, the scenes being `width`
    /// px wide.
    fn of_rows(width: u32, passed: &Range<u32>, counted: &Range<u32>) -> CountedPixels {
        CountedPixels {
            label_offset: passed.start * width,
            pixels: (counted.start - passed.start) * width..(counted.end - passed.start) * width,
        }
    }
}

/// Rows of a scene `format.height` rows high that `scene` holds when loaded from `first_row`; refuses a
/// scene not of the kernel's width, band count and sample size, beyond its last row, or starting inside a
/// word of 32 pixels.
fn check_rows(format: SceneFormat, first_row: u32, scene: &Scene) -> Result<Range<u32>> {
    check_scene(format.with_height(scene.format.height), scene)?;
    let rows = first_row..first_row.saturating_add(scene.format.height);
    if rows.end > format.height {
        return Err(Error::Setting(format!(
            "rows {}..{} do not lie in the kernel's scenes of {format}",
            rows.start, rows.end
        )));
    }
    if !(first_row as usize * format.width as usize).is_multiple_of(32) {
        return Err(Error::Setting(format!(
            "rows from {first_row} of scenes {} px wide start inside a word of 32 pixels",
            format.width
        )));
    }
    Ok(rows)
}

/// The rows slots `a` and `b` hold, refusing a comparison counting `rows` of them unless both hold the same
/// rows, those include `rows` and the `radius` rows a smoothing window reads either side of them (or reach
/// the scene's edge there), and `rows` start on a word of 32 pixels and end on one or at the scene's end.
fn check_counted_rows(
    format: SceneFormat,
    (a, held_a): (Slot, Option<&Range<u32>>),
    (b, held_b): (Slot, Option<&Range<u32>>),
    rows: &Range<u32>,
    radius: u32,
) -> Result<Range<u32>> {
    let (Some(held), Some(held_b)) = (held_a, held_b) else {
        return Err(unloaded_slots(a, b));
    };
    let refuse = |why: String| {
        Err(Error::Setting(format!(
            "compare of rows {}..{} of slots {a} and {b}: {why}",
            rows.start, rows.end
        )))
    };
    if held != held_b {
        return refuse(format!(
            "they hold different rows, {}..{} and {}..{}",
            held.start, held.end, held_b.start, held_b.end
        ));
    }
    if rows.is_empty() || rows.start < held.start || rows.end > held.end {
        return refuse(format!("they hold rows {}..{}", held.start, held.end));
    }
    let width = format.width as usize;
    if !(rows.start as usize * width).is_multiple_of(32)
        || (rows.end != format.height && !(rows.end as usize * width).is_multiple_of(32))
    {
        return refuse("the rows do not start and end on words of 32 pixels".into());
    }
    let halo_above = held.start == 0 || rows.start - held.start >= radius;
    let halo_below = held.end == format.height || held.end - rows.end >= radius;
    if !(halo_above && halo_below) {
        return refuse(format!(
            "they hold rows {}..{}, short of the {radius} rows the smoothing window reads either side",
            held.start, held.end
        ));
    }
    Ok(held.clone())
}

/// Refuses a shift search unless slots `a` and `b` hold whole scenes of `format`.
fn check_whole_scenes(
    format: SceneFormat,
    (a, held_a): (Slot, Option<&Range<u32>>),
    (b, held_b): (Slot, Option<&Range<u32>>),
) -> Result<()> {
    let (Some(held_a), Some(held_b)) = (held_a, held_b) else {
        return Err(unloaded_slots(a, b));
    };
    let whole = 0..format.height;
    if *held_a != whole || *held_b != whole {
        return Err(Error::Setting(format!(
            "a shift search of slots {a} and {b} needs whole scenes; they hold rows {}..{} and {}..{}",
            held_a.start, held_a.end, held_b.start, held_b.end
        )));
    }
    Ok(())
}

/// The parameter block for one comparison, identical for both backends: a pass over scenes of `format`
/// (the rows it covers), counting `counted`.
fn kernel_params(
    format: SceneFormat,
    region_count: u32,
    settings: &ChangeSettings,
    validity: [bool; 2],
    outputs: Outputs,
    counted: &CountedPixels,
) -> Result<KernelParams> {
    settings.check(format)?;
    Ok(KernelParams {
        width: format.width,
        height: format.height,
        bands: format.bands,
        bits_per_sample: format.bits_per_sample,
        nodata: settings.nodata.unwrap_or(0),
        nodata_enabled: u32::from(settings.nodata.is_some()),
        validity_bitmaps: u32::from(validity[0]) | u32::from(validity[1]) << 1,
        threshold: settings.threshold,
        radius: settings.radius,
        region_count,
        write_change_mask: u32::from(outputs.change_mask),
        write_profiles: u32::from(outputs.profiles),
        label_offset: counted.label_offset,
        counted_first: counted.pixels.start,
        counted_end: counted.pixels.end,
        padding: 0,
    })
}
