//! GeoTIFF in and out: TIFF samples of every band (8- and 16-bit unsigned, 32-bit float; strips or tiles;
//! uncompressed, deflate or LZW) with the GDAL nodata value, the georeferencing tags (the pixel-to-map
//! transform and the EPSG code of the coordinate reference system), and 8-bit rasters written back with
//! the georeferencing of the scenes they were made from.

use crate::error::{Error, Result};
use crate::scene::{MAX_DECODED_BYTES, check_decoded_size};
use std::fmt;
use std::io::{Cursor, Read, Seek};
use std::path::Path;
use tiff::decoder::{Decoder, DecodingResult, Limits};
use tiff::encoder::{Compression, DeflateLevel, TiffEncoder, colortype};
use tiff::tags::{PlanarConfiguration, Tag};

/// Float samples are reflectances (0 to 1 nominal), mapped onto the kernel's 16-bit samples as
/// `round(value x 10000)` clamped to 0..=65535, the scale of PlanetScope's and Sentinel-2's integer
/// products. NaN and infinities are invalid pixels.
pub const FLOAT_SCALE: f64 = 10000.0;

const GEO_KEY_MODEL_TYPE: u16 = 1024;
const GEO_KEY_RASTER_TYPE: u16 = 1025;
const GEO_KEY_GEOGRAPHIC_TYPE: u16 = 2048;
const GEO_KEY_PROJECTED_TYPE: u16 = 3072;
const GEO_KEY_PROJECTED_LINEAR_UNITS: u16 = 3076;
const MODEL_TYPE_PROJECTED: u16 = 1;
const MODEL_TYPE_GEOGRAPHIC: u16 = 2;
const RASTER_PIXEL_IS_POINT: u16 = 2;
/// GeoTIFF's code for "user-defined": no EPSG code.
const USER_DEFINED: u16 = 32767;

/// The samples of a raster as stored, band-interleaved, row by row.
#[derive(Clone, Debug, PartialEq)]
pub enum RawSamples {
    U8(Vec<u8>),
    U16(Vec<u16>),
    F32(Vec<f32>),
}

impl RawSamples {
    /// The sample type in words, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            RawSamples::U8(_) => "8-bit unsigned",
            RawSamples::U16(_) => "16-bit unsigned",
            RawSamples::F32(_) => "32-bit float",
        }
    }
}

/// A decoded raster before band selection and packing.
#[derive(Clone, Debug, PartialEq)]
pub struct RawRaster {
    pub width: u32,
    pub height: u32,
    pub bands: u32,
    pub samples: RawSamples,
    /// GDAL's nodata value (tag 42113): a pixel with a band equal to it is invalid.
    pub nodata: Option<f64>,
    pub georeference: Option<GeoReference>,
}

/// A coordinate reference system known by its EPSG code.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Crs {
    pub epsg: u32,
    /// Coordinates in degrees of longitude (x) and latitude (y), not in linear units.
    pub geographic: bool,
    /// Metres per linear unit of a projected system (GeoTIFF's ProjLinearUnitsGeoKey; metres when absent).
    pub metres_per_unit: Option<f64>,
}

impl fmt::Display for Crs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EPSG:{}", self.epsg)
    }
}

/// Where a raster's pixels lie on the ground, as its GeoTIFF tags say.
#[derive(Clone, Debug, PartialEq)]
pub struct GeoReference {
    /// GDAL's order: x = t0 + column t1 + row t2, y = t3 + column t4 + row t5, (column, row) counted from
    /// the top-left corner of the top-left pixel (pixel-is-point rasters are shifted by half a pixel).
    pub transform: [f64; 6],
    /// `None` when the tags give no EPSG code (a user-defined system).
    pub crs: Option<Crs>,
    tags: GeoTags,
}

/// The georeferencing tags as read, written back verbatim on output.
#[derive(Clone, Debug, Default, PartialEq)]
struct GeoTags {
    pixel_scale: Option<Vec<f64>>,
    tiepoint: Option<Vec<f64>>,
    transformation: Option<Vec<f64>>,
    key_directory: Option<Vec<u16>>,
    double_params: Option<Vec<f64>>,
    ascii_params: Option<String>,
}

