//! Radiometric normalization: the per-band gain and offset that map a scene onto a reference (the
//! background), fitted robustly on the CPU and handed to the kernels as a fixed-point [`Radiometry`],
//! so that haze, sun angle and sensor drift between acquisitions are not taken for change.

use crate::kernel::params::Radiometry;
use crate::scene::{Scene, SceneFormat};
use crate::statistics::median;

/// At most this many pixels, spread evenly over the scene, take part in a fit.
const MAX_FIT_PIXELS: usize = 1 << 16;
/// Fewer usable pixels than this leave the scene uncorrected.
const MIN_FIT_PIXELS: usize = 64;
/// A fitted gain outside this range is no change of haze or sun angle but a fit gone wrong (a flat
/// scene, a scene mostly changed): the band is then corrected by an offset alone.
const PLAUSIBLE_GAINS: std::ops::RangeInclusive<f64> = 0.5..=2.0;
/// At most this many rounds of refitting on the pixels whose residual is within `OUTLIER_MADS` robust
/// deviations; the rounds stop when the kept pixels no longer change.
const MAX_REFITS: usize = 12;
const OUTLIER_MADS: f64 = 3.0;

/// The pixels of a scene a fit uses, with their samples: every `step`-th pixel (at most [`MAX_FIT_PIXELS`],
/// spread evenly over the scene) that is valid in the scene. Gathered a stripe of rows at a time, so that a
/// fit need not hold the whole scene.
pub struct FitPixels {
    format: SceneFormat,
    step: usize,
    pixels: Vec<usize>,
    /// `format.bands` samples a pixel.
    samples: Vec<u16>,
}

impl FitPixels {
    /// None yet, of a scene of `format`.
    pub fn new(format: SceneFormat) -> FitPixels {
        FitPixels {
            format,
            step: format.pixel_count().div_ceil(MAX_FIT_PIXELS).max(1),
            pixels: Vec::new(),
            samples: Vec::new(),
        }
    }

    /// Adds the pixels of `stripe`, the scene's rows from `first_row` on.
    pub fn add(&mut self, stripe: &Scene, first_row: u32, nodata: Option<u32>) {
        let bands = self.format.bands as usize;
        let first = first_row as usize * self.format.width as usize;
        let end = first + stripe.format.pixel_count();
        for p in (first.next_multiple_of(self.step)..end).step_by(self.step) {
            if stripe.is_valid(p - first, nodata) {
                self.pixels.push(p);
                self.samples
                    .extend((0..bands).map(|band| stripe.sample(p - first, band) as u16));
            }
        }
    }
}

/// The correction mapping `scene` onto `reference` band by band: [`fit_pixels`] of the scene's
/// [`FitPixels`].
pub fn fit(scene: &Scene, reference: &Scene, nodata: Option<u32>) -> Radiometry {
    let mut pixels = FitPixels::new(scene.format);
    pixels.add(scene, 0, nodata);
    fit_pixels(&pixels, reference)
}

/// The correction mapping the scene of `scene_pixels` onto `reference` band by band: a least-squares line
/// through the pixels valid in both, refitted on those within three robust deviations (1.4826 × the median
/// absolute residual) of the previous line, so that ships, containers and clouds the masks missed (a
/// minority of any scene) do not bend it. Identity when too few pixels are valid in both or a band is flat.
pub fn fit_pixels(scene_pixels: &FitPixels, reference: &Scene) -> Radiometry {
    let format = scene_pixels.format;
    let bands = format.bands as usize;
    let both_valid: Vec<usize> = (0..scene_pixels.pixels.len())
        .filter(|&i| reference.is_valid(scene_pixels.pixels[i], None))
        .collect();
    if both_valid.len() < MIN_FIT_PIXELS {
        return Radiometry::IDENTITY;
    }
    // Half a level on the 8-bit scale: the smallest spread the outlier test allows.
    let min_spread = 0.5 * f64::from(format.max_sample()) / 255.0;
    let (mut gains, mut offsets) = (vec![1.0; bands], vec![0.0; bands]);
    for band in 0..bands {
        let x: Vec<f64> = both_valid
            .iter()
            .map(|&i| f64::from(scene_pixels.samples[i * bands + band]))
            .collect();
        let y: Vec<f64> = both_valid
            .iter()
            .map(|&i| f64::from(reference.sample(scene_pixels.pixels[i], band)))
            .collect();
        let mut kept = vec![true; x.len()];
        for _ in 0..MAX_REFITS {
            let Some((gain, offset)) = least_squares(&x, &y, &kept) else {
                break;
            };
            (gains[band], offsets[band]) = (gain, offset);
            let residuals: Vec<f64> = x
                .iter()
                .zip(&y)
                .map(|(x, y)| y - (gain * x + offset))
                .collect();
            let mut spread: Vec<f64> = residuals
                .iter()
                .zip(&kept)
                .filter(|(_, kept)| **kept)
                .map(|(r, _)| r.abs())
                .collect();
            let middle = spread.len() / 2;
            let mad = *spread.select_nth_unstable_by(middle, f64::total_cmp).1;
            let limit = OUTLIER_MADS * (1.4826 * mad).max(min_spread);
            let refit: Vec<bool> = residuals.iter().map(|r| r.abs() <= limit).collect();
            if refit == kept {
                break;
            }
            kept = refit;
        }
        if !PLAUSIBLE_GAINS.contains(&gains[band]) {
            let differences = x.iter().zip(&y).map(|(x, y)| y - x).collect();
            (gains[band], offsets[band]) = (1.0, median(differences).unwrap_or(0.0));
        }
    }
    Radiometry::from_linear(&gains, &offsets, format.bits_per_sample)
}

