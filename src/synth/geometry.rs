//! Plane geometry in pixel coordinates for the synthetic port: points, rectangles, local frames, shapes and
//! their shadows, point-in-polygon.

use rand::Rng;

pub(super) type P = [f64; 2];
pub(super) type Rgb = [f64; 3];

pub(super) fn add<const N: usize>(a: [f64; N], b: [f64; N]) -> [f64; N] {
    std::array::from_fn(|i| a[i] + b[i])
}

pub(super) fn sub<const N: usize>(a: [f64; N], b: [f64; N]) -> [f64; N] {
    std::array::from_fn(|i| a[i] - b[i])
}

pub(super) fn scale<const N: usize>(a: [f64; N], f: f64) -> [f64; N] {
    a.map(|v| v * f)
}

pub(super) fn mix<const N: usize>(a: [f64; N], b: [f64; N], t: f64) -> [f64; N] {
    std::array::from_fn(|i| a[i] + (b[i] - a[i]) * t)
}

pub(super) fn dot(a: P, b: P) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

pub(super) fn norm(a: P) -> f64 {
    dot(a, a).sqrt()
}

pub(super) fn centre(x: usize, y: usize) -> P {
    [x as f64 + 0.5, y as f64 + 0.5]
}

pub(super) fn smoothstep(edge0: f64, edge1: f64, x: f64) -> f64 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Rect {
    pub(super) x0: f64,
    pub(super) y0: f64,
    pub(super) x1: f64,
    pub(super) y1: f64,
}

impl Rect {
    pub(super) fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Self { x0, y0, x1, y1 }
    }

    pub(super) fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    pub(super) fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    /// Shrinks each side by `d` (grows for negative `d`).
    pub(super) fn inset(&self, d: f64) -> Self {
        Self::new(self.x0 + d, self.y0 + d, self.x1 - d, self.y1 - d)
    }

    pub(super) fn corners(&self) -> [P; 4] {
        [
            [self.x0, self.y0],
            [self.x1, self.y0],
            [self.x1, self.y1],
            [self.x0, self.y1],
        ]
    }

    pub(super) fn ring(&self) -> Vec<P> {
        self.corners().to_vec()
    }

    /// A uniformly random point; never panics, even on an empty rectangle.
    pub(super) fn random_point(&self, rng: &mut impl Rng) -> P {
        [
            self.x0 + rng.random::<f64>() * self.width(),
            self.y0 + rng.random::<f64>() * self.height(),
        ]
    }
}

/// A local frame: `u` runs along the unit vector `axis` and `v` across it, in pixels from `origin`.
#[derive(Clone, Copy)]
pub(super) struct Frame {
    pub(super) origin: P,
    pub(super) axis: P,
}

impl Frame {
    /// A frame at `a` pointing at `b` (any direction if they coincide).
    pub(super) fn along(a: P, b: P) -> Self {
        let d = sub(b, a);
        let length = norm(d);
        let axis = if length > 0.0 {
            scale(d, 1.0 / length)
        } else {
            [1.0, 0.0]
        };
        Self { origin: a, axis }
    }

    pub(super) fn at(&self, u: f64, v: f64) -> P {
        let [ax, ay] = self.axis;
        [
            self.origin[0] + u * ax - v * ay,
            self.origin[1] + u * ay + v * ax,
        ]
    }

    pub(super) fn ring(&self, points: &[P]) -> Vec<P> {
        points.iter().map(|&[u, v]| self.at(u, v)).collect()
    }

    /// The rectangle `u0..u1` by `v0..v1` in this frame: a rotated rectangle in the image.
    pub(super) fn rect(&self, u0: f64, u1: f64, v0: f64, v1: f64) -> Vec<P> {
        self.ring(&[[u0, v0], [u1, v0], [u1, v1], [u0, v1]])
    }
}

/// A bar of `width` from a to b; a square when they coincide (a vertical member seen from above).
pub(super) fn segment(a: P, b: P, width: f64) -> Vec<P> {
    let half = width / 2.0;
    let length = norm(sub(b, a));
    if length == 0.0 {
        return Rect::new(a[0] - half, a[1] - half, a[0] + half, a[1] + half).ring();
    }
    Frame::along(a, b).rect(0.0, length, -half, half)
}

pub(super) fn disk(c: P, r: f64) -> Vec<P> {
    let n = (r * 4.0).clamp(12.0, 64.0) as usize;
    (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            [c[0] + r * a.cos(), c[1] + r * a.sin()]
        })
        .collect()
}

/// The sides of a polygon, closing it if its ring is open.
pub(super) fn edges(ring: &[P]) -> impl Iterator<Item = (P, P)> + '_ {
    ring.iter()
        .zip(ring.iter().cycle().skip(1))
        .map(|(&a, &b)| (a, b))
}

pub(super) fn closed(ring: &[P]) -> Vec<P> {
    let mut closed = ring.to_vec();
    closed.push(ring[0]);
    closed
}

/// Convex hull by Andrew's monotone chain.
fn convex_hull(mut points: Vec<P>) -> Vec<P> {
    points.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let cross = |o: P, a: P, b: P| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let half = |ordered: &mut dyn Iterator<Item = P>| {
        let mut chain: Vec<P> = Vec::new();
        for p in ordered {
            while chain.len() >= 2
                && cross(chain[chain.len() - 2], chain[chain.len() - 1], p) <= 0.0
            {
                chain.pop();
            }
            chain.push(p);
        }
        // The last point starts the other half.
        chain.pop();
        chain
    };
    let mut hull = half(&mut points.iter().copied());
    hull.extend(half(&mut points.iter().rev().copied()));
    hull
}

/// The shadow of a vertical prism on a convex footprint: the footprint swept along `offset`.
pub(super) fn extrude(ring: &[P], offset: P) -> Vec<P> {
    convex_hull(ring.iter().flat_map(|&p| [p, add(p, offset)]).collect())
}

/// Even-odd point-in-polygon test; `ring` may be open or closed.
pub(super) fn contains(ring: &[P], p: P) -> bool {
    let mut inside = false;
    for (a, b) in edges(ring) {
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
        {
            inside = !inside;
        }
    }
    inside
}

/// The bounding box of a polygon: its least and greatest corners.
pub(super) fn bounds(ring: &[P]) -> (P, P) {
    ring.iter()
        .fold(([f64::MAX; 2], [f64::MIN; 2]), |(lo, hi), p| {
            (
                [lo[0].min(p[0]), lo[1].min(p[1])],
                [hi[0].max(p[0]), hi[1].max(p[1])],
            )
        })
}
