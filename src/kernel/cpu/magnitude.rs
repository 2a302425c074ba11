//! CPU mirror of `shaders/magnitude.wgsl`: per-pixel change magnitude, or INVALID.

use super::for_each_pixel;
use crate::kernel::params::{INVALID, KernelParams, bitmap_bit};

pub fn magnitude(
    params: &KernelParams,
    scene_a: &[u32],
    scene_b: &[u32],
    validity_a: &[u32],
    validity_b: &[u32],
    magnitude: &mut [u32],
) {
    for_each_pixel(magnitude, |pixel| {
        main(params, scene_a, scene_b, validity_a, validity_b, pixel)
    });
}

fn sample_word(params: &KernelParams, s: u32) -> u32 {
    if params.bits_per_sample == 8 {
        s >> 2
    } else {
        s >> 1
    }
}

fn sample_value(params: &KernelParams, word: u32, s: u32) -> u32 {
    let per_word_mask = if params.bits_per_sample == 8 { 3 } else { 1 };
    let sample_mask = (1 << params.bits_per_sample) - 1;
    (word >> ((s & per_word_mask) * params.bits_per_sample)) & sample_mask
}

fn main(
    params: &KernelParams,
    scene_a: &[u32],
    scene_b: &[u32],
    validity_a: &[u32],
    validity_b: &[u32],
    pixel: u32,
) -> u32 {
    let mut valid = true;
    if params.validity_bitmaps & 1 != 0 {
        valid = valid && bitmap_bit(validity_a[(pixel >> 5) as usize], pixel);
    }
    if params.validity_bitmaps & 2 != 0 {
        valid = valid && bitmap_bit(validity_b[(pixel >> 5) as usize], pixel);
    }
    let mut a_is_nodata = true;
    let mut b_is_nodata = true;
    let mut sum = 0;
    for band in 0..params.bands {
        let s = pixel * params.bands + band;
        let w = sample_word(params, s) as usize;
        let a = sample_value(params, scene_a[w], s);
        let b = sample_value(params, scene_b[w], s);
        a_is_nodata = a_is_nodata && a == params.nodata;
        b_is_nodata = b_is_nodata && b == params.nodata;
        sum += a.abs_diff(b);
    }
    if params.nodata_enabled != 0 && (a_is_nodata || b_is_nodata) {
        valid = false;
    }
    if valid { sum } else { INVALID }
}
