//! CPU mirror of `shaders/background.wgsl`: per pixel and band, the lower median of the corrected samples of
//! a stack's valid observations, found bit by bit from the top as the shader does.
//!
//! Where the shader runs one invocation per pixel, this runs one row at a time over all its samples (pixels
//! times bands) as 16-bit lanes: each observation's corrected samples are gathered once for the row, an
//! invalid observation's as 0xffff, which no candidate exceeds, so that it never counts as below; then
//! every step of the search runs across the row's lanes, a loop without branches that vectorises.

use crate::kernel::params::{KernelParams, Radiometry, bitmap_bit};
use crate::scene::Scene;

/// The lane of an invalid observation: above every candidate median, so never counted below one.
const INVALID_LANE: u16 = u16::MAX;

/// A task's buffers, reused from row to row.
#[derive(Default)]
pub struct BackgroundScratch {
    /// Per observation, the row's corrected samples, band-interleaved; `INVALID_LANE` where invalid.
    values: Vec<u16>,
    /// Per sample of the row: half its pixel's count of valid observations, rounded up.
    half: Vec<u16>,
    /// Per pixel of the row: how many observations are valid.
    valid_count: Vec<u16>,
    median: Vec<u16>,
    below: Vec<u16>,
}

/// How one observation's raw samples become corrected ones: as they are, from a table of every corrected
/// value (8-bit samples: 256 a band), or by the correction itself (16-bit samples).
pub enum Correction {
    Identity,
    Table(Vec<u16>),
    Apply(Radiometry),
}

impl Correction {
    /// The correction of each observation of `stack`, made once for every row.
    pub fn of_stack(params: &KernelParams, stack: &[(&Scene, Radiometry)]) -> Vec<Correction> {
        let max_sample = params.max_sample();
        stack
            .iter()
            .map(
                |(_, radiometry)| match (radiometry.is_identity(), params.bits_per_sample) {
                    (true, _) => Correction::Identity,
                    (false, 8) => Correction::Table(
                        (0..params.bands as usize)
                            .flat_map(|band| {
                                (0..256)
                                    .map(move |raw| radiometry.apply(band, raw, max_sample) as u16)
                            })
                            .collect(),
                    ),
                    (false, _) => Correction::Apply(*radiometry),
                },
            )
            .collect()
    }

    /// Corrects the raw samples of one pixel, band by band, in place.
    fn correct(&self, pixel_values: &mut [u16], max_sample: u32) {
        match self {
            Correction::Identity => {}
            Correction::Table(table) => {
                for (band, value) in pixel_values.iter_mut().enumerate() {
                    *value = table[band * 256 + usize::from(*value)];
                }
            }
            Correction::Apply(radiometry) => {
                for (band, value) in pixel_values.iter_mut().enumerate() {
                    *value = radiometry.apply(band, u32::from(*value), max_sample) as u16;
                }
            }
        }
    }
}

/// Writes row `y` of the background of `stack`, whose observations are corrected by `corrections`
/// ([`Correction::of_stack`]): its samples, band-interleaved, and per pixel whether any observation is valid.
pub fn background(
    params: &KernelParams,
    stack: &[(&Scene, Radiometry)],
    corrections: &[Correction],
    y: usize,
    scratch: &mut BackgroundScratch,
    samples: &mut [u16],
    valid: &mut [bool],
) {
    if params.bits_per_sample == 8 {
        row::<8>(params, stack, corrections, y, scratch, samples, valid);
    } else {
        row::<16>(params, stack, corrections, y, scratch, samples, valid);
    }
}

fn row<const BITS: u32>(
    params: &KernelParams,
    stack: &[(&Scene, Radiometry)],
    corrections: &[Correction],
    y: usize,
    scratch: &mut BackgroundScratch,
    samples: &mut [u16],
    valid: &mut [bool],
) {
    let width = params.width as usize;
    let bands = params.bands as usize;
    let lanes = width * bands;
    scratch.values.resize(stack.len() * lanes, 0);
    scratch.valid_count.clear();
    scratch.valid_count.resize(width, 0);
    let observations = stack.iter().zip(corrections);
    for (((scene, _), correction), values) in
        observations.zip(scratch.values.chunks_exact_mut(lanes))
    {
        gather::<BITS>(
            params,
            scene,
            correction,
            y,
            values,
            &mut scratch.valid_count,
        );
    }
    for (out, &count) in valid.iter_mut().zip(&scratch.valid_count) {
        *out = count > 0;
    }
    scratch.half.clear();
    scratch.half.extend(
        scratch
            .valid_count
            .iter()
            .flat_map(|&count| std::iter::repeat_n(count.div_ceil(2), bands)),
    );
    scratch.median.resize(lanes, 0);
    scratch.below.resize(lanes, 0);
    main::<BITS>(
        &scratch.values,
        &scratch.half,
        &mut scratch.median,
        &mut scratch.below,
    );
    samples.copy_from_slice(&scratch.median);
}

/// Row `y` of one observation: its corrected samples into `values` (`INVALID_LANE` for every band of an
/// invalid pixel: marked invalid, or with `nodata` in every raw band), and one more valid observation
/// counted for each valid pixel.
fn gather<const BITS: u32>(
    params: &KernelParams,
    scene: &Scene,
    correction: &Correction,
    y: usize,
    values: &mut [u16],
    valid_count: &mut [u16],
) {
    let bands = params.bands as usize;
    let width = params.width as usize;
    scene.unpack_samples(y * width, values);
    let max_sample = params.max_sample();
    let nodata = (params.nodata_enabled != 0).then_some(params.nodata);
    let pixels = values.chunks_exact_mut(bands).zip(valid_count.iter_mut());
    for (pixel, (pixel_values, count)) in (y * width..).zip(pixels) {
        let marked = scene
            .validity
            .as_ref()
            .is_none_or(|bitmap| bitmap_bit(bitmap[pixel >> 5], pixel as u32));
        let all_nodata = nodata.is_some_and(|n| pixel_values.iter().all(|&v| u32::from(v) == n));
        if marked && !all_nodata {
            correction.correct(pixel_values, max_sample);
            *count += 1;
        } else {
            pixel_values.fill(INVALID_LANE);
        }
    }
}

/// The shader's search, across a row's lanes: the median of each lane is the largest value m such that
/// fewer than `half` = (n + 1) / 2 of its n valid observations lie below m, which is the smallest m with at
/// least half at or below it; built from the top bit down. With no valid observation, half is 0 and m stays
/// 0. Invalid observations hold `INVALID_LANE`, below no candidate.
fn main<const BITS: u32>(values: &[u16], half: &[u16], median: &mut [u16], below: &mut [u16]) {
    let lanes = median.len();
    median.fill(0);
    for bit in (0..BITS).rev() {
        below.fill(0);
        for values in values.chunks_exact(lanes) {
            for ((below, &median), &value) in below.iter_mut().zip(&*median).zip(values) {
                let candidate = median | (1 << bit);
                *below += u16::from(value < candidate);
            }
        }
        for ((median, &below), &half) in median.iter_mut().zip(&*below).zip(half) {
            let candidate = *median | (1 << bit);
            *median = if below < half { candidate } else { *median };
        }
    }
}
