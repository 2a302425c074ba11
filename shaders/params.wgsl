// Parameters and helpers shared by every stage; prepended to each stage's source when it is compiled.
// Keep in sync with `KernelParams` and the constants in src/kernel/params.rs.

struct Params {
    width: u32,
    height: u32,
    bands: u32,
    // 8 or 16: samples are packed little-endian, 4 or 2 to a word, band-interleaved.
    bits_per_sample: u32,
    nodata: u32,
    // 1 when a pixel whose bands all equal `nodata` is invalid.
    nodata_enabled: u32,
    // Bit 0: scene a has a validity bitmap; bit 1: scene b has one.
    validity_bitmaps: u32,
    // A pixel is changed when its (smoothed) magnitude is greater than this.
    threshold: u32,
    // Smoothing window radius r: the window is (2r + 1)² pixels; 0 disables smoothing.
    radius: u32,
    region_count: u32,
    // 1 when region_stats writes the per-pixel change bitmap.
    write_change_mask: u32,
    // 1 when region_stats counts valid and changed pixels along each region's profile.
    write_profiles: u32,
    // The label raster's pixel under the pass's first pixel: the scene rows a pass covers need not be the
    // first.
    label_offset: u32,
    // region_stats counts only the pass's pixels counted_first..counted_end; the others (the halo a
    // smoothing window reads beyond a stripe) are outside every region.
    counted_first: u32,
    counted_end: u32,
    // Keeps the block a whole number of 16-byte rows, as uniform buffers need.
    padding: u32,
}

// A per-band radiometric correction in fixed point: 16 gains, then 16 offsets, four to a vec4.
// Keep in sync with `Radiometry` in src/kernel/params.rs.
struct Radiometry {
    gain: array<vec4<u32>, 4>,
    offset: array<vec4<i32>, 4>,
}

// Magnitude of a pixel that is invalid in either scene.
const INVALID: u32 = 0xffffffffu;
const WORKGROUP_SIZE: u32 = 256u;
const HISTOGRAM_BINS: u32 = 64u;
// Per region: valid, changed, magnitude sum (low word, high word), then the histogram.
const STATS_WORDS: u32 = 68u;
const STAT_VALID: u32 = 0u;
const STAT_CHANGED: u32 = 1u;
const STAT_SUM_LO: u32 = 2u;
const STAT_SUM_HI: u32 = 3u;
const STAT_HISTOGRAM: u32 = 4u;
// region_stats gives each invocation one word of the change bitmap: 32 consecutive pixels.
const PIXELS_PER_INVOCATION: u32 = 32u;
// Per bin of a region's profile: valid pixels, changed pixels.
const PROFILE_WORDS: u32 = 2u;
const PROFILE_VALID: u32 = 0u;
const PROFILE_CHANGED: u32 = 1u;
// Fractional bits of the fixed-point radiometric gain and offset.
const RADIOMETRY_SHIFT: u32 = 12u;

// The linear invocation index of a dispatch spread over x and y to stay within the per-dimension limit.
fn invocation_index(workgroup: vec3<u32>, workgroups: vec3<u32>, local: u32) -> u32 {
    return (workgroup.y * workgroups.x + workgroup.x) * WORKGROUP_SIZE + local;
}

fn pixel_count() -> u32 {
    return params.width * params.height;
}

fn max_sample() -> u32 {
    return (1u << params.bits_per_sample) - 1u;
}

// Where sample `s` (pixel * bands + band) sits: its word, and its shift inside the word.
fn sample_word(s: u32) -> u32 {
    return select(s >> 1u, s >> 2u, params.bits_per_sample == 8u);
}

fn sample_shift(s: u32) -> u32 {
    let per_word_mask = select(1u, 3u, params.bits_per_sample == 8u);
    return (s & per_word_mask) * params.bits_per_sample;
}

fn sample_value(word: u32, s: u32) -> u32 {
    return (word >> sample_shift(s)) & max_sample();
}

// A sample after its band's correction: clamp((value · gain + offset + 2^11) >> 12, 0, max_sample), in
// i32 with an arithmetic shift. Mirror of `Radiometry::apply`.
fn radiometry_apply(gain: u32, offset: i32, value: u32) -> u32 {
    let scaled = i32(value) * i32(gain) + offset + (1i << (RADIOMETRY_SHIFT - 1u));
    return u32(clamp(scaled >> RADIOMETRY_SHIFT, 0i, i32(max_sample())));
}

// Quarter-octave bins: 0..3 hold the values 0..3; bin 4(e - 1) + s, for e = floor(log2 m) >= 2, holds
// [2^e + s·2^(e-2), 2^e + (s + 1)·2^(e-2)); bin 63 is open above 114688.
fn histogram_bin(m: u32) -> u32 {
    if m < 4u {
        return m;
    }
    let e = firstLeadingBit(m);
    let sub = (m >> (e - 2u)) & 3u;
    return min(4u * (e - 1u) + sub, HISTOGRAM_BINS - 1u);
}

// Bit `pixel` of a bitmap packed 32 pixels to a word, lowest bit first.
fn bitmap_bit(word: u32, pixel: u32) -> bool {
    return ((word >> (pixel & 31u)) & 1u) == 1u;
}
