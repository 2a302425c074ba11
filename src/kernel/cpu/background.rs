//! CPU mirror of `shaders/background.wgsl`: per pixel and band, the lower median of the corrected samples of
//! a stack's valid observations, found bit by bit from the top as the shader does.
//!
//! Where the shader runs one invocation per pixel, this runs one row at a time over all its samples (pixels
//! times bands) as 16-bit lanes: each observation's corrected samples are gathered once for the row, an
//! invalid observation's as 0xffff, which no candidate exceeds, so that it never counts as below; then
//! every step of the search runs across the row's lanes, a loop without branches that vectorises.

use crate::kernel::params::{KernelParams, Radiometry};
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
    /// The pixels of the row the observation being gathered does not hold.
    invalid: Vec<usize>,
}

/// How one observation's raw samples become corrected ones: as they are, or by its fixed-point gains and
/// offsets, repeated lane by lane over `PATTERN_PIXELS` pixels so that the correction of a row runs as a
/// loop without branches that vectorises.
pub enum Correction {
    Identity,
    Linear { gains: Vec<i32>, offsets: Vec<i32> },
}

const PATTERN_PIXELS: usize = 16;

impl Correction {
    /// The correction of each observation of `stack`, made once for every row.
    pub fn of_stack(params: &KernelParams, stack: &[(&Scene, Radiometry)]) -> Vec<Correction> {
        stack
            .iter()
            .map(|(_, radiometry)| Correction::new(params, radiometry))
            .collect()
    }

    /// The correction by `radiometry` of scenes of the kernel's band count.
    pub fn new(params: &KernelParams, radiometry: &Radiometry) -> Correction {
        let bands = params.bands as usize;
        let lanes = |per_band: &[i32]| per_band[..bands].repeat(PATTERN_PIXELS);
        match radiometry.is_identity() {
            true => Correction::Identity,
            false => Correction::Linear {
                gains: lanes(&radiometry.gain.map(|gain| gain as i32)),
                offsets: lanes(&radiometry.offset),
            },
        }
    }

    /// Corrects a row's raw samples, band-interleaved, in place.
    fn correct(&self, values: &mut [u16], max_sample: u32) {
        let Correction::Linear { gains, offsets } = self else {
            return;
        };
        for chunk in values.chunks_mut(gains.len()) {
            for ((value, &gain), &offset) in chunk.iter_mut().zip(gains).zip(offsets) {
                *value = Radiometry::apply_fixed(i32::from(*value), gain, offset, max_sample as i32)
                    as u16;
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
    let observations = stack.iter().map(|(scene, _)| *scene).zip(corrections);
    for (observation, values) in observations.zip(scratch.values.chunks_exact_mut(lanes)) {
        gather(
            params,
            observation,
            y,
            values,
            &mut scratch.valid_count,
            &mut scratch.invalid,
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
/// invalid pixel), and one more valid observation counted for each valid pixel. `invalid` is scratch.
fn gather(
    params: &KernelParams,
    observation: (&Scene, &Correction),
    y: usize,
    values: &mut [u16],
    valid_count: &mut [u16],
    invalid: &mut Vec<usize>,
) {
    let bands = params.bands as usize;
    corrected_row(params, observation, y, values, invalid);
    for count in valid_count.iter_mut() {
        *count += 1;
    }
    for &x in invalid.iter() {
        valid_count[x] -= 1;
        values[x * bands..(x + 1) * bands].fill(INVALID_LANE);
    }
}

/// Row `y` of one observation: its samples, band-interleaved and corrected, into `values`, and into
/// `invalid` the pixels that hold no observation: marked invalid, or with `nodata` in every raw band.
pub(super) fn corrected_row(
    params: &KernelParams,
    (scene, correction): (&Scene, &Correction),
    y: usize,
    values: &mut [u16],
    invalid: &mut Vec<usize>,
) {
    let first_pixel = y * params.width as usize;
    scene.unpack_samples(first_pixel, values);
    // Nodata is a raw value: the invalid pixels are found before correcting.
    let nodata = (params.nodata_enabled != 0).then_some(params.nodata);
    scene.find_invalid(first_pixel, values, nodata, invalid);
    correction.correct(values, params.max_sample());
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
