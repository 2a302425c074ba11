//! `run.json`: what a run used, written beside its outputs so that later commands (`portwatch report`, and
//! anything that must refuse to mix runs made with different arguments) can work from the output
//! directory alone: the archive and regions it read, every argument that affects the results, and the two
//! things the run derived that are needed to compute a change mask again exactly (the threshold applied
//! to consecutive pairs and each scene's radiometric correction).

use crate::acquisition::Acquisition;
use crate::cloud::CloudMasking;
use crate::error::{Error, Result};
use crate::kernel::Radiometry;
use crate::output::RasterFormat;
use crate::prepare::Prepared;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

pub const RUN_RECORD_FILE: &str = "run.json";

/// The version of the `run.json` layout; raised when a field changes meaning or is removed.
pub const RUN_RECORD_VERSION: u32 = 1;

/// Every argument of `portwatch run` that affects its results; two runs with equal arguments over the same
/// files write the same results. Output-only flags (`--out`, `--device`, `--masks`, `--report`, `--quiet`)
/// are left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunArguments {
    /// The archive directory, absolute.
    pub archive: PathBuf,
    /// The regions file, absolute.
    pub regions: PathBuf,
    /// `--threshold`; `None` when chosen from the data.
    pub threshold: Option<u32>,
    /// `--smooth`.
    pub smooth: u32,
    /// `false` with `--no-normalize`.
    pub normalize: bool,
    /// `--background-window`; `None` for the whole archive.
    pub background_window: Option<u32>,
    /// `--min-valid`.
    pub min_valid: f64,
    /// `--gsd`; `None` when unknown.
    pub gsd: Option<f64>,
    /// `--berth-occupied`.
    pub berth_occupied: f64,
    /// `--yard-occupied`.
    pub yard_occupied: f64,
    /// `--nodata`; `None` for `none`.
    pub nodata: Option<u32>,
    /// `--cloud-mask`; `none` in records written before the flag existed.
    #[serde(default = "no_cloud_mask")]
    pub cloud_mask: CloudMasking,
    /// `--align`.
    #[serde(default)]
    pub align: bool,
    /// `--search-radius`.
    #[serde(default = "default_search_radius")]
    pub search_radius: u32,
    /// `--bands`, numbered from 1; `None` for every band.
    #[serde(default)]
    pub bands: Option<Vec<u32>>,
}

fn no_cloud_mask() -> CloudMasking {
    CloudMasking::None
}

fn default_search_radius() -> u32 {
    crate::coregister::DEFAULT_SEARCH_RADIUS
}

/// One scene's radiometric correction, `corrected = gain · sample + offset` per band on the native sample
/// scale (the values are exact multiples of 1/4096, the kernels' fixed point), and what preparing it found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SceneCorrection {
    /// The acquisition, written as in `pairs.csv` (`YYYY-MM-DD`, with `THH:MM:SS` when the file name has a time).
    pub scene: String,
    pub gain: Vec<f64>,
    pub offset: Vec<f64>,
    /// The fractions of the scene's valid pixels found to be cloud and cloud shadow with
    /// `--cloud-mask auto` (4 decimals); `None` without.
    #[serde(default)]
    pub cloud_fraction: Option<f64>,
    #[serde(default)]
    pub shadow_fraction: Option<f64>,
    /// The shift `--align` measured and resampled away, [dx, dy] px (3 decimals); `None` without.
    #[serde(default)]
    pub shift: Option<[f64; 2]>,
}

impl SceneCorrection {
    pub fn new(acquired: Acquisition, radiometry: &Radiometry, bands: usize) -> SceneCorrection {
        let (gain, offset) = radiometry.to_linear(bands);
        SceneCorrection {
            scene: acquired.to_string(),
            gain,
            offset,
            cloud_fraction: None,
            shadow_fraction: None,
            shift: None,
        }
    }

    /// Records what preparing the scene found: its clouds when `clouds_masked`, its shift when aligned.
    pub fn with_preparation(mut self, prepared: &Prepared, clouds_masked: bool) -> SceneCorrection {
        let round = |v: f64, scale: f64| (v * scale).round() / scale;
        if clouds_masked {
            self.cloud_fraction = Some(round(prepared.clouds.cloud_fraction(), 1e4));
            self.shadow_fraction = Some(round(prepared.clouds.shadow_fraction(), 1e4));
        }
        self.shift = prepared.shift.map(|s| [round(s.dx, 1e3), round(s.dy, 1e3)]);
        self
    }

    /// The fixed-point correction the run applied to this scene.
    pub fn radiometry(&self, bits_per_sample: u32) -> Radiometry {
        Radiometry::from_linear(&self.gain, &self.offset, bits_per_sample)
    }
}

