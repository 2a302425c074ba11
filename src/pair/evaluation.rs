//! `portwatch evaluate-pairs`: `pair`'s change masks scored against the labels of real change-detection
//! datasets, beside the classical baseline (change vector magnitude, Otsu threshold, no normalization)
//! computed here on the same pairs, so that the two are scored by the same code.
//!
//! Datasets, each found under the data folder when present: `levir-cd` and `dsifn-cd` (`A/NAME.png`
//! before, `B/NAME.png` after, `label/NAME.png`), `oscd-rgb` (`CITY/img1.png`, `CITY/img2.png`,
//! `CITY/cm.png`), where a label pixel is change when its first channel is at least 128; `oscd-13band`
//! (`CITY/imgs_1/` and `CITY/imgs_2/`, folders of the 13 Sentinel-2 band files, `CITY/cm/CITY-cm.tif`),
//! where a label pixel is 1 for no change and 2 for change, scored twice: `pair` on all 13 bands, then
//! on the four 10 m bands alone (`oscd-13band-10m`), the baseline on all 13 both times. Scores are pooled
//! over every pixel of every pair of a dataset.

use super::{PairOptions, compare, load_scene};
use crate::error::{Error, Result};
use crate::geotiff;
use crate::scene::{self, BandSelection, DecodeOptions, Scene};
use crate::statistics::otsu;
use std::fmt::Write;
use std::path::{Path, PathBuf};

/// The data folder: `$PORTWATCH_DATA`, else `../shared/data`.
pub fn data_folder() -> PathBuf {
    std::env::var_os("PORTWATCH_DATA")
        .map_or_else(|| PathBuf::from("../shared/data"), PathBuf::from)
}

/// The bands Sentinel-2 measures at 10 m, the grid of its band stacks and of OSCD's labels (B02, B03, B04,
/// B08, numbered in band order B01 … B08, B8A, B09 … B12): the `oscd-13band-10m` row compares these alone,
/// the bands on coarser grids being block-replicated there.
const SENTINEL_2_10M_BANDS: [u32; 4] = [2, 3, 4, 8];

/// Bins of the baseline's magnitude histogram, over 0 to the pair's largest magnitude.
const BASELINE_BINS: usize = 256;

/// One labelled pair.
#[derive(Clone, Debug)]
pub struct LabelledPair {
    pub before: PathBuf,
    pub after: PathBuf,
    pub label: PathBuf,
    pub coding: LabelCoding,
    /// The bands `pair` compares; the baseline compares every band.
    pub pair_bands: DecodeOptions,
}

/// How a label image marks change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LabelCoding {
    /// Change where the first channel is at least 128 (0 / 255 masks).
    Bright,
    /// 1 = no change, 2 = change (OSCD's GeoTIFF labels); any other value is an error.
    OneTwo,
}

/// Pixel counts of a mask against its labels.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Confusion {
    pub true_positives: u64,
    pub false_positives: u64,
    pub false_negatives: u64,
}

impl Confusion {
    fn add(&mut self, predicted: bool, actual: bool) {
        match (predicted, actual) {
            (true, true) => self.true_positives += 1,
            (true, false) => self.false_positives += 1,
            (false, true) => self.false_negatives += 1,
            (false, false) => {}
        }
    }

