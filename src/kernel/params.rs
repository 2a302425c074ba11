//! The parameter block and constants shared by every kernel stage on both backends: the Rust twin of
//! `shaders/params.wgsl`, which must be kept in sync with this file.

use bytemuck::{Pod, Zeroable};

/// Magnitude of a pixel that is invalid in either scene.
pub const INVALID: u32 = u32::MAX;
/// Invocations per GPU workgroup; the CPU mirror does not depend on it.
pub const WORKGROUP_SIZE: u32 = 256;
pub const HISTOGRAM_BINS: usize = 64;
/// Words per region in the statistics block: valid, changed, sum (low, high), histogram.
pub const STATS_WORDS: usize = 4 + HISTOGRAM_BINS;
pub const STAT_VALID: usize = 0;
pub const STAT_CHANGED: usize = 1;
pub const STAT_SUM_LO: usize = 2;
pub const STAT_SUM_HI: usize = 3;
pub const STAT_HISTOGRAM: usize = 4;
/// region_stats handles one word of the change bitmap, 32 consecutive pixels, per invocation.
pub const PIXELS_PER_INVOCATION: usize = 32;
/// Words per bin of a region's profile: valid pixels, changed pixels.
pub const PROFILE_WORDS: usize = 2;
pub const PROFILE_VALID: usize = 0;
pub const PROFILE_CHANGED: usize = 1;
/// Largest smoothing radius: keeps the window sum of 16-band 16-bit magnitudes inside 32 bits.
pub const MAX_SMOOTHING_RADIUS: u32 = 15;
/// Largest number of bands: keeps a run of 32 magnitudes inside 32 bits.
pub const MAX_BANDS: u32 = 16;

/// Fractional bits of the fixed-point radiometric gain and offset.
pub const RADIOMETRY_SHIFT: u32 = 12;
/// The largest fixed-point gain (just under 4): keeps a 16-bit sample times the gain inside 30 bits.
pub const MAX_RADIOMETRY_GAIN: u32 = (4 << RADIOMETRY_SHIFT) - 1;

/// A per-band linear radiometric correction in fixed point, applied to a scene's samples by both backends
/// before they are compared: `v' = clamp((v · gain + offset + 2^11) >> 12, 0, max_sample)`, in 32-bit
/// signed arithmetic with an arithmetic (flooring) shift. `gain` is in [0, 4) and `offset` within
/// ±(max_sample + 1) on the sample scale, both times 2^12. Mirror of `struct Radiometry` and
/// `radiometry_apply` in `shaders/params.wgsl`, which reads it as four vec4s of each: keep in sync.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Radiometry {
    pub gain: [u32; MAX_BANDS as usize],
    pub offset: [i32; MAX_BANDS as usize],
}

impl Radiometry {
    /// No correction.
    pub const IDENTITY: Radiometry = Radiometry {
        gain: [1 << RADIOMETRY_SHIFT; MAX_BANDS as usize],
        offset: [0; MAX_BANDS as usize],
    };

    /// The correction `v' = gain[b] · v + offset[b]` for each band b, rounded to fixed point and clamped
    /// to the representable range for samples of `bits_per_sample` bits.
    pub fn from_linear(gains: &[f64], offsets: &[f64], bits_per_sample: u32) -> Radiometry {
        let one = f64::from(1u32 << RADIOMETRY_SHIFT);
        let offset_limit = f64::from(1u32 << bits_per_sample) * one;
        let mut radiometry = Radiometry::IDENTITY;
        for (band, (&gain, &offset)) in gains.iter().zip(offsets).enumerate() {
            radiometry.gain[band] = (gain * one)
                .round()
                .clamp(0.0, f64::from(MAX_RADIOMETRY_GAIN))
                as u32;
            radiometry.offset[band] =
                (offset * one).round().clamp(-offset_limit, offset_limit) as i32;
        }
        radiometry
    }

