//! The change heatmap: for each pixel, in how many consecutive pairs of the archive it changed, drawn as a
//! colour ramp over the archive's background, so that analysts see at a glance where the port is active
//! (berths, yard blocks) and where the detector is merely noisy (cloud edges, glint).
//!
//! Colour: unchanged pixels show the background in gray, dimmed; a pixel that changed in `n` of the `N`
//! pairs is tinted with the ramp at √(n / N) (the root spreads the rare changes, the most common case,
//! over more of the ramp), 80% opaque over that gray.

use super::display::{Crop, to_rgb, white_level};
use crate::kernel::ChangeMask;
use crate::scene::Scene;
use image::{Rgb, RgbImage};

/// The ramp's colours at equal steps of √(n / N) from 0 to 1 (the upper three quarters of matplotlib's
/// "inferno", so that rare changes stay visible on the dimmed background).
pub const RAMP: [[u8; 3]; 4] = [[87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]];
/// How much of a changed pixel's colour is the ramp's, in 256ths.
const TINT_OPACITY: u32 = 205;
/// How bright the gray background is, in 256ths of its luma.
const BACKGROUND_BRIGHTNESS: u32 = 150;

/// Per pixel, the number of consecutive pairs in which it changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeCounts {
    pub width: u32,
    pub height: u32,
    /// Row-major, one count per pixel.
    pub counts: Vec<u32>,
    /// Pairs added.
    pub pairs: u32,
}

impl ChangeCounts {
    pub fn new(width: u32, height: u32) -> ChangeCounts {
        ChangeCounts {
            width,
            height,
            counts: vec![0; width as usize * height as usize],
            pairs: 0,
        }
    }

    /// Counts the changed pixels of one more pair's mask, which must be of the counts' size.
    pub fn add(&mut self, mask: &ChangeMask) {
        assert_eq!((mask.width, mask.height), (self.width, self.height));
        for (pixel, count) in self.counts.iter_mut().enumerate() {
            *count += u32::from(crate::kernel::params::bitmap_bit(
                mask.words[pixel / 32],
                pixel as u32,
            ));
        }
        self.pairs += 1;
    }

    /// The heatmap over `background`, a scene of the counts' size.
    pub fn render(&self, background: &Scene) -> RgbImage {
        let whole = Crop::whole(self.width, self.height);
        let gray = to_rgb(background, whole, white_level(&[background], whole));
        RgbImage::from_fn(self.width, self.height, |x, y| {
            let [r, g, b] = gray.get_pixel(x, y).0.map(u32::from);
            let luma = (r * 77 + g * 150 + b * 29) >> 8;
            let dimmed = (luma * BACKGROUND_BRIGHTNESS) >> 8;
            let count = self.counts[y as usize * self.width as usize + x as usize];
            if count == 0 {
                return Rgb([dimmed as u8; 3]);
            }
            let tint = ramp((f64::from(count) / f64::from(self.pairs)).sqrt());
            Rgb(tint.map(|channel| {
                ((u32::from(channel) * TINT_OPACITY + dimmed * (256 - TINT_OPACITY)) >> 8) as u8
            }))
        })
    }
}

/// The ramp's colour at `t` in [0, 1], interpolated linearly between its stops.
pub fn ramp(t: f64) -> [u8; 3] {
    let position = t.clamp(0.0, 1.0) * (RAMP.len() - 1) as f64;
    let low = (position.floor() as usize).min(RAMP.len() - 2);
    let fraction = position - low as f64;
    std::array::from_fn(|channel| {
        let (a, b) = (
            f64::from(RAMP[low][channel]),
            f64::from(RAMP[low + 1][channel]),
        );
        (a + (b - a) * fraction).round() as u8
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(width: u32, height: u32, changed: &[usize]) -> ChangeMask {
        let mut words = vec![0u32; (width * height).div_ceil(32) as usize];
        for &pixel in changed {
            words[pixel / 32] |= 1 << (pixel % 32);
        }
        ChangeMask {
            width,
            height,
            words,
        }
    }

    #[test]
    fn counts_add_up_over_pairs_and_colour_by_frequency() {
        let mut counts = ChangeCounts::new(40, 1);
        counts.add(&mask(40, 1, &[0, 33, 39]));
        counts.add(&mask(40, 1, &[33, 39]));
        counts.add(&mask(40, 1, &[]));
        counts.add(&mask(40, 1, &[39]));
        assert_eq!(counts.pairs, 4);
        assert_eq!(
            (counts.counts[0], counts.counts[33], counts.counts[39]),
            (1, 2, 3)
        );
        assert_eq!(counts.counts.iter().sum::<u32>(), 6);

        let background = Scene::from_u8(40, 1, 1, &[200; 40]);
        let heatmap = counts.render(&background);
        let dimmed = ((200 * BACKGROUND_BRIGHTNESS) >> 8) as u8;
        assert_eq!(heatmap.get_pixel(1, 0).0, [dimmed; 3]);
        // Once in four pairs is half way up the ramp, between its second and third stops.
        let half = heatmap.get_pixel(0, 0).0;
        let expected = ramp(0.5).map(|c| {
            ((u32::from(c) * TINT_OPACITY + u32::from(dimmed) * (256 - TINT_OPACITY)) >> 8) as u8
        });
        assert_eq!(half, expected);
        // More frequent change is brighter.
        let brightness = |x| {
            heatmap
                .get_pixel(x, 0)
                .0
                .iter()
                .map(|&c| u32::from(c))
                .sum::<u32>()
        };
        assert!(brightness(0) < brightness(33) && brightness(33) < brightness(39));
    }

    #[test]
    fn the_ramp_runs_through_its_stops() {
        assert_eq!(ramp(0.0), RAMP[0]);
        assert_eq!(ramp(1.0), RAMP[3]);
        assert_eq!(ramp(1.0 / 3.0), RAMP[1]);
        assert_eq!(ramp(2.0), RAMP[3]);
    }
}