impl GeoReference {
    /// Map coordinates to pixel coordinates (column, row from the top-left pixel's corner).
    pub fn to_pixel(&self, x: f64, y: f64) -> [f64; 2] {
        let [x0, a, b, y0, d, e] = self.transform;
        let det = a * e - b * d;
        let (dx, dy) = (x - x0, y - y0);
        [(e * dx - b * dy) / det, (a * dy - d * dx) / det]
    }

    /// Whether `other` puts every pixel at the same place, within a thousandth of a pixel, in the same
    /// coordinate system.
    pub fn same_grid(&self, other: &GeoReference) -> bool {
        let tolerance = 1e-3 * self.transform[1].abs().max(self.transform[5].abs());
        self.crs.map(|c| c.epsg) == other.crs.map(|c| c.epsg)
            && (self.transform.iter().zip(&other.transform))
                .all(|(a, b)| (a - b).abs() <= tolerance)
    }

    /// Metres per pixel: the square root of a pixel's area on the ground. In a geographic system, degrees
    /// become metres at the latitude of the raster's centre, on the WGS 84 ellipsoid. An error saying why
    /// when it cannot be known.
    pub fn ground_sample_distance(&self, width: u32, height: u32) -> Result<f64, String> {
        let [_, a, b, _, d, e] = self.transform;
        let crs = self
            .crs
            .ok_or("the scenes' coordinate system is user-defined (no EPSG code)")?;
        let area = (a * e - b * d).abs();
        let metres = if crs.geographic {
            let [_, latitude] = self.to_map(f64::from(width) / 2.0, f64::from(height) / 2.0);
            if !(-89.0..=89.0).contains(&latitude) {
                return Err(format!(
                    "the scenes' centre is at latitude {latitude:.3}, where degrees of longitude do not \
                     convert to metres"
                ));
            }
            let phi = latitude.to_radians();
            let per_degree_latitude =
                111_132.92 - 559.82 * (2.0 * phi).cos() + 1.175 * (4.0 * phi).cos();
            let per_degree_longitude = 111_412.84 * phi.cos() - 93.5 * (3.0 * phi).cos();
            (area * per_degree_latitude * per_degree_longitude).sqrt()
        } else {
            area.sqrt() * crs.metres_per_unit.unwrap_or(1.0)
        };
        if metres.is_finite() && metres > 0.0 {
            Ok(metres)
        } else {
            Err(format!("the scenes' pixel size ({metres} m) is not usable"))
        }
    }

    /// Pixel coordinates to map coordinates.
    pub fn to_map(&self, column: f64, row: f64) -> [f64; 2] {
        let [x0, a, b, y0, d, e] = self.transform;
        [x0 + column * a + row * b, y0 + column * d + row * e]
    }
}

impl fmt::Display for GeoReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let crs = self
            .crs
            .map_or_else(|| "a user-defined system".to_owned(), |crs| crs.to_string());
        let [x0, a, _, y0, _, e] = self.transform;
        write!(f, "{crs}, origin ({x0}, {y0}), pixel {a} x {}", -e)
    }
}

/// Whether `bytes` start like a TIFF file (either byte order, classic or BigTIFF).
pub fn is_tiff(bytes: &[u8]) -> bool {
    matches!(
        bytes.get(..4),
        Some([b'I', b'I', 42 | 43, 0] | [b'M', b'M', 0, 42 | 43])
    )
}

/// What a TIFF's first image is, read from its tags before any pixel is decoded.
#[derive(Clone, Debug, PartialEq)]
pub struct RasterHeader {
    pub width: u32,
    pub height: u32,
    pub bands: u32,
    /// What its samples take once decoded, in bytes.
    pub decoded_bytes: u64,
    /// GDAL's nodata value (tag 42113).
    pub nodata: Option<f64>,
    pub georeference: Option<GeoReference>,
}

