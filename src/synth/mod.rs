//! `portwatch synth`: deterministic synthetic archives of a port (scenes, regions and ground truth), as
//! hard as real imagery, so that accuracy can be measured and the engine benchmarked without real imagery.
//!
//! The settings ([`SynthSpec`], from a [`Scenario`]'s defaults) are checked first; a [`Synthesizer`] then
//! lays the port out (`layout`), draws what happens and when (`plan`) and each scene's nuisances
//! (`nuisance`), and derives the truth (`truth`) before painting anything. Scenes are painted
//! (`paint` over `raster` and `geometry`) and written (`encode`) one at a time.

mod encode;
mod geometry;
mod layout;
mod nuisance;
mod paint;
mod plan;
mod raster;
mod scenario;
#[cfg(test)]
mod tests;
mod truth;

pub use encode::{Format, Raster, Samples};
pub use scenario::Scenario;

use crate::error::{Error, Result};
use crate::output::{write_atomically, write_png};
use chrono::{Datelike, NaiveDate};
use image::{GrayImage, Luma};
use layout::Layout;
use nuisance::SceneNuisance;
use plan::Plan;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use raster::Canvas;
use serde_json::json;
use std::path::Path;
use std::str::FromStr;
use std::sync::OnceLock;
use truth::Truth;

/// Days between consecutive acquisitions: drawn uniformly from `min_days..=max_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cadence {
    pub min_days: u32,
    pub max_days: u32,
}

impl Cadence {
    pub const fn days(min_days: u32, max_days: u32) -> Self {
        Self { min_days, max_days }
    }
}

impl FromStr for Cadence {
    type Err = String;

    /// `N` or `MIN-MAX`, in days.
    fn from_str(text: &str) -> Result<Self, String> {
        let days = |part: &str| {
            part.trim().parse::<u32>().map_err(|_| {
                format!("expected days as N or MIN-MAX (such as 2 or 1-3), found {text:?}")
            })
        };
        match text.split_once('-') {
            Some((min, max)) => Ok(Cadence::days(days(min)?, days(max)?)),
            None => days(text).map(|d| Cadence::days(d, d)),
        }
    }
}

/// Image size in pixels, written `WIDTHxHEIGHT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

impl FromStr for Size {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let parsed = text
            .split_once(['x', 'X'])
            .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)));
        parsed
            .map(|(width, height)| Size { width, height })
            .ok_or_else(|| {
                format!("expected WIDTHxHEIGHT in pixels (such as 512x512), found {text:?}")
            })
    }
}

/// The nuisances of real imagery, each drawn anew for every scene within these bounds.
#[derive(Debug, Clone, PartialEq)]
pub struct Nuisances {
    /// Standard deviation of the sensor noise, in levels of the 8-bit scale (x25 for 16-bit scenes).
    pub noise_dn: f64,
    /// Illumination gain: 1 ± this, common to all bands, plus ± half of it per band.
    pub gain_jitter: f64,
    /// Offset per band: ± this, in levels of the 8-bit scale.
    pub offset_jitter_dn: f64,
    /// Gamma per band: 1 ± this.
    pub gamma_jitter: f64,
    /// Haze: up to this fraction (0 to 1) of the signal replaced by scattered light, patchy.
    pub haze: f64,
    /// The chance that a scene has a cloud (with its shadow).
    pub cloud_probability: f64,
    /// Mis-registration: the scene is resampled shifted by up to ± this many pixels on each axis.
    pub misregistration_px: f64,
    /// The chance that a scene went through JPEG compression (quality 30 to 70) on its way.
    pub jpeg_probability: f64,
    /// Write `<stem>.mask.png` for each scene with a cloud.
    pub masks: bool,
}

/// Everything `portwatch synth` needs, checked by [`SynthSpec::validate`]; start from
/// [`Scenario::defaults`].
#[derive(Debug, Clone, PartialEq)]
pub struct SynthSpec {
    pub scenario: Scenario,
    /// Fixes every pixel and every event: the same spec writes the same bytes.
    pub seed: u64,
    pub width: u32,
    pub height: u32,
    pub start: NaiveDate,
    /// The last day an acquisition may fall on.
    pub end: NaiveDate,
    pub cadence: Cadence,
    /// Stop after this many scenes.
    pub max_scenes: Option<u32>,
    /// Ground sample distance, metres per pixel. Ships, containers and wagons keep their real size; the
    /// port layout scales with the image.
    pub gsd_m: f64,
    pub format: Format,
    /// 8 or 16 bits per sample.
    pub bits: u8,
    /// 3 (RGB) or 4 (RGB + near infrared).
    pub bands: usize,
    pub nuisances: Nuisances,
}

