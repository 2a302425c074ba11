//! One pair of scenes, the building block for scripts (`portwatch pair`): AFTER's radiometry normalized
//! to BEFORE, clouds and shadows masked, AFTER optionally aligned to BEFORE, a threshold chosen from the
//! pair alone unless given, and the change mask and per-region statistics measured by the kernel.

pub mod evaluation;

use crate::cloud::{self, CloudCover, CloudMasking};
use crate::coregister::{self, Shift};
use crate::error::{Error, Result};
use crate::kernel::params::HISTOGRAM_BINS;
use crate::kernel::{self, ChangeMask, ChangeSettings, DeviceChoice, Outputs, Radiometry};
use crate::radiometry;
use crate::rasterize::LabelRaster;
use crate::regions::RegionSet;
use crate::scene::{DecodeOptions, Scene, SceneFile, SceneFormat};
use crate::series::threshold;
use std::path::Path;

const BEFORE: kernel::Slot = 0;
const AFTER: kernel::Slot = 1;
/// The name and kind of the one region of a pair compared without regions.
pub const WHOLE_IMAGE: &str = "image";

/// How a pair is compared.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct PairOptions {
    pub device: DeviceChoice,
    /// `None`: chosen from the pair, Otsu's split of its magnitudes ([`threshold::otsu_split`]).
    pub threshold: Option<u32>,
    /// Smoothing radius.
    pub smooth: u32,
    pub nodata: Option<u32>,
    /// Fit AFTER's radiometry to BEFORE's.
    pub normalize: bool,
    pub clouds: CloudMasking,
    /// Resample AFTER onto BEFORE's grid before differencing.
    pub align: bool,
    /// Shifts searched, in pixels either way.
    pub search_radius: u32,
}

/// What one region of the pair measured.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionChange {
    pub name: String,
    pub kind: String,
    /// Pixels valid in both scenes (masks, nodata, clouds and shadows, and with `--align` the border the
    /// shift uncovers, left out).
    pub valid_px: u64,
    pub changed_px: u64,
}

impl RegionChange {
    /// Changed over valid pixels; 0 without valid pixels.
    pub fn changed_fraction(&self) -> f64 {
        if self.valid_px == 0 {
            0.0
        } else {
            self.changed_px as f64 / self.valid_px as f64
        }
    }
}

/// Everything `portwatch pair` reports.
#[derive(Clone, Debug)]
pub struct PairResult {
    pub backend: String,
    pub format: SceneFormat,
    pub threshold: u32,
    /// Whether the threshold was chosen from the pair (not given).
    pub threshold_chosen: bool,
    /// AFTER's correction onto BEFORE (identity without normalization).
    pub correction: Radiometry,
    /// AFTER's shift against BEFORE, `None` when no pixel could be compared.
    pub shift: Option<Shift>,
    pub aligned: bool,
    /// BEFORE's and AFTER's clouds and shadows.
    pub clouds: [CloudCover; 2],
    pub regions: Vec<RegionChange>,
    pub mask: ChangeMask,
}

impl PairResult {
    /// What the comparison chose and found, a line each, for stderr.
    pub fn log_lines(&self, names: [&Path; 2]) -> Vec<String> {
        let bands = self.format.bands as usize;
        let (gains, offsets) = self.correction.to_linear(bands);
        let mut lines = vec![
            format!("backend {}", self.backend),
            format!(
                "threshold {} ({})",
                self.threshold,
                if self.threshold_chosen {
                    "chosen from the pair: Otsu's split of its magnitudes"
                } else {
                    "given"
                }
            ),
            format!(
                "{} normalized to {}: gain {gains:?}, offset {offsets:?}",
                names[1].display(),
                names[0].display()
            ),
        ];
        for (name, clouds) in names.iter().zip(&self.clouds) {
            lines.push(format!(
                "{}: {:.1}% cloud, {:.1}% cloud shadow",
                name.display(),
                100.0 * clouds.cloud_fraction(),
                100.0 * clouds.shadow_fraction()
            ));
        }
        lines.push(match self.shift {
            Some(shift) => format!(
                "{} shifted by ({:.2}, {:.2}) px against {}{}",
                names[1].display(),
                shift.dx,
                shift.dy,
                names[0].display(),
                if self.aligned {
                    ", resampled onto it"
                } else {
                    ""
                }
            ),
            None => {
                "no shift measured: the scenes are too small or share no valid pixel".to_string()
            }
        });
        lines
    }

