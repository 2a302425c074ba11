//! Output files: written whole to a temporary file beside the target, then renamed over it, so a failed
//! or interrupted run never leaves a half-written file.

use crate::acquisition::Acquisition;
use crate::archive::SceneFailure;
use crate::error::{Error, Result};
use crate::geotiff::{self, GeoReference};
use crate::kernel::{ChangeMask, RegionStats};
use crate::regions::Region;
use crate::series::{Analysis, RegionInfo};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Test hook: with this variable set, every output is written to `/dev/full` (Linux), on which every
/// write fails as on a full disk, so that tests can check that a run then fails cleanly.
const FULL_DISK_HOOK: &str = "PORTWATCH_TEST_FULL_DISK";

/// A file being written; it appears under its name only on [`AtomicFile::commit`], and the temporary file
/// is removed when it is dropped uncommitted, a failed commit included.
pub struct AtomicFile {
    target: PathBuf,
    temporary: PathBuf,
    writer: BufWriter<File>,
    committed: bool,
}

impl AtomicFile {
    pub fn create(target: &Path) -> Result<AtomicFile> {
        let name = target.file_name().unwrap_or_default().to_string_lossy();
        let temporary = target.with_file_name(format!(".{name}.{}.tmp", std::process::id()));
        let mut file =
            File::create(&temporary).map_err(|source| write_error(&temporary, source))?;
        if std::env::var_os(FULL_DISK_HOOK).is_some() {
            file = File::options()
                .write(true)
                .open("/dev/full")
                .map_err(|source| write_error(&temporary, source))?;
        }
        Ok(AtomicFile {
            target: target.to_path_buf(),
            temporary,
            writer: BufWriter::new(file),
            committed: false,
        })
    }

    /// Flushes to disk and moves the file into place.
    pub fn commit(mut self) -> Result<()> {
        let fail = |source| write_error(&self.target, source);
        self.writer.flush().map_err(fail)?;
        self.writer.get_ref().sync_all().map_err(fail)?;
        std::fs::rename(&self.temporary, &self.target).map_err(fail)?;
        self.committed = true;
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.writer.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.writer.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.temporary);
        }
    }
}

pub const PAIRS_HEADER: [&str; 8] = [
    "date_from",
    "date_to",
    "region",
    "kind",
    "valid_px",
    "changed_px",
    "magnitude_sum",
    "change_score",
];

/// `pairs.csv`: one row per consecutive scene pair and region, in the order the rows are added.
pub struct PairsCsv {
    path: PathBuf,
    writer: csv::Writer<AtomicFile>,
}

impl PairsCsv {
    pub fn create(path: &Path) -> Result<PairsCsv> {
        let mut pairs = PairsCsv {
            path: path.to_path_buf(),
            writer: csv::Writer::from_writer(AtomicFile::create(path)?),
        };
        pairs.row(PAIRS_HEADER)?;
        Ok(pairs)
    }

    /// Adds the rows of one pair: `stats` in the order of `regions`.
    pub fn add_pair(
        &mut self,
        from: Acquisition,
        to: Acquisition,
        regions: &[Region],
        stats: &[RegionStats],
    ) -> Result<()> {
        let (from, to) = (from.to_string(), to.to_string());
        for (region, s) in regions.iter().zip(stats) {
            let score = if s.valid_px == 0 {
                String::new()
            } else {
                format!("{:.6}", s.changed_px as f64 / s.valid_px as f64)
            };
            self.row([
                from.as_str(),
                to.as_str(),
                &region.name,
                &region.kind,
                &s.valid_px.to_string(),
                &s.changed_px.to_string(),
                &s.magnitude_sum.to_string(),
                &score,
            ])?;
        }
        Ok(())
    }

    fn row<'a>(&mut self, fields: impl IntoIterator<Item = &'a str>) -> Result<()> {
        self.writer
            .write_record(fields)
            .map_err(|e| write_error(&self.path, e.into()))
    }

    pub fn commit(self) -> Result<()> {
        let path = self.path;
        let file = self
            .writer
            .into_inner()
            .map_err(|e| write_error(&path, std::io::Error::other(e.error().to_string())))?;
        file.commit()
    }
}

fn write_error(path: &Path, source: std::io::Error) -> Error {
    Error::Write {
        path: path.to_path_buf(),
        source,
    }
}

/// Writes `path` atomically with `write`, which streams the whole content into the file it is given.
pub fn write_with(
    path: &Path,
    write: impl FnOnce(&mut AtomicFile) -> std::io::Result<()>,
) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write(&mut file).map_err(|e| write_error(path, e))?;
    file.commit()
}

/// Writes `bytes` as the whole content of `path`, atomically.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |file| file.write_all(bytes))
}

/// Writes an 8- or 16-bit image as a PNG, atomically, with the fast deflate: the rasters are as large as
/// the scenes and written on every run, and on a 2048x2048 busy archive the best compression took 60% of
/// the whole run's time for files at most 1.6 times smaller (the heatmap; the background not at all).
pub fn write_png<P>(path: &Path, image: &image::ImageBuffer<P, Vec<P::Subpixel>>) -> Result<()>
where
    P: image::PixelWithColorType,
    P::Subpixel: bytemuck::Pod,
{
    use image::ImageEncoder;
    use image::codecs::png::{CompressionType, FilterType, PngEncoder};
    write_with(path, |file| {
        PngEncoder::new_with_quality(file, CompressionType::Fast, FilterType::Adaptive)
            .write_image(
                bytemuck::cast_slice(image.as_raw()),
                image.width(),
                image.height(),
                P::COLOR_TYPE,
            )
            .map_err(std::io::Error::other)
    })
}

