//! Scenes as people see them: a rectangle of a scene turned into 8-bit RGB for the report's images.
//! Gray scenes (1 or 2 bands) show band 0 as gray; 3 and 4 bands show bands 0, 1, 2 as red, green, blue.
//! 8-bit samples are shown as they are; 16-bit samples are stretched linearly so that a high percentile
//! of the samples shown becomes white, since reflectance rarely uses more than a tenth of the range.

use crate::scene::Scene;
use image::{Rgb, RgbImage};

/// The percentile of the shown samples that a 16-bit stretch maps to white.
const WHITE_PERCENTILE: f64 = 0.995;
/// The 16-bit stretch looks at about this many pixels at most.
const MAX_STRETCH_PIXELS: usize = 1 << 20;

/// A rectangle of pixels of a scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Crop {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Crop {
    /// The whole of a `width` × `height` image.
    pub fn whole(width: u32, height: u32) -> Crop {
        Crop {
            x: 0,
            y: 0,
            width,
            height,
        }
    }

    /// The row-major pixel indices, in a scene `scene_width` wide, of the pixels in the crop.
    fn pixels(self, scene_width: u32) -> impl Iterator<Item = usize> {
        (self.y..self.y + self.height).flat_map(move |y| {
            (self.x..self.x + self.width)
                .map(move |x| y as usize * scene_width as usize + x as usize)
        })
    }
}

/// The bands shown as red, green and blue.
fn shown_bands(scene: &Scene) -> [usize; 3] {
    if scene.format.bands >= 3 {
        [0, 1, 2]
    } else {
        [0; 3]
    }
}

/// The sample value shown as white: the largest sample for 8-bit scenes, else the [`WHITE_PERCENTILE`]
/// of the shown samples of `crop` in all of `scenes` (at least 1), taken from at most about
/// [`MAX_STRETCH_PIXELS`] pixels spread evenly over the crop.
pub fn white_level(scenes: &[&Scene], crop: Crop) -> u32 {
    let Some(first) = scenes.first() else {
        return 255;
    };
    if first.format.bits_per_sample == 8 {
        return 255;
    }
    let step = (crop.width as usize * crop.height as usize)
        .div_ceil(MAX_STRETCH_PIXELS)
        .max(1);
    let mut samples: Vec<u32> = scenes
        .iter()
        .flat_map(|scene| {
            let bands = shown_bands(scene);
            crop.pixels(scene.format.width)
                .step_by(step)
                .flat_map(move |pixel| bands.map(|band| scene.sample(pixel, band)))
        })
        .collect();
    let rank = ((samples.len() as f64 - 1.0) * WHITE_PERCENTILE) as usize;
    let (_, white, _) = samples.select_nth_unstable(rank);
    (*white).max(1)
}

/// `crop` of `scene` as RGB, samples scaled so that `white` (see [`white_level`]) is 255.
pub fn to_rgb(scene: &Scene, crop: Crop, white: u32) -> RgbImage {
    let bands = shown_bands(scene);
    let mut pixels = crop.pixels(scene.format.width);
    RgbImage::from_fn(crop.width, crop.height, |_, _| {
        let pixel = pixels.next().expect("one pixel per crop position");
        Rgb(bands.map(|band| {
            (u64::from(scene.sample(pixel, band)) * 255 / u64::from(white)).min(255) as u8
        }))
    })
}

/// An image encoded as PNG, for embedding in the report.
pub fn encode_png(image: &RgbImage) -> Vec<u8> {
    let mut bytes = Vec::new();
    image
        .write_with_encoder(image::codecs::png::PngEncoder::new(&mut bytes))
        .expect("encoding a PNG into memory cannot fail");
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eight_bit_rgb_is_shown_as_it_is_and_gray_as_gray() {
        let samples: Vec<u8> = (0..4 * 3 * 3).map(|v| v as u8 * 7).collect();
        let rgb = Scene::from_u8(4, 3, 3, &samples);
        let crop = Crop {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        let white = white_level(&[&rgb], crop);
        assert_eq!(white, 255);
        let image = to_rgb(&rgb, crop, white);
        assert_eq!(image.dimensions(), (2, 2));
        assert_eq!(image.get_pixel(0, 0).0, [105, 112, 119]);
        assert_eq!(image.get_pixel(1, 1).0, [210, 217, 224]);
        let gray = Scene::from_u8(2, 1, 1, &[10, 200]);
        let image = to_rgb(&gray, Crop::whole(2, 1), 255);
        assert_eq!(image.get_pixel(1, 0).0, [200, 200, 200]);
    }

    #[test]
    fn sixteen_bit_samples_are_stretched_to_a_high_percentile() {
        let samples: Vec<u16> = (1..=1000).collect();
        let scene = Scene::from_u16(1000, 1, 1, &samples);
        let white = white_level(&[&scene], Crop::whole(1000, 1));
        assert_eq!(white, 995);
        let image = to_rgb(&scene, Crop::whole(1000, 1), white);
        assert_eq!(image.get_pixel(994, 0).0, [255; 3]);
        assert_eq!(image.get_pixel(999, 0).0, [255; 3]);
        assert_eq!(image.get_pixel(497, 0).0, [127; 3]);
    }
}