/// Decodes the first image of a TIFF file, with its nodata value and georeferencing; `path` only names
/// it in errors.
pub fn read(reader: impl Read + Seek, path: &Path) -> Result<RawRaster> {
    let (mut decoder, header) = open(reader, path)?;
    let fail = |e: tiff::TiffError| Error::input(path, format!("cannot decode image: {e}"));
    let samples = match decoder.read_image().map_err(fail)? {
        DecodingResult::U8(samples) => RawSamples::U8(samples),
        DecodingResult::U16(samples) => RawSamples::U16(samples),
        DecodingResult::F32(samples) => RawSamples::F32(samples),
        _ => {
            let bits = decoder
                .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
                .map_err(fail)?
                .and_then(|bits| bits.first().copied())
                .unwrap_or(1);
            return Err(Error::input(
                path,
                format!(
                    "unsupported sample type ({bits}-bit, {:?}): 8- and 16-bit unsigned and 32-bit float \
                     samples are read",
                    decoder.colortype().map_err(fail)?
                ),
            ));
        }
    };
    Ok(RawRaster {
        width: header.width,
        height: header.height,
        bands: header.bands,
        samples,
        nodata: header.nodata,
        georeference: header.georeference,
    })
}

/// The header of the TIFF file at `path`, as [`read`] reads it, without decoding its pixels.
pub fn read_header(path: &Path) -> Result<RasterHeader> {
    let file =
        std::fs::File::open(path).map_err(|e| Error::input(path, format!("cannot open: {e}")))?;
    Ok(open(std::io::BufReader::new(file), path)?.1)
}

/// A decoder on a TIFF's first image and what its tags say; an error for an image that is empty, too
/// large or band-sequential.
fn open<R: Read + Seek>(reader: R, path: &Path) -> Result<(Decoder<R>, RasterHeader)> {
    let fail = |e: tiff::TiffError| Error::input(path, format!("cannot decode image: {e}"));
    let mut limits = Limits::default();
    limits.decoding_buffer_size = MAX_DECODED_BYTES as usize;
    limits.intermediate_buffer_size = MAX_DECODED_BYTES as usize;
    let mut decoder = Decoder::new(reader).map_err(fail)?.with_limits(limits);
    let (width, height) = decoder.dimensions().map_err(fail)?;
    if width == 0 || height == 0 {
        return Err(Error::input(
            path,
            format!("image is empty ({width}x{height} px)"),
        ));
    }
    let bands = decoder
        .find_tag_unsigned::<u16>(Tag::SamplesPerPixel)
        .map_err(fail)?
        .unwrap_or(1);
    let bits = decoder
        .find_tag_unsigned_vec::<u16>(Tag::BitsPerSample)
        .map_err(fail)?
        .and_then(|bits| bits.first().copied())
        .unwrap_or(1);
    let bytes = u64::from(width) * u64::from(height) * u64::from(bands) * u64::from(bits) / 8;
    check_decoded_size(width, height, bytes, path)?;
    let bands = u32::from(bands);
    let planar = decoder
        .find_tag_unsigned::<u16>(Tag::PlanarConfiguration)
        .map_err(fail)?;
    if bands > 1 && planar == Some(PlanarConfiguration::Planar.to_u16()) {
        return Err(Error::input(
            path,
            "band-sequential (planar) TIFF layout is not read: write it pixel-interleaved \
             (gdal_translate -co INTERLEAVE=PIXEL)",
        ));
    }
    let nodata = match decoder.find_tag(Tag::GdalNodata).map_err(fail)? {
        None => None,
        Some(value) => {
            let text = value.into_string().map_err(fail)?;
            let text = text.trim_matches(|c: char| c == '\0' || c.is_whitespace());
            Some(text.parse::<f64>().map_err(|_| {
                Error::input(
                    path,
                    format!("GDAL nodata tag holds {text:?}, not a number"),
                )
            })?)
        }
    };
    let georeference = read_georeference(&mut decoder)
        .map_err(|message| Error::input(path, format!("GeoTIFF georeferencing: {message}")))?;
    let header = RasterHeader {
        width,
        height,
        bands,
        decoded_bytes: bytes,
        nodata,
        georeference,
    };
    Ok((decoder, header))
}

/// The georeferencing of the image file at `path`, read from its tags alone; `None` for a file that is
/// not a TIFF or has no georeferencing tags.
pub fn georeference_of(path: &Path) -> Result<Option<GeoReference>> {
    let fail = |message: String| Error::input(path, message);
    let mut reader = std::io::BufReader::new(
        std::fs::File::open(path).map_err(|e| fail(format!("cannot open: {e}")))?,
    );
    let head =
        std::io::BufRead::fill_buf(&mut reader).map_err(|e| fail(format!("cannot read: {e}")))?;
    if !is_tiff(head) {
        return Ok(None);
    }
    let mut decoder =
        Decoder::new(reader).map_err(|e| fail(format!("cannot decode image: {e}")))?;
    read_georeference(&mut decoder)
        .map_err(|message| fail(format!("GeoTIFF georeferencing: {message}")))
}

