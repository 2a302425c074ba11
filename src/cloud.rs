//! Automatic cloud and cloud-shadow masking, so that clouds and their shadows are reported as invalid
//! rather than as change. A scene is judged against a reference of the same place (the other scene of a
//! pair), each on its own brightness scale, so the rule holds for 8- and 16-bit samples alike and for
//! scenes of different illumination.
//!
//! The rule, on each pixel's brightness b (mean of the first three bands, or of all of them with fewer)
//! relative to its scene's median brightness over the pixels valid in both, β = b / M, and the scene's
//! chroma c (largest minus smallest of those bands):
//! 1. cloud cores: β ≥ [`CORE_LEVEL`], β − β_reference ≥ [`CORE_BRIGHTENING`] and c ≤ [`CLOUD_CHROMA`] · b
//!    (brighter than most of the scene, much brighter than the reference there, and grey-white);
//! 2. clouds: the 4-connected blobs of pixels with β − β_reference ≥ [`EDGE_BRIGHTENING`] holding at
//!    least [`MIN_CLOUD_FRACTION`] of the scene (and 64 px) of cores (a ship or a roof is smaller),
//!    dilated by [`CLOUD_DILATION`] of the scene's shorter side (their soft edges);
//! 3. shadows: the clouds' footprint displaced by the shift, within the clouds' own extent, under which
//!    the scene darkened most against the reference; its pixels there with β − β_reference ≤
//!    −[`SHADOW_DARKENING`], dilated like the clouds.

use crate::kernel::params::{all_set_bitmap, bitmap_bit};
use crate::scene::Scene;
use std::collections::VecDeque;

pub const CORE_LEVEL: f64 = 1.15;
pub const CORE_BRIGHTENING: f64 = 0.5;
pub const EDGE_BRIGHTENING: f64 = 0.15;
pub const CLOUD_CHROMA: f64 = 0.2;
pub const MIN_CLOUD_FRACTION: f64 = 0.005;
pub const CLOUD_DILATION: f64 = 0.02;
pub const SHADOW_DARKENING: f64 = 0.1;
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
        let valid_px = (0..scene.format.pixel_count())
            .filter(|&p| scene.is_valid(p, nodata))
            .count() as u64;
        CloudCover::from_counts(valid_px, 0, 0)
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

    /// The pixels, of `pixels`, for which `set` holds.
    fn from_fn(pixels: usize, set: impl Fn(usize) -> bool) -> Bitmap {
        let mut bitmap = Bitmap::empty(pixels);
        for p in (0..pixels).filter(|&p| set(p)) {
            bitmap.set(p);
        }
        bitmap
    }

    fn get(&self, p: usize) -> bool {
        bitmap_bit(self.0[p / 32], p as u32)
    }

    fn set(&mut self, p: usize) {
        self.0[p / 32] |= 1 << (p % 32);
    }

    fn any(&self) -> bool {
        self.0.iter().any(|&word| word != 0)
    }

    /// The pixels set, in order.
    fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().enumerate().flat_map(|(index, &word)| {
            let mut left = word;
            std::iter::from_fn(move || {
                (left != 0).then(|| {
                    let bit = left.trailing_zeros() as usize;
                    left &= left - 1;
                    index * 32 + bit
                })
            })
        })
    }

    /// The pixels set here and not in `other`.
    fn and_not(&self, other: &Bitmap) -> Bitmap {
        Bitmap(self.0.iter().zip(&other.0).map(|(a, b)| a & !b).collect())
    }

    /// The pixels set here or in `other`.
    fn or(&self, other: &Bitmap) -> Bitmap {
        Bitmap(self.0.iter().zip(&other.0).map(|(a, b)| a | b).collect())
    }
}

/// A scene's brightness and chroma, computed from its samples when asked, so that detection holds no
/// per-pixel value of them.
struct Tones<'a> {
    scene: &'a Scene,
    /// Bands of which brightness and chroma are made: the first three, or all with fewer.
    visible: usize,
    /// The median brightness over the pixels valid in both scenes.
    median: f64,
}

