//! The CPU backend: one function per shader stage, with the shader's name, constants and per-pixel logic,
//! spread over cores by rayon in bands of rows. Each task runs every stage on its band, the magnitudes of
//! its rows (and the smoothing window's rows either side) staying in task-local buffers in cache, where the
//! GPU passes whole-image buffers from stage to stage. The background runs on its own, a row a task, and
//! co-registration a row a task, every shift of it, over runs of consecutive rows.

mod background;
mod coregister;
mod magnitude;
mod region_stats;
mod smooth;

pub use background::{BackgroundScratch, Correction, background};
pub use coregister::{SearchScratch, coregister};
pub use magnitude::{Scenes, magnitude};
pub use region_stats::{RegionTotals, Totals, region_stats};
pub use smooth::smooth;

use super::params::{INVALID, PIXELS_PER_INVOCATION, Radiometry};
use super::{
    ChangeKernel, ChangeMask, ChangeSettings, CountedPixels, Outputs, PairStats, SCENE_SLOTS,
    ShiftCosts, Slot, StageTimes, background_params, check_counted_rows, check_load, check_slot,
    check_stack, check_whole_scenes, kernel_params, search_params, split_profiles,
};
use crate::error::Result;
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};
use rayon::prelude::*;
use std::ops::Range;
use std::time::Instant;

/// The word of sample `s` (pixel · bands + band): the shader's `sample_word` (params.wgsl) for BITS-bit
/// samples.
fn sample_word<const BITS: u32>(s: u32) -> usize {
    (if BITS == 8 { s >> 2 } else { s >> 1 }) as usize
}

/// Sample `s` out of its word: the shader's `sample_value`.
fn sample_value<const BITS: u32>(word: u32, s: u32) -> u32 {
    let per_word_mask = if BITS == 8 { 3 } else { 1 };
    let sample_mask = (1 << BITS) - 1;
    (word >> ((s & per_word_mask) * BITS)) & sample_mask
}

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

/// What a slot holds: rows of a scene, from `first_row`, and their correction.
struct Loaded {
    first_row: u32,
    scene: Scene,
    radiometry: Radiometry,
}

impl Loaded {
    fn rows(&self) -> Range<u32> {
        self.first_row..self.first_row + self.scene.format.height
    }
}

/// The rows slot `slot` holds, if it holds any.
fn held_rows(slots: &[Option<Loaded>; SCENE_SLOTS], slot: Slot) -> Option<Range<u32>> {
    slots[slot].as_ref().map(Loaded::rows)
}

/// The inputs of a stage reading the scenes in slots `a` and `b`, which must both be loaded (an empty
/// bitmap where a scene has none), and whether each has a validity bitmap.
fn pair_inputs(slots: &[Option<Loaded>; SCENE_SLOTS], a: Slot, b: Slot) -> (Scenes<'_>, [bool; 2]) {
    let [a, b] = [a, b].map(|slot| slots[slot].as_ref().expect("slots were checked"));
    let scenes = Scenes {
        samples: [&a.scene.words, &b.scene.words],
        validity: [
            a.scene.validity.as_deref().unwrap_or(&[]),
            b.scene.validity.as_deref().unwrap_or(&[]),
        ],
        radiometry: [&a.radiometry, &b.radiometry],
    };
    let validity = [a.scene.validity.is_some(), b.scene.validity.is_some()];
    (scenes, validity)
}

pub struct CpuKernel {
    format: SceneFormat,
    labels: LabelRaster,
    region_words: Vec<bool>,
    slots: [Option<Loaded>; SCENE_SLOTS],
    change_mask: Vec<u32>,
    /// Why `--device auto` settled on the CPU, for the run's log.
    chosen_because: Option<String>,
    times: StageTimes,
}