fn read_georeference<R: Read + Seek>(
    decoder: &mut Decoder<R>,
) -> Result<Option<GeoReference>, String> {
    let f64_tag = |decoder: &mut Decoder<R>, tag| {
        decoder
            .find_tag(tag)
            .and_then(|value| value.map(|v| v.into_f64_vec()).transpose())
            .map_err(|e| e.to_string())
    };
    let tags = GeoTags {
        pixel_scale: f64_tag(decoder, Tag::ModelPixelScaleTag)?,
        tiepoint: f64_tag(decoder, Tag::ModelTiepointTag)?,
        transformation: f64_tag(decoder, Tag::ModelTransformationTag)?,
        double_params: f64_tag(decoder, Tag::GeoDoubleParamsTag)?,
        key_directory: decoder
            .find_tag(Tag::GeoKeyDirectoryTag)
            .and_then(|value| value.map(|v| v.into_u16_vec()).transpose())
            .map_err(|e| e.to_string())?,
        ascii_params: decoder
            .find_tag(Tag::GeoAsciiParamsTag)
            .and_then(|value| value.map(|v| v.into_string()).transpose())
            .map_err(|e| e.to_string())?,
    };
    let transform = match (&tags.transformation, &tags.pixel_scale, &tags.tiepoint) {
        (Some(m), _, _) if m.len() >= 8 => [m[3], m[0], m[1], m[7], m[4], m[5]],
        (Some(m), _, _) => {
            return Err(format!(
                "ModelTransformation holds {} values, not 16",
                m.len()
            ));
        }
        (None, Some(scale), Some(tie)) if scale.len() >= 2 && tie.len() >= 6 => {
            let (column, row, x, y) = (tie[0], tie[1], tie[3], tie[4]);
            [
                x - column * scale[0],
                scale[0],
                0.0,
                y + row * scale[1],
                0.0,
                -scale[1],
            ]
        }
        (None, Some(_), Some(_)) => {
            return Err("ModelPixelScale or ModelTiepoint is too short".into());
        }
        (None, None, None) => return Ok(None),
        (None, _, _) => {
            return Err(
                "ModelPixelScale and ModelTiepoint come together, one of them is missing".into(),
            );
        }
    };
    let keys = geo_keys(tags.key_directory.as_deref().unwrap_or_default());
    let transform = if keys.get(GEO_KEY_RASTER_TYPE) == Some(RASTER_PIXEL_IS_POINT) {
        let [x0, a, b, y0, d, e] = transform;
        [x0 - (a + b) / 2.0, a, b, y0 - (d + e) / 2.0, d, e]
    } else {
        transform
    };
    let [_, a, b, _, d, e] = transform;
    if !transform.iter().all(|v| v.is_finite()) || a * e - b * d == 0.0 {
        return Err(format!(
            "the pixel-to-map transform {transform:?} is degenerate"
        ));
    }
    let crs = match keys.get(GEO_KEY_MODEL_TYPE) {
        Some(MODEL_TYPE_PROJECTED) => keys.epsg(GEO_KEY_PROJECTED_TYPE).map(|epsg| Crs {
            epsg,
            geographic: false,
            metres_per_unit: keys
                .get(GEO_KEY_PROJECTED_LINEAR_UNITS)
                .and_then(metres_per_unit),
        }),
        Some(MODEL_TYPE_GEOGRAPHIC) => keys.epsg(GEO_KEY_GEOGRAPHIC_TYPE).map(|epsg| Crs {
            epsg,
            geographic: true,
            metres_per_unit: None,
        }),
        _ => None,
    };
    Ok(Some(GeoReference {
        transform,
        crs,
        tags,
    }))
}

/// EPSG's linear units: metre, foot, US survey foot.
fn metres_per_unit(code: u16) -> Option<f64> {
    match code {
        9001 => Some(1.0),
        9002 => Some(0.3048),
        9003 => Some(1200.0 / 3937.0),
        _ => None,
    }
}

/// The short-valued keys of a GeoKeyDirectory (those stored in the directory itself).
struct GeoKeys(Vec<(u16, u16)>);

