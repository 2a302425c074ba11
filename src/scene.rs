//! Decoded scenes in the one layout both kernel backends read: band-interleaved samples packed into 32-bit
//! words, plus an optional validity bitmap.

use crate::band_stack;
use crate::error::{Error, Result};
use crate::geotiff::{self, FLOAT_SCALE, GeoReference, RawRaster, RawSamples};
use crate::kernel::params::{MAX_BANDS, all_set_bitmap, bitmap_bit};
use image::{DynamicImage, ImageDecoder, ImageReader};
use std::fmt;
use std::io::{BufRead, BufReader, Cursor, Seek};
use std::ops::Range;
use std::path::Path;
use std::str::FromStr;

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

    /// Bytes of packed samples per scene.
    pub fn byte_count(&self) -> u64 {
        4 * self.word_count() as u64
    }

    /// Words of a one-bit-per-pixel bitmap (validity, change mask).
    pub fn bitmap_word_count(&self) -> usize {
        self.pixel_count().div_ceil(32)
    }

    /// The largest sample value.
    pub fn max_sample(&self) -> u32 {
        (1 << self.bits_per_sample) - 1
    }

    /// The format of `height` rows of scenes of this format.
    pub fn with_height(self, height: u32) -> SceneFormat {
        SceneFormat { height, ..self }
    }

    /// Where the rows `rows` of a scene of this format lie: its words of samples and of the bitmap. The
    /// stripe must start and end on a multiple of [`STRIPE_ROW_ALIGNMENT`] (or end at the last row), where
    /// both begin on a whole word.
    pub fn stripe_words(&self, rows: Range<u32>) -> (Range<usize>, Range<usize>) {
        let aligned = |row: u32| row.is_multiple_of(STRIPE_ROW_ALIGNMENT) || row == self.height;
        assert!(
            aligned(rows.start) && aligned(rows.end) && rows.start <= rows.end,
            "stripe {rows:?} of {self} is not aligned"
        );
        let (start, end) = (
            self.with_height(rows.start),
            self.with_height(rows.end.min(self.height)),
        );
        (
            start.word_count()..end.word_count(),
            start.bitmap_word_count()..end.bitmap_word_count(),
        )
    }
}

/// Stripes of rows start at multiples of this many rows: there, both the samples (of 8 or 16 bits, any
/// number of bands) and the one-bit-per-pixel bitmaps begin on a whole word, so that stripes are cut and
/// joined by whole words.
pub const STRIPE_ROW_ALIGNMENT: u32 = 32;

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

