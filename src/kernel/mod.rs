//! The change kernel's contract: what both backends compute for a pair of scenes, and the one narrow
//! interface through which the driver uses them without knowing which ran.
//!
//! For every pixel valid in both scenes, magnitude = Σ over bands |a − b| on the native sample scale;
//! optionally smoothed to the integer mean of the valid magnitudes in a (2r + 1)² window; changed when the
//! (smoothed) magnitude is greater than the threshold. Per region: valid and changed pixel counts, the
//! 64-bit sum of (smoothed) magnitudes and a 64-bin histogram of them ([`params::histogram_bin`]).
//! Everything is integer arithmetic, so the GPU and CPU results are equal, not merely close.

pub mod cpu;
pub mod gpu;
pub mod params;

use crate::error::{Error, Result};
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};
use params::{HISTOGRAM_BINS, KernelParams, MAX_BANDS, MAX_SMOOTHING_RADIUS};

/// A place on the backend that holds one loaded scene.
pub type Slot = usize;
/// Slots per kernel: the two scenes of the pair in hand.
pub const SCENE_SLOTS: usize = 2;

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChangeSettings {
    /// A pixel is changed when its (smoothed) magnitude is greater than this.
    pub threshold: u32,
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
        if let Some(nodata) = self.nodata.filter(|&v| v > format.max_sample()) {
            return Err(Error::Setting(format!(
                "nodata value {nodata} does not fit {}-bit samples",
                format.bits_per_sample
            )));
        }
        Ok(())
    }
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

/// The kernel's answer for one pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PairStats {
    /// One entry per region, in label order.
    pub regions: Vec<RegionStats>,
    pub change_mask: Option<ChangeMask>,
}

/// A backend, set up for one archive's scene format and label raster.
pub trait ChangeKernel: Send {
    /// Which backend and adapter do the work, for the run's log.
    fn description(&self) -> String;
    /// Makes `scene` the content of `slot`; the scene must have the kernel's format.
    fn load_scene(&mut self, slot: Slot, scene: Scene) -> Result<()>;
    /// Compares the scenes in slots `a` and `b`, writing the change mask when `with_mask`.
    fn compare(
        &mut self,
        a: Slot,
        b: Slot,
        settings: &ChangeSettings,
        with_mask: bool,
    ) -> Result<PairStats>;
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

/// The parameter block for one comparison, identical for both backends.
fn kernel_params(
    format: SceneFormat,
    region_count: u32,
    settings: &ChangeSettings,
    validity: [bool; 2],
    with_mask: bool,
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
        write_change_mask: u32::from(with_mask),
        _padding: 0,
    })
}
