//! CPU mirror of `shaders/smooth.wgsl`: integer mean of the valid magnitudes in the (2r + 1)² window.

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
    let width = params.width as usize;
    for (offset, out) in smoothed.iter_mut().enumerate() {
        *out = main(params, magnitude, first, rows.start * width + offset);
    }
}

fn main(params: &KernelParams, magnitude: &[u32], first: usize, pixel: usize) -> u32 {
    let at = |pixel: usize| magnitude[pixel - first];
    if at(pixel) == INVALID {
        return INVALID;
    }
    let (width, height) = (params.width as usize, params.height as usize);
    let x = pixel % width;
    let y = pixel / width;
    let r = params.radius as usize;
    let x0 = x.saturating_sub(r);
    let y0 = y.saturating_sub(r);
    let x1 = (x + r).min(width - 1);
    let y1 = (y + r).min(height - 1);
    let mut sum = 0;
    let mut count = 0;
    for wy in y0..=y1 {
        for wx in x0..=x1 {
            let m = at(wy * width + wx);
            if m != INVALID {
                sum += m;
                count += 1;
            }
        }
    }
    sum / count
}
