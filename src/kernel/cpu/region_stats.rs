//! CPU mirror of `shaders/region_stats.wgsl`: threshold, per-region statistics and the change bitmap.
//! Where the shader adds each run into global atomics, each rayon task adds into its own totals, which are
//! summed at the end; integer sums do not depend on the order. Where magnitudes take few values (8-bit
//! samples), a task instead tallies its pixels per region and magnitude, one increment a pixel, and derives
//! the counts, sums and histograms from the tallies once. Profiles, when asked for, are counted in a loop
//! of their own over the word's pixels, where the shader counts them in its single loop.

use crate::kernel::RegionStats;
use crate::kernel::params::{
    INVALID, KernelParams, PIXELS_PER_INVOCATION, PROFILE_CHANGED, PROFILE_VALID, PROFILE_WORDS,
    histogram_bin,
};
use crate::rasterize::LabelRaster;

/// Largest tally table a task keeps, in entries (4 MiB): beyond it, the runs of the shader.
const MAX_TALLIES: usize = 1 << 20;

/// One task's statistics.
pub struct RegionTotals<'a> {
    /// Each region's threshold, in label order: the shader's `region_thresholds`.
    thresholds: &'a [u32],
    regions: Vec<RegionStats>,
    /// Pixels per region and magnitude, `magnitudes` entries a region; empty when not tallying.
    tallies: Vec<u32>,
    magnitudes: usize,
    /// The regions' concatenated profiles, `PROFILE_WORDS` words a bin; empty when not asked for.
    profiles: Vec<u32>,
}

/// The statistics of a whole image or part of it: per region, and the concatenated profiles.
pub struct Totals {
    pub regions: Vec<RegionStats>,
    pub profiles: Vec<u32>,
}

impl Totals {
    pub fn merge(mut self, other: Totals) -> Totals {
        for (total, region) in self.regions.iter_mut().zip(&other.regions) {
            total.add(region);
        }
        for (total, count) in self.profiles.iter_mut().zip(&other.profiles) {
            *total += count;
        }
        self
    }
}

impl<'a> RegionTotals<'a> {
    pub fn new(
        params: &KernelParams,
        labels: &LabelRaster,
        thresholds: &'a [u32],
    ) -> RegionTotals<'a> {
        let regions = params.region_count as usize;
        // The largest magnitude, smoothed or not, is bands · 255 for 8-bit samples.
        let magnitudes = (params.bands * 255 + 1) as usize;
        let tally = params.bits_per_sample == 8 && regions * magnitudes <= MAX_TALLIES;
        RegionTotals {
            thresholds,
            regions: vec![RegionStats::default(); regions],
            tallies: if tally {
                vec![0; regions * magnitudes]
            } else {
                Vec::new()
            },
            magnitudes,
            profiles: if params.write_profiles != 0 {
                vec![0; labels.profile_bins() * PROFILE_WORDS]
            } else {
                Vec::new()
            },
        }
    }

    /// The statistics of every region, with the tallies counted in.
    pub fn finish(mut self) -> Totals {
        if !self.tallies.is_empty() {
            for ((region, tallies), &threshold) in self
                .regions
                .iter_mut()
                .zip(self.tallies.chunks(self.magnitudes))
                .zip(self.thresholds)
            {
                for (m, &count) in (0..).zip(tallies).filter(|&(_, &count)| count != 0) {
                    let count = u64::from(count);
                    region.valid_px += count;
                    if m > threshold {
                        region.changed_px += count;
                    }
                    region.magnitude_sum += u64::from(m) * count;
                    region.histogram[histogram_bin(m) as usize] += count;
                }
            }
        }
        Totals {
            regions: self.regions,
            profiles: self.profiles,
        }
    }
}

/// Adds the statistics of the pass's pixels `first..first + magnitude.len()` to `totals`; `first` is a
/// multiple of 32, and the pixels lie within the params' counted pixels (the caller passes no others, which
/// the shader tests pixel by pixel). Writes their words of the change bitmap into `change_mask` when the
/// params ask for it. Words not `counted` are skipped: they have no pixel in a region and no bitmap is
/// asked for.
pub fn region_stats(
    params: &KernelParams,
    magnitude: &[u32],
    raster: &LabelRaster,
    first: usize,
    counted: &[bool],
    totals: &mut RegionTotals<'_>,
    change_mask: &mut [u32],
) {
    let first_word = first / PIXELS_PER_INVOCATION;
    for (index, (magnitude, mask_word)) in magnitude
        .chunks(PIXELS_PER_INVOCATION)
        .zip(change_mask)
        .enumerate()
        .filter(|&(index, _)| counted[index])
    {
        // Two 16-bit labels to a word. The image's last word may be partial: padded with invalid pixels
        // outside every region, which count nowhere, to arrays of constant length that need no bounds checks.
        let raster_pixel =
            params.label_offset as usize + (first_word + index) * PIXELS_PER_INVOCATION;
        let label_start = raster_pixel / 2;
        let label_end = (label_start + PIXELS_PER_INVOCATION / 2).min(raster.words.len());
        let word_pairs = |packed: &[u32]| {
            let mut pairs = [0; PIXELS_PER_INVOCATION / 2];
            pairs[..label_end - label_start].copy_from_slice(&packed[label_start..label_end]);
            pairs
        };
        let mut word_magnitudes = [INVALID; PIXELS_PER_INVOCATION];
        word_magnitudes[..magnitude.len()].copy_from_slice(magnitude);
        let word_labels = word_pairs(&raster.words);
        let word = main(params, &word_magnitudes, &word_labels, totals);
        if params.write_change_mask != 0 {
            *mask_word = word;
        }
        if !totals.profiles.is_empty() {
            profile(
                totals.thresholds,
                &word_magnitudes,
                &word_labels,
                &word_pairs(&raster.positions),
                &raster.profile_offsets,
                &mut totals.profiles,
            );
        }
    }
}