    /// The corrected value of `value`, a sample of `band`.
    pub fn apply(&self, band: usize, value: u32, max_sample: u32) -> u32 {
        Self::apply_fixed(
            value as i32,
            self.gain[band] as i32,
            self.offset[band],
            max_sample as i32,
        ) as u32
    }

    /// The correction of one sample, `value`, by a band's fixed-point `gain` and `offset`.
    pub fn apply_fixed(value: i32, gain: i32, offset: i32, max_sample: i32) -> i32 {
        let scaled = value * gain + offset + (1 << (RADIOMETRY_SHIFT - 1));
        (scaled >> RADIOMETRY_SHIFT).clamp(0, max_sample)
    }

    pub fn is_identity(&self) -> bool {
        *self == Radiometry::IDENTITY
    }

    /// The first `bands` gains and offsets on the native sample scale: exact multiples of 1/4096.
    pub fn to_linear(&self, bands: usize) -> (Vec<f64>, Vec<f64>) {
        let one = f64::from(1u32 << RADIOMETRY_SHIFT);
        (
            self.gain[..bands]
                .iter()
                .map(|&g| f64::from(g) / one)
                .collect(),
            self.offset[..bands]
                .iter()
                .map(|&o| f64::from(o) / one)
                .collect(),
        )
    }

    /// Whether every band's gain and offset lie in the documented ranges for samples of
    /// `bits_per_sample` bits, so that `apply` cannot overflow 32 bits.
    pub fn fits(&self, bits_per_sample: u32) -> bool {
        let offset_limit = (1i64 << bits_per_sample) << RADIOMETRY_SHIFT;
        self.gain.iter().all(|&g| g <= MAX_RADIOMETRY_GAIN)
            && self
                .offset
                .iter()
                .all(|&o| i64::from(o).abs() <= offset_limit)
    }
}

/// The uniform block every stage reads. Mirror of `struct Params` in `shaders/params.wgsl`: keep in sync.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct KernelParams {
    pub width: u32,
    pub height: u32,
    pub bands: u32,
    /// 8 or 16: samples are packed little-endian, 4 or 2 to a word, band-interleaved.
    pub bits_per_sample: u32,
    pub nodata: u32,
    /// 1 when a pixel whose bands all equal `nodata` is invalid.
    pub nodata_enabled: u32,
    /// Bit 0: scene a has a validity bitmap; bit 1: scene b has one.
    pub validity_bitmaps: u32,
    /// A pixel is changed when its (smoothed) magnitude is greater than this.
    pub threshold: u32,
    /// Smoothing window radius r: the window is (2r + 1)² pixels; 0 disables smoothing.
    pub radius: u32,
    pub region_count: u32,
    /// 1 when region_stats writes the per-pixel change bitmap.
    pub write_change_mask: u32,
    /// 1 when region_stats counts valid and changed pixels along each region's profile.
    pub write_profiles: u32,
    /// The label raster's pixel under the pass's first pixel: the scene rows a pass covers need not be
    /// the first.
    pub label_offset: u32,
    /// region_stats counts only the pass's pixels `counted_first..counted_end`; the others (the halo
    /// a smoothing window reads beyond a stripe) are outside every region.
    pub counted_first: u32,
    pub counted_end: u32,
    /// Keeps the block a whole number of 16-byte rows, as uniform buffers need.
    pub padding: u32,
}

impl KernelParams {
    pub fn pixel_count(&self) -> u32 {
        self.width * self.height
    }

    pub fn max_sample(&self) -> u32 {
        (1 << self.bits_per_sample) - 1
    }
}

/// Pixels of a row that one co-registration invocation sums: keeps its sum of up to 16 bands of 16-bit
/// differences within 32 bits.
pub const SEARCH_SEGMENT_PIXELS: u32 = 64;
/// Words per shift in the co-registration costs: pixels compared, sum (low, high).
pub const COST_WORDS: usize = 3;
pub const COST_PIXELS: usize = 0;
pub const COST_SUM_LO: usize = 1;
pub const COST_SUM_HI: usize = 2;
/// Largest co-registration search radius, in pixels.
pub const MAX_SEARCH_RADIUS: u32 = 16;

