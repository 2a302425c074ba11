//! The CPU backend: one function per shader stage, with the shader's name, constants and per-pixel logic,
//! spread over cores by rayon in blocks of whole bitmap words.

mod magnitude;
mod region_stats;
mod smooth;

pub use magnitude::magnitude;
pub use region_stats::region_stats;
pub use smooth::smooth;

use super::params::INVALID;
use super::{
    ChangeKernel, ChangeMask, ChangeSettings, PairStats, SCENE_SLOTS, Slot, check_scene,
    kernel_params, unloaded_slots,
};
use crate::error::Result;
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};
use rayon::prelude::*;

/// Pixels per rayon task: a multiple of 32 so that tasks own whole words of the change bitmap.
const PIXELS_PER_TASK: usize = 1 << 14;

/// Runs `stage` for every pixel index, writing its result into `out`, in parallel blocks.
fn for_each_pixel(out: &mut [u32], stage: impl Fn(u32) -> u32 + Sync) {
    out.par_chunks_mut(PIXELS_PER_TASK)
        .enumerate()
        .for_each(|(block, values)| {
            let first = block * PIXELS_PER_TASK;
            for (offset, value) in values.iter_mut().enumerate() {
                *value = stage((first + offset) as u32);
            }
        });
}

pub struct CpuKernel {
    format: SceneFormat,
    labels: LabelRaster,
    slots: [Option<Scene>; SCENE_SLOTS],
    magnitude: Vec<u32>,
    smoothed: Vec<u32>,
    change_mask: Vec<u32>,
    /// Why `--device auto` settled on the CPU, for the run's log.
    chosen_because: Option<String>,
}

impl CpuKernel {
    pub fn new(format: SceneFormat, labels: LabelRaster) -> CpuKernel {
        CpuKernel {
            format,
            labels,
            slots: Default::default(),
            magnitude: vec![INVALID; format.pixel_count()],
            smoothed: vec![INVALID; format.pixel_count()],
            change_mask: vec![0; format.bitmap_word_count()],
            chosen_because: None,
        }
    }

    /// Records why the CPU was chosen over a GPU.
    pub fn chosen_because(mut self, reason: String) -> CpuKernel {
        self.chosen_because = Some(reason);
        self
    }
}

impl ChangeKernel for CpuKernel {
    fn description(&self) -> String {
        let threads = rayon::current_num_threads();
        match &self.chosen_because {
            Some(reason) => format!("cpu (rayon, {threads} threads; GPU not used: {reason})"),
            None => format!("cpu (rayon, {threads} threads)"),
        }
    }

    fn load_scene(&mut self, slot: Slot, scene: Scene) -> Result<()> {
        check_scene(self.format, &scene)?;
        self.slots[slot] = Some(scene);
        Ok(())
    }

    fn compare(
        &mut self,
        a: Slot,
        b: Slot,
        settings: &ChangeSettings,
        with_mask: bool,
    ) -> Result<PairStats> {
        let (Some(scene_a), Some(scene_b)) = (&self.slots[a], &self.slots[b]) else {
            return Err(unloaded_slots(a, b));
        };
        let validity = [scene_a.validity.is_some(), scene_b.validity.is_some()];
        let params = kernel_params(
            self.format,
            self.labels.region_count,
            settings,
            validity,
            with_mask,
        )?;
        let no_bitmap = Vec::new();
        magnitude(
            &params,
            &scene_a.words,
            &scene_b.words,
            scene_a.validity.as_ref().unwrap_or(&no_bitmap),
            scene_b.validity.as_ref().unwrap_or(&no_bitmap),
            &mut self.magnitude,
        );
        let final_magnitude = if params.radius > 0 {
            smooth(&params, &self.magnitude, &mut self.smoothed);
            &self.smoothed
        } else {
            &self.magnitude
        };
        let regions = region_stats(
            &params,
            final_magnitude,
            &self.labels.words,
            &mut self.change_mask,
        );
        Ok(PairStats {
            regions,
            change_mask: with_mask.then(|| ChangeMask {
                width: self.format.width,
                height: self.format.height,
                words: self.change_mask.clone(),
            }),
        })
    }
}