impl SynthSpec {
    /// Checks every setting, naming the flag at fault.
    pub fn validate(&self) -> Result<()> {
        let invalid = |flag: &str, why: String| Err(Error::Setting(format!("{flag}: {why}")));
        for (pixels, side) in [(self.width, "width"), (self.height, "height")] {
            if !(256..=16384).contains(&pixels) {
                return invalid(
                    "--size",
                    format!("{side} {pixels} px is outside 256 to 16384"),
                );
            }
        }
        if !(1.0..=10.0).contains(&self.gsd_m) {
            return invalid("--gsd", format!("{} m is outside 1 to 10", self.gsd_m));
        }
        if f64::from(self.width.min(self.height)) * self.gsd_m < 1000.0 {
            return invalid(
                "--size",
                format!(
                    "{}x{} px at {} m covers less than the 1 km a side the port needs",
                    self.width, self.height, self.gsd_m
                ),
            );
        }
        for (date, flag) in [(self.start, "--start"), (self.end, "--end")] {
            if !(1900..=2200).contains(&date.year()) {
                return invalid(flag, format!("{date} is outside the years 1900 to 2200"));
            }
        }
        if self.start > self.end {
            return invalid(
                "--start",
                format!("{} is after --end {}", self.start, self.end),
            );
        }
        let Cadence { min_days, max_days } = self.cadence;
        if min_days == 0 || min_days > max_days || max_days > 366 {
            return invalid(
                "--cadence",
                format!("{min_days}-{max_days} days: need 1 <= MIN <= MAX <= 366"),
            );
        }
        if self.max_scenes == Some(0) {
            return invalid("--scenes", "must be at least 1".into());
        }
        if ![8, 16].contains(&self.bits) {
            return invalid("--bit-depth", format!("{} is neither 8 nor 16", self.bits));
        }
        if ![3, 4].contains(&self.bands) {
            return invalid("--bands", format!("{} is neither 3 nor 4", self.bands));
        }
        if self.format == Format::Jpeg && (self.bits, self.bands) != (8, 3) {
            return invalid(
                "--format jpeg",
                format!(
                    "JPEG holds 8-bit RGB only, not {} bands of {} bits",
                    self.bands, self.bits
                ),
            );
        }
        let n = &self.nuisances;
        let knobs = [
            ("--noise", n.noise_dn, 50.0),
            ("--gain-jitter", n.gain_jitter, 0.5),
            ("--offset-jitter", n.offset_jitter_dn, 50.0),
            ("--gamma-jitter", n.gamma_jitter, 0.5),
            ("--haze", n.haze, 1.0),
            ("--cloud-probability", n.cloud_probability, 1.0),
            ("--misregistration", n.misregistration_px, 1.5),
            ("--jpeg-probability", n.jpeg_probability, 1.0),
        ];
        for (flag, value, max) in knobs {
            if !(0.0..=max).contains(&value) {
                return invalid(flag, format!("{value} is outside 0 to {max}"));
            }
        }
        Ok(())
    }

    fn scene_name(&self, date: NaiveDate) -> String {
        format!("{date}.{}", self.format.extension())
    }
}

/// A named region the engine watches; regions never share a pixel centre.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthRegion {
    pub name: String,
    /// `"berth"`, `"yard"` or `"rail"`.
    pub kind: String,
    /// Closed rings, one per part, in pixel coordinates (x right, y down, origin at the top-left pixel's
    /// corner): a berth or the siding is one rectangle, a yard its stacking blocks.
    pub polygons: Vec<Vec<[f64; 2]>>,
}

impl SynthRegion {
    /// Whether the point lies in one of the region's parts.
    pub fn contains(&self, p: [f64; 2]) -> bool {
        self.polygons.iter().any(|ring| geometry::contains(ring, p))
    }

    /// The least and greatest corners of the region's bounding box.
    pub fn bounds(&self) -> ([f64; 2], [f64; 2]) {
        geometry::bounds(self.polygons.concat().as_slice())
    }
}

/// One rendered acquisition.
#[derive(Debug, Clone, PartialEq)]
pub struct SynthScene {
    pub date: NaiveDate,
    pub raster: Raster,
    /// For a scene with a cloud: 0 = cloud or cloud shadow, 255 = valid.
    pub mask: Option<GrayImage>,
}

/// Independent random streams, so that changing one part of the renderer leaves the others alone.
#[derive(Clone, Copy)]
enum Stream {
    Plan,
    Background,
    Ship(usize),
    Stack(usize),
    Wagons(usize),
    Scene(usize),
}

