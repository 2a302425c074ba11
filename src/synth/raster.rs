//! The canvas the port is painted on: anti-aliased polygon rasterization, a compact floating-point RGB
//! buffer, value noise for textures and soft blobs for clouds.

use super::geometry::{P, Rgb, bounds, dot, edges, mix, scale, segment, smoothstep, sub};
use rand::Rng;
use std::collections::HashMap;

/// Vertical samples per pixel row; coverage along a row is exact.
const SUBROWS: usize = 4;

/// Calls `plot(x, y, coverage)` for every pixel of a `w` x `h` image that the polygon touches.
fn rasterize(ring: &[P], w: usize, h: usize, mut plot: impl FnMut(usize, usize, f64)) {
    let (lo, hi) = bounds(ring);
    let x0 = lo[0].floor().clamp(0.0, w as f64) as usize;
    let x1 = hi[0].ceil().clamp(0.0, w as f64) as usize;
    let y0 = lo[1].floor().clamp(0.0, h as f64) as usize;
    let y1 = hi[1].ceil().clamp(0.0, h as f64) as usize;
    if x0 >= x1 {
        return;
    }
    let mut cover = vec![0.0; x1 - x0];
    let mut crossings = Vec::new();
    for y in y0..y1 {
        cover.fill(0.0);
        for s in 0..SUBROWS {
            let sy = y as f64 + (s as f64 + 0.5) / SUBROWS as f64;
            crossings.clear();
            for (a, b) in edges(ring) {
                if (a[1] <= sy) != (b[1] <= sy) {
                    crossings.push(a[0] + (sy - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
                }
            }
            crossings.sort_by(f64::total_cmp);
            for span in crossings.chunks_exact(2) {
                add_span(&mut cover, x0, span[0], span[1], 1.0 / SUBROWS as f64);
            }
        }
        for (i, &c) in cover.iter().enumerate() {
            if c > 0.0 {
                plot(x0 + i, y, c.min(1.0));
            }
        }
    }
}

/// Adds `weight` times the overlap of `[xa, xb]` with each pixel of `cover` (which starts at `x0`).
fn add_span(cover: &mut [f64], x0: usize, xa: f64, xb: f64, weight: f64) {
    let start = x0 as f64;
    let (xa, xb) = (xa.max(start), xb.min(start + cover.len() as f64));
    if xa >= xb {
        return;
    }
    for px in (xa.floor() as usize)..(xb.ceil() as usize) {
        let overlap = xb.min(px as f64 + 1.0) - xa.max(px as f64);
        cover[px - x0] += overlap * weight;
    }
}

/// One pixel of the canvas: f32 keeps a 10000 x 10000 px scene near 1.2 GB, half of what f64 would take.
type Stored = [f32; 3];

fn load(stored: Stored) -> Rgb {
    stored.map(f64::from)
}

fn store(colour: Rgb) -> Stored {
    colour.map(|v| v as f32)
}

/// The surface colour, RGB on the 8-bit scale (0 to 255, before any nuisance of the atmosphere or the sensor).
#[derive(Clone)]
pub(super) struct Canvas {
    pub(super) w: usize,
    pub(super) h: usize,
    px: Vec<Stored>,
}

impl Canvas {
    pub(super) fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![[0.0; 3]; w * h],
        }
    }

    pub(super) fn get(&self, x: usize, y: usize) -> Rgb {
        load(self.px[y * self.w + x])
    }

    /// Paints a polygon: `shade(x, y, under)` gives each touched pixel's new colour, blended
    /// in by the pixel's coverage.
    pub(super) fn paint(&mut self, ring: &[P], mut shade: impl FnMut(usize, usize, Rgb) -> Rgb) {
        let (w, px) = (self.w, &mut self.px);
        rasterize(ring, w, self.h, |x, y, coverage| {
            let under = load(px[y * w + x]);
            px[y * w + x] = store(mix(under, shade(x, y, under), coverage));
        });
    }

    /// Paints the outline of a polygon with lines of `width`.
    pub(super) fn stroke(&mut self, ring: &[P], width: f64, shade: impl Fn(Rgb) -> Rgb) {
        for (a, b) in edges(ring) {
            self.paint(&segment(a, b, width), |_, _, under| shade(under));
        }
    }

    pub(super) fn fill(&mut self, ring: &[P], colour: Rgb) {
        self.paint(ring, |_, _, _| colour);
    }

    pub(super) fn darken(&mut self, ring: &[P], factor: f64) {
        self.paint(ring, |_, _, under| scale(under, factor));
    }

    /// Darkens the union of `rings` once, so overlapping shadows do not compound.
    pub(super) fn darken_union(&mut self, rings: &[Vec<P>], factor: f64) {
        let mut cover: HashMap<usize, f64> = HashMap::new();
        for ring in rings {
            rasterize(ring, self.w, self.h, |x, y, c| {
                let max = cover.entry(y * self.w + x).or_default();
                *max = max.max(c);
            });
        }
        for (i, c) in cover {
            self.px[i] = store(scale(load(self.px[i]), 1.0 - (1.0 - factor) * c));
        }
    }

    pub(super) fn map(&mut self, mut op: impl FnMut(usize, usize, Rgb) -> Rgb) {
        let w = self.w;
        for (i, pixel) in self.px.iter_mut().enumerate() {
            *pixel = store(op(i % w, i / w, load(*pixel)));
        }
    }

    /// The colour at a point, bilinear between pixel centres, clamped at the borders.
    pub(super) fn sample(&self, p: P) -> Rgb {
        let fx = (p[0] - 0.5).clamp(0.0, (self.w - 1) as f64);
        let fy = (p[1] - 0.5).clamp(0.0, (self.h - 1) as f64);
        let (x0, y0) = (fx.floor() as usize, fy.floor() as usize);
        let (x1, y1) = ((x0 + 1).min(self.w - 1), (y0 + 1).min(self.h - 1));
        let (tx, ty) = (fx - x0 as f64, fy - y0 as f64);
        let top = mix(self.get(x0, y0), self.get(x1, y0), tx);
        let bottom = mix(self.get(x0, y1), self.get(x1, y1), tx);
        mix(top, bottom, ty)
    }

    /// Whether the two canvases differ at pixel `i` (row-major).
    #[cfg(test)]
    pub(super) fn differs_at(&self, other: &Canvas, i: usize) -> bool {
        self.px[i] != other.px[i]
    }
}

