//! Automatic cloud and cloud-shadow masking, so that clouds and their shadows are reported as invalid
//! rather than as change. A scene is judged against a reference of the same place (the other scene of a
//! pair), each on its own brightness scale, so the rule holds for 8- and 16-bit samples alike and for
//! scenes of different illumination.
//!
//! The rule, on each pixel's band sum S (of the first three bands, or of all of them with fewer: its
//! brightness times their count) relative to its scene's median band sum M over the pixels valid in both,
//! β = S / M, and the scene's chroma c (largest minus smallest of those bands), with b = S / bands:
//! 1. cloud cores: β ≥ [`CORE_LEVEL`], β − β_reference ≥ [`CORE_BRIGHTENING`] and c ≤ [`CLOUD_CHROMA`] · b
//!    (brighter than most of the scene, much brighter than the reference there, and grey-white);
//! 2. clouds: the 4-connected blobs of pixels with β − β_reference ≥ [`EDGE_BRIGHTENING`] holding at
//!    least [`MIN_CLOUD_FRACTION`] of the scene (and 64 px) of cores (a ship or a roof is smaller),
//!    dilated by [`CLOUD_DILATION`] of the scene's shorter side (their soft edges);
//! 3. shadows: the clouds' footprint displaced by the shift, within the clouds' own extent, under which
//!    the scene darkened most against the reference; its pixels there with β − β_reference ≤
//!    −[`SHADOW_DARKENING`], dilated like the clouds.
//!
//! The comparisons of steps 1 to 3 are made exactly, in integers (the levels are [`Ratio`]s), row by row
//! from the samples, so that detection holds no per-pixel value but bitmaps.

use crate::kernel::params::{all_set_bitmap, bitmap_bit};
use crate::scene::Scene;
use std::collections::VecDeque;
use std::ops::Range;

/// A level of the rule, `numerator / denominator`, compared exactly with ratios of band sums.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ratio {
    pub numerator: i64,
    pub denominator: i64,
}

impl Ratio {
    const fn new(numerator: i64, denominator: i64) -> Ratio {
        Ratio {
            numerator,
            denominator,
        }
    }

    /// Whether `value / scale` is at least this ratio, for `scale` > 0: `value · denominator ≥ numerator ·
    /// scale`, which also holds for `scale` 0 and any `value` ≥ 0.
    fn reached_by(self, value: i64, scale: i64) -> bool {
        value * self.denominator >= self.numerator * scale
    }
}

pub const CORE_LEVEL: Ratio = Ratio::new(115, 100);
pub const CORE_BRIGHTENING: Ratio = Ratio::new(1, 2);
pub const EDGE_BRIGHTENING: Ratio = Ratio::new(15, 100);
pub const CLOUD_CHROMA: Ratio = Ratio::new(1, 5);
pub const SHADOW_DARKENING: Ratio = Ratio::new(1, 10);
pub const MIN_CLOUD_FRACTION: f64 = 0.005;
pub const CLOUD_DILATION: f64 = 0.02;
/// Shadow displacements tried per axis, evenly over the clouds' extent.
const SHADOW_STEPS: i64 = 24;

/// Whether clouds and their shadows are found and masked automatically.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum CloudMasking {
    Auto,
    None,
}

/// Which pixels of a scene are cloud or cloud shadow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudCover {
    /// Pixels valid before masking.
    pub valid_px: u64,
    pub cloud_px: u64,
    /// Shadow pixels that are not also cloud.
    pub shadow_px: u64,
    /// Cloud or shadow; empty when there is none.
    masked: Bitmap,
}

impl CloudCover {
    /// A scene with no cloud found or looked for.
    pub fn clear(scene: &Scene, nodata: Option<u32>) -> CloudCover {
        CloudCover::from_counts(Bitmap::valid(scene, nodata).count(), 0, 0)
    }

    /// The fraction of the scene's valid pixels that are cloud.
    pub fn cloud_fraction(&self) -> f64 {
        fraction(self.cloud_px, self.valid_px)
    }

    /// The fraction of the scene's valid pixels that are cloud shadow.
    pub fn shadow_fraction(&self) -> f64 {
        fraction(self.shadow_px, self.valid_px)
    }

