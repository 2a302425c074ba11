//! Automatic cloud and cloud-shadow masking, so that clouds and their shadows are reported as invalid
//! rather than as change. Each scene is judged against its own brightness distribution, so the rule holds
//! for 8- and 16-bit samples alike.
//!
//! The rule, on the brightness b (mean of the first three bands, or of all of them with fewer) and the
//! chroma c (largest minus smallest of those bands) of each valid pixel, M being the median brightness of
//! the scene's valid pixels:
//! 1. cloud seeds: b ≥ [`CLOUD_BRIGHTNESS`] · M and c ≤ [`CLOUD_CHROMA`] · b (bright and grey-white);
//! 2. clouds: the 4-connected blobs of seeds of at least [`MIN_CLOUD_FRACTION`] of the scene (and 64 px),
//!    dilated by [`CLOUD_DILATION`] of the scene's shorter side (their soft edges);
//! 3. shadows: the clouds' footprint displaced by the shift, within the clouds' own extent, under which the
//!    ground is darkest; its pixels darker than [`SHADOW_DARKNESS`] · M, dilated like the clouds.

use crate::scene::Scene;
use std::collections::VecDeque;

pub const CLOUD_BRIGHTNESS: f64 = 1.6;
pub const CLOUD_CHROMA: f64 = 0.2;
pub const MIN_CLOUD_FRACTION: f64 = 0.002;
pub const CLOUD_DILATION: f64 = 0.01;
pub const SHADOW_DARKNESS: f64 = 0.8;
/// Shadow displacements tried per axis, evenly over the clouds' extent.
const SHADOW_STEPS: i64 = 24;

/// Which pixels of a scene are cloud or cloud shadow.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudCover {
    /// Pixels valid before masking.
    pub valid_px: u64,
    pub cloud_px: u64,
    /// Shadow pixels that are not also cloud.
    pub shadow_px: u64,
    /// Per pixel: cloud or shadow.
    masked: Vec<bool>,
}

impl CloudCover {
    /// A scene with no cloud found or looked for.
    pub fn clear(scene: &Scene, nodata: Option<u32>) -> CloudCover {
        let valid_px = (0..scene.format.pixel_count())
            .filter(|&p| scene.is_valid(p, nodata))
            .count() as u64;
        CloudCover {
            valid_px,
            cloud_px: 0,
            shadow_px: 0,
            masked: Vec::new(),
        }
    }

    /// The fraction of the scene's valid pixels that are cloud.
    pub fn cloud_fraction(&self) -> f64 {
        fraction(self.cloud_px, self.valid_px)
    }

    /// The fraction of the scene's valid pixels that are cloud shadow.
    pub fn shadow_fraction(&self) -> f64 {
        fraction(self.shadow_px, self.valid_px)
    }

