//! CPU mirror of `shaders/smooth.wgsl`: integer mean of the valid magnitudes in the (2r + 1)² window.
//!
//! The shader sums each window pixel by pixel; here the window's sums and counts are built from per-column
//! sums over its 2r + 1 rows, shared by the row's pixels. Integer sums do not depend on the order, so the
//! results are the shader's.

use crate::kernel::params::{INVALID, KernelParams};
use std::ops::Range;

/// Writes the smoothed magnitudes of `rows` into `smoothed`, from `magnitude`, which holds the magnitudes of
/// the pixels from `first` on, through r rows below `rows`.
pub fn smooth(
    params: &KernelParams,
    magnitude: &[u32],
    first: usize,
    rows: Range<usize>,
    smoothed: &mut [u32],
) {
    let (width, height) = (params.width as usize, params.height as usize);
    let r = params.radius as usize;
    let row_of = |y: usize| &magnitude[y * width - first..][..width];
    let mut column_sum = vec![0; width];
    let mut column_count = vec![0; width];
    for (y, smoothed) in rows.zip(smoothed.chunks_mut(width)) {
        column_sum.fill(0);
        column_count.fill(0);
        for wy in y.saturating_sub(r)..=(y + r).min(height - 1) {
            for ((sum, count), &m) in column_sum.iter_mut().zip(&mut column_count).zip(row_of(wy)) {
                let valid = m != INVALID;
                *sum += if valid { m } else { 0 };
                *count += u32::from(valid);
            }
        }
        for (x, (out, &m)) in smoothed.iter_mut().zip(row_of(y)).enumerate() {
            *out = if m == INVALID {
                INVALID
            } else {
                main(r, &column_sum, &column_count, x)
            };
        }
    }
}

/// One valid pixel at column `x`: the mean over the columns of its window.
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
