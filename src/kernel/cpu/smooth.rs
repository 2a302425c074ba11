//! CPU mirror of `shaders/smooth.wgsl`: integer mean of the valid magnitudes in the (2r + 1)² window.
//!
//! The shader sums each window pixel by pixel; here the window's sums and counts are differences of running
//! sums, along the row, of per-column sums over the window's 2r + 1 rows. Integer sums do not depend on the
//! order, so the results are the shader's.

use crate::kernel::params::{INVALID, KernelParams, PIXELS_PER_INVOCATION};
use std::ops::Range;

/// Writes the smoothed magnitudes of `rows` into `smoothed`, in the words of 32 pixels that are `counted`,
/// from `magnitude`, which holds the magnitudes of the pixels from `first` on, through r rows below `rows`.
pub fn smooth(
    params: &KernelParams,
    magnitude: &[u32],
    first: usize,
    rows: Range<usize>,
    counted: &[bool],
    smoothed: &mut [u32],
) {
    let (width, height) = (params.width as usize, params.height as usize);
    let r = params.radius as usize;
    let band_first = rows.start * width;
    // Running sums of the column sums and counts: entry i sums the columns before the (i - r)-th, which
    // pads them with r entries either side so that a window never needs clipping: past the image's edge a
    // window takes in no more columns.
    let mut running_sum = Vec::new();
    let mut running_count = Vec::new();
    for (y, smoothed) in rows.zip(smoothed.chunks_mut(width)) {
        for span in counted_spans(counted, y * width - band_first, width) {
            let columns = span.start.saturating_sub(r)..(span.end + r).min(width);
            running_sum.clear();
            running_sum.resize(columns.len() + 2 * r + 1, 0);
            running_count.clear();
            running_count.resize(columns.len() + 2 * r + 1, 0);
            for wy in y.saturating_sub(r)..=(y + r).min(height - 1) {
                let row = &magnitude[wy * width + columns.start - first..][..columns.len()];
                let columns = running_sum[r + 1..]
                    .iter_mut()
                    .zip(&mut running_count[r + 1..]);
                for ((sum, count), &m) in columns.zip(row) {
                    let valid = m != INVALID;
                    *sum += if valid { m } else { 0 };
                    *count += u32::from(valid);
                }
            }
            // Wrapping: the running sums of a long row of 16-bit magnitudes may pass 2^32, but each window's
            // sum is below it, so the differences taken below are exact.
            for i in 1..running_sum.len() {
                running_sum[i] = running_sum[i].wrapping_add(running_sum[i - 1]);
                running_count[i] += running_count[i - 1];
            }
            let row = &magnitude[y * width - first..][..width];
            // Pixel x's window takes in the columns x - r to x + r: running sums x - columns.start and
            // 2r + 1 further on.
            let x0 = span.start - columns.start;
            let window = 2 * r + 1;
            let sums = running_sum[x0..].iter().zip(&running_sum[x0 + window..]);
            let counts = running_count[x0..]
                .iter()
                .zip(&running_count[x0 + window..]);
            let pixels = smoothed[span.clone()].iter_mut().zip(&row[span]);
            for ((out, &m), ((&sum_before, &sum_through), (&count_before, &count_through))) in
                pixels.zip(sums.zip(counts))
            {
                let sum = sum_through.wrapping_sub(sum_before);
                let count = count_through - count_before;
                *out = if m == INVALID {
                    INVALID
                } else {
                    main(sum, count)
                };
            }
        }
    }
}

/// The columns of the row starting at pixel `row_start` (from the band's first) that lie in runs of
/// `counted` words.
fn counted_spans(
    counted: &[bool],
    row_start: usize,
    width: usize,
) -> impl Iterator<Item = Range<usize>> {
    let first_word = row_start / PIXELS_PER_INVOCATION;
    let end_word = (row_start + width).div_ceil(PIXELS_PER_INVOCATION);
    let mut word = first_word;
    counted[first_word..end_word]
        .chunk_by(|a, b| a == b)
        .filter_map(move |run| {
            let start = word * PIXELS_PER_INVOCATION;
            word += run.len();
            let end = word * PIXELS_PER_INVOCATION;
            run[0].then(|| start.max(row_start) - row_start..end.min(row_start + width) - row_start)
        })
}

/// One valid pixel, whose window's valid magnitudes add up to `sum` over `count` pixels: their mean.
fn main(sum: u32, count: u32) -> u32 {
    // Exactly sum / count, rounded down, in a fraction of an integer division's time: the quotient of two
    // integers below 2^32 is off by at most 2^-21 in f64, and a fraction with a denominator up to 961
    // (31²) lies at least 1/961 from the next integer, so rounding never crosses one.
    (f64::from(sum) / f64::from(count)) as u32
}
