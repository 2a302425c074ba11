//! Scenes given as a folder of single-band GeoTIFFs, a band stack (Sentinel-2 ships one file per band, on
//! 10, 20 and 60 m grids): the band files found and put in band order, their grids checked against the
//! finest band's, and every band brought onto that grid by nearest-neighbour resampling.

use crate::error::{Error, Result};
use crate::geotiff::{self, GeoReference, RasterHeader};
use crate::scene::{
    DecodeOptions, Scene, SceneFile, SceneFormat, check_decoded_size, picked_bands, scene_from_raw,
};
use rayon::prelude::*;
use std::io::BufReader;
use std::path::{Path, PathBuf};

const BAND_EXTENSIONS: [&str; 2] = ["tif", "tiff"];

/// The band files of the folder `dir`, in band order: its `.tif` and `.tiff` files (names starting with a
/// dot left out), ordered by the band id that ends their names (`_B01` … `_B12`, with `_B8A` right after
/// `_B08` as Sentinel-2 orders them; Landsat's `_B1` … `_B11` alike) when every name carries one, else by
/// name. An error naming the folder when it holds none, and naming the file when only some names carry a
/// band id or two carry the same.
pub fn band_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let fail = |e: std::io::Error| Error::input(dir, format!("cannot list the band files: {e}"));
    let mut files = Vec::new();
    for item in std::fs::read_dir(dir).map_err(fail)? {
        let path = item.map_err(fail)?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let extension = path
            .extension()
            .unwrap_or_default()
            .to_string_lossy()
            .to_lowercase();
        if !name.starts_with('.') && BAND_EXTENSIONS.contains(&extension.as_str()) && !path.is_dir()
        {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::input(
            dir,
            "folder holds no band files (single-band GeoTIFFs named *.tif or *.tiff)",
        ));
    }
    let ids: Vec<Option<(u32, bool)>> = files.iter().map(|file| band_id(file)).collect();
    if ids.iter().all(Option::is_none) {
        return Ok(files);
    }
    if let Some(unnamed) = ids.iter().position(Option::is_none) {
        return Err(Error::input(
            &files[unnamed],
            "name carries no band id (such as _B04 or _B8A before the extension) while other band files \
             of its folder do",
        ));
    }
    let mut ordered: Vec<((u32, bool), PathBuf)> = ids.into_iter().flatten().zip(files).collect();
    ordered.sort();
    if let Some(pair) = ordered.windows(2).find(|pair| pair[0].0 == pair[1].0) {
        return Err(Error::Conflict {
            first: pair[0].1.clone(),
            second: pair[1].1.clone(),
            message: "two band files carry the same band id".into(),
        });
    }
    Ok(ordered.into_iter().map(|(_, file)| file).collect())
}

/// The band id that ends a file's stem, `_B<number>` with an optional `A` (case-insensitive), as
/// (number, A), the order of Sentinel-2's bands.
fn band_id(file: &Path) -> Option<(u32, bool)> {
    let stem = file.file_stem()?.to_string_lossy().to_uppercase();
    let (_, id) = stem.rsplit_once("_B")?;
    let (number, suffix) = match id.strip_suffix('A') {
        Some(number) => (number, true),
        None => (id, false),
    };
    if number.is_empty() || number.len() > 2 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((number.parse().ok()?, suffix))
}

/// The band files of a folder scene, read from their tags, and the grid they are brought onto.
struct Stack {
    files: Vec<PathBuf>,
    headers: Vec<RasterHeader>,
    /// The band with the most pixels (the first of them on a tie): its grid is the scene's.
    finest: usize,
    /// Per band, where each pixel of the scene's grid takes its sample from.
    grids: Vec<BandGrid>,
}

/// For each column (row) of the scene's grid, the column (row) of a band's pixel that holds its centre.
struct BandGrid {
    columns: Vec<u32>,
    rows: Vec<u32>,
}

