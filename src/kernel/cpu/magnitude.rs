//! CPU mirror of `shaders/magnitude.wgsl`: per-pixel change magnitude, or INVALID.
//!
//! Work goes 32 pixels at a time, one word of the validity bitmaps, specialised by const generics for the
//! sample layout and for whether samples are radiometrically corrected, so that the per-sample word and shift arithmetic folds to constants and the loop vectorises.

use super::{sample_value, sample_word};
use crate::kernel::params::{
    INVALID, KernelParams, MAX_BANDS, PIXELS_PER_INVOCATION, Radiometry, bitmap_bit,
};

/// Scene words that hold 32 pixels of the widest layout: 16 bands of 16 bits.
const MAX_WORDS_PER_32_PIXELS: usize = (MAX_BANDS * 16) as usize;

/// The inputs of the stage: the two scenes' samples, validity bitmaps and radiometric corrections.
pub struct Scenes<'a> {
    pub samples: [&'a [u32]; 2],
    pub validity: [&'a [u32]; 2],
    pub radiometry: [&'a Radiometry; 2],
}

/// One specialisation of the stage for a sample layout and whether samples are corrected.
type Words = fn(&KernelParams, &Scenes, usize, &[bool], &mut [u32]);

/// Writes the magnitudes of pixels `first..first + magnitude.len()`, in the words of 32 pixels that are
/// `needed`; `first` is a multiple of 32. Without a correction on either side, the samples are compared as
/// they are, in a loop free of the correction's arithmetic.
pub fn magnitude(
    params: &KernelParams,
    scenes: &Scenes,
    first: usize,
    needed: &[bool],
    magnitude: &mut [u32],
) {
    let correct = !scenes.radiometry.iter().all(|r| r.is_identity());
    let words: Words = match (params.bits_per_sample, params.bands, correct) {
        (8, 1, false) => words::<8, 1, false>,
        (8, 2, false) => words::<8, 2, false>,
        (8, 3, false) => words::<8, 3, false>,
        (8, 4, false) => words::<8, 4, false>,
        (8, _, false) => words::<8, 0, false>,
        (_, 1, false) => words::<16, 1, false>,
        (_, 2, false) => words::<16, 2, false>,
        (_, 3, false) => words::<16, 3, false>,
        (_, 4, false) => words::<16, 4, false>,
        (_, _, false) => words::<16, 0, false>,
        (8, 1, true) => words::<8, 1, true>,
        (8, 2, true) => words::<8, 2, true>,
        (8, 3, true) => words::<8, 3, true>,
        (8, 4, true) => words::<8, 4, true>,
        (8, _, true) => words::<8, 0, true>,
        (_, 1, true) => words::<16, 1, true>,
        (_, 2, true) => words::<16, 2, true>,
        (_, 3, true) => words::<16, 3, true>,
        (_, 4, true) => words::<16, 4, true>,
        (_, _, true) => words::<16, 0, true>,
    };
    words(params, scenes, first, needed, magnitude);
}

/// The band count: `BANDS`, or the params' when `BANDS` is 0 (the layouts not specialised).
fn bands<const BANDS: u32>(params: &KernelParams) -> u32 {
    if BANDS == 0 { params.bands } else { BANDS }
}

fn words<const BITS: u32, const BANDS: u32, const CORRECT: bool>(
    params: &KernelParams,
    scenes: &Scenes,
    first: usize,
    needed: &[bool],
    magnitude: &mut [u32],
) {
    let [scene_a, scene_b] = scenes.samples;
    let [validity_a, validity_b] = scenes.validity;
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
            main::<BITS, BANDS, CORRECT>(
                params,
                [&scene_a[start..end], &scene_b[start..end]],
                scenes.radiometry,
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
            main::<BITS, BANDS, CORRECT>(
                params,
                [&padded[0][..scene_words], &padded[1][..scene_words]],
                scenes.radiometry,
                valid_bits,
                &mut whole,
            );
            out.copy_from_slice(&whole[..out.len()]);
        }
    }
}

/// 32 invocations: the pixels of one validity word, whose samples are `scene_a` and `scene_b`.
/// With `CORRECT`, the samples are compared after their scene's radiometric correction; the nodata test
/// looks at the raw samples.
fn main<const BITS: u32, const BANDS: u32, const CORRECT: bool>(
    params: &KernelParams,
    [scene_a, scene_b]: [&[u32]; 2],
    [radiometry_a, radiometry_b]: [&Radiometry; 2],
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
            let (a, b) = if CORRECT {
                let max_sample = (1 << BITS) - 1;
                (
                    radiometry_a.apply(band as usize, a, max_sample),
                    radiometry_b.apply(band as usize, b, max_sample),
                )
            } else {
                (a, b)
            };
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