    /// Clears the validity bit of every cloud and shadow pixel of `scene`, then lets go of the per-pixel
    /// mask: what a run keeps of each scene's cover is its counts.
    pub fn mask(&mut self, scene: &mut Scene) {
        let masked = std::mem::take(&mut self.masked);
        if self.cloud_px + self.shadow_px == 0 {
            return;
        }
        let bitmap = scene
            .validity
            .get_or_insert_with(|| all_set_bitmap(scene.format.pixel_count()));
        for (word, masked) in bitmap.iter_mut().zip(&masked.0) {
            *word &= !masked;
        }
    }

    /// A cover of these counts, without a per-pixel mask (as [`CloudCover::mask`] leaves it).
    pub fn from_counts(valid_px: u64, cloud_px: u64, shadow_px: u64) -> CloudCover {
        CloudCover {
            valid_px,
            cloud_px,
            shadow_px,
            masked: Bitmap::default(),
        }
    }
}

fn fraction(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// One bit per pixel, laid out as the scenes' validity bitmaps: what detection holds of each pixel, so
/// that it holds a few bits a pixel beside the scenes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Bitmap(Vec<u32>);

impl Bitmap {
    fn empty(pixels: usize) -> Bitmap {
        Bitmap(vec![0; pixels.div_ceil(32)])
    }

    /// The pixels of `scene` that hold an observation ([`Scene::is_valid`]).
    fn valid(scene: &Scene, nodata: Option<u32>) -> Bitmap {
        let pixels = scene.format.pixel_count();
        let mut words = all_set_bitmap(pixels);
        if let Some(validity) = &scene.validity {
            for (word, valid) in words.iter_mut().zip(validity) {
                *word &= valid;
            }
        }
        let mut bitmap = Bitmap(words);
        if let Some(value) = nodata {
            let (width, bands) = (scene.format.width as usize, scene.format.bands as usize);
            let mut samples = vec![0; width * bands];
            for first in (0..pixels).step_by(width) {
                scene.unpack_samples(first, &mut samples);
                for (p, pixel) in (first..).zip(samples.chunks_exact(bands)) {
                    if pixel.iter().all(|&sample| u32::from(sample) == value) {
                        bitmap.clear(p);
                    }
                }
            }
        }
        bitmap
    }

    /// How many pixels are set.
    fn count(&self) -> u64 {
        self.0.iter().map(|word| u64::from(word.count_ones())).sum()
    }

    fn get(&self, p: usize) -> bool {
        bitmap_bit(self.0[p / 32], p as u32)
    }

    fn set(&mut self, p: usize) {
        self.0[p / 32] |= 1 << (p % 32);
    }

    fn clear(&mut self, p: usize) {
        self.0[p / 32] &= !(1 << (p % 32));
    }

    fn any(&self) -> bool {
        self.0.iter().any(|&word| word != 0)
    }

    /// The pixels set, in order.
    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.ones_in(0..self.0.len() * 32)
    }

    /// The pixels set among `pixels`, in order.
    fn ones_in(&self, pixels: Range<usize>) -> impl Iterator<Item = usize> + '_ {
        let words = pixels.start / 32..pixels.end.div_ceil(32);
        self.0[words.clone()]
            .iter()
            .zip(words)
            .flat_map(move |(&word, index)| {
                let first = index * 32;
                // Bits `low..high` of the word lie in `pixels`.
                let low = pixels.start.saturating_sub(first);
                let high = pixels.end - first;
                let below_high = if high >= 32 {
                    u32::MAX
                } else {
                    (1 << high) - 1
                };
                let mut left = word & below_high & (u32::MAX << low);
                std::iter::from_fn(move || {
                    (left != 0).then(|| {
                        let bit = left.trailing_zeros() as usize;
                        left &= left - 1;
                        first + bit
                    })
                })
            })
    }

    /// The pixels set here and not in `other`.
    fn and_not(&self, other: &Bitmap) -> Bitmap {
        self.combined(other, |a, b| a & !b)
    }

    /// The pixels set here or in `other`.
    fn or(&self, other: &Bitmap) -> Bitmap {
        self.combined(other, |a, b| a | b)
    }

    /// The pixels set here and in `other`.
    fn and(&self, other: &Bitmap) -> Bitmap {
        self.combined(other, |a, b| a & b)
    }

    /// Each word of this bitmap and the same word of `other`, combined by `word`.
    fn combined(&self, other: &Bitmap, word: impl Fn(u32, u32) -> u32) -> Bitmap {
        Bitmap(
            self.0
                .iter()
                .zip(&other.0)
                .map(|(&a, &b)| word(a, b))
                .collect(),
        )
    }

    /// The columns and rows, of a raster `width` wide, that hold the set pixels; `None` when none is set.
    fn bounds(&self, width: usize) -> Option<(Range<usize>, Range<usize>)> {
        let (mut columns, mut rows) = ((usize::MAX, 0), (usize::MAX, 0));
        for (x, y) in self.ones().map(|p| (p % width, p / width)) {
            columns = (columns.0.min(x), columns.1.max(x + 1));
            rows = (rows.0.min(y), rows.1.max(y + 1));
        }
        (rows.1 > 0).then_some((columns.0..columns.1, rows.0..rows.1))
    }
}