/// The line y = gain · x + offset through the kept points, `None` when they are too few or x is flat.
fn least_squares(x: &[f64], y: &[f64], kept: &[bool]) -> Option<(f64, f64)> {
    let points = || {
        x.iter()
            .zip(y)
            .zip(kept)
            .filter(|(_, k)| **k)
            .map(|(p, _)| p)
    };
    let n = points().count() as f64;
    if n < MIN_FIT_PIXELS as f64 {
        return None;
    }
    let (mean_x, mean_y) = points().fold((0.0, 0.0), |(sx, sy), (x, y)| (sx + x, sy + y));
    let (mean_x, mean_y) = (mean_x / n, mean_y / n);
    let (sxx, sxy) = points().fold((0.0, 0.0), |(sxx, sxy), (x, y)| {
        (
            sxx + (x - mean_x).powi(2),
            sxy + (x - mean_x) * (y - mean_y),
        )
    });
    if sxx <= f64::EPSILON * n {
        return None;
    }
    let gain = sxy / sxx;
    Some((gain, mean_y - gain * mean_x))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recovers_gain_and_offset_despite_a_changed_minority() {
        let (w, h) = (64, 64);
        let reference: Vec<u8> = (0..w * h * 3)
            .map(|i| (20 + (i * 37) % 200) as u8)
            .collect();
        // The scene is the reference darkened (v = (r - 10) / 1.25), with a bright tenth of "ships".
        let scene: Vec<u8> = reference
            .iter()
            .enumerate()
            .map(|(i, &r)| {
                if (i / 3) % 10 == 0 {
                    255
                } else {
                    ((f64::from(r) - 10.0) / 1.25).round() as u8
                }
            })
            .collect();
        let radiometry = fit(
            &Scene::from_u8(w, h, 3, &scene),
            &Scene::from_u8(w, h, 3, &reference),
            None,
        );
        for band in 0..3 {
            let gain = f64::from(radiometry.gain[band]) / 4096.0;
            let offset = f64::from(radiometry.offset[band]) / 4096.0;
            assert!((gain - 1.25).abs() < 0.01, "band {band} gain {gain}");
            assert!((offset - 10.0).abs() < 1.0, "band {band} offset {offset}");
        }
    }

    #[test]
    fn pixels_gathered_stripe_by_stripe_fit_as_the_whole_scene() {
        // 300x300 px: a fit takes every second pixel, so a stripe may start on a skipped one.
        let (w, h) = (300, 300);
        let reference: Vec<u16> = (0..w * h * 2).map(|i| (i * 7919 % 60_000) as u16).collect();
        let scene: Vec<u16> = reference.iter().map(|&r| r / 2 + 300).collect();
        let (reference, mut scene) = (
            Scene::from_u16(w, h, 2, &reference),
            Scene::from_u16(w, h, 2, &scene),
        );
        let mut validity = crate::kernel::params::all_set_bitmap((w * h) as usize);
        validity[100] = 0;
        scene.validity = Some(validity);
        let mut gathered = FitPixels::new(scene.format);
        for rows in [0..96, 96..288, 288..300] {
            gathered.add(&scene.rows(rows.clone()), rows.start, Some(0));
        }
        let mut whole = FitPixels::new(scene.format);
        whole.add(&scene, 0, Some(0));
        assert_eq!(
            (&gathered.pixels, &gathered.samples),
            (&whole.pixels, &whole.samples)
        );
        assert_eq!(gathered.pixels.len(), (w * h) as usize / 2 - 16);
        assert_eq!(
            fit_pixels(&gathered, &reference),
            fit(&scene, &reference, Some(0))
        );
    }

    #[test]
    fn too_few_valid_pixels_leave_the_scene_uncorrected() {
        let scene = Scene::from_u8(4, 4, 1, &[0; 16]);
        assert_eq!(fit(&scene, &scene, Some(0)), Radiometry::IDENTITY);
    }
}
