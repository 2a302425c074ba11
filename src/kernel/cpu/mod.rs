//! The CPU backend: one function per shader stage, with the shader's name, constants and per-pixel logic,
//! spread over cores by rayon in bands of rows. Each task runs every stage on its band, the magnitudes of
//! its rows (and the smoothing window's rows either side) staying in task-local buffers in cache, where the
//! GPU passes whole-image buffers from stage to stage.

mod magnitude;
mod region_stats;
mod smooth;

pub use magnitude::magnitude;
pub use region_stats::{RegionTotals, region_stats};
pub use smooth::smooth;

use super::params::{INVALID, PIXELS_PER_INVOCATION};
use super::{
    ChangeKernel, ChangeMask, ChangeSettings, PairStats, RegionStats, SCENE_SLOTS, Slot,
    check_scene, kernel_params, unloaded_slots,
};
use crate::error::Result;
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};
use rayon::prelude::*;
use std::ops::Range;

/// Pixels per rayon task, roughly.
const PIXELS_PER_TASK: usize = 1 << 14;

/// Rows per rayon task: about `PIXELS_PER_TASK` pixels, and at least 8 times the 2r rows of magnitudes a
/// task computes beyond its own for the smoothing window; a multiple of 32 pixels so that tasks own whole
/// words of the change bitmap.
fn rows_per_task(width: usize, radius: usize) -> usize {
    let step = 32 >> width.trailing_zeros().min(5);
    let rows = PIXELS_PER_TASK.div_ceil(width).max(16 * radius);
    rows.div_ceil(step) * step
}

/// A task's buffers, reused from band to band.
#[derive(Default)]
struct Scratch {
    /// Per word of 32 pixels of the band: whether its statistics or change bits are wanted.
    counted: Vec<bool>,
    /// Per word of 32 pixels of `magnitude`: whether a counted word needs its magnitudes.
    needed: Vec<bool>,
    magnitude: Vec<u32>,
    smoothed: Vec<u32>,
}

/// Per word of 32 pixels: whether any of its pixels lies in a region.
fn words_in_regions(labels: &LabelRaster) -> Vec<bool> {
    labels
        .words
        .chunks(PIXELS_PER_INVOCATION / 2)
        .map(|pairs| pairs.iter().any(|&pair| pair != 0))
        .collect()
}

/// Marks the words of `pixels` whose magnitudes the `counted` words of the band from pixel
/// `band_first` need: their own and, with smoothing, those in their windows.
fn needed_words(
    counted: &[bool],
    band_first: usize,
    pixels: Range<usize>,
    width: usize,
    radius: usize,
    needed: &mut Vec<bool>,
) {
    let first_word = pixels.start / PIXELS_PER_INVOCATION;
    needed.clear();
    needed.resize(pixels.len().div_ceil(PIXELS_PER_INVOCATION), false);
    let counted_words = (band_first / PIXELS_PER_INVOCATION..).zip(counted);
    for (word, _) in counted_words.filter(|&(_, &counted)| counted) {
        let word_first = word * PIXELS_PER_INVOCATION;
        let word_last = word_first + PIXELS_PER_INVOCATION - 1;
        // Row by row of the window, dy - radius rows from the word's.
        for dy in 0..=2 * radius {
            let lo = (word_first + dy * width).saturating_sub(radius * width + radius);
            let hi = (word_last + dy * width + radius).saturating_sub(radius * width);
            let (lo, hi) = (lo.max(pixels.start), hi.min(pixels.end - 1));
            if lo <= hi {
                needed[lo / PIXELS_PER_INVOCATION - first_word
                    ..=hi / PIXELS_PER_INVOCATION - first_word]
                    .fill(true);
            }
        }
    }
}

pub struct CpuKernel {
    format: SceneFormat,
    labels: LabelRaster,
    region_words: Vec<bool>,
    slots: [Option<Scene>; SCENE_SLOTS],
    change_mask: Vec<u32>,
    /// Why `--device auto` settled on the CPU, for the run's log.
    chosen_because: Option<String>,
}

impl CpuKernel {
    pub fn new(format: SceneFormat, labels: LabelRaster) -> CpuKernel {
        CpuKernel {
            format,
            region_words: words_in_regions(&labels),
            labels,
            slots: Default::default(),
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
        let validity_a = scene_a.validity.as_ref().unwrap_or(&no_bitmap);
        let validity_b = scene_b.validity.as_ref().unwrap_or(&no_bitmap);
        let (width, height) = (self.format.width as usize, self.format.height as usize);
        let radius = params.radius as usize;
        let rows = rows_per_task(width, radius);
        let labels = &self.labels.words;
        let region_words = &self.region_words;
        let empty = || (Scratch::default(), RegionTotals::new(&params));
        let regions = self
            .change_mask
            .par_chunks_mut(rows * width / PIXELS_PER_INVOCATION)
            .enumerate()
            .fold(empty, |(mut scratch, mut totals), (task, change_mask)| {
                let band = task * rows..((task + 1) * rows).min(height);
                let band_first = band.start * width;
                let band_word = band_first / PIXELS_PER_INVOCATION;
                scratch.counted.clear();
                scratch.counted.extend(
                    region_words[band_word..band_word + change_mask.len()]
                        .iter()
                        .map(|&in_region| in_region || with_mask),
                );
                // The band's magnitudes and the smoothing window's rows either side, from a bitmap word.
                let first = band.start.saturating_sub(radius) * width / PIXELS_PER_INVOCATION
                    * PIXELS_PER_INVOCATION;
                let end = (band.end + radius).min(height) * width;
                needed_words(
                    &scratch.counted,
                    band_first,
                    first..end,
                    width,
                    radius,
                    &mut scratch.needed,
                );
                scratch.magnitude.resize(end - first, INVALID);
                magnitude(
                    &params,
                    [&scene_a.words, &scene_b.words],
                    [validity_a, validity_b],
                    first,
                    &scratch.needed,
                    &mut scratch.magnitude,
                );
                let final_magnitude = if radius > 0 {
                    scratch.smoothed.resize(band.len() * width, INVALID);
                    smooth(
                        &params,
                        &scratch.magnitude,
                        first,
                        band,
                        &scratch.counted,
                        &mut scratch.smoothed,
                    );
                    &scratch.smoothed[..]
                } else {
                    &scratch.magnitude[band_first - first..]
                };
                region_stats(
                    &params,
                    final_magnitude,
                    labels,
                    band_first,
                    &scratch.counted,
                    &mut totals,
                    change_mask,
                );
                (scratch, totals)
            })
            .map(|(_, totals)| totals.finish(&params))
            .reduce(
                || vec![RegionStats::default(); params.region_count as usize],
                |mut totals, part| {
                    for (total, region) in totals.iter_mut().zip(&part) {
                        total.add(region);
                    }
                    totals
                },
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
