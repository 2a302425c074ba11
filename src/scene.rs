//! Decoded scenes in the one layout both kernel backends read: band-interleaved samples packed into 32-bit
//! words, plus an optional validity bitmap.

use crate::error::{Error, Result};
use crate::kernel::params::bitmap_bit;
use image::{DynamicImage, ImageDecoder, ImageReader};
use std::fmt;
use std::io::{BufRead, Cursor, Seek};
use std::path::Path;

/// Largest decoded image accepted, in bytes (16384x16384 px of 4 bands at 16 bits): a guard against files
/// that claim absurd dimensions, checked on the header before any pixel is allocated.
pub const MAX_DECODED_BYTES: u64 = 2 << 30;

/// The geometry and sample type every scene of an archive must share.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SceneFormat {
    pub width: u32,
    pub height: u32,
    pub bands: u32,
    /// 8 or 16.
    pub bits_per_sample: u32,
}

impl SceneFormat {
    pub fn pixel_count(&self) -> usize {
        self.width as usize * self.height as usize
    }

    /// Words of packed samples per scene.
    pub fn word_count(&self) -> usize {
        let samples_per_word = (32 / self.bits_per_sample) as usize;
        (self.pixel_count() * self.bands as usize).div_ceil(samples_per_word)
    }

    /// Words of a one-bit-per-pixel bitmap (validity, change mask).
    pub fn bitmap_word_count(&self) -> usize {
        self.pixel_count().div_ceil(32)
    }

    /// The largest sample value.
    pub fn max_sample(&self) -> u32 {
        (1 << self.bits_per_sample) - 1
    }
}

impl fmt::Display for SceneFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = if self.bands == 1 { "" } else { "s" };
        write!(
            f,
            "{}x{} px, {} band{s}, {}-bit",
            self.width, self.height, self.bands, self.bits_per_sample
        )
    }
}

/// One acquisition, ready for a kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scene {
    pub format: SceneFormat,
    /// Samples, pixel by pixel and band by band, packed little-endian 4 (8-bit) or 2 (16-bit) to a word.
    pub words: Vec<u32>,
    /// One bit per pixel, 1 = valid; `None` when every pixel is valid (nodata aside).
    pub validity: Option<Vec<u32>>,
}

impl Scene {
    /// A scene from 8-bit samples, `bands` per pixel, row by row.
    pub fn from_u8(width: u32, height: u32, bands: u32, samples: &[u8]) -> Scene {
        Self::from_samples(width, height, bands, 8, samples)
    }

    /// A scene from 16-bit samples, `bands` per pixel, row by row.
    pub fn from_u16(width: u32, height: u32, bands: u32, samples: &[u16]) -> Scene {
        Self::from_samples(width, height, bands, 16, bytemuck::cast_slice(samples))
    }

    fn from_samples(width: u32, height: u32, bands: u32, bits: u32, bytes: &[u8]) -> Scene {
        let format = SceneFormat {
            width,
            height,
            bands,
            bits_per_sample: bits,
        };
        assert_eq!(
            bytes.len(),
            format.pixel_count() * bands as usize * bits as usize / 8,
            "sample buffer does not match {format}"
        );
        Scene {
            format,
            words: bytemuck::pod_collect_to_vec(bytes),
            validity: None,
        }
    }

    /// Sample `band` of `pixel` (row-major index).
    pub fn sample(&self, pixel: usize, band: usize) -> u32 {
        let bits = self.format.bits_per_sample as usize;
        let index = pixel * self.format.bands as usize + band;
        let per_word = 32 / bits;
        (self.words[index / per_word] >> ((index % per_word) * bits)) & self.format.max_sample()
    }

    /// Whether `pixel` holds an observation: its validity bit is set (or the scene has no bitmap) and,
    /// with `nodata`, not every band equals it.
    pub fn is_valid(&self, pixel: usize, nodata: Option<u32>) -> bool {
        let masked = self
            .validity
            .as_ref()
            .is_some_and(|bitmap| !bitmap_bit(bitmap[pixel / 32], pixel as u32));
        let is_nodata = nodata.is_some_and(|value| {
            (0..self.format.bands as usize).all(|band| self.sample(pixel, band) == value)
        });
        !masked && !is_nodata
    }