fn label_at(labels: &[u32; PIXELS_PER_INVOCATION / 2], pixel: u32) -> u32 {
    (labels[(pixel >> 1) as usize] >> ((pixel & 1) * 16)) & 0xffff
}

/// The shader's `label_at` for the positions, packed alike.
fn position_at(positions: &[u32; PIXELS_PER_INVOCATION / 2], pixel: u32) -> u32 {
    label_at(positions, pixel)
}

/// The profile part of one invocation: each valid pixel in a region counts in its region's bin at its
/// position, as changed too when its magnitude is above its region's threshold.
fn profile(
    thresholds: &[u32],
    magnitude: &[u32; PIXELS_PER_INVOCATION],
    labels: &[u32; PIXELS_PER_INVOCATION / 2],
    positions: &[u32; PIXELS_PER_INVOCATION / 2],
    profile_offsets: &[u32],
    profiles: &mut [u32],
) {
    for (pixel, &m) in (0..).zip(magnitude) {
        let label = label_at(labels, pixel);
        if label == 0 || m == INVALID {
            continue;
        }
        let bin = (profile_offsets[(label - 1) as usize] + position_at(positions, pixel)) as usize
            * PROFILE_WORDS;
        profiles[bin + PROFILE_VALID] += 1;
        profiles[bin + PROFILE_CHANGED] += u32::from(m > thresholds[(label - 1) as usize]);
    }
}

fn flush(totals: &mut [RegionStats], label: u32, valid: u32, changed: u32, sum: u32) {
    if label == 0 || valid == 0 {
        return;
    }
    let region = &mut totals[(label - 1) as usize];
    region.valid_px += u64::from(valid);
    region.changed_px += u64::from(changed);
    region.magnitude_sum += u64::from(sum);
}

/// One invocation: 32 pixels with their `magnitude` and `labels`; returns their word of the change bitmap,
/// at the params' threshold. The shader's single loop is split in two: the change bits of every pixel, a
/// loop that vectorises, then the statistics of the pixels in a region, at their region's threshold.
fn main(
    params: &KernelParams,
    magnitude: &[u32; PIXELS_PER_INVOCATION],
    labels: &[u32; PIXELS_PER_INVOCATION / 2],
    totals: &mut RegionTotals<'_>,
) -> u32 {
    let mut mask_word = 0;
    for (pixel, &m) in (0..).zip(magnitude) {
        let changed = m != INVALID && m > params.threshold;
        mask_word |= u32::from(changed) << pixel;
    }
    if labels.iter().all(|&pair| pair == 0) {
        return mask_word;
    }
    if !totals.tallies.is_empty() {
        for (pixel, &m) in (0..).zip(magnitude) {
            let label = label_at(labels, pixel);
            if label != 0 && m != INVALID {
                totals.tallies[(label - 1) as usize * totals.magnitudes + m as usize] += 1;
            }
        }
        return mask_word;
    }
    let mut run_label = 0;
    let mut run_valid = 0;
    let mut run_changed = 0;
    let mut run_sum = 0;
    for (pixel, &m) in (0..).zip(magnitude) {
        let label = label_at(labels, pixel);
        if label == 0 || m == INVALID {
            continue;
        }
        if label != run_label {
            flush(
                &mut totals.regions,
                run_label,
                run_valid,
                run_changed,
                run_sum,
            );
            run_label = label;
            run_valid = 0;
            run_changed = 0;
            run_sum = 0;
        }
        run_valid += 1;
        run_changed += u32::from(m > totals.thresholds[(label - 1) as usize]);
        run_sum += m;
        totals.regions[(label - 1) as usize].histogram[histogram_bin(m) as usize] += 1;
    }
    flush(
        &mut totals.regions,
        run_label,
        run_valid,
        run_changed,
        run_sum,
    );
    mask_word
}