/// Per pixel, whether it holds an observation: all but the pixels listed in `invalid` (as
/// [`Scene::find_invalid`] lists them).
pub fn validity_flags(invalid: &[usize], valid: &mut [bool]) {
    valid.fill(true);
    for &x in invalid {
        valid[x] = false;
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

    /// A scene of `format` from its samples, pixel by pixel and band by band, each given as a `u16`
    /// whatever the bit depth.
    pub fn from_values(format: SceneFormat, samples: &[u16]) -> Scene {
        let (width, height, bands) = (format.width, format.height, format.bands);
        if format.bits_per_sample == 8 {
            let bytes: Vec<u8> = samples.iter().map(|&v| v as u8).collect();
            Scene::from_u8(width, height, bands, &bytes)
        } else {
            Scene::from_u16(width, height, bands, samples)
        }
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
        // A power of two: shifts and masks instead of divisions, for loops over every pixel.
        let per_word = 32 / bits;
        let word = self.words[index >> per_word.trailing_zeros()];
        (word >> ((index & (per_word - 1)) * bits)) & self.format.max_sample()
    }

    /// Sets sample `band` of `pixel` (row-major index) to `value`, which must fit the bit depth.
    pub fn set_sample(&mut self, pixel: usize, band: usize, value: u32) {
        let bits = self.format.bits_per_sample as usize;
        let index = pixel * self.format.bands as usize + band;
        let per_word = 32 / bits;
        let shift = (index & (per_word - 1)) * bits;
        let word = &mut self.words[index >> per_word.trailing_zeros()];
        *word = (*word & !(self.format.max_sample() << shift)) | (value << shift);
    }

    /// The samples of the pixels from `first_pixel` on (row-major index), band by band, as many as `out`
    /// holds: for loops over whole rows, faster than [`Scene::sample`] for each.
    pub fn unpack_samples(&self, first_pixel: usize, out: &mut [u16]) {
        let first = first_pixel * self.format.bands as usize;
        let samples = first..first + out.len();
        // The words' bytes are the samples in order, as `Scene::from_u16` relies on too.
        if self.format.bits_per_sample == 8 {
            let bytes: &[u8] = bytemuck::cast_slice(&self.words);
            for (out, &sample) in out.iter_mut().zip(&bytes[samples]) {
                *out = sample.into();
            }
        } else {
            out.copy_from_slice(&bytemuck::cast_slice::<u32, u16>(&self.words)[samples]);
        }
    }

    /// The pixels from `first_pixel` on that hold no observation (as [`Scene::is_valid`]), as offsets
    /// from it into `invalid`, from their samples `values` as [`Scene::unpack_samples`] wrote them: a
    /// list, since most pixels are valid.
    pub fn find_invalid(
        &self,
        first_pixel: usize,
        values: &[u16],
        nodata: Option<u32>,
        invalid: &mut Vec<usize>,
    ) {
        invalid.clear();
        let pixels = values.chunks_exact(self.format.bands as usize);
        for (x, pixel_values) in pixels.enumerate() {
            let samples = pixel_values.iter().map(|&v| u32::from(v));
            if !self.holds_observation(first_pixel + x, samples, nodata) {
                invalid.push(x);
            }
        }
    }

    /// Whether `pixel` holds an observation: its validity bit is set (or the scene has no bitmap) and,
    /// with `nodata`, not every band equals it.
    pub fn is_valid(&self, pixel: usize, nodata: Option<u32>) -> bool {
        let samples = (0..self.format.bands as usize).map(|band| self.sample(pixel, band));
        self.holds_observation(pixel, samples, nodata)
    }

    /// Whether `pixel`, whose samples are `samples`, holds an observation: the one definition behind
    /// [`Scene::is_valid`] and [`Scene::find_invalid`].
    fn holds_observation(
        &self,
        pixel: usize,
        mut samples: impl Iterator<Item = u32>,
        nodata: Option<u32>,
    ) -> bool {
        let marked = self
            .validity
            .as_ref()
            .is_none_or(|bitmap| bitmap_bit(bitmap[pixel >> 5], pixel as u32));
        marked && !nodata.is_some_and(|n| samples.all(|v| v == n))
    }

    /// A copy of the rows `rows` ([`SceneFormat::stripe_words`] says which stripes can be cut).
    pub fn rows(&self, rows: Range<u32>) -> Scene {
        let (samples, bitmap) = self.format.stripe_words(rows.clone());
        Scene {
            format: self.format.with_height(rows.len() as u32),
            words: self.words[samples].to_vec(),
            validity: self.validity.as_ref().map(|v| v[bitmap].to_vec()),
        }
    }

    /// The scene of `format` made of `stripes`, its consecutive stripes of rows cut as [`Scene::rows`] cuts
    /// them, or the first error among them. Each stripe is appended to the scene as it comes and dropped,
    /// so that the join holds the scene and one stripe.
    pub fn from_stripes<E>(
        format: SceneFormat,
        stripes: impl IntoIterator<Item = Result<Scene, E>>,
    ) -> Result<Scene, E> {
        let mut joined = Scene {
            format,
            words: Vec::with_capacity(format.word_count()),
            validity: None,
        };
        let mut rows = 0;
        for stripe in stripes {
            let stripe = stripe?;
            joined.words.extend_from_slice(&stripe.words);
            if let Some(bitmap) = stripe.validity {
                let validity = joined.validity.get_or_insert_with(|| {
                    let mut earlier = Vec::with_capacity(format.bitmap_word_count());
                    earlier.extend(all_set_bitmap(format.with_height(rows).pixel_count()));
                    earlier
                });
                validity.extend_from_slice(&bitmap);
            } else if let Some(validity) = &mut joined.validity {
                validity.extend(all_set_bitmap(stripe.format.pixel_count()));
            }
            rows += stripe.format.height;
        }
        assert_eq!(
            rows, format.height,
            "the stripes of {format} have {rows} rows"
        );
        Ok(joined)
    }

    /// Decodes a PNG, JPEG or TIFF with every band, as [`SceneFile::read`] does.
    pub fn decode(path: &Path) -> Result<Scene> {
        Ok(SceneFile::read(path, &DecodeOptions::default())?.scene)
    }

    /// Decodes an image file's content held in memory, as [`Scene::decode`] decodes the file; `path` only
    /// names it in errors.
    pub fn decode_bytes(bytes: &[u8], path: &Path) -> Result<Scene> {
        Ok(SceneFile::from_reader(Cursor::new(bytes), path, &DecodeOptions::default())?.scene)
    }

    /// Attaches a validity mask image (0 = invalid, anything else = valid) of the scene's size; a pixel
    /// already invalid (nodata, NaN) stays invalid.
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
        if let Some(decoded) = &self.validity {
            (bitmap.iter_mut().zip(decoded)).for_each(|(word, valid)| *word &= valid);
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
    check_decoded_size(w, h, decoder.total_bytes(), path)?;
    DynamicImage::from_decoder(decoder).map_err(|e| fail("cannot decode image", &e))
}

/// The bytes that decoding the scene at `path` (a file, or a folder of band files) takes, from what its
/// headers say, without decoding a pixel; `None` when a header cannot be read (decoding will say why).
pub fn decoded_bytes(path: &Path) -> Option<u64> {
    if path.is_dir() {
        // Every band is brought onto the finest band's grid as 16-bit samples.
        let files = band_stack::band_files(path).ok()?;
        let pixels = (files.iter())
            .map(|file| geotiff::read_header(file).ok())
            .map(|header| header.map(|h| u64::from(h.width) * u64::from(h.height)))
            .collect::<Option<Vec<u64>>>()?;
        return Some(pixels.iter().max()? * pixels.len() as u64 * 2);
    }
    let mut reader = BufReader::new(std::fs::File::open(path).ok()?);
    if geotiff::is_tiff(reader.fill_buf().ok()?) {
        return geotiff::read_header(path).ok().map(|h| h.decoded_bytes);
    }
    let reader = ImageReader::new(reader).with_guessed_format().ok()?;
    Some(reader.into_decoder().ok()?.total_bytes())
}

/// An error when an image of `width`x`height` px claims more than [`MAX_DECODED_BYTES`] once decoded.
pub(crate) fn check_decoded_size(width: u32, height: u32, bytes: u64, path: &Path) -> Result<()> {
    if bytes > MAX_DECODED_BYTES {
        return Err(Error::input(
            path,
            format!(
                "image claims {width}x{height} px, {} MiB once decoded, above the {} MiB a scene may take",
                bytes >> 20,
                MAX_DECODED_BYTES >> 20
            ),
        ));
    }
    Ok(())
}

/// How scenes are decoded; the same for every scene of an archive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DecodeOptions {
    /// The bands kept, in this order; every band when `None`.
    pub bands: Option<BandSelection>,
}

/// Bands picked from each scene, in order, numbered from 1 as in `--bands 4,3,2`; a band may be picked
/// once, and at most [`MAX_BANDS`] of them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BandSelection(Vec<u32>);

impl BandSelection {
    pub fn new(bands: Vec<u32>) -> Result<BandSelection, String> {
        if bands.is_empty() || bands.len() > MAX_BANDS as usize {
            return Err(format!(
                "{} bands picked: pick 1 to {MAX_BANDS}",
                bands.len()
            ));
        }
        if let Some(&zero) = bands.iter().find(|&&band| band == 0) {
            return Err(format!("band {zero}: bands are numbered from 1"));
        }
        if let Some((i, &band)) = (bands.iter().enumerate()).find(|(i, b)| bands[..*i].contains(b))
        {
            return Err(format!(
                "band {band} is picked twice (at places {} and {})",
                bands.iter().position(|&b| b == band).unwrap_or(0) + 1,
                i + 1
            ));
        }
        Ok(BandSelection(bands))
    }

    /// The bands, numbered from 1.
    pub fn bands(&self) -> &[u32] {
        &self.0
    }
}

impl FromStr for BandSelection {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let bands = text
            .split(',')
            .map(|band| {
                band.trim().parse::<u32>().map_err(|_| {
                    format!(
                        "expected band numbers from 1 separated by commas (4,3,2), found {text:?}"
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        BandSelection::new(bands)
    }
}

impl fmt::Display for BandSelection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bands: Vec<String> = self.0.iter().map(u32::to_string).collect();
        f.write_str(&bands.join(","))
    }
}

/// A decoded scene and where it lies on the ground.
#[derive(Clone, Debug)]
pub struct SceneFile {
    pub scene: Scene,
    /// From the GeoTIFF tags; `None` for other formats and TIFFs without them.
    pub georeference: Option<GeoReference>,
}

impl SceneFile {
    /// Decodes a PNG, JPEG or TIFF (GeoTIFF included: 8- and 16-bit unsigned or 32-bit float samples, 1 to
    /// 16 bands once picked by `options`, strips or tiles, uncompressed, deflate or LZW) of at most
    /// [`MAX_DECODED_BYTES`]. Float samples become 16-bit ([`FLOAT_SCALE`]); NaN, infinite samples and
    /// samples equal to the GeoTIFF's nodata value make their pixel invalid.
    ///
    /// A folder is a band stack, decoded by [`band_stack::read`].
    pub fn read(path: &Path, options: &DecodeOptions) -> Result<SceneFile> {
        if path.is_dir() {
            return band_stack::read(path, options);
        }
        let file = std::fs::File::open(path)
            .map_err(|e| Error::input(path, format!("cannot open: {e}")))?;
        Self::from_reader(BufReader::new(file), path, options)
    }

    /// Decodes an image from `reader`; the format is recognised by the content, or else by `path`'s
    /// extension, which also names it in errors.
    pub fn from_reader(
        mut reader: impl BufRead + Seek,
        path: &Path,
        options: &DecodeOptions,
    ) -> Result<SceneFile> {
        let head = reader
            .fill_buf()
            .map_err(|e| Error::input(path, format!("cannot read: {e}")))?;
        let raw = if geotiff::is_tiff(head) {
            geotiff::read(reader, path)?
        } else {
            let mut image_reader = ImageReader::new(reader);
            if let Ok(format) = image::ImageFormat::from_path(path) {
                image_reader.set_format(format);
            }
            raw_from_image(decode_image(image_reader, path)?, path)?
        };
        let georeference = raw.georeference.clone();
        Ok(SceneFile {
            scene: scene_from_raw(raw, options, path)?,
            georeference,
        })
    }
}

/// The georeferencing of the scene at `path` (a file, or a folder of band files), read from its tags
/// alone; `None` for a scene without georeferencing tags.
pub fn georeference_of(path: &Path) -> Result<Option<GeoReference>> {
    if path.is_dir() {
        band_stack::georeference(path)
    } else {
        geotiff::georeference_of(path)
    }
}

fn raw_from_image(image: DynamicImage, path: &Path) -> Result<RawRaster> {
    let (width, height) = (image.width(), image.height());
    let bands = u32::from(image.color().channel_count());
    let samples = match image {
        DynamicImage::ImageLuma8(_)
        | DynamicImage::ImageLumaA8(_)
        | DynamicImage::ImageRgb8(_)
        | DynamicImage::ImageRgba8(_) => RawSamples::U8(image.into_bytes()),
        DynamicImage::ImageLuma16(_)
        | DynamicImage::ImageLumaA16(_)
        | DynamicImage::ImageRgb16(_)
        | DynamicImage::ImageRgba16(_) => {
            RawSamples::U16(bytemuck::pod_collect_to_vec(image.as_bytes()))
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
    };
    Ok(RawRaster {
        width,
        height,
        bands,
        samples,
        nodata: None,
        georeference: None,
    })
}

/// The bands (0-based) that `selection` picks from a scene of `band_count` bands; every band without
/// one. An error naming `path` for a band the scene lacks, or more bands than the kernel takes.
pub(crate) fn picked_bands(
    selection: Option<&BandSelection>,
    band_count: u32,
    path: &Path,
) -> Result<Vec<usize>> {
    match selection {
        None if band_count > MAX_BANDS => Err(Error::input(
            path,
            format!(
                "scene has {band_count} bands, more than the {MAX_BANDS} the kernel takes: pick some with \
                 --bands (numbered from 1, e.g. --bands 4,3,2)"
            ),
        )),
        None => Ok((0..band_count as usize).collect()),
        Some(selection) => {
            if let Some(&band) = selection.bands().iter().find(|&&band| band > band_count) {
                let s = if band_count == 1 { "" } else { "s" };
                return Err(Error::input(
                    path,
                    format!(
                        "--bands {selection} picks band {band}, but the scene has {band_count} band{s}"
                    ),
                ));
            }
            Ok(selection
                .bands()
                .iter()
                .map(|&band| band as usize - 1)
                .collect())
        }
    }
}

/// Picks the bands, marks the invalid pixels and packs the samples.
pub(crate) fn scene_from_raw(
    raw: RawRaster,
    options: &DecodeOptions,
    path: &Path,
) -> Result<Scene> {
    let picks = picked_bands(options.bands.as_ref(), raw.bands, path)?;
    let (width, height, bands) = (raw.width, raw.height, picks.len() as u32);
    let nodata = raw.nodata;
    let is_nodata = |value: f64| nodata == Some(value);
    Ok(match raw.samples {
        RawSamples::U8(samples) => {
            let samples = pick(samples, raw.bands as usize, &picks);
            let validity = validity(&samples, picks.len(), |v| is_nodata(f64::from(v)));
            Scene {
                validity,
                ..Scene::from_u8(width, height, bands, &samples)
            }
        }
        RawSamples::U16(samples) => {
            let samples = pick(samples, raw.bands as usize, &picks);
            let validity = validity(&samples, picks.len(), |v| is_nodata(f64::from(v)));
            Scene {
                validity,
                ..Scene::from_u16(width, height, bands, &samples)
            }
        }
        RawSamples::F32(samples) => {
            let samples = pick(samples, raw.bands as usize, &picks);
            let validity = validity(&samples, picks.len(), |v| {
                !v.is_finite() || is_nodata(f64::from(v)) || nodata.is_some_and(|n| n as f32 == v)
            });
            let scaled: Vec<u16> = samples
                .iter()
                .map(|&v| {
                    if v.is_finite() {
                        (f64::from(v) * FLOAT_SCALE).round().clamp(0.0, 65535.0) as u16
                    } else {
                        0
                    }
                })
                .collect();
            Scene {
                validity,
                ..Scene::from_u16(width, height, bands, &scaled)
            }
        }
    })
}

/// The samples of the bands `picks` (0-based), in that order, of band-interleaved `samples`.
fn pick<T: Copy>(samples: Vec<T>, bands: usize, picks: &[usize]) -> Vec<T> {
    if picks.iter().copied().eq(0..bands) {
        return samples;
    }
    samples
        .chunks_exact(bands)
        .flat_map(|pixel| picks.iter().map(|&band| pixel[band]))
        .collect()
}

/// A validity bitmap (1 = valid) where a pixel is invalid when one of its samples is `missing`; `None`
/// when every pixel is valid.
fn validity<T: Copy>(samples: &[T], bands: usize, missing: impl Fn(T) -> bool) -> Option<Vec<u32>> {
    let pixels = samples.len() / bands;
    let mut bitmap = vec![0u32; pixels.div_ceil(32)];
    let mut all_valid = true;
    for (pixel, values) in samples.chunks_exact(bands).enumerate() {
        if values.iter().any(|&v| missing(v)) {
            all_valid = false;
        } else {
            bitmap[pixel / 32] |= 1 << (pixel % 32);
        }
    }
    (!all_valid).then_some(bitmap)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 16-bit, 3 bands, an odd width: rows do not end on whole words, stripes of 32 rows do.
    fn scene(width: u32, height: u32) -> Scene {
        let samples: Vec<u16> = (0..width * height * 3)
            .map(|i| (i * 7919 % 65_521) as u16)
            .collect();
        Scene::from_u16(width, height, 3, &samples)
    }

    #[test]
    fn unpacked_samples_are_those_sample_reads_from_any_first_pixel() {
        let eight_bit: Vec<u8> = (0..33u32 * 5 * 3).map(|i| (i * 37 % 251) as u8).collect();
        for scene in [scene(33, 5), Scene::from_u8(33, 5, 3, &eight_bit)] {
            // Odd first pixels of 3 bands start mid-word on both sample sizes.
            for (first, count) in [(0, 33), (1, 7), (5, 33), (33 * 5 - 4, 4)] {
                let mut unpacked = vec![0; count * 3];
                scene.unpack_samples(first, &mut unpacked);
                let expected: Vec<u16> = (first..first + count)
                    .flat_map(|p| (0..3).map(move |b| (p, b)))
                    .map(|(p, b)| scene.sample(p, b) as u16)
                    .collect();
                assert_eq!(
                    unpacked, expected,
                    "{} bits from pixel {first}",
                    scene.format.bits_per_sample
                );
            }
        }
    }

    #[test]
    fn a_set_sample_is_read_back_and_leaves_its_neighbours() {
        let eight_bit: Vec<u8> = (0..33u32 * 5 * 3).map(|i| (i * 37 % 251) as u8).collect();
        for mut scene in [scene(33, 5), Scene::from_u8(33, 5, 3, &eight_bit)] {
            let before = scene.clone();
            let value = scene.format.max_sample() - 3;
            scene.set_sample(7, 1, value);
            for pixel in 0..33 * 5 {
                for band in 0..3 {
                    let expected = match (pixel, band) {
                        (7, 1) => value,
                        _ => before.sample(pixel, band),
                    };
                    assert_eq!(scene.sample(pixel, band), expected);
                }
            }
        }
    }

    #[test]
    fn stripes_join_into_the_scene_they_were_cut_from() {
        let mut scene = scene(33, 101);
        let cuts = [0..32, 32..64, 64..96, 96..101];
        let cut = |scene: &Scene| -> Vec<Result<Scene, u32>> {
            cuts.iter()
                .map(|rows| Ok(scene.rows(rows.clone())))
                .collect()
        };
        assert_eq!(
            Scene::from_stripes(scene.format, cut(&scene)),
            Ok(scene.clone())
        );
        // Pixels invalid in the second and third stripes only: the others may come without a bitmap.
        let mut validity = all_set_bitmap(scene.format.pixel_count());
        validity[40] &= !0b1011;
        validity[70] = 0;
        scene.validity = Some(validity);
        let mut stripes = cut(&scene);
        for index in [0, 3] {
            let stripe = stripes[index].as_mut().unwrap();
            assert_eq!(
                stripe.validity,
                Some(all_set_bitmap(stripe.format.pixel_count()))
            );
            stripe.validity = None;
        }
        assert_eq!(
            Scene::from_stripes(scene.format, stripes),
            Ok(scene.clone())
        );
        let mut failing = cut(&scene);
        failing[1] = Err(32);
        assert_eq!(Scene::from_stripes(scene.format, failing), Err(32));
    }

    #[test]
    fn decoded_sizes_are_read_from_headers() {
        let dir = tempfile::tempdir().unwrap();
        let png = dir.path().join("scene.png");
        image::ImageBuffer::<image::Rgba<u16>, _>::new(30, 20)
            .save(&png)
            .unwrap();
        assert_eq!(decoded_bytes(&png), Some(30 * 20 * 4 * 2));
        let jpeg = dir.path().join("scene.jpg");
        image::RgbImage::new(16, 8).save(&jpeg).unwrap();
        assert_eq!(decoded_bytes(&jpeg), Some(16 * 8 * 3));
        let tiff = dir.path().join("scene.tif");
        image::ImageBuffer::<image::Luma<u16>, _>::new(12, 10)
            .save(&tiff)
            .unwrap();
        assert_eq!(decoded_bytes(&tiff), Some(12 * 10 * 2));
        let text = dir.path().join("notes.png");
        std::fs::write(&text, "not an image").unwrap();
        assert_eq!(decoded_bytes(&text), None);
        assert_eq!(decoded_bytes(&dir.path().join("missing.png")), None);
    }
}