fn geo_keys(directory: &[u16]) -> GeoKeys {
    GeoKeys(
        directory
            .chunks_exact(4)
            .skip(1)
            .filter(|entry| entry[1] == 0 && entry[2] == 1)
            .map(|entry| (entry[0], entry[3]))
            .collect(),
    )
}

impl GeoKeys {
    fn get(&self, key: u16) -> Option<u16> {
        self.0.iter().find(|(k, _)| *k == key).map(|&(_, v)| v)
    }

    fn epsg(&self, key: u16) -> Option<u32> {
        self.get(key)
            .filter(|&code| code != 0 && code != USER_DEFINED)
            .map(u32::from)
    }
}

/// The georeferencing of a new GeoTIFF: an EPSG code and a pixel-to-map transform (pixel-is-area). Used to
/// write test archives and by callers that make rasters of their own.
pub fn georeference(crs: Crs, transform: [f64; 6]) -> GeoReference {
    let [x0, a, b, y0, d, e] = transform;
    let (model_type, crs_key) = if crs.geographic {
        (MODEL_TYPE_GEOGRAPHIC, GEO_KEY_GEOGRAPHIC_TYPE)
    } else {
        (MODEL_TYPE_PROJECTED, GEO_KEY_PROJECTED_TYPE)
    };
    let epsg = u16::try_from(crs.epsg).unwrap_or(USER_DEFINED);
    let key_directory = vec![
        1,
        1,
        0,
        3, //
        GEO_KEY_MODEL_TYPE,
        0,
        1,
        model_type, //
        GEO_KEY_RASTER_TYPE,
        0,
        1,
        1, //
        crs_key,
        0,
        1,
        epsg,
    ];
    let tags = if b == 0.0 && d == 0.0 {
        GeoTags {
            pixel_scale: Some(vec![a, -e, 0.0]),
            tiepoint: Some(vec![0.0, 0.0, 0.0, x0, y0, 0.0]),
            key_directory: Some(key_directory),
            ..GeoTags::default()
        }
    } else {
        GeoTags {
            transformation: Some(vec![
                a, b, 0.0, x0, d, e, 0.0, y0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0,
            ]),
            key_directory: Some(key_directory),
            ..GeoTags::default()
        }
    };
    GeoReference {
        transform,
        crs: Some(crs),
        tags,
    }
}

/// Writes the georeferencing tags of `georeference` into a TIFF directory being encoded.
pub fn write_geo_tags<W: std::io::Write + Seek, K: tiff::encoder::TiffKind>(
    directory: &mut tiff::encoder::DirectoryEncoder<'_, W, K>,
    georeference: &GeoReference,
) -> tiff::TiffResult<()> {
    let tags = &georeference.tags;
    let doubles = [
        (Tag::ModelPixelScaleTag, &tags.pixel_scale),
        (Tag::ModelTiepointTag, &tags.tiepoint),
        (Tag::ModelTransformationTag, &tags.transformation),
        (Tag::GeoDoubleParamsTag, &tags.double_params),
    ];
    for (tag, values) in doubles {
        if let Some(values) = values {
            directory.write_tag(tag, values.as_slice())?;
        }
    }
    if let Some(keys) = &tags.key_directory {
        directory.write_tag(Tag::GeoKeyDirectoryTag, keys.as_slice())?;
    }
    if let Some(ascii) = &tags.ascii_params {
        directory.write_tag(Tag::GeoAsciiParamsTag, ascii.as_str())?;
    }
    Ok(())
}

/// An 8-bit raster of colour type `C` (gray, RGB) as a deflate-compressed (Geo)TIFF held in memory,
/// carrying `georeference` when there is one.
pub fn encode_8bit<C: colortype::ColorType<Inner = u8>>(
    width: u32,
    height: u32,
    samples: &[u8],
    georeference: Option<&GeoReference>,
) -> tiff::TiffResult<Vec<u8>> {
    let mut bytes = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut bytes)?
        .with_compression(Compression::Deflate(DeflateLevel::Balanced));
    let mut image = encoder.new_image::<C>(width, height)?;
    if let Some(georeference) = georeference {
        write_geo_tags(image.encoder(), georeference)?;
    }
    image.write_data(samples)?;
    Ok(bytes.into_inner())
}