    pub fn precision(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_positives,
        )
    }

    pub fn recall(&self) -> f64 {
        ratio(
            self.true_positives,
            self.true_positives + self.false_negatives,
        )
    }

    /// 2 TP / (2 TP + FP + FN).
    pub fn f1(&self) -> f64 {
        ratio(
            2 * self.true_positives,
            2 * self.true_positives + self.false_positives + self.false_negatives,
        )
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// One dataset's scores.
#[derive(Clone, Debug)]
pub struct DatasetScore {
    pub name: String,
    pub pairs: usize,
    pub portwatch: Confusion,
    pub baseline: Confusion,
}

/// The labelled pairs of every dataset present under `data`, by name, in name order.
pub fn datasets(data: &Path) -> Result<Vec<(String, Vec<LabelledPair>)>> {
    let mut found = Vec::new();
    for name in ["levir-cd", "dsifn-cd"] {
        let dir = data.join(name);
        if dir.is_dir() {
            let pairs = sorted_files(&dir.join("A"))?
                .into_iter()
                .map(|before| {
                    let file = before.file_name().unwrap_or_default().to_owned();
                    LabelledPair {
                        after: dir.join("B").join(&file),
                        label: dir.join("label").join(&file),
                        before,
                        coding: LabelCoding::Bright,
                        pair_bands: DecodeOptions::default(),
                    }
                })
                .collect();
            found.push((name.to_string(), pairs));
        }
    }
    let oscd = data.join("oscd-rgb");
    if oscd.is_dir() {
        let pairs = sorted_files(&oscd)?
            .into_iter()
            .filter(|city| city.is_dir())
            .map(|city| LabelledPair {
                before: city.join("img1.png"),
                after: city.join("img2.png"),
                label: city.join("cm.png"),
                coding: LabelCoding::Bright,
                pair_bands: DecodeOptions::default(),
            })
            .collect();
        found.push(("oscd-rgb".to_string(), pairs));
    }
    let oscd_bands = data.join("oscd-13band");
    if oscd_bands.is_dir() {
        let cities: Vec<PathBuf> = sorted_files(&oscd_bands)?
            .into_iter()
            .filter(|city| city.is_dir())
            .collect();
        for (name, bands) in [
            ("oscd-13band", None),
            ("oscd-13band-10m", Some(SENTINEL_2_10M_BANDS)),
        ] {
            let pair_bands = DecodeOptions {
                bands: bands.map(|bands| {
                    BandSelection::new(bands.to_vec()).expect("four distinct bands from 1")
                }),
            };
            let pairs = cities
                .iter()
                .map(|city| {
                    let city_name = city.file_name().unwrap_or_default().to_string_lossy();
                    LabelledPair {
                        before: city.join("imgs_1"),
                        after: city.join("imgs_2"),
                        label: city.join("cm").join(format!("{city_name}-cm.tif")),
                        coding: LabelCoding::OneTwo,
                        pair_bands: pair_bands.clone(),
                    }
                })
                .collect();
            found.push((name.to_string(), pairs));
        }
    }
    Ok(found)
}

fn sorted_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| Error::input(dir, format!("cannot list: {e}")))?;
    let mut paths = entries
        .map(|entry| entry.map(|e| e.path()))
        .collect::<std::io::Result<Vec<_>>>()
        .map_err(|e| Error::input(dir, format!("cannot list: {e}")))?;
    paths.sort();
    Ok(paths)
}

/// Scores `pair` with `options`, and the baseline, on every dataset under `data`.
pub fn evaluate(data: &Path, options: &PairOptions) -> Result<Vec<DatasetScore>> {
    datasets(data)?
        .into_iter()
        .map(|(name, pairs)| {
            let mut score = DatasetScore {
                name,
                pairs: pairs.len(),
                portwatch: Confusion::default(),
                baseline: Confusion::default(),
            };
            for pair in &pairs {
                let every_band = DecodeOptions::default();
                let before = load_scene(&pair.before, &every_band)?;
                let after = load_scene(&pair.after, &every_band)?;
                let label = read_label(pair, &before)?;
                let baseline = baseline_mask(&before, &after);
                let (before, after) = match pair.pair_bands == every_band {
                    true => (before, after),
                    false => (
                        load_scene(&pair.before, &pair.pair_bands)?,
                        load_scene(&pair.after, &pair.pair_bands)?,
                    ),
                };
                let result = compare(before, after, [&pair.before, &pair.after], None, options)?;
                for (pixel, &actual) in label.iter().enumerate() {
                    let (x, y) = (
                        pixel as u32 % result.format.width,
                        pixel as u32 / result.format.width,
                    );
                    score.portwatch.add(result.mask.is_changed(x, y), actual);
                    score.baseline.add(baseline[pixel], actual);
                }
            }
            Ok(score)
        })
        .collect()
}

/// The change labels of `pair`, refused unless of `scene`'s size and, when both are georeferenced, on
/// its grid.
fn read_label(pair: &LabelledPair, scene: &Scene) -> Result<Vec<bool>> {
    let path = pair.label.as_path();
    let image = image::open(path)
        .map_err(|e| Error::input(path, format!("cannot read the labels: {e}")))?
        .into_rgb8();
    if let Some(labels) = geotiff::georeference_of(path)?
        && let Some(scenes) = scene::georeference_of(&pair.before)?
        && !labels.same_grid(&scenes)
    {
        return Err(Error::input(
            path,
            format!("labels lie on {labels} but the scenes on {scenes}"),
        ));
    }
    let format = scene.format;
    if (image.width(), image.height()) != (format.width, format.height) {
        return Err(Error::input(
            path,
            format!(
                "labels are {}x{} px but the scenes are {}x{} px",
                image.width(),
                image.height(),
                format.width,
                format.height
            ),
        ));
    }
    match pair.coding {
        LabelCoding::Bright => Ok(image.pixels().map(|p| p.0[0] >= 128).collect()),
        LabelCoding::OneTwo => (image.enumerate_pixels())
            .map(|(x, y, p)| match p.0[0] {
                1 => Ok(false),
                2 => Ok(true),
                other => Err(Error::input(
                    path,
                    format!("label {other} at ({x}, {y}): expected 1 (no change) or 2 (change)"),
                )),
            })
            .collect(),
    }
}

