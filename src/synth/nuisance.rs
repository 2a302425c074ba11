//! The nuisances of real imagery, drawn anew for every scene and applied between the painted surface and
//! the file: mis-registration, a cloud and its shadow, haze, illumination (gain, offset and gamma per band),
//! sensor noise, quantization, and JPEG compression artifacts.

use super::Nuisances;
use super::encode::Raster;
use super::geometry::{P, Rgb, add, centre, mix, scale, sub};
use super::layout::Layout;
use super::paint::{CLOUD_GREY, CLOUD_WHITE};
use super::raster::{Canvas, Noise, SoftBlob};
use image::{ExtendedColorType, ImageFormat};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::ops::RangeInclusive;

/// Up to four bands: red, green, blue, near infrared.
type Bands = [f64; 4];

const CLOUD_HEIGHT_M: f64 = 200.0;
/// The fraction of the light a cloud's shadow takes away where the cloud is thickest.
const SHADOW_DEPTH: f64 = 0.45;
const JPEG_QUALITY: RangeInclusive<u8> = 30..=70;
/// The colour of the light the haze scatters (8-bit scale); haze is bluish and weaker in the infrared.
const AIRLIGHT: Bands = [196.0, 204.0, 218.0, 170.0];
const HAZE_BAND_WEIGHT: Bands = [0.9, 0.95, 1.0, 0.5];

/// A cumulus: a soft white blob and, displaced away from the sun, its shadow.
pub(super) struct Cloud {
    body: SoftBlob,
    shadow_offset: P,
}

impl Cloud {
    fn draw(layout: &Layout, rng: &mut ChaCha8Rng) -> Self {
        let size = layout.width.min(layout.height);
        let centre = [
            rng.random_range(0.15..0.85) * layout.width,
            rng.random_range(0.15..0.85) * layout.height,
        ];
        let lobes = (0..rng.random_range(6..=10))
            .map(|_| {
                let offset = [0, 1].map(|_| rng.random_range(-0.16..0.16) * size);
                (add(centre, offset), rng.random_range(0.06..0.13) * size)
            })
            .collect();
        Self {
            body: SoftBlob {
                lobes,
                noise: Noise::new(rng),
                grain: 0.05 * size,
            },
            shadow_offset: scale(layout.shadow, CLOUD_HEIGHT_M),
        }
    }

    /// How much of the ground the cloud hides at `p`, and how much its shadow darkens there (0 to 1 each).
    pub(super) fn cover_and_shade(&self, p: P) -> (f64, f64) {
        (
            self.body.alpha(p),
            self.body.alpha(sub(p, self.shadow_offset)),
        )
    }

    /// Billows: thick parts white, thin parts and the folds between billows grey.
    fn colour(&self, p: P, cover: f64) -> Rgb {
        let billow = self.body.noise.fbm(p[0] / 6.0 + 31.0, p[1] / 6.0, 3);
        mix(
            CLOUD_GREY,
            CLOUD_WHITE,
            cover * (0.55 + 0.6 * billow).min(1.0),
        )
    }
}

/// Everything that varies from one acquisition to the next apart from the port itself.
pub(super) struct SceneNuisance {
    pub(super) gain: Bands,
    pub(super) offset: Bands,
    pub(super) gamma: Bands,
    /// The haze's mean strength: the fraction of the signal replaced by scattered light.
    pub(super) haze: f64,
    haze_noise: Noise,
    pub(super) cloud: Option<Cloud>,
    /// Where the scene lies relative to the true grid, in pixels: it is resampled at `pixel - shift`.
    pub(super) shift: P,
    pub(super) jpeg_quality: Option<u8>,
    noise_dn: f64,
    noise_seed: u64,
}

impl SceneNuisance {
    /// Draws every value whatever the knobs say, so that turning one nuisance off or on leaves the others
    /// as they were.
    pub(super) fn draw(layout: &Layout, knobs: &Nuisances, rng: &mut ChaCha8Rng) -> Self {
        let common_gain = rng.random_range(-1.0..=1.0);
        let gain = std::array::from_fn(|_| {
            1.0 + knobs.gain_jitter * (common_gain + 0.5 * rng.random_range(-1.0..=1.0))
        });
        let offset = std::array::from_fn(|_| knobs.offset_jitter_dn * rng.random_range(-1.0..=1.0));
        let gamma =
            std::array::from_fn(|_| 1.0 + knobs.gamma_jitter * rng.random_range(-1.0..=1.0));
        let haze = knobs.haze * rng.random::<f64>();
        let haze_noise = Noise::new(rng);
        let cloud = Cloud::draw(layout, rng);
        let cloudy = rng.random::<f64>() < knobs.cloud_probability;
        let shift = [0, 1].map(|_| knobs.misregistration_px * rng.random_range(-1.0..=1.0));
        let quality = rng.random_range(JPEG_QUALITY);
        let compressed = rng.random::<f64>() < knobs.jpeg_probability;
        Self {
            gain,
            offset,
            gamma,
            haze,
            haze_noise,
            cloud: cloudy.then_some(cloud),
            shift,
            jpeg_quality: compressed.then_some(quality),
            noise_dn: knobs.noise_dn,
            noise_seed: rng.random(),
        }
    }

    /// Whether pixel (x, y) of the scene is free of cloud and cloud shadow: the validity mask, shifted with
    /// the scene.
    pub(super) fn clear_at(&self, x: usize, y: usize) -> bool {
        self.cloud.as_ref().is_none_or(|cloud| {
            let (cover, shade) = cloud.cover_and_shade(sub(centre(x, y), self.shift));
            cover == 0.0 && shade == 0.0
        })
    }

