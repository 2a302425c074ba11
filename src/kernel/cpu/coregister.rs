//! CPU mirror of `shaders/coregister.wgsl`: the costs of every shift over one inner row, the pixels
//! valid in both scenes and the sum of their band differences, scene b read at the shifted position.
//! The rows are unpacked and corrected once for all the shifts that read them, where the shader reads
//! each sample once per shift.

use super::background::{Correction, corrected_row};
use crate::kernel::params::{KernelParams, Search};
use crate::scene::{Scene, validity_flags};

/// One row of a scene as the search reads it.
#[derive(Default)]
struct SearchRow {
    /// Corrected samples, band-interleaved.
    values: Vec<u16>,
    /// Per pixel, whether it holds an observation.
    valid: Vec<bool>,
    invalid: Vec<usize>,
    /// Per sample, all ones where its pixel is valid, else 0: the differences are masked lane by lane,
    /// a loop without branches over plain slices of samples that vectorises.
    mask: Vec<u16>,
}

impl SearchRow {
    fn load(&mut self, params: &KernelParams, observation: (&Scene, &Correction), y: usize) {
        let (width, bands) = (params.width as usize, params.bands as usize);
        self.values.resize(width * bands, 0);
        self.valid.resize(width, false);
        corrected_row(params, observation, y, &mut self.values, &mut self.invalid);
        validity_flags(&self.invalid, &mut self.valid);
        self.mask.resize(width * bands, 0);
        for (mask, &valid) in self.mask.chunks_exact_mut(bands).zip(&self.valid) {
            mask.fill(if valid { u16::MAX } else { 0 });
        }
    }
}

/// The rows a task reuses from one inner row to the next.
#[derive(Default)]
pub struct SearchScratch {
    a: SearchRow,
    /// Rows y − r ..= y + r of scene b, row y' at place y' mod (2r + 1), so that the next inner row
    /// loads only the row it adds.
    b: Vec<SearchRow>,
    /// The row of scene b at each place.
    b_rows: Vec<Option<usize>>,
}

/// Adds to `costs` (pixels compared, sum of differences; one entry per shift, in the search's order)
/// what inner row `row` contributes, the scenes `a` and `b` corrected by `corrections`.
pub fn coregister(
    params: &KernelParams,
    search: &Search,
    [a, b]: [&Scene; 2],
    corrections: [&Correction; 2],
    row: u32,
    scratch: &mut SearchScratch,
    costs: &mut [(u64, u64)],
) {
    let width = params.width as usize;
    let bands = params.bands as usize;
    let radius = search.radius as usize;
    let side = 2 * radius + 1;
    let y = row as usize + radius;
    scratch.a.load(params, (a, corrections[0]), y);
    scratch.b.resize_with(side, SearchRow::default);
    scratch.b_rows.resize(side, None);
    for source in y - radius..=y + radius {
        let place = source % side;
        if scratch.b_rows[place] != Some(source) {
            scratch.b[place].load(params, (b, corrections[1]), source);
            scratch.b_rows[place] = Some(source);
        }
    }
    // Every shift compares the pixels radius..width − radius of the inner row.
    let inner = radius..width - radius;
    let lanes = inner.start * bands..inner.end * bands;
    let a = &scratch.a;
    for (shift, cost) in costs.iter_mut().enumerate() {
        let (dx, dy) = (shift % side, shift / side);
        let b = &scratch.b[(y + dy - radius) % side];
        // Pixel x of a meets pixel x + dx − radius of b.
        let b_pixels = inner.start + dx - radius..inner.end + dx - radius;
        let b_lanes = b_pixels.start * bands..b_pixels.end * bands;
        let pixels = a.valid[inner.clone()]
            .iter()
            .zip(&b.valid[b_pixels])
            .filter(|&(&a, &b)| a && b)
            .count();
        cost.0 += pixels as u64;
        cost.1 += masked_difference(
            (&a.values[lanes.clone()], &a.mask[lanes.clone()]),
            (&b.values[b_lanes.clone()], &b.mask[b_lanes]),
        );
    }
}

/// Σ |a − b| over the lanes where both masks are set.
fn masked_difference((a, a_mask): (&[u16], &[u16]), (b, b_mask): (&[u16], &[u16])) -> u64 {
    // Summed in 32 bits over blocks of lanes few enough that 16-bit differences cannot overflow them.
    const BLOCK: usize = 1 << 15;
    let blocks = a.chunks(BLOCK).zip(a_mask.chunks(BLOCK));
    let blocks = blocks.zip(b.chunks(BLOCK).zip(b_mask.chunks(BLOCK)));
    blocks
        .map(|((a, a_mask), (b, b_mask))| {
            let lanes = a.iter().zip(a_mask).zip(b.iter().zip(b_mask));
            let sum: u32 = lanes
                .map(|((&a, &a_mask), (&b, &b_mask))| u32::from(a.abs_diff(b) & a_mask & b_mask))
                .sum();
            u64::from(sum)
        })
        .sum()
}
