//! CPU mirror of `shaders/region_stats.wgsl`: threshold, per-region statistics and the change bitmap.
//! Where the shader adds each run into global atomics, each rayon task adds into its own totals, which are
//! summed at the end; integer sums do not depend on the order.

use super::PIXELS_PER_TASK;
use crate::kernel::RegionStats;
use crate::kernel::params::{INVALID, KernelParams, PIXELS_PER_INVOCATION, histogram_bin};
use rayon::prelude::*;

/// Returns the statistics of every region; writes `change_mask` (one word per 32 pixels) when the params
/// ask for it.
pub fn region_stats(
    params: &KernelParams,
    magnitude: &[u32],
    labels: &[u32],
    change_mask: &mut [u32],
) -> Vec<RegionStats> {
    let words_per_task = PIXELS_PER_TASK / PIXELS_PER_INVOCATION;
    let empty = || vec![RegionStats::default(); params.region_count as usize];
    change_mask
        .par_chunks_mut(words_per_task)
        .enumerate()
        .fold(empty, |mut totals, (block, words)| {
            for (offset, word) in words.iter_mut().enumerate() {
                let mask_word = main(
                    params,
                    magnitude,
                    labels,
                    &mut totals,
                    (block * words_per_task + offset) as u32,
                );
                if params.write_change_mask != 0 {
                    *word = mask_word;
                }
            }
            totals
        })
        .reduce(empty, |mut totals, part| {
            for (total, region) in totals.iter_mut().zip(&part) {
                total.add(region);
            }
            totals
        })
}

fn label_at(labels: &[u32], pixel: u32) -> u32 {
    (labels[(pixel >> 1) as usize] >> ((pixel & 1) * 16)) & 0xffff
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

/// One invocation: the 32 pixels of bitmap word `word`; returns that word of the change bitmap.
fn main(
    params: &KernelParams,
    magnitude: &[u32],
    labels: &[u32],
    totals: &mut [RegionStats],
    word: u32,
) -> u32 {
    let pixel_count = params.width * params.height;
    let first = word * PIXELS_PER_INVOCATION as u32;
    let end = (first + PIXELS_PER_INVOCATION as u32).min(pixel_count);
    let mut mask_word = 0;
    let mut run_label = 0;
    let mut run_valid = 0;
    let mut run_changed = 0;
    let mut run_sum = 0;
    for pixel in first..end {
        let label = label_at(labels, pixel);
        if label == 0 && params.write_change_mask == 0 {
            continue;
        }
        let m = magnitude[pixel as usize];
        if m == INVALID {
            continue;
        }
        let changed = m > params.threshold;
        if changed {
            mask_word |= 1 << (pixel - first);
        }
        if label == 0 {
            continue;
        }
        if label != run_label {
            flush(totals, run_label, run_valid, run_changed, run_sum);
            run_label = label;
            run_valid = 0;
            run_changed = 0;
            run_sum = 0;
        }
        run_valid += 1;
        run_changed += u32::from(changed);
        run_sum += m;
        totals[(label - 1) as usize].histogram[histogram_bin(m) as usize] += 1;
    }
    flush(totals, run_label, run_valid, run_changed, run_sum);
    mask_word
}