/// The file formats of the rasters a run writes (change masks, `background`, `heatmap`).
#[derive(
    Clone,
    Copy,
    Debug,
    Default,
    PartialEq,
    Eq,
    clap::ValueEnum,
    serde::Serialize,
    serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum RasterFormat {
    /// `.png`
    #[default]
    Png,
    /// `.tif`, GeoTIFF with the scenes' georeferencing (a plain TIFF when they have none), deflate
    Geotiff,
    /// Both
    Both,
}

impl RasterFormat {
    /// The file name extensions written, PNG first.
    pub fn extensions(self) -> &'static [&'static str] {
        match self {
            RasterFormat::Png => &["png"],
            RasterFormat::Geotiff => &["tif"],
            RasterFormat::Both => &["png", "tif"],
        }
    }
}

/// An 8-bit pixel type a raster can be written in, and its TIFF colour type.
pub trait RasterPixel: image::PixelWithColorType<Subpixel = u8> {
    type Tiff: tiff::encoder::colortype::ColorType<Inner = u8>;
}

impl RasterPixel for image::Luma<u8> {
    type Tiff = tiff::encoder::colortype::Gray8;
}

impl RasterPixel for image::Rgb<u8> {
    type Tiff = tiff::encoder::colortype::RGB8;
}

/// Writes rasters of the scenes' size in the run's formats, each file atomically.
#[derive(Clone, Debug, Default)]
pub struct RasterWriter {
    pub format: RasterFormat,
    /// The scenes' georeferencing, carried by the GeoTIFFs.
    pub georeference: Option<GeoReference>,
}

impl RasterWriter {
    /// Writes `image` as `stem` with each extension of the format (`masks/2023-08-01_2023-08-04` gives
    /// `.png` and/or `.tif`); the pixels of the two files are the same.
    pub fn write<P: RasterPixel>(
        &self,
        stem: &Path,
        image: &image::ImageBuffer<P, Vec<u8>>,
    ) -> Result<()> {
        for extension in self.format.extensions() {
            let path = stem.with_extension(extension);
            if *extension == "png" {
                write_png(&path, image)?;
            } else {
                let bytes = geotiff::encode_8bit::<P::Tiff>(
                    image.width(),
                    image.height(),
                    image.as_raw(),
                    self.georeference.as_ref(),
                )
                .map_err(|e| write_error(&path, std::io::Error::other(e)))?;
                write_atomically(&path, &bytes)?;
            }
        }
        Ok(())
    }

    /// Writes a change mask, 8-bit, 255 = changed.
    pub fn write_mask(&self, stem: &Path, mask: &ChangeMask) -> Result<()> {
        self.write(stem, &mask.to_image())
    }
}

/// `series.csv`: `date,region,kind,valid_fraction,change_score,occupancy,state`, one row per date and
/// region, fractions with 4 decimals, empty where not measured.
pub fn series_csv(
    acquisitions: &[Acquisition],
    regions: &[RegionInfo],
    analysis: &Analysis,
) -> String {
    let mut csv = String::from("date,region,kind,valid_fraction,change_score,occupancy,state\n");
    for (acquired, row) in acquisitions.iter().zip(&analysis.cells) {
        for (region, cell) in regions.iter().zip(row) {
            csv += &format!(
                "{},{},{},{:.4},{},{},{}\n",
                acquired.date,
                quoted(&region.name),
                quoted(&region.kind),
                cell.valid_fraction,
                fraction(cell.change_score),
                fraction(cell.occupancy),
                cell.state.word()
            );
        }
    }
    csv
}

/// `events.csv`: `date,region,kind,event,length_m`, in date order, length in metres with 1 decimal for
/// arrivals whose pixel size is known, empty otherwise.
pub fn events_csv(
    acquisitions: &[Acquisition],
    regions: &[RegionInfo],
    analysis: &Analysis,
) -> String {
    let mut csv = String::from("date,region,kind,event,length_m\n");
    for event in &analysis.events {
        let region = &regions[event.region];
        csv += &format!(
            "{},{},{},{},{}\n",
            acquisitions[event.date].date,
            quoted(&region.name),
            quoted(&region.kind),
            event.kind.word(),
            event
                .length_m
                .map_or_else(String::new, |m| format!("{m:.1}"))
        );
    }
    csv
}

/// Writes `failures.csv`, atomically: `file,reason`, one row per scene left out of the run (a header alone
/// when none was), quoted as in RFC 4180 where needed; a file name that is not UTF-8 is written lossily.
pub fn write_failures_csv(path: &Path, failures: &[SceneFailure]) -> Result<()> {
    write_with(path, |file| {
        let mut csv = csv::Writer::from_writer(file);
        csv.write_record(["file", "reason"])?;
        for failure in failures {
            csv.write_record([&failure.file.to_string_lossy(), failure.reason.as_str()])?;
        }
        csv.flush()
    })
}

/// A CSV field as RFC 4180 writes it: quoted, its quotes doubled, when it holds a comma, a quote or a line
/// break (as `pairs.csv` writes names).
fn quoted(field: &str) -> std::borrow::Cow<'_, str> {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\"")).into()
    } else {
        field.into()
    }
}

fn fraction(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.4}"))
}