    /// Clears the validity bit of every cloud and shadow pixel of `scene`.
    pub fn mask(&self, scene: &mut Scene) {
        if self.cloud_px + self.shadow_px == 0 {
            return;
        }
        let words = scene.format.bitmap_word_count();
        let bitmap = scene.validity.get_or_insert_with(|| {
            let mut all = vec![u32::MAX; words];
            let tail = scene.format.pixel_count() % 32;
            if tail != 0 {
                all[words - 1] = (1 << tail) - 1;
            }
            all
        });
        for (pixel, _) in self.masked.iter().enumerate().filter(|(_, m)| **m) {
            bitmap[pixel / 32] &= !(1 << (pixel % 32));
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

/// The clouds and shadows of `scene`, by the rule in the module's documentation.
pub fn detect(scene: &Scene, nodata: Option<u32>) -> CloudCover {
    let format = scene.format;
    let (width, height) = (format.width as usize, format.height as usize);
    let visible = format.bands.min(3) as usize;
    let valid: Vec<bool> = (0..format.pixel_count())
        .map(|p| scene.is_valid(p, nodata))
        .collect();
    let (brightness, chroma): (Vec<f64>, Vec<f64>) = (0..format.pixel_count())
        .map(|p| {
            let bands = (0..visible).map(|b| f64::from(scene.sample(p, b)));
            let (sum, low, high) = bands.fold((0.0, f64::MAX, 0.0f64), |(s, l, h), v| {
                (s + v, l.min(v), h.max(v))
            });
            (sum / visible as f64, high - low)
        })
        .unzip();
    let mut cover = CloudCover::clear(scene, nodata);
    let mut levels: Vec<f64> = (0..brightness.len())
        .filter(|&p| valid[p])
        .map(|p| brightness[p])
        .collect();
    if levels.is_empty() {
        return cover;
    }
    let middle = levels.len() / 2;
    let median = *levels.select_nth_unstable_by(middle, f64::total_cmp).1;
    let seeds: Vec<bool> = (0..brightness.len())
        .map(|p| {
            valid[p]
                && brightness[p] >= CLOUD_BRIGHTNESS * median
                && chroma[p] <= CLOUD_CHROMA * brightness[p]
        })
        .collect();
    let min_area = (MIN_CLOUD_FRACTION * format.pixel_count() as f64).max(64.0) as usize;
    let cloud = large_blobs(&seeds, width, height, min_area);
    if !cloud.contains(&true) {
        return cover;
    }
    let dilation = (CLOUD_DILATION * width.min(height) as f64).ceil() as usize;
    let cloud = dilate(&cloud, width, height, dilation);
    let shadow = shadow(&cloud, &brightness, &valid, width, height, median);
    let shadow = dilate(&shadow, width, height, dilation);
    cover.masked = vec![false; brightness.len()];
    for p in 0..brightness.len() {
        if !valid[p] {
            continue;
        }
        if cloud[p] {
            cover.cloud_px += 1;
        } else if shadow[p] {
            cover.shadow_px += 1;
        } else {
            continue;
        }
        cover.masked[p] = true;
    }
    cover
}

/// The pixels of 4-connected blobs of `seeds` of at least `min_area` pixels.
fn large_blobs(seeds: &[bool], width: usize, height: usize, min_area: usize) -> Vec<bool> {
    let mut kept = vec![false; seeds.len()];
    let mut seen = vec![false; seeds.len()];
    let mut queue = VecDeque::new();
    for start in 0..seeds.len() {
        if !seeds[start] || seen[start] {
            continue;
        }
        seen[start] = true;
        queue.push_back(start);
        let mut blob = Vec::new();
        while let Some(p) = queue.pop_front() {
            blob.push(p);
            let (x, y) = (p % width, p / width);
            let neighbours = [
                (x > 0).then(|| p - 1),
                (x + 1 < width).then(|| p + 1),
                (y > 0).then(|| p - width),
                (y + 1 < height).then(|| p + width),
            ];
            for q in neighbours.into_iter().flatten() {
                if seeds[q] && !seen[q] {
                    seen[q] = true;
                    queue.push_back(q);
                }
            }
        }
        if blob.len() >= min_area {
            for p in blob {
                kept[p] = true;
            }
        }
    }
    kept
}

/// `mask` grown by `radius` pixels (a square window), rows then columns.
fn dilate(mask: &[bool], width: usize, height: usize, radius: usize) -> Vec<bool> {
    let grow = |line: &[bool]| -> Vec<bool> {
        let mut last_set: Option<usize> = None;
        let mut ahead = vec![false; line.len()];
        // Set where a set pixel lies within `radius` before (forward pass) or after (backward pass).
        for (i, &on) in line.iter().enumerate() {
            if on {
                last_set = Some(i);
            }
            ahead[i] = last_set.is_some_and(|s| i - s <= radius);
        }
        last_set = None;
        for i in (0..line.len()).rev() {
            if line[i] {
                last_set = Some(i);
            }
            ahead[i] |= last_set.is_some_and(|s| s - i <= radius);
        }
        ahead
    };
    let rows: Vec<bool> = mask.chunks(width).flat_map(grow).collect();
    let mut out = vec![false; mask.len()];
    for x in 0..width {
        let column: Vec<bool> = (0..height).map(|y| rows[y * width + x]).collect();
        for (y, on) in grow(&column).into_iter().enumerate() {
            out[y * width + x] = on;
        }
    }
    out
}

/// The clouds' shadow: the footprint `cloud` displaced by the shift, within the clouds' extent, that puts
/// it over the darkest valid ground outside the clouds; its pixels there darker than
/// [`SHADOW_DARKNESS`] · `median`.
fn shadow(
    cloud: &[bool],
    brightness: &[f64],
    valid: &[bool],
    width: usize,
    height: usize,
    median: f64,
) -> Vec<bool> {
    let pixels: Vec<(i64, i64)> = (0..cloud.len())
        .filter(|&p| cloud[p])
        .map(|p| ((p % width) as i64, (p / width) as i64))
        .collect();
    let extent = |axis: fn(&(i64, i64)) -> i64| {
        let low = pixels.iter().map(axis).min().unwrap_or(0);
        let high = pixels.iter().map(axis).max().unwrap_or(0);
        high - low + 1
    };
    let reach = extent(|p| p.0).max(extent(|p| p.1));
    let step = (reach / SHADOW_STEPS).max(1);
    // A sample of the footprint is enough to rank the displacements.
    let sample_step = (pixels.len() / 4096).max(1);
    let darkest = (-reach..=reach)
        .step_by(step as usize)
        .flat_map(|dy| {
            (-reach..=reach)
                .step_by(step as usize)
                .map(move |dx| (dx, dy))
        })
        .filter_map(|(dx, dy)| {
            let under: Vec<f64> = pixels
                .iter()
                .step_by(sample_step)
                .filter_map(|&(x, y)| {
                    let (sx, sy) = (x + dx, y + dy);
                    let inside = (0..width as i64).contains(&sx) && (0..height as i64).contains(&sy);
                    let p = sy as usize * width + sx as usize;
                    (inside && valid[p] && !cloud[p]).then(|| brightness[p])
                })
                .collect();
            // The footprint must mostly fall on clear ground to be judged.
            (under.len() * 2 >= pixels.len().div_ceil(sample_step))
                .then(|| (dx, dy, under.iter().sum::<f64>() / under.len() as f64))
        })
        .min_by(|a, b| a.2.total_cmp(&b.2));
    let mut shadow = vec![false; cloud.len()];
    let Some((dx, dy, _)) = darkest else {
        return shadow;
    };
    for &(x, y) in &pixels {
        let (sx, sy) = (x + dx, y + dy);
        if (0..width as i64).contains(&sx) && (0..height as i64).contains(&sy) {
            let p = sy as usize * width + sx as usize;
            shadow[p] = valid[p] && !cloud[p] && brightness[p] < SHADOW_DARKNESS * median;
        }
    }
    shadow
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A grey ground of brightness 100 (200 on 16 bits), with a white disc and a dark disc beside it.
    fn scene(bits: u32) -> Scene {
        let (w, h) = (200u32, 160u32);
        let scale = if bits == 8 { 1 } else { 25 };
        let samples: Vec<u16> = (0..w * h)
            .flat_map(|p| {
                let (x, y) = (f64::from(p % w), f64::from(p / w));
                let cloud = (x - 60.0).hypot(y - 60.0) < 25.0;
                let shade = (x - 120.0).hypot(y - 90.0) < 25.0;
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
            let mut scene = scene(bits);
            let cover = detect(&scene, None);
            let disc = std::f64::consts::PI * 25.0 * 25.0;
            assert!(cover.cloud_px as f64 > disc, "{bits}-bit: {cover:?}");
            assert!(cover.cloud_px as f64 <= 1.6 * disc, "{bits}-bit: {}", cover.cloud_px);
            assert!(cover.shadow_px as f64 > 0.8 * disc, "{bits}-bit: {}", cover.shadow_px);
            cover.mask(&mut scene);
            assert!(!scene.is_valid(60 * 200 + 60, None));
            assert!(!scene.is_valid(90 * 200 + 120, None));
            assert!(scene.is_valid(150 * 200 + 10, None));
        }
    }

    #[test]
    fn a_clear_scene_has_no_cloud() {
        let samples: Vec<u8> = (0..100 * 100 * 3).map(|i| (60 + i % 50) as u8).collect();
        let cover = detect(&Scene::from_u8(100, 100, 3, &samples), None);
        assert_eq!((cover.cloud_px, cover.shadow_px), (0, 0));
        assert_eq!(cover.cloud_fraction(), 0.0);
    }
}