    /// Decodes a PNG, JPEG or TIFF of 1 to 4 bands, 8 or 16 bits per sample, of at most
    /// [`MAX_DECODED_BYTES`].
    pub fn decode(path: &Path) -> Result<Scene> {
        Self::from_image(open_image(path)?, path)
    }

    /// Decodes an image file's content held in memory, as [`Scene::decode`] decodes the file; `path` only
    /// names it in errors.
    pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<Scene> {
        let mut reader = ImageReader::new(Cursor::new(bytes));
        if let Ok(format) = image::ImageFormat::from_path(path) {
            reader.set_format(format);
        }
        Self::from_image(decode_image(reader, path)?, path)
    }

    fn from_image(image: DynamicImage, path: &Path) -> Result<Scene> {
        let (w, h) = (image.width(), image.height());
        let bands = u32::from(image.color().channel_count());
        Ok(match image {
            DynamicImage::ImageLuma8(_)
            | DynamicImage::ImageLumaA8(_)
            | DynamicImage::ImageRgb8(_)
            | DynamicImage::ImageRgba8(_) => Scene::from_u8(w, h, bands, image.as_bytes()),
            DynamicImage::ImageLuma16(_)
            | DynamicImage::ImageLumaA16(_)
            | DynamicImage::ImageRgb16(_)
            | DynamicImage::ImageRgba16(_) => {
                Scene::from_samples(w, h, bands, 16, image.as_bytes())
            }
            other => {
                return Err(Error::input(
                    path,
                    format!(
                        "unsupported sample type {:?}: only 8- and 16-bit integer samples are read",
                        other.color()
                    ),
                ));
            }
        })
    }

    /// Attaches a validity mask image (0 = invalid, anything else = valid) of the scene's size.
    pub fn set_validity_mask(&mut self, path: &Path) -> Result<()> {
        let mask = open_image(path)?.into_luma8();
        if (mask.width(), mask.height()) != (self.format.width, self.format.height) {
            return Err(Error::input(
                path,
                format!(
                    "mask is {}x{} px but its scene is {}x{} px",
                    mask.width(),
                    mask.height(),
                    self.format.width,
                    self.format.height
                ),
            ));
        }
        let mut bitmap = vec![0u32; self.format.bitmap_word_count()];
        for (pixel, &value) in mask.as_raw().iter().enumerate() {
            if value != 0 {
                bitmap[pixel / 32] |= 1 << (pixel % 32);
            }
        }
        self.validity = Some(bitmap);
        Ok(())
    }
}

fn open_image(path: &Path) -> Result<DynamicImage> {
    let reader =
        ImageReader::open(path).map_err(|e| Error::input(path, format!("cannot open: {e}")))?;
    decode_image(reader, path)
}

/// Decodes an image after checking what its header claims: not empty, and at most [`MAX_DECODED_BYTES`].
/// The format is recognised by the content, or else by `path`'s extension.
fn decode_image(reader: ImageReader<impl BufRead + Seek>, path: &Path) -> Result<DynamicImage> {
    let fail = |what: &str, e: &dyn fmt::Display| Error::input(path, format!("{what}: {e}"));
    let mut reader = reader
        .with_guessed_format()
        .map_err(|e| fail("cannot read", &e))?;
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODED_BYTES);
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| fail("cannot decode image", &e))?;
    let (w, h) = decoder.dimensions();
    if w == 0 || h == 0 {
        return Err(Error::input(path, format!("image is empty ({w}x{h} px)")));
    }
    let bytes = decoder.total_bytes();
    if bytes > MAX_DECODED_BYTES {
        return Err(Error::input(
            path,
            format!(
                "image claims {w}x{h} px, {} MiB once decoded, above the {} MiB a scene may take",
                bytes >> 20,
                MAX_DECODED_BYTES >> 20
            ),
        ));
    }
    DynamicImage::from_decoder(decoder).map_err(|e| fail("cannot decode image", &e))
}