/// What `run.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RunRecord {
    /// [`RUN_RECORD_VERSION`].
    pub version: u32,
    /// The portwatch version that made the run.
    pub portwatch: String,
    pub arguments: RunArguments,
    /// The threshold applied to consecutive pairs (`pairs.csv`, change scores, masks, the heatmap): the
    /// given one, or the one chosen from the data.
    pub pair_threshold: u32,
    /// Each scene's correction, in acquisition order (identity everywhere with `--no-normalize`).
    pub corrections: Vec<SceneCorrection>,
    /// The formats `heatmap` and `background` were written in (`--raster-format`).
    #[serde(default)]
    pub rasters: RasterFormat,
}

impl RunRecord {
    pub fn new(
        arguments: RunArguments,
        pair_threshold: u32,
        corrections: Vec<SceneCorrection>,
        rasters: RasterFormat,
    ) -> RunRecord {
        RunRecord {
            version: RUN_RECORD_VERSION,
            portwatch: env!("CARGO_PKG_VERSION").to_owned(),
            arguments,
            pair_threshold,
            corrections,
            rasters,
        }
    }

    /// The record as written to `run.json`, pretty-printed with a final newline.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a run record always encodes") + "\n"
    }

    /// Reads `run.json` in the output directory `dir`.
    pub fn read(dir: &Path) -> Result<RunRecord> {
        let path = dir.join(RUN_RECORD_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| {
            Error::input(
                &path,
                format!("cannot read ({e}); is this the output directory of `portwatch run`?"),
            )
        })?;
        let record: RunRecord = serde_json::from_str(&text)
            .map_err(|e| Error::input(&path, format!("not a run record: {e}")))?;
        if record.version != RUN_RECORD_VERSION {
            return Err(Error::input(
                &path,
                format!(
                    "run record version {} is not the one this portwatch reads ({RUN_RECORD_VERSION})",
                    record.version
                ),
            ));
        }
        Ok(record)
    }

    /// The correction of the scene acquired at `acquired`, for scenes of `bits_per_sample` bits; an error
    /// naming `run.json` in `dir` when the record has none.
    pub fn radiometry_of(
        &self,
        acquired: Acquisition,
        bits_per_sample: u32,
        dir: &Path,
    ) -> Result<Radiometry> {
        let scene = acquired.to_string();
        self.corrections
            .iter()
            .find(|c| c.scene == scene)
            .map(|c| c.radiometry(bits_per_sample))
            .ok_or_else(|| {
                Error::input(
                    dir.join(RUN_RECORD_FILE),
                    format!("no correction for the scene {scene}"),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arguments() -> RunArguments {
        RunArguments {
            archive: "/data/rajin".into(),
            regions: "/data/rajin/regions.geojson".into(),
            threshold: None,
            smooth: 1,
            normalize: true,
            background_window: Some(5),
            min_valid: 0.5,
            gsd: Some(3.0),
            berth_occupied: 0.25,
            yard_occupied: 0.05,
            nodata: Some(0),
            cloud_mask: CloudMasking::None,
            align: false,
            search_radius: 3,
            bands: Some(vec![4, 3, 2]),
        }
    }

    #[test]
    fn corrections_round_trip_exactly_through_json() {
        let mut radiometry = Radiometry::IDENTITY;
        radiometry.gain[..4].copy_from_slice(&[4096 + 97, 4096 - 301, 12345, 4096]);
        radiometry.offset[..4].copy_from_slice(&[-8191, 5, 0, 4096]);
        let acquired = Acquisition::from_stem("2023-08-06").unwrap();
        let record = RunRecord::new(
            arguments(),
            42,
            vec![SceneCorrection::new(acquired, &radiometry, 3)],
            RasterFormat::Both,
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(RUN_RECORD_FILE), record.to_json()).unwrap();
        let read = RunRecord::read(dir.path()).unwrap();
        assert_eq!(read, record);
        // The three bands recorded come back exactly; the others are the identity.
        let mut expected = radiometry;
        expected.offset[3] = 0;
        assert_eq!(
            read.radiometry_of(acquired, 8, dir.path()).unwrap(),
            expected
        );
        let missing = Acquisition::from_stem("2023-08-07").unwrap();
        let error = read.radiometry_of(missing, 8, dir.path()).unwrap_err();
        assert!(error.to_string().contains("2023-08-07"), "{error}");
    }

    #[test]
    fn a_missing_or_foreign_record_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let error = RunRecord::read(dir.path()).unwrap_err().to_string();
        assert!(
            error.contains("run.json") && error.contains("portwatch run"),
            "{error}"
        );
        std::fs::write(dir.path().join(RUN_RECORD_FILE), "{\"version\": 1}").unwrap();
        let error = RunRecord::read(dir.path()).unwrap_err().to_string();
        assert!(error.contains("not a run record"), "{error}");
    }
}