impl Stream {
    fn rng(self, seed: u64) -> ChaCha8Rng {
        let (family, index) = match self {
            Stream::Plan => (0, 0),
            Stream::Background => (1, 0),
            Stream::Ship(k) => (2, k),
            Stream::Stack(k) => (3, k),
            Stream::Wagons(k) => (4, k),
            Stream::Scene(k) => (5, k),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream((family << 32) | index as u64);
        rng
    }
}

/// A planned archive: dates, activity, nuisances and truth are known; scenes are painted on demand, one
/// at a time, over a background painted once.
pub struct Synthesizer {
    spec: SynthSpec,
    layout: Layout,
    regions: Vec<SynthRegion>,
    plan: Plan,
    scenes: Vec<SceneNuisance>,
    truth: Truth,
    background: OnceLock<Canvas>,
}

impl Synthesizer {
    /// Checks `spec` and plans the archive; paints nothing yet.
    pub fn new(spec: &SynthSpec) -> Result<Self> {
        spec.validate()?;
        let layout = Layout::new(spec.width, spec.height, spec.gsd_m);
        let regions = layout.regions();
        let plan = Plan::draw(spec, &layout, &spec.scenario.activity())?;
        let mut scenes: Vec<SceneNuisance> = (0..plan.dates.len())
            .map(|k| {
                SceneNuisance::draw(
                    &layout,
                    &spec.nuisances,
                    &mut Stream::Scene(k).rng(spec.seed),
                )
            })
            .collect();
        // Every arrival is seen: a cloud hiding a ship's berth on the scene it arrives for is blown away.
        let (w, h) = (spec.width as usize, spec.height as usize);
        for visit in &plan.visits {
            let scene = &mut scenes[visit.seen];
            let berth = &layout.berths[visit.berth].name;
            let region = regions.iter().find(|r| &r.name == berth);
            let region = region.expect("every berth is a region");
            if truth::clouded_fraction(region, scene, w, h) > truth::UNOBSERVED_ABOVE {
                scene.cloud = None;
            }
        }
        let truth = Truth::compute(&layout, &regions, &plan, &scenes);
        Ok(Self {
            spec: spec.clone(),
            layout,
            regions,
            plan,
            scenes,
            truth,
            background: OnceLock::new(),
        })
    }

    pub fn dates(&self) -> &[NaiveDate] {
        &self.plan.dates
    }

    pub fn regions(&self) -> &[SynthRegion] {
        &self.regions
    }

    /// Renders scene `index` (in date order).
    pub fn render(&self, index: usize) -> SynthScene {
        let background = self
            .background
            .get_or_init(|| paint::paint_background(&self.layout, self.spec.seed));
        let date = self.plan.dates[index];
        let surface = paint::paint_date(background, &self.layout, &self.plan, self.spec.seed, date);
        let nuisance = &self.scenes[index];
        let raster = nuisance.expose(&surface, self.spec.bands, self.spec.bits);
        let mask = (nuisance.cloud.is_some() && self.spec.nuisances.masks).then(|| {
            GrayImage::from_fn(self.spec.width, self.spec.height, |x, y| {
                Luma([if nuisance.clear_at(x as usize, y as usize) {
                    255
                } else {
                    0
                }])
            })
        });
        SynthScene { date, raster, mask }
    }

    /// `truth.csv`: `date,region,kind,observed,occupied,fill_fraction,length_m`.
    pub fn truth_csv(&self) -> String {
        self.truth.csv(&self.plan.dates, &self.regions)
    }

    /// `truth_events.csv`: `date,region,kind,event,length_m`.
    pub fn events_csv(&self) -> String {
        self.truth.events_csv(&self.plan.dates, &self.regions)
    }

    /// Writes every scene (and its mask) into `dir`, created if missing, one scene at a time, then
    /// `regions.geojson`, `truth.csv` and `truth_events.csv`; each file atomically. Calls `progress` after
    /// each scene with its file name.
    pub fn write(&self, dir: &Path, mut progress: impl FnMut(&str)) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        for index in 0..self.plan.dates.len() {
            let scene = self.render(index);
            let name = self.spec.scene_name(scene.date);
            scene.raster.write(&dir.join(&name), self.spec.format)?;
            if let Some(mask) = &scene.mask {
                write_png(&dir.join(format!("{}.mask.png", scene.date)), mask)?;
            }
            progress(&name);
        }
        write_atomically(
            &dir.join("regions.geojson"),
            regions_geojson(&self.regions).as_bytes(),
        )?;
        write_atomically(&dir.join("truth.csv"), self.truth_csv().as_bytes())?;
        write_atomically(&dir.join("truth_events.csv"), self.events_csv().as_bytes())
    }
}

/// The regions as a pretty-printed GeoJSON FeatureCollection of pixel-coordinate polygons.
pub fn regions_geojson(regions: &[SynthRegion]) -> String {
    let features: Vec<_> = regions
        .iter()
        .map(|r| {
            json!({
                "type": "Feature",
                "properties": { "name": r.name, "kind": r.kind },
                "geometry": match r.polygons.as_slice() {
                    [ring] => json!({ "type": "Polygon", "coordinates": [ring] }),
                    parts => json!({
                        "type": "MultiPolygon",
                        "coordinates": parts.iter().map(|ring| [ring]).collect::<Vec<_>>(),
                    }),
                },
            })
        })
        .collect();
    let collection = json!({ "type": "FeatureCollection", "features": features });
    serde_json::to_string_pretty(&collection).expect("a JSON value always serializes")
}