/// A row's band sums of both scenes, and the buffer they are made in.
#[derive(Default)]
struct RowSums {
    samples: Vec<u16>,
    sums: [Vec<u32>; 2],
}

/// The sums of the first `VISIBLE` of the `bands` samples of each pixel of `samples`, into `sums`.
fn band_sums<const VISIBLE: usize>(samples: &[u16], bands: usize, sums: &mut [u32]) {
    for (sum, pixel) in sums.iter_mut().zip(samples.chunks_exact(bands)) {
        *sum = pixel[..VISIBLE].iter().map(|&v| u32::from(v)).sum();
    }
}

/// A scene's and its reference's band sums and chroma, computed from their samples a row at a time, so
/// that detection holds no per-pixel value of them; index 0 is the scene's, 1 the reference's.
struct Tones<'a> {
    scenes: [&'a Scene; 2],
    /// Bands of which brightness and chroma are made: the first three, or all with fewer.
    visible: usize,
    /// The median band sums M over the pixels valid in both scenes.
    medians: [i64; 2],
}

impl<'a> Tones<'a> {
    /// The tones of `scene` and `reference` over the pixels `valid` in both; `None` when no pixel is valid
    /// or a median is 0.
    fn of(scene: &'a Scene, reference: &'a Scene, valid: &Bitmap) -> Option<Tones<'a>> {
        let format = scene.format;
        let visible = format.bands.min(3) as usize;
        let mut tones = Tones {
            scenes: [scene, reference],
            visible,
            medians: [0; 2],
        };
        // Medians of band sums, whose histograms are small.
        let bins = visible * format.max_sample() as usize + 1;
        let mut histograms = [vec![0usize; bins], vec![0usize; bins]];
        let mut rows = RowSums::default();
        let width = format.width as usize;
        let mut count = 0;
        for y in 0..format.height as usize {
            let first = tones.row_sums(y, &mut rows);
            for p in valid.ones_in(first..first + width) {
                for (histogram, sums) in histograms.iter_mut().zip(&rows.sums) {
                    histogram[sums[p - first] as usize] += 1;
                }
                count += 1;
            }
        }
        // The element at index count / 2 of the sorted sums.
        for (median, histogram) in tones.medians.iter_mut().zip(&histograms) {
            let mut below = 0;
            *median = histogram.iter().position(|&n| {
                below += n;
                below > count / 2
            })? as i64;
        }
        (tones.medians[0] > 0 && tones.medians[1] > 0).then_some(tones)
    }

    /// The band sums of each pixel of row `y` of both scenes, into `rows`; returns the row's first pixel.
    fn row_sums(&self, y: usize, rows: &mut RowSums) -> usize {
        let format = self.scenes[0].format;
        let (width, bands) = (format.width as usize, format.bands as usize);
        rows.samples.resize(width * bands, 0);
        for (scene, sums) in self.scenes.iter().zip(&mut rows.sums) {
            scene.unpack_samples(y * width, &mut rows.samples);
            sums.resize(width, 0);
            match self.visible {
                1 => band_sums::<1>(&rows.samples, bands, sums),
                2 => band_sums::<2>(&rows.samples, bands, sums),
                _ => band_sums::<3>(&rows.samples, bands, sums),
            }
        }
        y * width
    }

    fn sum(&self, which: usize, p: usize) -> u32 {
        (0..self.visible)
            .map(|b| self.scenes[which].sample(p, b))
            .sum()
    }

    /// How much brighter the scene is than the reference at a pixel of these band sums: β − β_reference,
    /// times [`Tones::scale`].
    fn brightening(&self, sums: [u32; 2]) -> i64 {
        i64::from(sums[0]) * self.medians[1] - i64::from(sums[1]) * self.medians[0]
    }

    /// M · M_reference: what [`Tones::brightening`] is over.
    fn scale(&self) -> i64 {
        self.medians[0] * self.medians[1]
    }

    /// [`Tones::brightening`] at pixel `p`.
    fn brightening_at(&self, p: usize) -> i64 {
        self.brightening([self.sum(0, p), self.sum(1, p)])
    }

    /// Whether pixel `p` of scene `which` is grey-white enough for a cloud core: its chroma at most
    /// [`CLOUD_CHROMA`] of its brightness.
    fn is_grey(&self, which: usize, p: usize) -> bool {
        let bands = (0..self.visible).map(|b| self.scenes[which].sample(p, b));
        let (sum, low, high) =
            bands.fold((0, u32::MAX, 0), |(s, l, h), v| (s + v, l.min(v), h.max(v)));
        let brightness_times_visible = i64::from(sum);
        CLOUD_CHROMA.reached_by(
            brightness_times_visible,
            self.visible as i64 * i64::from(high - low),
        )
    }

    /// The clouds of scene `which` (0: the scene's, brightening it; 1: the reference's), by steps 1 and 2
    /// of the rule, before dilation: the blobs of edges holding at least `min_cores` cores.
    fn clouds(&self, which: usize, valid: &Bitmap, min_cores: usize) -> Bitmap {
        let format = self.scenes[0].format;
        let (width, height) = (format.width as usize, format.height as usize);
        let (mut cores, mut edges) = (Bitmap::empty(width * height), Bitmap::empty(width * height));
        let mut core_count = 0;
        let sign = if which == 0 { 1 } else { -1 };
        let scale = self.scale();
        let mut rows = RowSums::default();
        for y in 0..height {
            let first = self.row_sums(y, &mut rows);
            for p in valid.ones_in(first..first + width) {
                let pixel_sums = [rows.sums[0][p - first], rows.sums[1][p - first]];
                let brightening = sign * self.brightening(pixel_sums);
                // Cores brighten more than edges: every core is an edge.
                if !EDGE_BRIGHTENING.reached_by(brightening, scale) {
                    continue;
                }
                edges.set(p);
                if CORE_BRIGHTENING.reached_by(brightening, scale)
                    && CORE_LEVEL.reached_by(i64::from(pixel_sums[which]), self.medians[which])
                    && self.is_grey(which, p)
                {
                    cores.set(p);
                    core_count += 1;
                }
            }
        }
        // No blob can hold more cores than there are.
        if core_count < min_cores {
            return Bitmap::empty(width * height);
        }
        blobs_with_cores(&edges, &cores, width, height, min_cores)
    }
}

