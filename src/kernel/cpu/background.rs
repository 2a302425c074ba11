//! CPU mirror of `shaders/background.wgsl`: per pixel and band, the lower median of the corrected samples of
//! a stack's valid observations, found bit by bit from the top as the shader does.
//!
//! Where the shader runs one invocation per pixel, this runs one row at a time: each observation's validity
//! and corrected samples are gathered once for the row, then every step of the search runs across the
//! row's pixels, a loop without branches that vectorises.

use super::{sample_value, sample_word};
use crate::kernel::params::{KernelParams, Radiometry, bitmap_bit};
use crate::scene::Scene;

/// A task's buffers, reused from row to row.
#[derive(Default)]
pub struct BackgroundScratch {
    /// Per observation and pixel of the row: 1 when valid.
    valid: Vec<u32>,
    /// Per pixel: how many observations are valid.
    valid_count: Vec<u32>,
    /// Per observation and pixel of the row: the corrected sample of the band in hand.
    values: Vec<u32>,
    median: Vec<u32>,
    below: Vec<u32>,
}

/// Writes row `y` of the background of `stack`: its samples, band-interleaved, and per pixel whether any
/// observation is valid.
pub fn background(
    params: &KernelParams,
    stack: &[(&Scene, Radiometry)],
    y: usize,
    scratch: &mut BackgroundScratch,
    samples: &mut [u16],
    valid: &mut [bool],
) {
    if params.bits_per_sample == 8 {
        row::<8>(params, stack, y, scratch, samples, valid);
    } else {
        row::<16>(params, stack, y, scratch, samples, valid);
    }
}

fn row<const BITS: u32>(
    params: &KernelParams,
    stack: &[(&Scene, Radiometry)],
    y: usize,
    scratch: &mut BackgroundScratch,
    samples: &mut [u16],
    valid: &mut [bool],
) {
    let width = params.width as usize;
    let bands = params.bands;
    let first_pixel = y * width;
    let sample_at =
        |scene: &Scene, s: u32| sample_value::<BITS>(scene.words[sample_word::<BITS>(s)], s);
    let scene_count = stack.len();
    scratch.valid.clear();
    for (scene, _) in stack {
        scratch
            .valid
            .extend((first_pixel..first_pixel + width).map(|pixel| {
                let marked = scene
                    .validity
                    .as_ref()
                    .is_none_or(|bitmap| bitmap_bit(bitmap[pixel >> 5], pixel as u32));
                let first_sample = pixel as u32 * bands;
                let nodata = params.nodata_enabled != 0
                    && (first_sample..first_sample + bands)
                        .all(|s| sample_at(scene, s) == params.nodata);
                u32::from(marked && !nodata)
            }));
    }
    scratch.valid_count.clear();
    scratch.valid_count.resize(width, 0);
    for observation in scratch.valid.chunks_exact(width) {
        for (count, &v) in scratch.valid_count.iter_mut().zip(observation) {
            *count += v;
        }
    }
    for (out, &count) in valid.iter_mut().zip(&scratch.valid_count) {
        *out = count > 0;
    }
    scratch.values.resize(scene_count * width, 0);
    scratch.median.resize(width, 0);
    scratch.below.resize(width, 0);
    for band in 0..bands {
        for ((scene, radiometry), values) in
            stack.iter().zip(scratch.values.chunks_exact_mut(width))
        {
            for (x, value) in values.iter_mut().enumerate() {
                let s = (first_pixel + x) as u32 * bands + band;
                *value = radiometry.apply(band as usize, sample_at(scene, s), params.max_sample());
            }
        }
        main::<BITS>(
            &scratch.valid,
            &scratch.values,
            &scratch.valid_count,
            &mut scratch.median,
            &mut scratch.below,
        );
        for (pixel, &median) in scratch.median.iter().enumerate() {
            samples[pixel * bands as usize + band as usize] = median as u16;
        }
    }
}

/// The shader's search for one band, across a row: the median of each pixel is the largest value m such
/// that fewer than half = (n + 1) / 2 valid observations lie below m, which is the smallest m with at least
/// half at or below it; built from the top bit down. With no valid observation, half is 0 and m stays 0.
fn main<const BITS: u32>(
    valid: &[u32],
    values: &[u32],
    valid_count: &[u32],
    median: &mut [u32],
    below: &mut [u32],
) {
    let width = median.len();
    median.fill(0);
    for bit in (0..BITS).rev() {
        below.fill(0);
        for (valid, values) in valid.chunks_exact(width).zip(values.chunks_exact(width)) {
            for (((below, &median), &v), &value) in
                below.iter_mut().zip(&*median).zip(valid).zip(values)
            {
                let candidate = median | (1 << bit);
                *below += v & u32::from(value < candidate);
            }
        }
        for ((median, &below), &count) in median.iter_mut().zip(&*below).zip(valid_count) {
            let candidate = *median | (1 << bit);
            let half = count.div_ceil(2);
            *median = if below < half { candidate } else { *median };
        }
    }
}