impl Stack {
    /// Reads the tags of every band file of `dir` and checks that each band is one band on a grid that
    /// fits the finest band's.
    fn open(dir: &Path) -> Result<Stack> {
        let files = band_files(dir)?;
        let headers = files
            .iter()
            .map(|file| geotiff::read_header(file))
            .collect::<Result<Vec<_>>>()?;
        if let Some((file, header)) = files.iter().zip(&headers).find(|(_, h)| h.bands != 1) {
            return Err(Error::input(
                file,
                format!(
                    "holds {} bands, but each file of a folder scene holds one band",
                    header.bands
                ),
            ));
        }
        let finest = (0..headers.len())
            .rev()
            .max_by_key(|&band| u64::from(headers[band].width) * u64::from(headers[band].height))
            .unwrap_or(0);
        let grids = files
            .iter()
            .zip(&headers)
            .map(|(file, header)| band_grid(header, file, &headers[finest], &files[finest]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Stack {
            files,
            headers,
            finest,
            grids,
        })
    }
}

/// Where `band` (of file `file`) takes the samples of the finest band's grid from; an error naming the
/// file when the grids do not fit: a size that is not the finest's divided by a whole number (rounded
/// either way), or, when georeferenced, another coordinate system, a rotated grid, or an origin or far
/// corner more than one of the band's pixels away from the finest band's.
fn band_grid(
    band: &RasterHeader,
    file: &Path,
    finest: &RasterHeader,
    finest_file: &Path,
) -> Result<BandGrid> {
    let size = |h: &RasterHeader| format!("{}x{} px", h.width, h.height);
    let whole_ratio = |fine: u32, coarse: u32| {
        let ratio = (f64::from(fine) / f64::from(coarse)).round();
        ratio >= 1.0 && (f64::from(fine) - ratio * f64::from(coarse)).abs() < ratio
    };
    if !whole_ratio(finest.width, band.width) || !whole_ratio(finest.height, band.height) {
        return Err(Error::input(
            file,
            format!(
                "band is {}, which is not the {} of the finest band {} divided by a whole number: the bands \
                 of a folder scene must cover the same extent",
                size(band),
                size(finest),
                finest_file.display()
            ),
        ));
    }
    let identity = |length: u32| (0..length).collect::<Vec<u32>>();
    let (axis_x, axis_y) = match (&finest.georeference, &band.georeference) {
        (None, None) => (
            AxisFit::proportional(finest.width, band.width),
            AxisFit::proportional(finest.height, band.height),
        ),
        (Some(fine), Some(coarse))
            if (band.width, band.height) == (finest.width, finest.height)
                && fine.same_grid(coarse) =>
        {
            return Ok(BandGrid {
                columns: identity(finest.width),
                rows: identity(finest.height),
            });
        }
        (Some(fine), Some(coarse)) => {
            let misfit = |why: &str| {
                Error::input(
                    file,
                    format!(
                        "{why}: the band lies on {coarse} ({}), the finest band {} on {fine} ({})",
                        size(band),
                        finest_file.display(),
                        size(finest)
                    ),
                )
            };
            if fine.crs.map(|c| c.epsg) != coarse.crs.map(|c| c.epsg) {
                return Err(misfit("another coordinate system"));
            }
            let [t, u] = [&fine.transform, &coarse.transform];
            if [t[2], t[4], u[2], u[4]].iter().any(|&v| v != 0.0) {
                return Err(misfit("rotated grids are not resampled"));
            }
            let x = AxisFit::georeferenced([t[0], t[1]], finest.width, [u[0], u[1]], band.width);
            let y = AxisFit::georeferenced([t[3], t[5]], finest.height, [u[3], u[5]], band.height);
            if !(x.fits && y.fits) {
                return Err(misfit(
                    "the origin or the far corner is more than one of the band's pixels away from the \
                     finest band's",
                ));
            }
            (x, y)
        }
        (Some(_), None) | (None, Some(_)) => {
            let (georeferenced, plain) = match finest.georeference {
                Some(_) => (finest_file, file),
                None => (file, finest_file),
            };
            return Err(Error::Conflict {
                first: georeferenced.to_path_buf(),
                second: plain.to_path_buf(),
                message:
                    "the bands of a folder scene are all georeferenced or none is, but only the \
                          first of these is"
                        .into(),
            });
        }
    };
    Ok(BandGrid {
        columns: axis_x.indices(finest.width, band.width),
        rows: axis_y.indices(finest.height, band.height),
    })
}

/// One axis of a band against the finest band's: the band's pixel coordinate of the finest's coordinate
/// c is `c × scale + offset`.
struct AxisFit {
    scale: f64,
    offset: f64,
    /// Whether the band's ends are within one of its pixels of the finest band's.
    fits: bool,
}

impl AxisFit {
    /// Without georeferencing: the two bands cover the same extent.
    fn proportional(fine: u32, coarse: u32) -> AxisFit {
        AxisFit {
            scale: f64::from(coarse) / f64::from(fine),
            offset: 0.0,
            fits: true,
        }
    }

    /// From the map coordinate of each band's first pixel edge and its pixel size on this axis.
    fn georeferenced(
        [fine_origin, fine_pixel]: [f64; 2],
        fine: u32,
        [origin, pixel]: [f64; 2],
        coarse: u32,
    ) -> AxisFit {
        let far = |origin: f64, pixel: f64, length: u32| origin + pixel * f64::from(length);
        let fits = (origin - fine_origin).abs() < pixel.abs()
            && (far(origin, pixel, coarse) - far(fine_origin, fine_pixel, fine)).abs()
                < pixel.abs();
        AxisFit {
            scale: fine_pixel / pixel,
            offset: (fine_origin - origin) / pixel,
            fits,
        }
    }