    /// The scene as the sensor delivers it: `bands` bands (3 or 4) of `bits` (8 or 16) per sample.
    pub(super) fn expose(&self, surface: &Canvas, bands: usize, bits: u8) -> Raster {
        let mut raster = Raster::new(surface.w as u32, surface.h as u32, bands, bits);
        let row_len = surface.w * bands;
        let step = raster.level_step();
        let size = surface.w.min(surface.h) as f64;
        raster.par_rows_mut(row_len, |y, put| {
            let mut rng = ChaCha8Rng::seed_from_u64(self.noise_seed);
            rng.set_stream(y as u64);
            for x in 0..surface.w {
                let p = sub(centre(x, y), self.shift);
                let levels = self.sensed(surface.sample(p), p, size);
                for (b, level) in levels.iter().take(bands).enumerate() {
                    let noisy = level + self.noise_dn * sensor_noise(&mut rng);
                    put(x * bands + b, noisy * step);
                }
            }
        });
        if let Some(quality) = self.jpeg_quality {
            jpeg_round_trip(&mut raster, quality);
        }
        raster
    }

    /// The levels (8-bit scale, before noise) the sensor records at `p` over a surface of colour `surface`.
    fn sensed(&self, surface: Rgb, p: P, size: f64) -> Bands {
        let [r, g, b] = surface;
        let mut levels = [r, g, b, near_infrared(surface)];
        if let Some(cloud) = &self.cloud {
            let (cover, shade) = cloud.cover_and_shade(p);
            if cover > 0.0 || shade > 0.0 {
                let [cr, cg, cb] = cloud.colour(p, cover);
                let white = [cr, cg, cb, (cr + cg + cb) / 3.0];
                levels = mix(
                    scale(levels, 1.0 - SHADOW_DEPTH * shade),
                    white,
                    0.97 * cover,
                );
            }
        }
        if self.haze > 0.0 {
            let patchiness = self
                .haze_noise
                .fbm(p[0] / (0.4 * size), p[1] / (0.4 * size), 2);
            let haze = (self.haze * (0.4 + 1.2 * patchiness)).min(1.0);
            for b in 0..4 {
                levels[b] += (AIRLIGHT[b] - levels[b]) * haze * HAZE_BAND_WEIGHT[b];
            }
        }
        std::array::from_fn(|b| {
            let lit = (levels[b] * self.gain[b] + self.offset[b]).max(0.0);
            255.0 * (lit / 255.0).powf(self.gamma[b])
        })
    }
}

/// A simple spectral model for the near-infrared band, from the visible colour: vegetation (green above
/// red and blue) reflects strongly, water (dark, blue above red) hardly at all, other materials about as
/// much as in the visible.
fn near_infrared([r, g, b]: Rgb) -> f64 {
    let brightness = (r + g + b) / 3.0;
    let vegetation = (g - r.max(b)).max(0.0);
    let wetness = ((b - r).max(0.0) / (brightness + 1.0) * 1.2).min(1.0);
    (1.1 * brightness + 5.0 * vegetation - brightness * wetness).max(0.0)
}

/// Roughly Gaussian noise of unit standard deviation: the centred sum of four uniform bytes (standard
/// deviation 147.8). Much cheaper than Box-Muller.
fn sensor_noise(rng: &mut ChaCha8Rng) -> f64 {
    let sum: u32 = rng
        .random::<u32>()
        .to_le_bytes()
        .into_iter()
        .map(u32::from)
        .sum();
    (f64::from(sum) - 510.0) / 147.8
}

/// Compresses the scene as JPEG at `quality` and decodes it again: the red, green and blue bands as one
/// colour image, the infrared band as a grey one. A 16-bit scene goes through an 8-bit copy, and the
/// difference JPEG made to that copy is added to it.
fn jpeg_round_trip(raster: &mut Raster, quality: u8) {
    let (w, h, bands) = (raster.width, raster.height, raster.bands);
    let step = raster.level_step();
    let groups: &[(std::ops::Range<usize>, ExtendedColorType)] = if bands == 4 {
        &[
            (0..3, ExtendedColorType::Rgb8),
            (3..4, ExtendedColorType::L8),
        ]
    } else {
        &[(0..3, ExtendedColorType::Rgb8)]
    };
    for (group, colour) in groups {
        let eight_bit: Vec<u8> = (0..raster.pixel_count())
            .flat_map(|i| group.clone().map(move |b| i * bands + b))
            .map(|s| (raster.get(s) / step).round().min(255.0) as u8)
            .collect();
        let mut encoded = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut encoded, quality)
            .encode(&eight_bit, w, h, *colour)
            .expect("JPEG encodes any scene up to 65535 px a side");
        let decoded = image::load_from_memory_with_format(&encoded, ImageFormat::Jpeg)
            .expect("a JPEG just encoded decodes");
        let decoded = if group.len() == 3 {
            decoded.into_rgb8().into_raw()
        } else {
            decoded.into_luma8().into_raw()
        };
        for (k, (before, after)) in eight_bit.iter().zip(decoded).enumerate() {
            let s = (k / group.len()) * bands + group.start + k % group.len();
            let level = raster.get(s) + (f64::from(after) - f64::from(*before)) * step;
            raster.put(s, level);
        }
    }
}