impl<'a> Tones<'a> {
    /// `None` when no pixel is `valid` or the median brightness is 0.
    fn of(scene: &'a Scene, valid: &Bitmap) -> Option<Tones<'a>> {
        let visible = scene.format.bands.min(3) as usize;
        let mut tones = Tones {
            scene,
            visible,
            median: 0.0,
        };
        // The median of the brightness is that of the band sums, whose histogram is small.
        let mut histogram = vec![0usize; visible * scene.format.max_sample() as usize + 1];
        let mut count = 0;
        for p in valid.ones() {
            histogram[tones.sum(p) as usize] += 1;
            count += 1;
        }
        if count == 0 {
            return None;
        }
        // The element at index count / 2 of the sorted brightnesses.
        let middle = count / 2;
        let mut below = 0;
        let median_sum = histogram.iter().position(|&n| {
            below += n;
            below > middle
        })?;
        tones.median = median_sum as f64 / visible as f64;
        (tones.median > 0.0).then_some(tones)
    }

    /// The sum of the visible bands of pixel `p`: its brightness times `visible`, exactly.
    fn sum(&self, p: usize) -> u32 {
        (0..self.visible).map(|b| self.scene.sample(p, b)).sum()
    }

    /// Mean and range of the visible bands of pixel `p`.
    fn brightness_and_chroma(&self, p: usize) -> (f64, f64) {
        let bands = (0..self.visible).map(|b| f64::from(self.scene.sample(p, b)));
        let (sum, low, high) = bands.fold((0.0, f64::MAX, 0.0f64), |(s, l, h), v| {
            (s + v, l.min(v), h.max(v))
        });
        (sum / self.visible as f64, high - low)
    }

    /// Brightness over the median brightness.
    fn relative(&self, p: usize) -> f64 {
        f64::from(self.sum(p)) / self.visible as f64 / self.median
    }

    /// Whether `p` is grey-white enough for a cloud core.
    fn is_grey(&self, p: usize) -> bool {
        let (brightness, chroma) = self.brightness_and_chroma(p);
        chroma <= CLOUD_CHROMA * brightness
    }
}

/// The clouds and shadows of `scene` against `reference`, a scene of the same place and size, by the rule
/// in the module's documentation.
pub fn detect(scene: &Scene, reference: &Scene, nodata: Option<u32>) -> CloudCover {
    let format = scene.format;
    let (width, height) = (format.width as usize, format.height as usize);
    let pixels = format.pixel_count();
    let mut cover = CloudCover::clear(scene, nodata);
    let valid = Bitmap::from_fn(pixels, |p| {
        scene.is_valid(p, nodata) && reference.is_valid(p, nodata)
    });
    let (Some(tones), Some(reference_tones)) =
        (Tones::of(scene, &valid), Tones::of(reference, &valid))
    else {
        return cover;
    };
    let change = |p: usize| tones.relative(p) - reference_tones.relative(p);
    let min_area = (MIN_CLOUD_FRACTION * pixels as f64).max(64.0) as usize;
    let dilation = (CLOUD_DILATION * width.min(height) as f64).ceil() as usize;
    // Clouds brighten `change` where `sign` is 1 (the scene's clouds); where it is -1, the reference's.
    let clouds = |sign: f64| {
        let (mut cores, mut blobs) = (Bitmap::empty(pixels), Bitmap::empty(pixels));
        for p in valid.ones() {
            let relative = [tones.relative(p), reference_tones.relative(p)];
            let brightening = sign * (relative[0] - relative[1]);
            let own = if sign > 0.0 { 0 } else { 1 };
            let own_tones = [&tones, &reference_tones][own];
            if relative[own] >= CORE_LEVEL
                && brightening >= CORE_BRIGHTENING
                && own_tones.is_grey(p)
            {
                cores.set(p);
            }
            if brightening >= EDGE_BRIGHTENING {
                blobs.set(p);
            }
        }
        let blobs = blobs_with_cores(&blobs, &cores, width, height, min_area);
        dilate(&blobs, width, height, dilation)
    };
    let cloud = clouds(1.0);
    if !cloud.any() {
        return cover;
    }
    // Where the reference has a cloud, the scene looks darker: no shadow of the scene's is sought there.
    let clear_in_reference = valid.and_not(&clouds(-1.0));
    drop(valid);
    let shadow = shadow(&cloud, change, &clear_in_reference, width, height);
    let shadow = dilate(&shadow, width, height, dilation);
    cover.masked = Bitmap::empty(pixels);
    for p in cloud.or(&shadow).ones() {
        if !scene.is_valid(p, nodata) {
            continue;
        }
        if cloud.get(p) {
            cover.cloud_px += 1;
        } else {
            cover.shadow_px += 1;
        }
        cover.masked.set(p);
    }
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

/// `mask` grown by `radius` pixels (a square window): along rows, then along columns.
fn dilate(mask: &Bitmap, width: usize, height: usize, radius: usize) -> Bitmap {
    let near =
        |last_set: Option<usize>, at: usize| last_set.is_some_and(|s| s.abs_diff(at) <= radius);
    // Set where a set pixel of the row lies within `radius` before (forward pass) or after (backward pass).
    let mut rows = Bitmap::empty(mask.0.len() * 32);
    for line in (0..height).map(|y| y * width) {
        for order in [true, false] {
            let mut last_set = None;
            for x in (0..width).map(|i| if order { i } else { width - 1 - i }) {
                if mask.get(line + x) {
                    last_set = Some(x);
                }
                if near(last_set, x) {
                    rows.set(line + x);
                }
            }
        }
    }
    // The same along the columns, every column at once, going down the rows then up.
    let mut out = Bitmap::empty(mask.0.len() * 32);
    for order in [true, false] {
        let mut last_set = vec![None; width];
        for y in (0..height).map(|i| if order { i } else { height - 1 - i }) {
            for (x, last_set) in last_set.iter_mut().enumerate() {
                let p = y * width + x;
                if rows.get(p) {
                    *last_set = Some(y);
                }
                if near(*last_set, y) {
                    out.set(p);
                }
            }
        }
    }
    out
}

/// The clouds' shadow: the footprint `cloud` displaced by the shift, within the clouds' extent, that puts
/// it where the scene darkened most (the lowest mean `change`) on valid pixels outside the clouds; its
/// pixels there that darkened by at least [`SHADOW_DARKENING`].
fn shadow(
    cloud: &Bitmap,
    change: impl Fn(usize) -> f64,
    valid: &Bitmap,
    width: usize,
    height: usize,
) -> Bitmap {
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
                .map(&change)
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
            && change(p) <= -SHADOW_DARKENING
        {
            shadow.set(p);
        }
    }
    shadow
}

#[cfg(test)]
mod tests {
    use super::*;

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
        if bits == 8 {
            let bytes: Vec<u8> = samples.iter().map(|&v| v as u8).collect();
            Scene::from_u8(w, h, 3, &bytes)
        } else {
            Scene::from_u16(w, h, 3, &samples)
        }
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

    #[test]
    fn a_clear_scene_has_no_cloud() {
        let clear = scene(8, false);
        let cover = detect(&clear, &clear, None);
        assert_eq!((cover.cloud_px, cover.shadow_px), (0, 0));
        assert_eq!(cover.cloud_fraction(), 0.0);
    }
}
