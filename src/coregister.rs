//! Co-registration: a scene's shift against a reference, from the kernel's integer search
//! ([`ChangeKernel::shift_costs`]) refined to a sub-pixel shift on the CPU, and the scene resampled onto
//! the reference's grid in fixed point, so that both backends compare the same samples.

use crate::error::Result;
use crate::kernel::{ChangeKernel, ShiftCosts, Slot};
use crate::scene::{Scene, validity_flags};
use rayon::prelude::*;

/// Default search radius, in pixels: archives are co-registered by their provider to a pixel or two.
pub const DEFAULT_SEARCH_RADIUS: u32 = 3;
/// A shift larger than this on either axis, in pixels, is worth a warning: it makes false change.
pub const WARN_ABOVE_PX: f64 = 0.5;
/// Fractional bits of the resampling position (1/256 px).
const POSITION_SHIFT: u32 = 8;
const POSITION_ONE: i64 = 1 << POSITION_SHIFT;

/// Where a scene's content lies against the reference's: the scene's pixel (x + dx, y + dy) shows what
/// the reference shows at (x, y).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Shift {
    pub dx: f64,
    pub dy: f64,
    /// The best integer shift lies on the edge of the search window: the true shift may be larger.
    pub at_search_edge: bool,
}

impl Shift {
    pub const NONE: Shift = Shift {
        dx: 0.0,
        dy: 0.0,
        at_search_edge: false,
    };

    /// The larger of the two axes' shifts, in pixels.
    pub fn largest_px(&self) -> f64 {
        self.dx.abs().max(self.dy.abs())
    }

    /// Whether the shift is large enough to warn about (see [`WARN_ABOVE_PX`]).
    pub fn worth_warning(&self) -> bool {
        self.at_search_edge || self.largest_px() > WARN_ABOVE_PX
    }
}

/// The shift of the scene in slot `scene` against the one in slot `reference`, searched within
/// ±`radius` px; `None` when no shift had a valid pixel to compare.
pub fn estimate(
    kernel: &mut dyn ChangeKernel,
    reference: Slot,
    scene: Slot,
    radius: u32,
    nodata: Option<u32>,
) -> Result<Option<Shift>> {
    Ok(refine(
        &kernel.shift_costs(reference, scene, radius, nodata)?,
    ))
}

/// The sub-pixel shift from the integer costs: the shift of least mean difference per pixel, then on
/// each axis the vertex of the parabola through it and its two neighbours (within ±0.5 px; none at the
/// window's edge or where the neighbours are not higher).
pub fn refine(costs: &ShiftCosts) -> Option<Shift> {
    let mean: Vec<Option<f64>> = costs
        .sums
        .iter()
        .zip(&costs.pixels)
        .map(|(&sum, &pixels)| (pixels > 0).then(|| sum as f64 / pixels as f64))
        .collect();
    let (best, best_cost) = mean
        .iter()
        .enumerate()
        .filter_map(|(index, cost)| Some((index, (*cost)?)))
        .min_by(|a, b| a.1.total_cmp(&b.1))?;
    let (dx, dy) = costs.shift(best);
    let r = costs.radius as i32;
    let side = 2 * r + 1;
    let at = |x: i32, y: i32| -> Option<f64> {
        if x.abs() > r || y.abs() > r {
            return None;
        }
        mean[((y + r) * side + x + r) as usize]
    };
    let vertex = |before: Option<f64>, after: Option<f64>| -> f64 {
        let (Some(before), Some(after)) = (before, after) else {
            return 0.0;
        };
        let curvature = before - 2.0 * best_cost + after;
        if curvature <= 0.0 {
            return 0.0;
        }
        (0.5 * (before - after) / curvature).clamp(-0.5, 0.5)
    };
    Some(Shift {
        dx: f64::from(dx) + vertex(at(dx - 1, dy), at(dx + 1, dy)),
        dy: f64::from(dy) + vertex(at(dx, dy - 1), at(dx, dy + 1)),
        at_search_edge: dx.abs() == r || dy.abs() == r,
    })
}

