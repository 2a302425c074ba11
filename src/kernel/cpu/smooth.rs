//! CPU mirror of `shaders/smooth.wgsl`: integer mean of the valid magnitudes in the (2r + 1)² window.

use super::for_each_pixel;
use crate::kernel::params::{INVALID, KernelParams};

pub fn smooth(params: &KernelParams, magnitude: &[u32], smoothed: &mut [u32]) {
    for_each_pixel(smoothed, |pixel| main(params, magnitude, pixel));
}

fn main(params: &KernelParams, magnitude: &[u32], pixel: u32) -> u32 {
    if magnitude[pixel as usize] == INVALID {
        return INVALID;
    }
    let x = pixel % params.width;
    let y = pixel / params.width;
    let r = params.radius;
    let x0 = x.saturating_sub(r);
    let y0 = y.saturating_sub(r);
    let x1 = (x + r).min(params.width - 1);
    let y1 = (y + r).min(params.height - 1);
    let mut sum = 0;
    let mut count = 0;
    for wy in y0..=y1 {
        for wx in x0..=x1 {
            let m = magnitude[(wy * params.width + wx) as usize];
            if m != INVALID {
                sum += m;
                count += 1;
            }
        }
    }
    sum / count
}