/// Smooth value noise on a unit lattice, from a hash of the lattice point and a seed.
#[derive(Clone, Copy)]
pub(super) struct Noise(u64);

impl Noise {
    pub(super) fn new(rng: &mut impl Rng) -> Self {
        Self(rng.random())
    }

    fn lattice(self, x: i64, y: i64) -> f64 {
        let h = splitmix(self.0 ^ splitmix(x as u64 ^ splitmix(y as u64)));
        (h >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Value in [0, 1) varying over about one unit.
    pub(super) fn value(self, x: f64, y: f64) -> f64 {
        let (fx, fy) = (x.floor(), y.floor());
        let (ix, iy) = (fx as i64, fy as i64);
        let (tx, ty) = (smoothstep(0.0, 1.0, x - fx), smoothstep(0.0, 1.0, y - fy));
        let top = self.lattice(ix, iy) + (self.lattice(ix + 1, iy) - self.lattice(ix, iy)) * tx;
        let bottom = self.lattice(ix, iy + 1)
            + (self.lattice(ix + 1, iy + 1) - self.lattice(ix, iy + 1)) * tx;
        top + (bottom - top) * ty
    }

    /// Fractal sum of `octaves` octaves, each twice as fine and half as strong, in [0, 1).
    pub(super) fn fbm(self, x: f64, y: f64, octaves: u32) -> f64 {
        let (mut sum, mut weight, mut total, mut freq) = (0.0, 1.0, 0.0, 1.0);
        for octave in 0..octaves {
            sum += weight * Noise(self.0.wrapping_add(u64::from(octave))).value(x * freq, y * freq);
            total += weight;
            weight *= 0.5;
            freq *= 2.0;
        }
        sum / total
    }
}

fn splitmix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A soft-edged blob: round lobes whose density is roughened by noise. Exactly zero outside
/// the lobes, so masks derived from it are exact.
pub(super) struct SoftBlob {
    pub(super) lobes: Vec<(P, f64)>,
    pub(super) noise: Noise,
    /// Size of the roughening features, in pixels.
    pub(super) grain: f64,
}

impl SoftBlob {
    pub(super) fn alpha(&self, p: P) -> f64 {
        let shape = self
            .lobes
            .iter()
            .map(|&(c, r)| 1.0 - dot(sub(p, c), sub(p, c)) / (r * r))
            .fold(0.0, f64::max);
        if shape <= 0.0 {
            return 0.0;
        }
        // The square root flattens the core, leaving the rim to the noise.
        let density =
            shape.sqrt() * (0.1 + 1.2 * self.noise.fbm(p[0] / self.grain, p[1] / self.grain, 4));
        smoothstep(0.3, 0.75, density)
    }
}