/// Where the co-registration stage searches: shifts within ±`radius` px on each axis, over the inner
/// window `radius` px in from every edge, so that every shift compares the same pixels of scene a. Mirror
/// of `struct Search` in `shaders/coregister.wgsl`: keep in sync.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Pod, Zeroable)]
pub struct Search {
    pub radius: u32,
    /// Segments of [`SEARCH_SEGMENT_PIXELS`] per row of the inner window.
    pub segments_per_row: u32,
    /// Rows of the inner window.
    pub inner_rows: u32,
    /// (2 · radius + 1)²: shift i is dx = i mod (2r + 1) − r, dy = i div (2r + 1) − r.
    pub shifts: u32,
}

impl Search {
    /// The search within ±`radius` px over scenes of `width` x `height` px, both above 2 · radius.
    pub fn new(width: u32, height: u32, radius: u32) -> Search {
        let side = 2 * radius + 1;
        Search {
            radius,
            segments_per_row: (width - 2 * radius).div_ceil(SEARCH_SEGMENT_PIXELS),
            inner_rows: height - 2 * radius,
            shifts: side * side,
        }
    }

    /// Invocations of the stage: one per shift, inner row and segment.
    pub fn invocations(&self) -> usize {
        self.shifts as usize * self.inner_rows as usize * self.segments_per_row as usize
    }
}

/// Quarter-octave bins: bins 0..3 hold the values 0..3; bin 4(e − 1) + s, for e = ⌊log2 m⌋ ≥ 2, holds
/// [2^e + s·2^(e−2), 2^e + (s + 1)·2^(e−2)); bin 63 is open above 114688.
pub fn histogram_bin(m: u32) -> u32 {
    if m < 4 {
        return m;
    }
    let e = 31 - m.leading_zeros();
    let sub = (m >> (e - 2)) & 3;
    (4 * (e - 1) + sub).min(HISTOGRAM_BINS as u32 - 1)
}

/// The smallest magnitude that falls into `bin`: the documented lower edge of the bin.
pub fn histogram_bin_lower_edge(bin: usize) -> u32 {
    assert!(bin < HISTOGRAM_BINS, "histogram bin {bin} out of range");
    if bin < 4 {
        return bin as u32;
    }
    let e = (bin / 4 + 1) as u32;
    let sub = (bin % 4) as u32;
    (1 << e) + (sub << (e - 2))
}

/// Bit `pixel` of a bitmap packed 32 pixels to a word, lowest bit first.
pub fn bitmap_bit(word: u32, pixel: u32) -> bool {
    (word >> (pixel & 31)) & 1 == 1
}

/// The bitmap of `pixels` pixels with every bit set (the last word's unused bits clear).
pub fn all_set_bitmap(pixels: usize) -> Vec<u32> {
    (0..pixels)
        .step_by(32)
        .map(|first| u32::MAX >> (32 - (pixels - first).min(32)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_value_falls_between_its_bin_edges() {
        for m in (0..200_000).chain([1 << 20, INVALID - 1]) {
            let bin = histogram_bin(m) as usize;
            assert!(
                histogram_bin_lower_edge(bin) <= m,
                "value {m} below bin {bin}"
            );
            if bin + 1 < HISTOGRAM_BINS {
                assert!(
                    m < histogram_bin_lower_edge(bin + 1),
                    "value {m} above bin {bin}"
                );
            }
        }
    }

    #[test]
    fn bin_edges_are_quarter_octaves() {
        let edges: Vec<u32> = (0..12).map(histogram_bin_lower_edge).collect();
        assert_eq!(edges, [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14]);
        assert_eq!(histogram_bin_lower_edge(63), 114_688);
    }

    #[test]
    fn params_block_is_a_whole_number_of_16_byte_rows() {
        assert_eq!(std::mem::size_of::<KernelParams>() % 16, 0);
    }
}