/// The classical baseline: per pixel, the Euclidean norm of the difference of the raw samples of every
/// band, changed above Otsu's split of the magnitudes' histogram ([`BASELINE_BINS`] bins from 0 to the
/// largest magnitude). Every pixel counts: no mask, no nodata.
pub fn baseline_mask(before: &Scene, after: &Scene) -> Vec<bool> {
    let bands = before.format.bands as usize;
    let magnitudes: Vec<f64> = (0..before.format.pixel_count())
        .map(|p| {
            (0..bands)
                .map(|b| (f64::from(before.sample(p, b)) - f64::from(after.sample(p, b))).powi(2))
                .sum::<f64>()
                .sqrt()
        })
        .collect();
    let largest = magnitudes.iter().copied().fold(0.0, f64::max);
    if largest == 0.0 {
        return vec![false; magnitudes.len()];
    }
    let bin_of = |m: f64| ((m / largest * BASELINE_BINS as f64) as usize).min(BASELINE_BINS - 1);
    let mut counts = vec![0.0; BASELINE_BINS];
    for &m in &magnitudes {
        counts[bin_of(m)] += 1.0;
    }
    let values: Vec<f64> = (0..BASELINE_BINS)
        .map(|bin| (bin as f64 + 0.5) * largest / BASELINE_BINS as f64)
        .collect();
    let split = otsu(&counts, &values).unwrap_or(BASELINE_BINS);
    magnitudes.iter().map(|&m| bin_of(m) >= split).collect()
}

/// The scores as a Markdown table: per dataset, pairs, then precision, recall and F1 of `pair` and of
/// the baseline, and the ratio of the F1 scores.
pub fn render_table(scores: &[DatasetScore]) -> String {
    let mut table = String::from(
        "| dataset | pairs | pair precision | pair recall | pair F1 | baseline precision | baseline recall | baseline F1 | F1 ratio |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for score in scores {
        let (p, b) = (&score.portwatch, &score.baseline);
        let ratio = if b.f1() > 0.0 {
            format!("{:.2}", p.f1() / b.f1())
        } else {
            "n/a".to_string()
        };
        let _ = writeln!(
            table,
            "| {} | {} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {ratio} |",
            score.name,
            score.pairs,
            p.precision(),
            p.recall(),
            p.f1(),
            b.precision(),
            b.recall(),
            b.f1()
        );
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_count_pixels() {
        let mut c = Confusion::default();
        for (p, a) in [
            (true, true),
            (true, false),
            (false, true),
            (false, false),
            (true, true),
        ] {
            c.add(p, a);
        }
        assert_eq!((c.precision(), c.recall()), (2.0 / 3.0, 2.0 / 3.0));
        assert!((c.f1() - 2.0 / 3.0).abs() < 1e-12);
    }

    #[test]
    fn one_two_labels_are_read_on_the_scenes_grid() {
        use crate::geotiff::{Crs, encode_8bit, georeference};
        use tiff::encoder::colortype::Gray8;
        let dir = tempfile::tempdir().unwrap();
        let crs = Crs {
            epsg: 4326,
            geographic: true,
            metres_per_unit: None,
        };
        let grid = |x0: f64| georeference(crs, [x0, 1e-4, 0.0, 19.1, 0.0, -1e-4]);
        let write = |name: &str, samples: &[u8], x0: f64| {
            let path = dir.path().join(name);
            std::fs::write(
                &path,
                encode_8bit::<Gray8>(3, 1, samples, Some(&grid(x0))).unwrap(),
            )
            .unwrap();
            path
        };
        let pair = |label: PathBuf| LabelledPair {
            before: write("before.tif", &[9, 9, 9], 72.9),
            after: write("after.tif", &[9, 9, 9], 72.9),
            label,
            coding: LabelCoding::OneTwo,
            pair_bands: DecodeOptions::default(),
        };
        let scene = Scene::from_u8(3, 1, 1, &[9, 9, 9]);
        let labels = pair(write("cm.tif", &[1, 2, 1], 72.9));
        assert_eq!(read_label(&labels, &scene).unwrap(), [false, true, false]);
        let unknown = pair(write("zero.tif", &[1, 0, 2], 72.9));
        let error = read_label(&unknown, &scene).unwrap_err().to_string();
        assert!(error.contains("zero.tif: label 0 at (1, 0)"), "{error}");
        let elsewhere = pair(write("moved.tif", &[1, 2, 1], 73.0));
        let error = read_label(&elsewhere, &scene).unwrap_err().to_string();
        assert!(
            error.contains("moved.tif: labels lie on EPSG:4326, origin (73"),
            "{error}"
        );
    }

    #[test]
    fn the_baseline_finds_a_bright_square() {
        let before = Scene::from_u8(10, 10, 3, &[50; 300]);
        let mut samples = vec![52u8; 300];
        for p in [11, 12, 21, 22] {
            samples[p * 3..p * 3 + 3].fill(200);
        }
        let mask = baseline_mask(&before, &Scene::from_u8(10, 10, 3, &samples));
        let changed: Vec<usize> = (0..100).filter(|&p| mask[p]).collect();
        assert_eq!(changed, [11, 12, 21, 22]);
    }
}
