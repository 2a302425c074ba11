//! CPU mirror of `shaders/smooth.wgsl`: integer mean of the valid magnitudes in the (2r + 1)² window.
//!
//! The shader sums each window pixel by pixel; here the window's sums and counts are built from per-column
//! sums over its 2r + 1 rows, shared by the row's pixels. Integer sums do not depend on the order, so the
//! results are the shader's.

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
    let mut column_sum = Vec::new();
    let mut column_count = Vec::new();
    for (y, smoothed) in rows.zip(smoothed.chunks_mut(width)) {
        for span in counted_spans(counted, y * width - band_first, width) {
            let columns = span.start.saturating_sub(r)..(span.end + r).min(width);
            column_sum.clear();
            column_sum.resize(columns.len(), 0);
            column_count.clear();
            column_count.resize(columns.len(), 0);
            for wy in y.saturating_sub(r)..=(y + r).min(height - 1) {
                let row = &magnitude[wy * width + columns.start - first..][..columns.len()];
                for ((sum, count), &m) in column_sum.iter_mut().zip(&mut column_count).zip(row) {
                    let valid = m != INVALID;
                    *sum += if valid { m } else { 0 };
                    *count += u32::from(valid);
                }
            }
            let row = &magnitude[y * width - first..][..width];
            for x in span {
                smoothed[x] = if row[x] == INVALID {
                    INVALID
                } else {
                    main(r, &column_sum, &column_count, x - columns.start)
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

/// One valid pixel, at `x` in the columns summed: the mean over the columns of its window, which the
/// columns cover but where the image ends.
fn main(r: usize, column_sum: &[u32], column_count: &[u32], x: usize) -> u32 {
    let x0 = x.saturating_sub(r);
    let x1 = (x + r).min(column_sum.len() - 1);
    let sum: u32 = column_sum[x0..=x1].iter().sum();
    let count: u32 = column_count[x0..=x1].iter().sum();
    // Exactly sum / count, rounded down, in a fraction of an integer division's time: the quotient of two
    // integers below 2^32 is off by at most 2^-21 in f64, and a fraction with a denominator up to 961
    // (31²) lies at least 1/961 from the next integer, so rounding never crosses one.
    (f64::from(sum) / f64::from(count)) as u32
}
