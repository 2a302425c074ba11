//! The series driver: walks an archive in acquisition order through a change kernel, each scene decoded
//! once and loaded once for the two pairs it belongs to, the next scene decoding while a pair computes.
//! It sees the kernel only through [`ChangeKernel`], never which backend runs.

use crate::acquisition::Acquisition;
use crate::archive::{Archive, ArchiveEntry};
use crate::error::{Error, Result};
use crate::kernel::{
    self, ChangeKernel, ChangeSettings, DeviceChoice, Outputs, PairStats, Radiometry, SCENE_SLOTS,
};
use crate::rasterize::LabelRaster;
use crate::regions::RegionSet;
use crate::scene::{Scene, SceneFormat};

/// The default threshold: 20 per band on the 8-bit scale (5140 per band for 16-bit samples).
pub fn default_threshold(format: SceneFormat) -> u32 {
    20 * format.bands * (format.max_sample() / 255)
}

/// How to compare: the threshold (or the default for the archive's format), smoothing and nodata.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CompareOptions {
    pub threshold: Option<u32>,
    pub radius: u32,
    pub nodata: Option<u32>,
    pub with_masks: bool,
}

/// One consecutive pair of scenes and what the kernel measured, region by region in name order.
pub struct PairResult {
    pub from: Acquisition,
    pub to: Acquisition,
    pub stats: PairStats,
}

/// An archive set up for a run: its scenes checked, its regions rasterized, its kernel open.
pub struct SeriesRun<'a> {
    archive: &'a Archive,
    kernel: Box<dyn ChangeKernel>,
    settings: ChangeSettings,
    with_masks: bool,
    first_scene: Scene,
}

impl<'a> SeriesRun<'a> {
    /// Decodes the first scene to learn the archive's format, rasterizes the regions on it and opens the
    /// chosen backend.
    pub fn open(
        archive: &'a Archive,
        regions: &RegionSet,
        device: DeviceChoice,
        options: CompareOptions,
    ) -> Result<Self> {
        let first = archive
            .entries
            .first()
            .ok_or_else(|| Error::input(&archive.dir, "archive holds no scenes"))?;
        let first_scene = first.load()?;
        let format = first_scene.format;
        let labels = LabelRaster::rasterize(regions, format.width, format.height)?;
        let kernel = kernel::open(device, format, &labels)?;
        Ok(SeriesRun {
            archive,
            kernel,
            settings: ChangeSettings {
                threshold: options
                    .threshold
                    .unwrap_or_else(|| default_threshold(format)),
                radius: options.radius,
                nodata: options.nodata,
            },
            with_masks: options.with_masks,
            first_scene,
        })
    }

    /// Which backend and adapter do the work.
    pub fn backend(&self) -> String {
        self.kernel.description()
    }

    pub fn settings(&self) -> ChangeSettings {
        self.settings
    }

    pub fn format(&self) -> SceneFormat {
        self.first_scene.format
    }

    /// Compares every consecutive pair, handing each result to `on_pair` in acquisition order.
    pub fn run(self, mut on_pair: impl FnMut(PairResult) -> Result<()>) -> Result<()> {
        let SeriesRun {
            archive,
            mut kernel,
            settings,
            with_masks,
            first_scene,
        } = self;
        let entries = &archive.entries;
        let format = first_scene.format;
        kernel.load_scene(0, first_scene, Radiometry::IDENTITY)?;
        let outputs = Outputs {
            change_mask: with_masks,
            profiles: false,
        };
        let mut next = entries
            .get(1)
            .map(|entry| load_like(entry, format, &entries[0]));
        for (index, pair) in entries.windows(2).enumerate() {
            let (previous_slot, slot) = (index % SCENE_SLOTS, (index + 1) % SCENE_SLOTS);
            let scene = next.take().expect("decoded ahead")?;
            kernel.load_scene(slot, scene, Radiometry::IDENTITY)?;
            let (stats, decoded) = rayon::join(
                || kernel.compare(previous_slot, slot, &settings, outputs),
                || {
                    entries
                        .get(index + 2)
                        .map(|entry| load_like(entry, format, &entries[0]))
                },
            );
            next = decoded;
            on_pair(PairResult {
                from: pair[0].acquired,
                to: pair[1].acquired,
                stats: stats?,
            })?;
        }
        Ok(())
    }
}

/// Decodes a scene and checks that it has the format of the archive's first scene.
fn load_like(entry: &ArchiveEntry, format: SceneFormat, first: &ArchiveEntry) -> Result<Scene> {
    let scene = entry.load()?;
    if scene.format != format {
        return Err(Error::Conflict {
            first: first.image.clone(),
            second: entry.image.clone(),
            message: format!("scenes differ ({format} against {})", scene.format),
        });
    }
    Ok(scene)
}