    /// The per-region statistics as an aligned text table.
    pub fn table(&self) -> String {
        let header = [
            "region",
            "kind",
            "valid_px",
            "changed_px",
            "changed_fraction",
        ];
        let rows: Vec<[String; 5]> = self
            .regions
            .iter()
            .map(|r| {
                [
                    r.name.clone(),
                    r.kind.clone(),
                    r.valid_px.to_string(),
                    r.changed_px.to_string(),
                    format!("{:.4}", r.changed_fraction()),
                ]
            })
            .collect();
        let widths: Vec<usize> = (0..header.len())
            .map(|c| {
                rows.iter()
                    .map(|row| row[c].chars().count())
                    .chain([header[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: Vec<&str>| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, &width)| format!("{cell:<width$}"))
                .collect();
            padded.join("  ").trim_end().to_string() + "\n"
        };
        let mut table = line(header.to_vec());
        for row in &rows {
            table += &line(row.iter().map(String::as_str).collect());
        }
        table
    }

    /// The results as JSON (schema in README.md, `portwatch pair`).
    pub fn to_json(&self, names: [&Path; 2], smooth: u32) -> String {
        let bands = self.format.bands as usize;
        let (gain, offset) = self.correction.to_linear(bands);
        let round = |v: f64, decimals: i32| {
            let scale = 10f64.powi(decimals);
            (v * scale).round() / scale
        };
        let scenes: Vec<serde_json::Value> = names
            .iter()
            .zip(&self.clouds)
            .map(|(name, clouds)| {
                serde_json::json!({
                    "file": name.display().to_string(),
                    "cloud_fraction": round(clouds.cloud_fraction(), 4),
                    "shadow_fraction": round(clouds.shadow_fraction(), 4),
                })
            })
            .collect();
        let regions: Vec<serde_json::Value> = self
            .regions
            .iter()
            .map(|r| {
                serde_json::json!({
                    "name": r.name,
                    "kind": r.kind,
                    "valid_px": r.valid_px,
                    "changed_px": r.changed_px,
                    "changed_fraction": round(r.changed_fraction(), 4),
                })
            })
            .collect();
        let shift = self.shift.map(|s| {
            serde_json::json!({
                "dx": round(s.dx, 3),
                "dy": round(s.dy, 3),
                "at_search_edge": s.at_search_edge,
                "aligned": self.aligned,
            })
        });
        let json = serde_json::json!({
            "before": scenes[0],
            "after": scenes[1],
            "width": self.format.width,
            "height": self.format.height,
            "bands": self.format.bands,
            "bits_per_sample": self.format.bits_per_sample,
            "threshold": self.threshold,
            "threshold_chosen": self.threshold_chosen,
            "smooth": smooth,
            "correction": {"gain": gain, "offset": offset},
            "shift": shift,
            "regions": regions,
        });
        serde_json::to_string_pretty(&json).expect("JSON values always encode") + "\n"
    }
}

/// Decodes a scene of a pair (a file, or a folder of band files) as `decode` says, with its user mask
/// `STEM.mask.png` (a folder's whole name for STEM) when one lies beside it.
pub fn load_scene(path: &Path, decode: &DecodeOptions) -> Result<Scene> {
    let mut scene = SceneFile::read(path, decode)?.scene;
    let stem = match path.is_dir() {
        true => path.file_name(),
        false => path.file_stem(),
    };
    let stem = stem.unwrap_or_default().to_string_lossy();
    let mask = path.with_file_name(format!("{stem}.mask.png"));
    if mask.is_file() {
        scene.set_validity_mask(&mask)?;
    }
    Ok(scene)
}

/// Compares `before` and `after` (named by `names` in errors) in `regions`, or in the whole image.
pub fn compare(
    mut before: Scene,
    mut after: Scene,
    names: [&Path; 2],
    regions: Option<&RegionSet>,
    options: &PairOptions,
) -> Result<PairResult> {
    if before.format != after.format {
        return Err(Error::Conflict {
            first: names[0].to_path_buf(),
            second: names[1].to_path_buf(),
            message: format!(
                "the scenes of a pair must share their format, but they are {} and {}",
                before.format, after.format
            ),
        });
    }
    let format = before.format;
    let nodata = options.nodata;
    let mut clouds =
        [(&before, &after), (&after, &before)].map(|(scene, other)| match options.clouds {
            CloudMasking::Auto => cloud::detect(scene, other, nodata),
            CloudMasking::None => CloudCover::clear(scene, nodata),
        });
    clouds[0].mask(&mut before);
    clouds[1].mask(&mut after);
    let (labels, names_and_kinds) = label_raster(regions, format)?;
    let mut kernel = kernel::open(options.device, format, &labels)?;
    let fit = |after: &Scene| match options.normalize {
        true => radiometry::fit(after, &before, nodata),
        false => Radiometry::IDENTITY,
    };
    let mut correction = fit(&after);
    kernel.load_scene(BEFORE, 0, before.clone(), Radiometry::IDENTITY)?;
    kernel.load_scene(AFTER, 0, after.clone(), correction)?;
    // Scenes too small for the search get no shift, unless one is needed to align them.
    let searchable = format.width.min(format.height) > 2 * options.search_radius;
    let shift = match searchable || options.align {
        true => coregister::estimate(
            kernel.as_mut(),
            BEFORE,
            AFTER,
            options.search_radius,
            nodata,
        )?,
        false => None,
    };
    if let Some(shift) = shift.filter(|_| options.align) {
        after = coregister::resample(&after, shift, nodata);
        correction = fit(&after);
        kernel.load_scene(AFTER, 0, after, correction)?;
    }
    let mut settings = ChangeSettings {
        threshold: options.threshold.unwrap_or(0),
        region_thresholds: Vec::new(),
        radius: options.smooth,
        nodata,
    };
    if options.threshold.is_none() {
        let measured = kernel.compare(
            BEFORE,
            AFTER,
            0..format.height,
            &settings,
            Outputs::default(),
        )?;
        let mut histogram = [0; HISTOGRAM_BINS];
        for region in &measured.regions {
            for (total, count) in histogram.iter_mut().zip(&region.histogram) {
                *total += count;
            }
        }
        settings.threshold = threshold::otsu_split(&histogram).unwrap_or(0);
    }
    let outputs = Outputs {
        change_mask: true,
        profiles: false,
    };
    let stats = kernel.compare(BEFORE, AFTER, 0..format.height, &settings, outputs)?;
    let regions = names_and_kinds
        .into_iter()
        .zip(&stats.regions)
        .map(|((name, kind), stats)| RegionChange {
            name,
            kind,
            valid_px: stats.valid_px,
            changed_px: stats.changed_px,
        })
        .collect();
    Ok(PairResult {
        backend: kernel.description(),
        format,
        threshold: settings.threshold,
        threshold_chosen: options.threshold.is_none(),
        correction,
        shift,
        aligned: options.align && shift.is_some(),
        clouds,
        regions,
        mask: stats.change_mask.expect("the change mask was asked for"),
    })
}

/// The label raster of the pair: the regions, then one more label for every pixel outside them (its
/// magnitudes count towards the threshold, not in any row); without regions, the whole image as one.
fn label_raster(
    regions: Option<&RegionSet>,
    format: SceneFormat,
) -> Result<(LabelRaster, Vec<(String, String)>)> {
    let (width, height) = (format.width, format.height);
    let Some(regions) = regions else {
        let words = vec![1 | 1 << 16; format.pixel_count().div_ceil(2)];
        let whole = (WHOLE_IMAGE.to_string(), WHOLE_IMAGE.to_string());
        return Ok((
            LabelRaster::from_words(width, height, 1, words)?,
            vec![whole],
        ));
    };
    let raster = LabelRaster::rasterize(regions, width, height)?;
    let outside = raster.region_count + 1;
    let mut words = raster.words;
    for pixel in 0..format.pixel_count() {
        let shift = (pixel % 2) * 16;
        if (words[pixel / 2] >> shift) & 0xffff == 0 {
            words[pixel / 2] |= outside << shift;
        }
    }
    let names = regions
        .regions
        .iter()
        .map(|r| (r.name.clone(), r.kind.clone()))
        .collect();
    Ok((
        LabelRaster::from_words(width, height, outside, words)?,
        names,
    ))
}
