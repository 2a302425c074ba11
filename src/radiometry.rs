//! Radiometric normalization: the per-band gain and offset that map a scene onto a reference (the
//! background), fitted robustly on the CPU and handed to the kernels as a fixed-point [`Radiometry`],
//! so that haze, sun angle and sensor drift between acquisitions are not taken for change.

use crate::kernel::params::Radiometry;
use crate::scene::Scene;
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

/// The correction mapping `scene` onto `reference` band by band: a least-squares line through the pixels
/// valid in both, refitted on those within three robust deviations (1.4826 × the median absolute
/// residual) of the previous line, so that ships, containers and clouds the masks missed (a minority of
/// any scene) do not bend it. Identity when too few pixels are valid in both or a band is flat.
pub fn fit(scene: &Scene, reference: &Scene, nodata: Option<u32>) -> Radiometry {
    let format = scene.format;
    let pixel_count = format.pixel_count();
    let step = pixel_count.div_ceil(MAX_FIT_PIXELS).max(1);
    let pixels: Vec<usize> = (0..pixel_count)
        .step_by(step)
        .filter(|&p| scene.is_valid(p, nodata) && reference.is_valid(p, None))
        .collect();
    if pixels.len() < MIN_FIT_PIXELS {
        return Radiometry::IDENTITY;
    }
    let bands = format.bands as usize;
    // Half a level on the 8-bit scale: the smallest spread the outlier test allows.
    let min_spread = 0.5 * f64::from(format.max_sample()) / 255.0;
    let (mut gains, mut offsets) = (vec![1.0; bands], vec![0.0; bands]);
    for band in 0..bands {
        let x: Vec<f64> = pixels
            .iter()
            .map(|&p| f64::from(scene.sample(p, band)))
            .collect();
        let y: Vec<f64> = pixels
            .iter()
            .map(|&p| f64::from(reference.sample(p, band)))
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
    fn too_few_valid_pixels_leave_the_scene_uncorrected() {
        let scene = Scene::from_u8(4, 4, 1, &[0; 16]);
        assert_eq!(fit(&scene, &scene, Some(0)), Radiometry::IDENTITY);
    }
}
