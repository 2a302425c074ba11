//! CPU mirror of `shaders/region_stats.wgsl`: threshold, per-region statistics and the change bitmap.
//! Where the shader adds each run into global atomics, each rayon task adds into its own totals, which are
//! summed at the end; integer sums do not depend on the order.

use crate::kernel::RegionStats;
use crate::kernel::params::{INVALID, KernelParams, PIXELS_PER_INVOCATION, histogram_bin};

/// Adds the statistics of pixels `first..first + magnitude.len()` to `totals`; `first` is a multiple of 32.
/// Writes their words of the change bitmap into `change_mask` when the params ask for it. Words not
/// `counted` are skipped: they have no pixel in a region and no bitmap is asked for.
pub fn region_stats(
    params: &KernelParams,
    magnitude: &[u32],
    labels: &[u32],
    first: usize,
    counted: &[bool],
    totals: &mut [RegionStats],
    change_mask: &mut [u32],
) {
    let first_word = first / PIXELS_PER_INVOCATION;
    for (index, (magnitude, mask_word)) in magnitude
        .chunks(PIXELS_PER_INVOCATION)
        .zip(change_mask)
        .enumerate()
        .filter(|&(index, _)| counted[index])
    {
        // Two 16-bit labels to a word.
        let label_start = (first_word + index) * PIXELS_PER_INVOCATION / 2;
        let label_end = (label_start + PIXELS_PER_INVOCATION / 2).min(labels.len());
        let word = main(params, magnitude, &labels[label_start..label_end], totals);
        if params.write_change_mask != 0 {
            *mask_word = word;
        }
    }
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

/// One invocation: up to 32 pixels with their `magnitude` and `labels`; returns their word of the change
/// bitmap.
fn main(
    params: &KernelParams,
    magnitude: &[u32],
    labels: &[u32],
    totals: &mut [RegionStats],
) -> u32 {
    let mut mask_word = 0;
    let mut run_label = 0;
    let mut run_valid = 0;
    let mut run_changed = 0;
    let mut run_sum = 0;
    for (pixel, &m) in (0..).zip(magnitude) {
        let label = label_at(labels, pixel);
        if label == 0 && params.write_change_mask == 0 {
            continue;
        }
        if m == INVALID {
            continue;
        }
        let changed = m > params.threshold;
        if changed {
            mask_word |= 1 << pixel;
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