    /// For each pixel of the finest band's axis, the band's pixel holding its centre (the nearest
    /// neighbour; the edge pixel where the centre falls just outside the band).
    fn indices(&self, fine: u32, coarse: u32) -> Vec<u32> {
        let last = f64::from(coarse - 1);
        (0..fine)
            .map(|c| {
                ((f64::from(c) + 0.5) * self.scale + self.offset)
                    .floor()
                    .clamp(0.0, last) as u32
            })
            .collect()
    }
}

/// The georeferencing of the folder scene `dir`, its finest band's, read from the band files' tags alone;
/// an error when its band files do not make a scene.
pub fn georeference(dir: &Path) -> Result<Option<GeoReference>> {
    let stack = Stack::open(dir)?;
    Ok(stack.headers[stack.finest].georeference.clone())
}

/// Decodes the folder scene `dir`: the bands `options` picks (numbered from 1 in band order), each
/// decoded as a single-band file is (its nodata value and NaN making pixels invalid, float samples
/// scaled) and resampled onto the finest band's grid, whose georeferencing the scene takes. An error
/// naming the file for a band that cannot be decoded or whose sample type differs from the others'.
pub fn read(dir: &Path, options: &DecodeOptions) -> Result<SceneFile> {
    let stack = Stack::open(dir)?;
    let picks = picked_bands(options.bands.as_ref(), stack.files.len() as u32, dir)?;
    let finest = &stack.headers[stack.finest];
    let (width, height) = (finest.width, finest.height);
    // Samples are at most 16-bit once decoded.
    let bytes = u64::from(width) * u64::from(height) * picks.len() as u64 * 2;
    check_decoded_size(width, height, bytes, dir)?;
    let bands = picks
        .par_iter()
        .map(|&band| {
            let file = &stack.files[band];
            let reader = BufReader::new(
                std::fs::File::open(file)
                    .map_err(|e| Error::input(file, format!("cannot open: {e}")))?,
            );
            let raw = geotiff::read(reader, file)?;
            let sample_type = raw.samples.type_name();
            let scene = scene_from_raw(raw, &DecodeOptions::default(), file)?;
            Ok((file, sample_type, scene, &stack.grids[band]))
        })
        .collect::<Result<Vec<_>>>()?;
    let (first_file, first_type) = (bands[0].0, bands[0].1);
    if let Some((file, sample_type, ..)) = bands.iter().find(|band| band.1 != first_type) {
        return Err(Error::Conflict {
            first: first_file.to_path_buf(),
            second: file.to_path_buf(),
            message: format!(
                "the bands of a folder scene must share their sample type, but they are {first_type} and \
                 {sample_type}"
            ),
        });
    }
    let band_count = bands.len();
    let row_length = width as usize * band_count;
    let mut samples = vec![0u16; row_length * height as usize];
    samples
        .par_chunks_mut(row_length)
        .enumerate()
        .for_each(|(y, row)| {
            for (x, pixel) in row.chunks_exact_mut(band_count).enumerate() {
                for (sample, (_, _, scene, grid)) in pixel.iter_mut().zip(&bands) {
                    let source = source_pixel(scene, grid, x, y);
                    *sample = scene.sample(source, 0) as u16;
                }
            }
        });
    let bits = bands[0].2.format.bits_per_sample;
    let format = SceneFormat {
        width,
        height,
        bands: band_count as u32,
        bits_per_sample: bits,
    };
    let mut scene = Scene::from_values(format, &samples);
    if bands
        .iter()
        .any(|(_, _, scene, _)| scene.validity.is_some())
    {
        let mut bitmap = vec![0u32; scene.format.bitmap_word_count()];
        bitmap.par_iter_mut().enumerate().for_each(|(word, bits)| {
            for bit in 0..32 {
                let pixel = word * 32 + bit;
                if pixel >= width as usize * height as usize {
                    break;
                }
                let (x, y) = (pixel % width as usize, pixel / width as usize);
                let valid = (bands.iter()).all(|(_, _, scene, grid)| {
                    scene.is_valid(source_pixel(scene, grid, x, y), None)
                });
                *bits |= u32::from(valid) << bit;
            }
        });
        scene.validity = Some(bitmap);
    }
    Ok(SceneFile {
        scene,
        georeference: finest.georeference.clone(),
    })
}

/// The pixel of a band's `scene` that pixel (x, y) of the finest grid takes its sample from.
fn source_pixel(scene: &Scene, grid: &BandGrid, x: usize, y: usize) -> usize {
    grid.rows[y] as usize * scene.format.width as usize + grid.columns[x] as usize
}