/// The clouds and shadows of `scene` against `reference`, a scene of the same place and size, by the rule
/// in the module's documentation.
pub fn detect(scene: &Scene, reference: &Scene, nodata: Option<u32>) -> CloudCover {
    let format = scene.format;
    let (width, height) = (format.width as usize, format.height as usize);
    let pixels = format.pixel_count();
    let scene_valid = Bitmap::valid(scene, nodata);
    let mut cover = CloudCover::from_counts(scene_valid.count(), 0, 0);
    let valid = scene_valid.and(&Bitmap::valid(reference, nodata));
    let Some(tones) = Tones::of(scene, reference, &valid) else {
        return cover;
    };
    let min_area = (MIN_CLOUD_FRACTION * pixels as f64).max(64.0) as usize;
    let dilation = (CLOUD_DILATION * width.min(height) as f64).ceil() as usize;
    let cloud = dilate(&tones.clouds(0, &valid, min_area), width, height, dilation);
    if !cloud.any() {
        return cover;
    }
    // Where the reference has a cloud, the scene looks darker: no shadow of the scene's is sought there.
    let reference_cloud = dilate(&tones.clouds(1, &valid, min_area), width, height, dilation);
    let clear_in_reference = valid.and_not(&reference_cloud);
    drop((valid, reference_cloud));
    let shadow = shadow(&cloud, &tones, &clear_in_reference, width, height);
    let shadow = dilate(&shadow, width, height, dilation);
    cover.masked = cloud.or(&shadow).and(&scene_valid);
    cover.cloud_px = cloud.and(&scene_valid).count();
    cover.shadow_px = cover.masked.count() - cover.cloud_px;
    cover
}

