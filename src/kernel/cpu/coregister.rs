//! CPU mirror of `shaders/coregister.wgsl`: for one shift and one segment of an inner row, the pixels
//! valid in both scenes and the sum of their band differences, scene b read at the shifted position.

use super::magnitude::Scenes;
use crate::kernel::params::{KernelParams, Radiometry, SEARCH_SEGMENT_PIXELS, Search, bitmap_bit};

/// What one invocation adds to its shift's cost: pixels compared and the sum of their differences.
pub fn coregister(
    params: &KernelParams,
    search: &Search,
    scenes: &Scenes,
    shift: u32,
    row: u32,
    segment: u32,
) -> (u32, u32) {
    let side = 2 * search.radius + 1;
    let dx = (shift % side) as i32 - search.radius as i32;
    let dy = (shift / side) as i32 - search.radius as i32;
    let y = row + search.radius;
    let start = search.radius + segment * SEARCH_SEGMENT_PIXELS;
    let end = (start + SEARCH_SEGMENT_PIXELS).min(params.width - search.radius);
    let mut pixels = 0;
    let mut sum = 0;
    for x in start..end {
        let p = y * params.width + x;
        let q = (y as i32 + dy) as u32 * params.width + (x as i32 + dx) as u32;
        if is_valid(params, scenes, 0, p) && is_valid(params, scenes, 1, q) {
            pixels += 1;
            sum += difference(params, scenes, p, q);
        }
    }
    (pixels, sum)
}

/// The shader's `valid_a` (side 0) and `valid_b` (side 1).
fn is_valid(params: &KernelParams, scenes: &Scenes, side: usize, pixel: u32) -> bool {
    if params.validity_bitmaps & (1 << side) != 0
        && !bitmap_bit(scenes.validity[side][pixel as usize / 32], pixel)
    {
        return false;
    }
    params.nodata_enabled == 0
        || (0..params.bands).any(|band| sample(params, scenes, side, pixel, band) != params.nodata)
}

fn sample(params: &KernelParams, scenes: &Scenes, side: usize, pixel: u32, band: u32) -> u32 {
    let s = pixel * params.bands + band;
    let bits = params.bits_per_sample;
    let per_word = 32 / bits;
    (scenes.samples[side][(s / per_word) as usize] >> ((s % per_word) * bits)) & params.max_sample()
}

/// Σ over bands |a'(p) − b'(q)|.
fn difference(params: &KernelParams, scenes: &Scenes, p: u32, q: u32) -> u32 {
    let corrected = |side: usize, radiometry: &Radiometry, pixel: u32, band: u32| {
        radiometry.apply(
            band as usize,
            sample(params, scenes, side, pixel, band),
            params.max_sample(),
        )
    };
    (0..params.bands)
        .map(|band| {
            let a = corrected(0, scenes.radiometry[0], p, band);
            let b = corrected(1, scenes.radiometry[1], q, band);
            a.abs_diff(b)
        })
        .sum()
}