/// `scene` resampled onto the reference's grid: pixel (x, y) takes the scene's content at
/// (x + dx, y + dy), bilinearly interpolated in integer arithmetic with positions rounded to 1/256 px:
/// (Σ w · v + 2^15) >> 16 with weights in 1/256ths per axis. A pixel whose interpolation needs a sample
/// outside the scene or one that is not valid (masked or, with `nodata`, nodata) is invalid, its
/// samples set to `nodata` (0 without).
pub fn resample(scene: &Scene, shift: Shift, nodata: Option<u32>) -> Scene {
    let format = scene.format;
    let (width, height) = (format.width as usize, format.height as usize);
    let bands = format.bands as usize;
    let split = |d: f64| {
        let fixed = (d * POSITION_ONE as f64).round() as i64;
        (
            fixed.div_euclid(POSITION_ONE),
            fixed.rem_euclid(POSITION_ONE),
        )
    };
    let (ix, fx) = split(shift.dx);
    let (iy, fy) = split(shift.dy);
    // The corners a pixel needs: (0, 0) always, the next column or row only with a weight on it.
    let corners: Vec<(usize, usize, i64)> = [(0, 0), (1, 0), (0, 1), (1, 1)]
        .into_iter()
        .map(|(cx, cy)| {
            let wx = if cx == 0 { POSITION_ONE - fx } else { fx };
            let wy = if cy == 0 { POSITION_ONE - fy } else { fy };
            (cx, cy, wx * wy)
        })
        .filter(|&(_, _, weight)| weight > 0)
        .collect();
    // A column or row `at` moved by `shift`, when that lies inside the scene.
    let source = |at: usize, shift: i64, size: usize| {
        usize::try_from(at as i64 + shift)
            .ok()
            .filter(|&s| s < size)
    };
    let fill = nodata.unwrap_or(0) as u16;
    let mut samples = vec![fill; format.pixel_count() * bands];
    let mut valid = vec![false; format.pixel_count()];
    let rows = samples
        .par_chunks_mut(width * bands)
        .zip(valid.par_chunks_mut(width))
        .enumerate();
    rows.for_each_init(SourceRows::default, |source_rows, (y, (out, out_valid))| {
        // Rows y + iy and the one below it, as far as they lie in the scene.
        source_rows.load(scene, nodata, [0, 1].map(|cy| source(y + cy, iy, height)));
        for (x, (out, out_valid)) in out.chunks_exact_mut(bands).zip(out_valid).enumerate() {
            let inside = |(cx, cy, _): &(usize, usize, i64)| {
                let column = source(x + cx, ix, width)?;
                source_rows.valid[*cy][column].then_some(column)
            };
            let mut columns = [0; 4];
            let mut sources = columns.iter_mut().zip(&corners);
            if !sources.all(|(column, corner)| inside(corner).map(|c| *column = c).is_some()) {
                continue;
            }
            *out_valid = true;
            for (band, out) in out.iter_mut().enumerate() {
                let sum: i64 = corners
                    .iter()
                    .zip(columns.iter())
                    .map(|(&(_, cy, weight), &column)| {
                        weight * i64::from(source_rows.values[cy][column * bands + band])
                    })
                    .sum();
                *out = ((sum + (1 << 15)) >> 16) as u16;
            }
        }
    });
    let mut resampled = Scene::from_values(format, &samples);
    let mut validity = vec![0u32; format.bitmap_word_count()];
    for (pixel, _) in valid.iter().enumerate().filter(|(_, valid)| **valid) {
        validity[pixel / 32] |= 1 << (pixel % 32);
    }
    resampled.validity = Some(validity);
    resampled
}

/// The two source rows an output row of [`resample`] reads: their samples and validity, empty for a row
/// outside the scene.
#[derive(Default)]
struct SourceRows {
    values: [Vec<u16>; 2],
    valid: [Vec<bool>; 2],
    invalid: Vec<usize>,
}