/// The pixels of 4-connected blobs of `seeds` holding at least `min_cores` pixels of `cores`.
fn blobs_with_cores(
    seeds: &Bitmap,
    cores: &Bitmap,
    width: usize,
    height: usize,
    min_cores: usize,
) -> Bitmap {
    let mut kept = Bitmap::empty(width * height);
    let mut seen = Bitmap::empty(width * height);
    let mut queue = VecDeque::new();
    // Visits the blob of `start`, marking its pixels in `marks`; returns how many are cores.
    let mut flood = |start: usize, marks: &mut Bitmap| {
        let mut core_count = 0;
        marks.set(start);
        queue.push_back(start);
        while let Some(p) = queue.pop_front() {
            core_count += usize::from(cores.get(p));
            let (x, y) = (p % width, p / width);
            let neighbours = [
                (x > 0).then(|| p - 1),
                (x + 1 < width).then(|| p + 1),
                (y > 0).then(|| p - width),
                (y + 1 < height).then(|| p + width),
            ];
            for q in neighbours.into_iter().flatten() {
                if seeds.get(q) && !marks.get(q) {
                    marks.set(q);
                    queue.push_back(q);
                }
            }
        }
        core_count
    };
    for start in seeds.ones() {
        if !seen.get(start) && flood(start, &mut seen) >= min_cores {
            flood(start, &mut kept);
        }
    }
    kept
}

/// `mask` grown by `radius` pixels (a square window): along rows, then along columns, within the bounds of
/// its set pixels grown by `radius`, outside which nothing can be set.
fn dilate(mask: &Bitmap, width: usize, height: usize, radius: usize) -> Bitmap {
    let mut out = Bitmap::empty(width * height);
    let Some((columns, rows)) = mask.bounds(width) else {
        return out;
    };
    let grow = |range: &Range<usize>, end: usize| {
        range.start.saturating_sub(radius)..(range.end + radius).min(end)
    };
    let (columns, grown_rows) = (grow(&columns, width), grow(&rows, height));
    let in_order = |range: &Range<usize>, forward: bool| {
        let range = range.clone();
        move |i: usize| {
            if forward {
                range.start + i
            } else {
                range.end - 1 - i
            }
        }
    };
    let near =
        |last_set: Option<usize>, at: usize| last_set.is_some_and(|s| s.abs_diff(at) <= radius);
    // Set where a set pixel of the row lies within `radius` before (forward pass) or after (backward pass).
    let mut along_rows = Bitmap::empty(width * height);
    for line in rows.map(|y| y * width) {
        for forward in [true, false] {
            let mut last_set = None;
            for x in (0..columns.len()).map(in_order(&columns, forward)) {
                if mask.get(line + x) {
                    last_set = Some(x);
                }
                if near(last_set, x) {
                    along_rows.set(line + x);
                }
            }
        }
    }
    // The same along the columns, every column at once, going down the rows then up.
    for forward in [true, false] {
        let mut last_set = vec![None; width];
        for y in (0..grown_rows.len()).map(in_order(&grown_rows, forward)) {
            for x in columns.clone() {
                let p = y * width + x;
                if along_rows.get(p) {
                    last_set[x] = Some(y);
                }
                if near(last_set[x], y) {
                    out.set(p);
                }
            }
        }
    }
    out
}

