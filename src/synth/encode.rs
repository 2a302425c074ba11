//! Scenes as the sensor delivers them (a compact raster of 8- or 16-bit samples) and their files: PNG,
//! JPEG or TIFF, RGB or RGB + near infrared.

use crate::error::Result;
use crate::output::{write_atomically, write_png, write_with};
use image::{ExtendedColorType, ImageBuffer, ImageEncoder, Rgb, Rgba};
use rayon::prelude::*;
use std::path::Path;

/// The file format of the scenes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Png,
    Jpeg,
    Tiff,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Jpeg => "jpg",
            Format::Tiff => "tif",
        }
    }
}

/// The quality of the JPEG files written with `--format jpeg`.
const JPEG_FILE_QUALITY: u8 = 92;
/// 16-bit samples are surface reflectance x 10000, like PlanetScope's analytic products: one level of the
/// 8-bit scale is 25 DN, so 255 is a reflectance of 0.6375.
const DN_PER_LEVEL_16_BIT: f64 = 25.0;

/// Interleaved samples, band after band within a pixel, rows top to bottom.
#[derive(Debug, Clone, PartialEq)]
pub enum Samples {
    Eight(Vec<u8>),
    Sixteen(Vec<u16>),
}

/// One scene: `bands` bands (red, green, blue and, with four, near infrared). No sample is ever 0, so no
/// pixel is ever the engine's default nodata.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    pub bands: usize,
    pub samples: Samples,
}

impl Raster {
    pub(super) fn new(width: u32, height: u32, bands: usize, bits: u8) -> Self {
        let len = width as usize * height as usize * bands;
        let samples = if bits == 16 {
            Samples::Sixteen(vec![0; len])
        } else {
            Samples::Eight(vec![0; len])
        };
        Self {
            width,
            height,
            bands,
            samples,
        }
    }

    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Sample `index` of the interleaved samples.
    pub fn get(&self, index: usize) -> f64 {
        match &self.samples {
            Samples::Eight(v) => f64::from(v[index]),
            Samples::Sixteen(v) => f64::from(v[index]),
        }
    }

    /// Sample values per level of the 8-bit scale: 1, or 25 for 16-bit scenes.
    pub(super) fn level_step(&self) -> f64 {
        match self.samples {
            Samples::Eight(_) => 1.0,
            Samples::Sixteen(_) => DN_PER_LEVEL_16_BIT,
        }
    }

    /// Sets sample `index` to `value` rounded, clamped to 1 (never the nodata 0) up to the largest sample.
    pub(super) fn put(&mut self, index: usize, value: f64) {
        match &mut self.samples {
            Samples::Eight(v) => v[index] = quantize(value, 255.0) as u8,
            Samples::Sixteen(v) => v[index] = quantize(value, 65535.0) as u16,
        }
    }

    /// Calls `fill(y, put)` for every row in parallel, `put(offset, value)` setting a sample of row `y` as
    /// [`Raster::put`] does.
    pub(super) fn par_rows_mut(
        &mut self,
        row_len: usize,
        fill: impl Fn(usize, &mut dyn FnMut(usize, f64)) + Sync,
    ) {
        match &mut self.samples {
            Samples::Eight(v) => v.par_chunks_mut(row_len).enumerate().for_each(|(y, row)| {
                fill(y, &mut |i, value| row[i] = quantize(value, 255.0) as u8);
            }),
            Samples::Sixteen(v) => v.par_chunks_mut(row_len).enumerate().for_each(|(y, row)| {
                fill(y, &mut |i, value| row[i] = quantize(value, 65535.0) as u16);
            }),
        }
    }

    /// Writes the scene to `path` in `format`; a format that cannot hold it was refused by
    /// [`super::SynthSpec::validate`].
    pub(super) fn write(self, path: &Path, format: Format) -> Result<()> {
        let (w, h) = (self.width, self.height);
        match format {
            Format::Png => match self.samples {
                Samples::Eight(v) if self.bands == 3 => write_png(path, &image::<Rgb<u8>>(w, h, v)),
                Samples::Eight(v) => write_png(path, &image::<Rgba<u8>>(w, h, v)),
                Samples::Sixteen(v) if self.bands == 3 => {
                    write_png(path, &image::<Rgb<u16>>(w, h, v))
                }
                Samples::Sixteen(v) => write_png(path, &image::<Rgba<u16>>(w, h, v)),
            },
            Format::Jpeg => {
                let Samples::Eight(v) = &self.samples else {
                    unreachable!("validation refuses 16-bit JPEG");
                };
                write_with(path, |file| {
                    image::codecs::jpeg::JpegEncoder::new_with_quality(file, JPEG_FILE_QUALITY)
                        .encode(v, w, h, ExtendedColorType::Rgb8)
                        .map_err(std::io::Error::other)
                })
            }
            Format::Tiff => {
                let (bytes, colour): (&[u8], _) = match (&self.samples, self.bands) {
                    (Samples::Eight(v), 3) => (v, ExtendedColorType::Rgb8),
                    (Samples::Eight(v), _) => (v, ExtendedColorType::Rgba8),
                    (Samples::Sixteen(v), 3) => (bytemuck::cast_slice(v), ExtendedColorType::Rgb16),
                    (Samples::Sixteen(v), _) => {
                        (bytemuck::cast_slice(v), ExtendedColorType::Rgba16)
                    }
                };
                let mut encoded = std::io::Cursor::new(Vec::new());
                image::codecs::tiff::TiffEncoder::new(&mut encoded)
                    .write_image(bytes, w, h, colour)
                    .map_err(|e| crate::error::Error::Write {
                        path: path.to_path_buf(),
                        source: std::io::Error::other(e),
                    })?;
                write_atomically(path, encoded.get_ref())
            }
        }
    }
}

fn quantize(value: f64, max: f64) -> f64 {
    value.round().clamp(1.0, max)
}

fn image<P: image::Pixel>(
    w: u32,
    h: u32,
    samples: Vec<P::Subpixel>,
) -> ImageBuffer<P, Vec<P::Subpixel>> {
    ImageBuffer::from_raw(w, h, samples).expect("a raster holds width x height x bands samples")
}