impl SourceRows {
    fn load(&mut self, scene: &Scene, nodata: Option<u32>, rows: [Option<usize>; 2]) {
        let width = scene.format.width as usize;
        let bands = scene.format.bands as usize;
        for ((row, values), valid) in rows.into_iter().zip(&mut self.values).zip(&mut self.valid) {
            let Some(row) = row else {
                valid.clear();
                valid.resize(width, false);
                continue;
            };
            values.resize(width * bands, 0);
            valid.resize(width, false);
            scene.unpack_samples(row * width, values);
            scene.find_invalid(row * width, values, nodata, &mut self.invalid);
            validity_flags(&self.invalid, valid);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scene::SceneFormat;

    fn costs(radius: u32, cost: impl Fn(i32, i32) -> u64) -> ShiftCosts {
        let side = 2 * radius as usize + 1;
        let mut costs = ShiftCosts {
            radius,
            pixels: vec![100; side * side],
            sums: vec![0; side * side],
        };
        for index in 0..side * side {
            let (dx, dy) = costs.shift(index);
            costs.sums[index] = cost(dx, dy);
        }
        costs
    }

    #[test]
    fn the_vertex_of_a_parabola_is_found_between_pixels() {
        let parabola = |dx: i32, dy: i32| {
            let (x, y) = (f64::from(dx) - 1.3, f64::from(dy) + 0.25);
            (1000.0 * (x * x + y * y)) as u64 + 500
        };
        let shift = refine(&costs(3, parabola)).unwrap();
        assert!((shift.dx - 1.3).abs() < 0.01, "{shift:?}");
        assert!((shift.dy + 0.25).abs() < 0.01, "{shift:?}");
        assert!(!shift.at_search_edge && shift.worth_warning());
    }

    #[test]
    fn a_minimum_on_the_edge_is_flagged() {
        let shift = refine(&costs(2, |dx, dy| (100 - 10 * dx + dy.abs()) as u64)).unwrap();
        assert_eq!((shift.dx, shift.at_search_edge), (2.0, true));
    }

    #[test]
    fn an_integer_shift_moves_samples_exactly() {
        let samples: Vec<u8> = (0..8 * 6).map(|i| (i * 5) as u8).collect();
        let scene = Scene::from_u8(8, 6, 1, &samples);
        let shift = Shift {
            dx: 2.0,
            dy: -1.0,
            at_search_edge: false,
        };
        let moved = resample(&scene, shift, None);
        for (y, x) in (1..6).flat_map(|y| (0..6).map(move |x| (y, x))) {
            assert_eq!(
                moved.sample(y * 8 + x, 0),
                scene.sample((y - 1) * 8 + x + 2, 0)
            );
            assert!(moved.is_valid(y * 8 + x, None));
        }
        assert!(!moved.is_valid(7, None) && !moved.is_valid(8 + 6, None));
    }

    #[test]
    fn half_a_pixel_averages_neighbours() {
        let scene = Scene::from_u16(4, 1, 1, &[100, 201, 300, 400]);
        let moved = resample(
            &scene,
            Shift {
                dx: 0.5,
                dy: 0.0,
                at_search_edge: false,
            },
            None,
        );
        let values: Vec<u32> = (0..3).map(|x| moved.sample(x, 0)).collect();
        assert_eq!(values, [151, 251, 350]);
        assert!(!moved.is_valid(3, None));
    }

    /// Pixel (x, y) of [`resample`], straight from its definition.
    fn resampled_pixel(
        scene: &Scene,
        shift: Shift,
        nodata: Option<u32>,
        (x, y): (i64, i64),
    ) -> Option<Vec<u32>> {
        let (width, height) = (
            i64::from(scene.format.width),
            i64::from(scene.format.height),
        );
        let fixed = |d: f64| (d * 256.0).round() as i64;
        let (px, py) = (x * 256 + fixed(shift.dx), y * 256 + fixed(shift.dy));
        let (sx, sy, fx, fy) = (px.div_euclid(256), py.div_euclid(256), px % 256, py % 256);
        let (fx, fy) = (fx.rem_euclid(256), fy.rem_euclid(256));
        let mut corners = Vec::new();
        for (cx, wx) in [(0, 256 - fx), (1, fx)] {
            for (cy, wy) in [(0, 256 - fy), (1, fy)] {
                if wx * wy == 0 {
                    continue;
                }
                let (cx, cy) = (sx + cx, sy + cy);
                if !(0..width).contains(&cx) || !(0..height).contains(&cy) {
                    return None;
                }
                let pixel = (cy * width + cx) as usize;
                if !scene.is_valid(pixel, nodata) {
                    return None;
                }
                corners.push((pixel, wx * wy));
            }
        }
        let bands = 0..scene.format.bands as usize;
        Some(
            bands
                .map(|band| {
                    let sum: i64 = corners
                        .iter()
                        .map(|&(pixel, weight)| weight * i64::from(scene.sample(pixel, band)))
                        .sum();
                    ((sum + (1 << 15)) >> 16) as u32
                })
                .collect(),
        )
    }

    #[test]
    fn resampling_interpolates_every_pixel_from_its_valid_neighbours() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        for (bits, bands) in [(8, 3), (16, 4), (8, 1)] {
            let (width, height) = (23, 11);
            let max = (1u32 << bits) - 1;
            let samples: Vec<u16> = (0..width * height * bands)
                .map(|_| rng.random_range(0..=max) as u16)
                .collect();
            let format = SceneFormat {
                width,
                height,
                bands,
                bits_per_sample: bits,
            };
            let mut scene = Scene::from_values(format, &samples);
            for pixel in 0..(width * height) as usize {
                if rng.random_bool(0.1) {
                    (0..bands as usize).for_each(|band| scene.set_sample(pixel, band, 7));
                }
            }
            scene.validity = Some(
                (0..scene.format.bitmap_word_count())
                    .map(|_| rng.random::<u32>() | rng.random::<u32>() | rng.random::<u32>())
                    .collect(),
            );
            for (dx, dy) in [
                (0.0, 0.0),
                (1.3, -0.6),
                (-2.75, 0.5),
                (0.2, 2.0),
                (-0.49, -1.51),
            ] {
                for nodata in [None, Some(7)] {
                    let shift = Shift {
                        dx,
                        dy,
                        at_search_edge: false,
                    };
                    let resampled = resample(&scene, shift, nodata);
                    for pixel in 0..(width * height) as usize {
                        let at = (
                            (pixel % width as usize) as i64,
                            (pixel / width as usize) as i64,
                        );
                        let expected = resampled_pixel(&scene, shift, nodata, at);
                        let valid = resampled.is_valid(pixel, None);
                        let got: Vec<u32> = (0..bands as usize)
                            .map(|b| resampled.sample(pixel, b))
                            .collect();
                        let fill = vec![nodata.unwrap_or(0); bands as usize];
                        assert_eq!(
                            (valid, got),
                            (expected.is_some(), expected.unwrap_or(fill)),
                            "{bits}-bit, shift ({dx}, {dy}), nodata {nodata:?}, pixel {pixel}"
                        );
                    }
                }
            }
        }
    }
}
