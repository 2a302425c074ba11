//! CPU mirror of `shaders/magnitude.wgsl`: per-pixel change magnitude, or INVALID.
//!
//! Work goes 32 pixels at a time, one word of the validity bitmaps, specialised by const generics for the
//! sample layout so that the per-sample word and shift arithmetic folds to constants and the loop vectorises.

use crate::kernel::params::{INVALID, KernelParams, MAX_BANDS, PIXELS_PER_INVOCATION, bitmap_bit};

/// Scene words that hold 32 pixels of the widest layout: 16 bands of 16 bits.
const MAX_WORDS_PER_32_PIXELS: usize = (MAX_BANDS * 16) as usize;

/// Writes the magnitudes of pixels `first..first + magnitude.len()`, in the words of 32 pixels that are
/// `needed`; `first` is a multiple of 32.
pub fn magnitude(
    params: &KernelParams,
    scenes: [&[u32]; 2],
    validity: [&[u32]; 2],
    first: usize,
    needed: &[bool],
    magnitude: &mut [u32],
) {
    match (params.bits_per_sample, params.bands) {
        (8, 1) => words::<8, 1>(params, scenes, validity, first, needed, magnitude),
        (8, 2) => words::<8, 2>(params, scenes, validity, first, needed, magnitude),
        (8, 3) => words::<8, 3>(params, scenes, validity, first, needed, magnitude),
        (8, 4) => words::<8, 4>(params, scenes, validity, first, needed, magnitude),
        (8, _) => words::<8, 0>(params, scenes, validity, first, needed, magnitude),
        (_, 1) => words::<16, 1>(params, scenes, validity, first, needed, magnitude),
        (_, 2) => words::<16, 2>(params, scenes, validity, first, needed, magnitude),
        (_, 3) => words::<16, 3>(params, scenes, validity, first, needed, magnitude),
        (_, 4) => words::<16, 4>(params, scenes, validity, first, needed, magnitude),
        (_, _) => words::<16, 0>(params, scenes, validity, first, needed, magnitude),
    }
}

/// The band count: `BANDS`, or the params' when `BANDS` is 0 (the layouts not specialised).
fn bands<const BANDS: u32>(params: &KernelParams) -> u32 {
    if BANDS == 0 { params.bands } else { BANDS }
}

fn words<const BITS: u32, const BANDS: u32>(
    params: &KernelParams,
    [scene_a, scene_b]: [&[u32]; 2],
    [validity_a, validity_b]: [&[u32]; 2],
    first: usize,
    needed: &[bool],
    magnitude: &mut [u32],
) {
    // 32 pixels of `bands` samples of BITS bits fill exactly bands · BITS words.
    let scene_words = (bands::<BANDS>(params) * BITS) as usize;
    let first_word = first / PIXELS_PER_INVOCATION;
    for (index, out) in magnitude
        .chunks_mut(PIXELS_PER_INVOCATION)
        .enumerate()
        .filter(|&(index, _)| needed[index])
    {
        let word = first_word + index;
        let mut valid_bits = u32::MAX;
        if params.validity_bitmaps & 1 != 0 {
            valid_bits &= validity_a[word];
        }
        if params.validity_bitmaps & 2 != 0 {
            valid_bits &= validity_b[word];
        }
        let start = word * scene_words;
        if out.len() == PIXELS_PER_INVOCATION {
            let end = start + scene_words;
            main::<BITS, BANDS>(
                params,
                &scene_a[start..end],
                &scene_b[start..end],
                valid_bits,
                out.try_into().expect("a whole word of pixels"),
            );
        } else {
            // A partial word, at the end of the range or of the image: its samples, padded to the whole word.
            let end = (start + scene_words).min(scene_a.len());
            let mut padded = [[0; MAX_WORDS_PER_32_PIXELS]; 2];
            for (pad, scene) in padded.iter_mut().zip([scene_a, scene_b]) {
                pad[..end - start].copy_from_slice(&scene[start..end]);
            }
            let mut whole = [0; PIXELS_PER_INVOCATION];
            main::<BITS, BANDS>(
                params,
                &padded[0][..scene_words],
                &padded[1][..scene_words],
                valid_bits,
                &mut whole,
            );
            out.copy_from_slice(&whole[..out.len()]);
        }
    }
}

fn sample_word<const BITS: u32>(s: u32) -> usize {
    (if BITS == 8 { s >> 2 } else { s >> 1 }) as usize
}

fn sample_value<const BITS: u32>(word: u32, s: u32) -> u32 {
    let per_word_mask = if BITS == 8 { 3 } else { 1 };
    let sample_mask = (1 << BITS) - 1;
    (word >> ((s & per_word_mask) * BITS)) & sample_mask
}

/// 32 invocations: the pixels of one validity word, whose samples are `scene_a` and `scene_b`.
fn main<const BITS: u32, const BANDS: u32>(
    params: &KernelParams,
    scene_a: &[u32],
    scene_b: &[u32],
    valid_bits: u32,
    magnitude: &mut [u32; PIXELS_PER_INVOCATION],
) {
    let bands = bands::<BANDS>(params);
    // Slices of a length known at compile time: no bounds checks in the loop, which can then vectorise.
    let scene_words = (bands * BITS) as usize;
    let (scene_a, scene_b) = (&scene_a[..scene_words], &scene_b[..scene_words]);
    for (pixel, out) in (0..PIXELS_PER_INVOCATION as u32).zip(magnitude) {
        let mut a_is_nodata = true;
        let mut b_is_nodata = true;
        let mut sum = 0;
        for band in 0..bands {
            let s = pixel * bands + band;
            let w = sample_word::<BITS>(s);
            let a = sample_value::<BITS>(scene_a[w], s);
            let b = sample_value::<BITS>(scene_b[w], s);
            a_is_nodata &= a == params.nodata;
            b_is_nodata &= b == params.nodata;
            // Samples are at most 16 bits: the signed difference cannot overflow, and SSE2 has no unsigned
            // 32-bit compare for abs_diff.
            sum += (a as i32 - b as i32).unsigned_abs();
        }
        // `&` and `|` where the shader has `&&` and `||`: no branches, so the loop vectorises.
        let nodata = (params.nodata_enabled != 0) & (a_is_nodata | b_is_nodata);
        let valid = bitmap_bit(valid_bits, pixel) & !nodata;
        *out = if valid { sum } else { INVALID };
    }
}