impl CpuKernel {
    pub fn new(format: SceneFormat, labels: LabelRaster) -> CpuKernel {
        CpuKernel {
            format,
            region_words: words_in_regions(&labels),
            labels,
            slots: Default::default(),
            change_mask: Vec::new(),
            chosen_because: None,
            times: StageTimes::default(),
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

    fn load_scene(
        &mut self,
        slot: Slot,
        first_row: u32,
        scene: Scene,
        radiometry: Radiometry,
    ) -> Result<()> {
        check_load(self.format, (slot, first_row), &scene, &radiometry)?;
        self.slots[slot] = Some(Loaded {
            first_row,
            scene,
            radiometry,
        });
        Ok(())
    }

    /// The CPU compares scenes where they were decoded and reads its results where it computed them: no
    /// upload, no readback.
    fn stage_times(&self) -> StageTimes {
        self.times
    }

    /// Each task takes a band of the counted rows, computing the magnitudes of its rows and of the
    /// smoothing window's either side from the rows the slots hold; the shader's test of the counted
    /// pixels is met by the bands covering them and no other.
    fn compare(
        &mut self,
        a: Slot,
        b: Slot,
        rows: Range<u32>,
        settings: &ChangeSettings,
        outputs: Outputs,
    ) -> Result<PairStats> {
        let started = Instant::now();
        check_slot(a)?;
        check_slot(b)?;
        let held = check_counted_rows(
            self.format,
            (a, held_rows(&self.slots, a).as_ref()),
            (b, held_rows(&self.slots, b).as_ref()),
            &rows,
            settings.radius,
        )?;
        let (scenes, validity) = pair_inputs(&self.slots, a, b);
        let counted = CountedPixels::of_rows(self.format.width, &held, &rows);
        let params = kernel_params(
            self.format.with_height(held.len() as u32),
            self.labels.region_count,
            settings,
            validity,
            outputs,
            &counted,
        )?;
        let (width, height) = (self.format.width as usize, held.len());
        let counted_rows = (rows.start - held.start) as usize..(rows.end - held.start) as usize;
        let radius = params.radius as usize;
        let task_rows = rows_per_task(width, radius);
        let labels = &self.labels;
        let region_words =
            &self.region_words[counted.label_offset as usize / PIXELS_PER_INVOCATION..];
        let with_mask = outputs.change_mask;
        let thresholds = settings.thresholds_by_region(self.labels.region_count)?;
        let empty = || {
            (
                Scratch::default(),
                RegionTotals::new(&params, labels, &thresholds),
            )
        };
        let mask_words = (counted_rows.len() * width).div_ceil(PIXELS_PER_INVOCATION);
        self.change_mask.resize(mask_words, 0);
        let totals = self.change_mask[..mask_words]
            .par_chunks_mut(task_rows * width / PIXELS_PER_INVOCATION)
            .enumerate()
            .fold(empty, |(mut scratch, mut totals), (task, change_mask)| {
                let first_row = counted_rows.start + task * task_rows;
                let band = first_row..(first_row + task_rows).min(counted_rows.end);
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
                    &scenes,
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
            .map(|(_, totals)| totals.finish())
            // Not `reduce`, whose identity would build (and finish) a tally table for every split.
            .reduce_with(Totals::merge)
            .unwrap_or_else(|| empty().1.finish());
        let stats = PairStats {
            regions: totals.regions,
            change_mask: with_mask.then(|| ChangeMask {
                width: self.format.width,
                height: rows.len() as u32,
                words: self.change_mask[..mask_words].to_vec(),
            }),
            profiles: if outputs.profiles {
                split_profiles(&labels.profile_offsets, &totals.profiles)
            } else {
                Vec::new()
            },
        };
        self.times.kernel += started.elapsed();
        Ok(stats)
    }

    fn background(&mut self, stack: &[(&Scene, Radiometry)], nodata: Option<u32>) -> Result<Scene> {
        let format = check_stack(self.format, stack, nodata)?;
        let params = background_params(format, nodata)?;
        let (width, bands) = (format.width as usize, format.bands as usize);
        let mut samples = vec![0u16; format.pixel_count() * bands];
        let mut valid = vec![false; format.pixel_count()];
        let corrections = Correction::of_stack(&params, stack);
        samples
            .par_chunks_mut(width * bands)
            .zip(valid.par_chunks_mut(width))
            .enumerate()
            .for_each_init(
                BackgroundScratch::default,
                |scratch, (y, (samples, valid))| {
                    background(&params, stack, &corrections, y, scratch, samples, valid);
                },
            );
        let mut scene = Scene::from_values(format, &samples);
        if valid.contains(&false) {
            let mut bitmap = vec![0; format.bitmap_word_count()];
            for (pixel, _) in valid.iter().enumerate().filter(|&(_, &v)| v) {
                bitmap[pixel / 32] |= 1 << (pixel % 32);
            }
            scene.validity = Some(bitmap);
        }
        Ok(scene)
    }

    fn shift_costs(
        &mut self,
        a: Slot,
        b: Slot,
        radius: u32,
        nodata: Option<u32>,
    ) -> Result<ShiftCosts> {
        check_slot(a)?;
        check_slot(b)?;
        check_whole_scenes(
            self.format,
            (a, held_rows(&self.slots, a).as_ref()),
            (b, held_rows(&self.slots, b).as_ref()),
        )?;
        let [a, b] = [a, b].map(|slot| self.slots[slot].as_ref().expect("slots were checked"));
        let validity = [a.scene.validity.is_some(), b.scene.validity.is_some()];
        let (search, params) = search_params(self.format, radius, nodata, validity)?;
        let corrections = [a, b].map(|loaded| Correction::new(&params, &loaded.radiometry));
        let shifts = search.shifts as usize;
        let add = |mut total: Vec<(u64, u64)>, part: Vec<(u64, u64)>| {
            for (total, part) in total.iter_mut().zip(part) {
                *total = (total.0 + part.0, total.1 + part.1);
            }
            total
        };
        let costs = (0..search.inner_rows)
            .into_par_iter()
            .fold(
                || (SearchScratch::default(), vec![(0, 0); shifts]),
                |(mut scratch, mut costs), row| {
                    coregister(
                        &params,
                        &search,
                        [&a.scene, &b.scene],
                        [&corrections[0], &corrections[1]],
                        row,
                        &mut scratch,
                        &mut costs,
                    );
                    (scratch, costs)
                },
            )
            .map(|(_, costs)| costs)
            .reduce(|| vec![(0, 0); shifts], add);
        let (pixels, sums) = costs.into_iter().unzip();
        Ok(ShiftCosts {
            radius,
            pixels,
            sums,
        })
    }
}

#[cfg(test)]
mod tests {
    //! The CPU backend against naive per-pixel loops written straight from the contract.

    use super::*;
    use crate::kernel::RegionProfile;
    use crate::kernel::params::bitmap_bit;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn random_scene(rng: &mut ChaCha8Rng, format: SceneFormat, nodata: u32) -> Scene {
        let max = format.max_sample();
        let bands = format.bands as usize;
        let mut samples: Vec<u16> = (0..format.pixel_count() * bands)
            .map(|_| rng.random_range(0..=max) as u16)
            .collect();
        for pixel in (0..format.pixel_count()).filter(|_| rng.random_bool(0.1)) {
            samples[pixel * bands..(pixel + 1) * bands].fill(nodata as u16);
        }
        let mut scene = Scene::from_values(format, &samples);
        if rng.random_bool(0.5) {
            scene.validity = Some(
                (0..format.bitmap_word_count())
                    .map(|_| rng.random::<u32>() | rng.random::<u32>())
                    .collect(),
            );
        }
        scene
    }

    fn random_radiometry(rng: &mut ChaCha8Rng, format: SceneFormat) -> Radiometry {
        let reach = f64::from(format.max_sample()) / 6.0;
        let bands = format.bands as usize;
        let gains: Vec<f64> = (0..bands).map(|_| rng.random_range(0.5..=2.0)).collect();
        let offsets: Vec<f64> = (0..bands)
            .map(|_| rng.random_range(-reach..=reach))
            .collect();
        Radiometry::from_linear(&gains, &offsets, format.bits_per_sample)
    }

    fn sample(scene: &Scene, pixel: usize, band: usize) -> u32 {
        let f = scene.format;
        let s = pixel * f.bands as usize + band;
        let per_word = (32 / f.bits_per_sample) as usize;
        (scene.words[s / per_word] >> ((s % per_word) as u32 * f.bits_per_sample)) & f.max_sample()
    }

    /// Whether a pixel of a scene is valid: its bit, and not every raw band equal to nodata.
    fn is_valid(scene: &Scene, pixel: usize, nodata: Option<u32>) -> bool {
        let marked = scene
            .validity
            .as_ref()
            .is_none_or(|bitmap| bitmap_bit(bitmap[pixel / 32], pixel as u32));
        let bands = 0..scene.format.bands as usize;
        marked && !nodata.is_some_and(|v| bands.clone().all(|b| sample(scene, pixel, b) == v))
    }

    fn format(rng: &mut ChaCha8Rng, width: u32, height: u32) -> SceneFormat {
        SceneFormat {
            width,
            height,
            bands: rng.random_range(1..=4),
            bits_per_sample: if rng.random_bool(0.5) { 8 } else { 16 },
        }
    }

    #[test]
    fn background_is_the_lower_median_of_the_sorted_observations() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for (seed, depth) in [1, 2, 3, 4, 7, 12].into_iter().enumerate() {
            let format = format(&mut rng, 37 + seed as u32, 5);
            let nodata = rng.random_range(0..=format.max_sample());
            let nodata = rng.random_bool(0.7).then_some(nodata);
            let stack: Vec<(Scene, Radiometry)> = (0..depth)
                .map(|_| {
                    let scene = random_scene(&mut rng, format, nodata.unwrap_or(0));
                    (scene, random_radiometry(&mut rng, format))
                })
                .collect();
            let stack: Vec<(&Scene, Radiometry)> = stack.iter().map(|(s, r)| (s, *r)).collect();
            let labels = LabelRaster::from_words(
                format.width,
                format.height,
                0,
                vec![0; format.pixel_count().div_ceil(2)],
            )
            .unwrap();
            let background = CpuKernel::new(format, labels)
                .background(&stack, nodata)
                .unwrap();
            let mut invalid = 0;
            for pixel in 0..format.pixel_count() {
                let valid: Vec<_> = stack
                    .iter()
                    .filter(|(s, _)| is_valid(s, pixel, nodata))
                    .collect();
                let marked = background
                    .validity
                    .as_ref()
                    .is_none_or(|bitmap| bitmap_bit(bitmap[pixel / 32], pixel as u32));
                assert_eq!(marked, !valid.is_empty());
                invalid += usize::from(valid.is_empty());
                for band in 0..format.bands as usize {
                    let mut values: Vec<u32> = valid
                        .iter()
                        .map(|(s, r)| r.apply(band, sample(s, pixel, band), format.max_sample()))
                        .collect();
                    values.sort_unstable();
                    let expected = if values.is_empty() {
                        0
                    } else {
                        values[(values.len() - 1) / 2]
                    };
                    assert_eq!(
                        sample(&background, pixel, band),
                        expected,
                        "{depth} scenes of {format}, pixel {pixel}"
                    );
                }
            }
            assert_eq!(background.validity.is_some(), invalid > 0);
        }
    }

    #[test]
    fn profiles_count_every_valid_pixel_at_its_position() {
        let mut rng = ChaCha8Rng::seed_from_u64(4);
        for seed in 0..6 {
            let format = format(&mut rng, 41 + seed, 23);
            let nodata = rng.random_range(0..=format.max_sample());
            let scenes = [0, 1].map(|_| random_scene(&mut rng, format, nodata));
            let radiometry = [0, 1].map(|_| random_radiometry(&mut rng, format));
            // Three regions: a blob, a diagonal and scattered pixels.
            let words = (0..format.pixel_count().div_ceil(2))
                .map(|w| {
                    let label = |pixel: usize| {
                        let (x, y) = (pixel % format.width as usize, pixel / format.width as usize);
                        if pixel >= format.pixel_count() {
                            0
                        } else if x < 10 && y < 7 {
                            1
                        } else if x == y + 12 {
                            2
                        } else if (x * 3 + y * 5) % 7 == 0 {
                            3
                        } else {
                            0
                        }
                    };
                    label(2 * w) | label(2 * w + 1) << 16
                })
                .collect();
            let labels = LabelRaster::from_words(format.width, format.height, 3, words).unwrap();
            let settings = ChangeSettings {
                threshold: rng.random_range(0..format.max_sample()),
                region_thresholds: (0..3)
                    .map(|_| rng.random_range(0..format.max_sample()))
                    .collect(),
                radius: 0,
                nodata: Some(nodata),
            };
            let mut kernel = CpuKernel::new(format, labels.clone());
            for (slot, (scene, radiometry)) in scenes.iter().zip(radiometry).enumerate() {
                kernel
                    .load_scene(slot, 0, scene.clone(), radiometry)
                    .unwrap();
            }
            let outputs = Outputs {
                change_mask: false,
                profiles: true,
            };
            let stats = kernel
                .compare(0, 1, 0..format.height, &settings, outputs)
                .unwrap();
            let mut expected: Vec<RegionProfile> = (1..=3)
                .map(|label| RegionProfile {
                    valid: vec![0; labels.profile_length(label)],
                    changed: vec![0; labels.profile_length(label)],
                })
                .collect();
            for pixel in 0..format.pixel_count() {
                let label = usize::from(labels.label_at(pixel));
                if label == 0 || !scenes.iter().all(|s| is_valid(s, pixel, Some(nodata))) {
                    continue;
                }
                let magnitude: u32 = (0..format.bands as usize)
                    .map(|band| {
                        let [a, b] = [0, 1].map(|i| {
                            radiometry[i].apply(
                                band,
                                sample(&scenes[i], pixel, band),
                                format.max_sample(),
                            )
                        });
                        a.abs_diff(b)
                    })
                    .sum();
                let profile = &mut expected[label - 1];
                let position = usize::from(labels.position_at(pixel));
                profile.valid[position] += 1;
                profile.changed[position] +=
                    u32::from(magnitude > settings.region_thresholds[label - 1]);
            }
            assert_eq!(stats.profiles, expected, "{format}");
        }
    }

    #[test]
    fn shift_costs_sum_every_shifted_difference_over_the_inner_window() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for (seed, radius) in [0, 1, 3, 4].into_iter().enumerate() {
            let format = format(&mut rng, 19 + 7 * seed as u32, 14);
            let nodata = rng.random_range(0..=format.max_sample());
            let nodata = rng.random_bool(0.7).then_some(nodata);
            let scenes = [0, 1].map(|_| random_scene(&mut rng, format, nodata.unwrap_or(0)));
            let radiometry = [0, 1].map(|_| random_radiometry(&mut rng, format));
            let labels = LabelRaster::from_words(
                format.width,
                format.height,
                0,
                vec![0; format.pixel_count().div_ceil(2)],
            )
            .unwrap();
            let mut kernel = CpuKernel::new(format, labels);
            for (slot, (scene, radiometry)) in scenes.iter().zip(radiometry).enumerate() {
                kernel
                    .load_scene(slot, 0, scene.clone(), radiometry)
                    .unwrap();
            }
            let costs = kernel.shift_costs(0, 1, radius, nodata).unwrap();
            let (width, height, r) = (format.width as i32, format.height as i32, radius as i32);
            for (index, (&pixels, &sum)) in costs.pixels.iter().zip(&costs.sums).enumerate() {
                let (dx, dy) = costs.shift(index);
                let (mut expected_pixels, mut expected_sum) = (0, 0);
                for y in r..height - r {
                    for x in r..width - r {
                        let p = (y * width + x) as usize;
                        let q = ((y + dy) * width + x + dx) as usize;
                        if !is_valid(&scenes[0], p, nodata) || !is_valid(&scenes[1], q, nodata) {
                            continue;
                        }
                        expected_pixels += 1;
                        for band in 0..format.bands as usize {
                            let max = format.max_sample();
                            let a = radiometry[0].apply(band, sample(&scenes[0], p, band), max);
                            let b = radiometry[1].apply(band, sample(&scenes[1], q, band), max);
                            expected_sum += u64::from(a.abs_diff(b));
                        }
                    }
                }
                assert_eq!(
                    (pixels, sum),
                    (expected_pixels, expected_sum),
                    "{format}, radius {radius}, shift ({dx}, {dy})"
                );
            }
        }
    }
}