/// The clouds' shadow: the footprint `cloud` displaced by the shift, within the clouds' extent, that puts
/// it where the scene darkened most (the lowest mean β − β_reference) on valid pixels outside the clouds; its
/// pixels there that darkened by at least [`SHADOW_DARKENING`].
fn shadow(cloud: &Bitmap, tones: &Tones, valid: &Bitmap, width: usize, height: usize) -> Bitmap {
    let xy = |p: usize| ((p % width) as i64, (p / width) as i64);
    let (mut count, mut low, mut high) = (0, (i64::MAX, i64::MAX), (i64::MIN, i64::MIN));
    for (x, y) in cloud.ones().map(xy) {
        count += 1;
        (low, high) = ((low.0.min(x), low.1.min(y)), (high.0.max(x), high.1.max(y)));
    }
    let reach = (high.0 - low.0 + 1).max(high.1 - low.1 + 1);
    let step = (reach / SHADOW_STEPS).max(1);
    // A sample of the footprint is enough to rank the displacements.
    let sample_step = (count / 4096).max(1);
    let sampled: Vec<(i64, i64)> = cloud.ones().step_by(sample_step).map(xy).collect();
    let at = |x: i64, y: i64| -> Option<usize> {
        let inside = (0..width as i64).contains(&x) && (0..height as i64).contains(&y);
        inside.then(|| y as usize * width + x as usize)
    };
    let darkest = (-reach..=reach)
        .step_by(step as usize)
        .flat_map(|dy| {
            (-reach..=reach)
                .step_by(step as usize)
                .map(move |dx| (dx, dy))
        })
        .filter_map(|(dx, dy)| {
            let under: Vec<f64> = sampled
                .iter()
                .filter_map(|&(x, y)| at(x + dx, y + dy))
                .filter(|&p| valid.get(p) && !cloud.get(p))
                .map(|p| tones.brightening_at(p) as f64 / tones.scale() as f64)
                .collect();
            // The footprint must fall mostly on clear ground to be judged.
            (under.len() * 4 >= sampled.len())
                .then(|| (dx, dy, under.iter().sum::<f64>() / under.len() as f64))
        })
        .min_by(|a, b| a.2.total_cmp(&b.2));
    let mut shadow = Bitmap::empty(cloud.0.len() * 32);
    let Some((dx, dy, _)) = darkest else {
        return shadow;
    };
    for (x, y) in cloud.ones().map(xy) {
        if let Some(p) = at(x + dx, y + dy)
            && valid.get(p)
            && !cloud.get(p)
            && SHADOW_DARKENING.reached_by(-tones.brightening_at(p), tones.scale())
        {
            shadow.set(p);
        }
    }
    shadow
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::SceneFormat;

    /// A grey ground of brightness about 100 (x 25 on 16 bits), with a white disc and a dark disc beside it
    /// when `cloudy`.
    fn scene(bits: u32, cloudy: bool) -> Scene {
        let (w, h) = (200u32, 160u32);
        let scale = if bits == 8 { 1 } else { 25 };
        let samples: Vec<u16> = (0..w * h)
            .flat_map(|p| {
                let (x, y) = (f64::from(p % w), f64::from(p / w));
                let cloud = cloudy && (x - 60.0).hypot(y - 60.0) < 25.0;
                let shade = cloudy && (x - 110.0).hypot(y - 85.0) < 25.0;
                let ground = 90 + ((p * 7) % 21) as u16;
                let v = if cloud {
                    240
                } else if shade {
                    ground / 2
                } else {
                    ground
                };
                [v * scale, v * scale, (v - 5) * scale]
            })
            .collect();
        let format = SceneFormat {
            width: w,
            height: h,
            bands: 3,
            bits_per_sample: bits,
        };
        Scene::from_values(format, &samples)
    }

    #[test]
    fn a_white_blob_and_its_displaced_shadow_are_masked_on_8_and_16_bits() {
        for bits in [8, 16] {
            let mut scene = scene(bits, true);
            let mut cover = detect(&scene, &self::scene(bits, false), None);
            let disc = std::f64::consts::PI * 25.0 * 25.0;
            assert!(cover.cloud_px as f64 > disc, "{bits}-bit: {cover:?}");
            assert!(
                cover.cloud_px as f64 <= 1.6 * disc,
                "{bits}-bit: {}",
                cover.cloud_px
            );
            assert!(
                cover.shadow_px as f64 > 0.8 * disc,
                "{bits}-bit: {}",
                cover.shadow_px
            );
            cover.mask(&mut scene);
            assert!(!scene.is_valid(60 * 200 + 60, None));
            assert!(!scene.is_valid(85 * 200 + 110, None));
            assert!(scene.is_valid(150 * 200 + 10, None));
        }
    }

    /// A pseudo-random bitmap of `pixels` with about one pixel in `one_in` set.
    fn sparse_bitmap(pixels: usize, one_in: usize) -> Bitmap {
        let mut bitmap = Bitmap::empty(pixels);
        for p in (0..pixels).filter(|p| p * 7919 % 104_729 % one_in == 0) {
            bitmap.set(p);
        }
        bitmap
    }

    #[test]
    fn ones_in_a_range_are_the_set_pixels_there() {
        let bitmap = sparse_bitmap(200, 3);
        for range in [0..200, 0..0, 5..6, 31..33, 17..150, 64..96, 190..200] {
            let expected: Vec<usize> = range.clone().filter(|&p| bitmap.get(p)).collect();
            assert_eq!(
                bitmap.ones_in(range.clone()).collect::<Vec<_>>(),
                expected,
                "{range:?}"
            );
        }
    }

    #[test]
    fn dilation_sets_every_pixel_within_the_square_window_of_a_set_one() {
        let (width, height) = (37, 23);
        for (one_in, radius) in [(40, 0), (40, 1), (90, 3), (400, 5), (usize::MAX, 2)] {
            let mask = sparse_bitmap(width * height, one_in);
            let dilated = dilate(&mask, width, height, radius);
            for (x, y) in (0..height).flat_map(|y| (0..width).map(move |x| (x, y))) {
                let near = mask.ones().any(|p| {
                    (p % width).abs_diff(x) <= radius && (p / width).abs_diff(y) <= radius
                });
                assert_eq!(
                    dilated.get(y * width + x),
                    near,
                    "({x}, {y}), radius {radius}"
                );
            }
        }
    }

    #[test]
    fn valid_pixels_are_those_neither_masked_nor_nodata_in_every_band() {
        let mut scene = Scene::from_u8(
            5,
            2,
            2,
            &[0, 0, 0, 7, 7, 0, 9, 9, 0, 0, 1, 1, 0, 0, 2, 2, 3, 3, 0, 0],
        );
        scene.validity = Some(vec![0b11_1111_1110]);
        let valid = Bitmap::valid(&scene, Some(0));
        let expected = [
            false, true, true, true, false, true, false, true, true, false,
        ];
        assert_eq!((0..10).map(|p| valid.get(p)).collect::<Vec<_>>(), expected);
        assert_eq!(valid.count(), 6);
        assert_eq!(Bitmap::valid(&scene, None).count(), 9);
    }

    #[test]
    fn a_level_is_reached_exactly_at_its_ratio() {
        // β = 23 / 20 = 1.15 exactly: a core's level, which floating point may round either way.
        assert!(CORE_LEVEL.reached_by(23, 20));
        assert!(!CORE_LEVEL.reached_by(22_999, 20_000));
        assert!(EDGE_BRIGHTENING.reached_by(3, 20) && !EDGE_BRIGHTENING.reached_by(2, 20));
    }

    #[test]
    fn a_clear_scene_has_no_cloud() {
        let clear = scene(8, false);
        let cover = detect(&clear, &clear, None);
        assert_eq!((cover.cloud_px, cover.shadow_px), (0, 0));
        assert_eq!(cover.cloud_fraction(), 0.0);
    }
}
