//! Deterministic synthetic port archive (scenes, regions, ground truth), so samples, demos and tests need no real imagery.

use std::collections::HashMap;
use std::fs;
use std::ops::RangeInclusive;
use std::path::Path;

use chrono::{Days, NaiveDate};
use image::{GrayImage, Luma, RgbImage};

use crate::error::{Error, Result};
use crate::output::{write_atomically, write_png};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::json;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// What to render. The seed fixes every pixel and every event.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleSpec {
    pub width: u32,
    pub height: u32,
    /// Date of the first scene; later scenes follow at intervals of 1 to 5 days.
    pub start: NaiveDate,
    pub scenes: u32,
    pub seed: u64,
    /// Ground sample distance (metres per pixel). Ships, containers and wagons keep their
    /// real size; the port layout scales with the image.
    pub gsd_m: f64,
}

impl Default for SampleSpec {
    fn default() -> Self {
        Self {
            width: 512,
            height: 512,
            start: NaiveDate::from_ymd_opt(2023, 8, 1).expect("valid date"),
            scenes: 24,
            seed: 1,
            gsd_m: 3.0,
        }
    }
}

impl SampleSpec {
    /// Checks that the port fits: 256 to 16384 pixels a side, 1 to 10 m GSD, at least 1 km of
    /// ground a side, and at least one scene.
    pub fn validate(&self) -> Result<()> {
        let invalid = |why: String| Err(Error::Setting(format!("invalid sample spec: {why}")));
        for (side, pixels) in [("width", self.width), ("height", self.height)] {
            if !(256..=16384).contains(&pixels) {
                return invalid(format!("{side} {pixels} px is outside 256..=16384"));
            }
            if f64::from(pixels) * self.gsd_m < 1000.0 {
                return invalid(format!("{side} covers less than 1 km of ground"));
            }
        }
        if !(1.0..=10.0).contains(&self.gsd_m) {
            return invalid(format!("gsd {} m is outside 1..=10", self.gsd_m));
        }
        if !(1..=10_000).contains(&self.scenes) {
            return invalid(format!("{} scenes is outside 1..=10000", self.scenes));
        }
        let margin = Days::new(u64::from(self.scenes) * 5 + 60);
        if self.start.checked_sub_days(margin).is_none()
            || self.start.checked_add_days(margin).is_none()
        {
            return invalid(format!(
                "start {} is too close to the calendar's end",
                self.start
            ));
        }
        Ok(())
    }
}

/// A rendered archive and its ground truth. Visits and wagon stays are in order of arrival,
/// `yard_fills[k]` holds the containers for `visits[k]`, and every event is seen by at least
/// one scene.
#[derive(Debug, Clone)]
pub struct SampleArchive {
    pub scenes: Vec<SampleScene>,
    pub regions: Vec<SampleRegion>,
    pub visits: Vec<Visit>,
    pub yard_fills: Vec<YardFill>,
    pub wagon_stays: Vec<WagonStay>,
}

/// One acquisition: an 8-bit RGB image that is never all-zero (the engine's nodata value).
#[derive(Debug, Clone)]
pub struct SampleScene {
    pub date: NaiveDate,
    pub image: RgbImage,
    /// Present only for cloudy scenes: 0 = invalid (cloud or cloud shadow), 255 = valid.
    pub cloud_mask: Option<GrayImage>,
}

/// A named region the engine watches; regions never share a pixel centre.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRegion {
    pub name: String,
    /// `"berth"`, `"yard"` or `"rail"`.
    pub kind: String,
    /// Closed ring in pixel coordinates (x right, y down, origin at the top-left pixel's corner).
    pub polygon: Vec<[f64; 2]>,
}

/// A ship moored at a berth: present on scene dates `arrival <= date < departure`.
#[derive(Debug, Clone, PartialEq)]
pub struct Visit {
    pub region: String,
    pub arrival: NaiveDate,
    pub departure: NaiveDate,
    pub length_m: f64,
}

/// Containers stacked in a yard for the ship at `berth`: present on `filled <= date < cleared`.
#[derive(Debug, Clone, PartialEq)]
pub struct YardFill {
    pub region: String,
    pub berth: String,
    pub filled: NaiveDate,
    pub cleared: NaiveDate,
}

/// Wagons standing on the siding: present on `arrival <= date < departure`.
#[derive(Debug, Clone, PartialEq)]
pub struct WagonStay {
    pub region: String,
    pub arrival: NaiveDate,
    pub departure: NaiveDate,
    pub wagons: u32,
}

impl SampleArchive {
    /// Whether `region` is occupied on `date`: a ship at a berth, containers in a yard, wagons on the siding.
    pub fn occupied(&self, region: &str, date: NaiveDate) -> bool {
        fn any<T: Occupancy>(events: &[T], region: &str, date: NaiveDate) -> bool {
            events
                .iter()
                .any(|e| e.region() == region && e.covers(date))
        }
        any(&self.visits, region, date)
            || any(&self.yard_fills, region, date)
            || any(&self.wagon_stays, region, date)
    }

    /// Writes into `dir` (created if missing) `YYYY-MM-DD.png` per scene, `YYYY-MM-DD.mask.png`
    /// per cloudy scene, `regions.geojson` and `truth.csv`. Each file is written to
    /// `<name>.tmp` and renamed into place; files from earlier runs are left alone.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        fs::create_dir_all(dir).map_err(|source| Error::Write {
            path: dir.to_path_buf(),
            source,
        })?;
        for scene in &self.scenes {
            write_png(&dir.join(format!("{}.png", scene.date)), &scene.image)?;
            if let Some(mask) = &scene.cloud_mask {
                write_png(&dir.join(format!("{}.mask.png", scene.date)), mask)?;
            }
        }
        let geojson = regions_geojson(&self.regions);
        write_atomically(&dir.join("regions.geojson"), geojson.as_bytes())?;
        write_atomically(&dir.join("truth.csv"), self.truth_csv().as_bytes())
    }

    /// `date,region,kind,occupied` with one row per scene and region.
    pub fn truth_csv(&self) -> String {
        let mut csv = String::from("date,region,kind,occupied\n");
        for scene in &self.scenes {
            for region in &self.regions {
                let occupied = u8::from(self.occupied(&region.name, scene.date));
                csv += &format!(
                    "{},{},{},{occupied}\n",
                    scene.date, region.name, region.kind
                );
            }
        }
        csv
    }
}

/// Renders the archive described by `spec`.
///
/// # Panics
/// If `spec` fails [`SampleSpec::validate`].
pub fn render_sample(spec: &SampleSpec) -> SampleArchive {
    if let Err(e) = spec.validate() {
        panic!("{e}");
    }
    let port = Port::new(spec);
    let base = port.paint_background();
    let scenes = (0..port.plan.dates.len())
        .map(|i| port.render_scene(&base, i))
        .collect();
    port.into_archive(scenes)
}

/// Renders `spec` and writes it into `dir`; see [`SampleArchive::write_to`].
pub fn write_sample(spec: &SampleSpec, dir: &Path) -> Result<()> {
    spec.validate()?;
    render_sample(spec).write_to(dir)
}

/// The regions as a pretty-printed GeoJSON FeatureCollection of pixel-coordinate polygons.
pub fn regions_geojson(regions: &[SampleRegion]) -> String {
    let features: Vec<_> = regions
        .iter()
        .map(|r| {
            json!({
                "type": "Feature",
                "properties": { "name": r.name, "kind": r.kind },
                "geometry": { "type": "Polygon", "coordinates": [r.polygon] },
            })
        })
        .collect();
    let collection = json!({ "type": "FeatureCollection", "features": features });
    serde_json::to_string_pretty(&collection).expect("a JSON value always serializes")
}

// ---------------------------------------------------------------------------
// Ground truth: dates and activity
// ---------------------------------------------------------------------------

const SCENE_GAP_DAYS: RangeInclusive<u64> = 1..=5;
const CLOUDY_SCENES: RangeInclusive<usize> = 2..=3;
const SHIP_LENGTH_M: RangeInclusive<f64> = 80.0..=200.0;
const SHIP_STAY_DAYS: RangeInclusive<u64> = 2..=6;
/// At least two idle days, so a berth's containers are cleared before the next ship's arrive.
const BERTH_IDLE_DAYS: RangeInclusive<u64> = 2..=10;
const FILL_LEAD_DAYS: RangeInclusive<u64> = 1..=4;
const WAGON_STAY_DAYS: RangeInclusive<u64> = 1..=4;
const WAGON_IDLE_DAYS: RangeInclusive<u64> = 1..=7;

/// Events that occupy a region over a half-open span of dates.
trait Occupancy {
    fn region(&self) -> &str;
    fn span(&self) -> (NaiveDate, NaiveDate);

    fn covers(&self, date: NaiveDate) -> bool {
        let (from, to) = self.span();
        (from..to).contains(&date)
    }
}

impl Occupancy for Visit {
    fn region(&self) -> &str {
        &self.region
    }
    fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.arrival, self.departure)
    }
}

impl Occupancy for YardFill {
    fn region(&self) -> &str {
        &self.region
    }
    fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.filled, self.cleared)
    }
}

impl Occupancy for WagonStay {
    fn region(&self) -> &str {
        &self.region
    }
    fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.arrival, self.departure)
    }
}

fn active<T: Occupancy>(events: &[T], date: NaiveDate) -> impl Iterator<Item = (usize, &T)> {
    events
        .iter()
        .enumerate()
        .filter(move |(_, e)| e.covers(date))
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

/// Everything drawn from the seed before painting.
struct Plan {
    dates: Vec<NaiveDate>,
    visits: Vec<Visit>,
    yard_fills: Vec<YardFill>,
    wagon_stays: Vec<WagonStay>,
    cloudy: Vec<usize>,
}

impl Plan {
    fn draw(spec: &SampleSpec, layout: &Layout) -> Self {
        let mut rng = Stream::Plan.rng(spec.seed);
        let dates = scene_dates(spec.start, spec.scenes, &mut rng);
        let visits = draw_visits(layout, &dates, &mut rng);
        let yard_fills = draw_yard_fills(layout, &visits, &mut rng);
        let wagon_stays = busy_spans(&dates, WAGON_IDLE_DAYS, WAGON_STAY_DAYS, &mut rng)
            .into_iter()
            .map(|(arrival, departure)| WagonStay {
                region: layout.siding.name.clone(),
                arrival,
                departure,
                wagons: rng.random_range(layout.siding.capacity / 3..=layout.siding.capacity),
            })
            .collect();
        let cloudy_count = rng.random_range(CLOUDY_SCENES).min(dates.len());
        let mut cloudy = rand::seq::index::sample(&mut rng, dates.len(), cloudy_count).into_vec();
        cloudy.sort_unstable();
        Self {
            dates,
            visits,
            yard_fills,
            wagon_stays,
            cloudy,
        }
    }
}

fn scene_dates(start: NaiveDate, scenes: u32, rng: &mut ChaCha8Rng) -> Vec<NaiveDate> {
    let mut dates = vec![start];
    for _ in 1..scenes {
        let last = dates[dates.len() - 1];
        dates.push(last + Days::new(rng.random_range(SCENE_GAP_DAYS)));
    }
    dates
}

/// Alternating idle and busy spans (half-open) around the scene dates, keeping the busy spans
/// that at least one scene sees.
fn busy_spans(
    dates: &[NaiveDate],
    idle: RangeInclusive<u64>,
    busy: RangeInclusive<u64>,
    rng: &mut ChaCha8Rng,
) -> Vec<(NaiveDate, NaiveDate)> {
    let (first, last) = (dates[0], dates[dates.len() - 1]);
    let mut day = first - Days::new(*busy.end());
    let mut spans = Vec::new();
    loop {
        let start = day + Days::new(rng.random_range(idle.clone()));
        if start > last {
            return spans;
        }
        let end = start + Days::new(rng.random_range(busy.clone()));
        if dates.iter().any(|d| (start..end).contains(d)) {
            spans.push((start, end));
        }
        day = end;
    }
}

fn draw_visits(layout: &Layout, dates: &[NaiveDate], rng: &mut ChaCha8Rng) -> Vec<Visit> {
    let mut visits = Vec::new();
    for berth in &layout.berths {
        for (arrival, departure) in busy_spans(dates, BERTH_IDLE_DAYS, SHIP_STAY_DAYS, rng) {
            let length_m = rng
                .random_range(SHIP_LENGTH_M)
                .min(layout.max_ship_m)
                .round();
            visits.push(Visit {
                region: berth.name.clone(),
                arrival,
                departure,
                length_m,
            });
        }
    }
    visits.sort_by(|a, b| (a.arrival, &a.region).cmp(&(b.arrival, &b.region)));
    visits
}

/// Containers for each ship arrive 1 to 4 days ahead (never before the berth's previous stack
/// is cleared) and leave on departure day or the day after.
fn draw_yard_fills(layout: &Layout, visits: &[Visit], rng: &mut ChaCha8Rng) -> Vec<YardFill> {
    let mut last_cleared: Vec<Option<NaiveDate>> = vec![None; layout.berths.len()];
    visits
        .iter()
        .map(|visit| {
            let berth = layout.berth_index(&visit.region);
            let ahead = visit.arrival - Days::new(rng.random_range(FILL_LEAD_DAYS));
            let filled = last_cleared[berth].map_or(ahead, |c| c.max(ahead));
            let cleared = visit.departure + Days::new(rng.random_range(0..=1));
            last_cleared[berth] = Some(cleared);
            let yard = &layout.yards[rng.random_range(0..layout.yards.len())];
            YardFill {
                region: yard.name.clone(),
                berth: visit.region.clone(),
                filled,
                cleared,
            }
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Layout: where everything is, in pixels
// ---------------------------------------------------------------------------

/// Shadow displacement per metre of height, in metres: sun in the south-east, about 53° up.
const SHADOW_PER_M: P = [-0.6, -0.45];
const BERTH_COUNT: usize = 3;
const BEAM_RATIO: f64 = 7.0;
const FENDER_M: f64 = 3.0;
const BERTH_SLACK_M: f64 = 8.0;
const APRON_M: f64 = 40.0;
const CONTAINER_M: [f64; 2] = [6.1, 2.44];
const TIER_M: f64 = 2.6;
const BLOCK_SLOTS: [usize; 2] = [16, 6];
const TRACK_SPACING_M: f64 = 15.0;
const WAGON_M: [f64; 2] = [15.0, 3.0];
const WAGON_GAP_M: f64 = 1.5;
const CRANE_HEIGHT_M: f64 = 42.0;
const CLOUD_HEIGHT_M: f64 = 200.0;

/// Wagon spacing along the track in pixels; the gap is kept visible at coarse GSD.
fn wagon_pitch(ppm: f64) -> f64 {
    (WAGON_M[0] + WAGON_GAP_M) * ppm + (1.0 - WAGON_GAP_M * ppm).max(0.0)
}

fn superstructure_height_m(length_m: f64) -> f64 {
    14.0 + 0.1 * length_m
}

fn freeboard_m(length_m: f64) -> f64 {
    5.0 + 0.02 * length_m
}

struct Berth {
    name: String,
    rect: Rect,
}

struct Yard {
    name: String,
    ring: Vec<P>,
    /// Pixel-aligned stacking blocks, in reading order.
    blocks: Vec<Rect>,
}

impl Yard {
    /// The contiguous share of blocks that serves berth `share` of `shares`.
    fn blocks_for(&self, share: usize, shares: usize) -> &[Rect] {
        let n = self.blocks.len();
        &self.blocks[n * share / shares..n * (share + 1) / shares]
    }
}

struct Siding {
    name: String,
    rect: Rect,
    tracks: [f64; 2],
    /// Extent along the tracks where wagons may stand.
    wagon_span: [f64; 2],
    capacity: u32,
}

enum Roof {
    Gable,
    Flat,
}

struct Building {
    rect: Rect,
    roof: Roof,
    height_m: f64,
}

/// A straight structural member between two points at given heights (metres), seen from above.
struct Strut {
    a: P,
    b: P,
    heights: [f64; 2],
    width: f64,
}

struct Layout {
    width: f64,
    height: f64,
    /// Pixels per metre.
    ppm: f64,
    /// Shadow displacement in pixels per metre of height.
    shadow: P,
    quay_x: f64,
    apron_x1: f64,
    breakwater: Rect,
    berths: Vec<Berth>,
    max_ship_m: f64,
    yards: Vec<Yard>,
    siding: Siding,
    /// Centre lines and widths of roads.
    roads: Vec<(P, P, f64)>,
    buildings: Vec<Building>,
    tank_farm: Rect,
    parking: Vec<Rect>,
    groves: Vec<Rect>,
    cranes: Vec<Vec<Strut>>,
    masts: Vec<Vec<Strut>>,
}

impl Layout {
    fn new(spec: &SampleSpec) -> Self {
        let zones = Zones::new(spec);
        let ppm = zones.ppm;
        let (berths, max_ship_m) = berth_strips(zones.quay_x, zones.fy(0.03), zones.fy(0.97), ppm);
        let (yards, mast_sites) = zones.yards();
        let cranes = berths
            .iter()
            .flat_map(|b| [0.28, 0.72].map(|f| b.rect.y0 + f * b.rect.height()))
            .map(|y| crane(zones.quay_x, y, ppm))
            .collect();
        let masts = mast_sites.into_iter().map(|p| mast(p, ppm)).collect();
        Self {
            width: zones.w,
            height: zones.h,
            ppm,
            shadow: scale(SHADOW_PER_M, ppm),
            quay_x: zones.quay_x,
            apron_x1: zones.apron_x1,
            breakwater: zones.breakwater(),
            berths,
            max_ship_m,
            yards,
            siding: zones.siding(),
            roads: zones.roads(),
            buildings: zones.buildings(),
            tank_farm: zones.tank_farm(),
            parking: zones.parking(),
            groves: zones.groves(),
            cranes,
            masts,
        }
    }

    /// Metres to pixels.
    fn m(&self, metres: f64) -> f64 {
        metres * self.ppm
    }

    fn regions(&self) -> Vec<SampleRegion> {
        let region = |name: &str, kind: &str, ring: &[P]| SampleRegion {
            name: name.into(),
            kind: kind.into(),
            polygon: closed(ring),
        };
        let berths = self
            .berths
            .iter()
            .map(|b| region(&b.name, "berth", &b.rect.ring()));
        let yards = self.yards.iter().map(|y| region(&y.name, "yard", &y.ring));
        let siding = region(&self.siding.name, "rail", &self.siding.rect.ring());
        berths.chain(yards).chain([siding]).collect()
    }

    fn berth_index(&self, name: &str) -> usize {
        self.berths
            .iter()
            .position(|b| b.name == name)
            .expect("events refer to known berths")
    }

    fn yard(&self, name: &str) -> &Yard {
        self.yards
            .iter()
            .find(|y| y.name == name)
            .expect("events refer to known yards")
    }
}

/// The main lines of the port in pixels, from west to east: water, quay, apron, yards, rail
/// siding, and a strip of warehouses and tanks. Zones are fractions of the image; gaps and
/// widths are metres. Used only to build the [`Layout`].
struct Zones {
    w: f64,
    h: f64,
    ppm: f64,
    quay_x: f64,
    apron_x1: f64,
    yard_x: [f64; 2],
    /// Top and bottom of the northern and the southern yard.
    yard_rows: [[f64; 2]; 2],
    /// The north perimeter road, the gate road between the yards, the south perimeter road.
    road_rows: [f64; 3],
    tracks: [f64; 2],
    rail: Rect,
    east_road_x: f64,
    /// Where the warehouse strip starts.
    east_x0: f64,
}

impl Zones {
    fn new(spec: &SampleSpec) -> Self {
        let (w, h) = (f64::from(spec.width), f64::from(spec.height));
        let ppm = 1.0 / spec.gsd_m;
        let m = |metres: f64| metres * ppm;
        let fy = |f: f64| (f * h).round();
        let quay_x = (0.36 * w).round();
        let apron_x1 = (quay_x + m(APRON_M)).round();
        let yard_x = [(apron_x1 + m(24.0)).round(), (0.7 * w).round()];
        // On pixel edges, so that wagons two pixels wide stay crisp.
        let track0 = (yard_x[1] + m(40.0)).round();
        let tracks = [track0, track0 + m(TRACK_SPACING_M).round()];
        let rail = Rect::new(
            (tracks[0] - m(9.0)).floor(),
            fy(0.04),
            (tracks[1] + m(9.0)).ceil(),
            fy(0.88),
        );
        let east_road_x = rail.x1 + m(20.0);
        Self {
            w,
            h,
            ppm,
            quay_x,
            apron_x1,
            yard_x,
            yard_rows: [[0.06, 0.455], [0.545, 0.94]].map(|rows| rows.map(fy)),
            road_rows: [0.02, 0.5, 0.975].map(fy),
            tracks,
            rail,
            east_road_x,
            east_x0: (east_road_x + m(20.0)).round(),
        }
    }

    fn m(&self, metres: f64) -> f64 {
        metres * self.ppm
    }

    fn fy(&self, fraction: f64) -> f64 {
        (fraction * self.h).round()
    }

    fn breakwater(&self) -> Rect {
        let x0 = (0.05 * self.w).round();
        Rect::new(x0, -self.m(20.0), x0 + self.m(26.0), self.fy(0.55))
    }

    fn yards(&self) -> (Vec<Yard>, Vec<P>) {
        let [x0, x1] = self.yard_x;
        let [north, south] = self.yard_rows;
        let (north, north_masts) = yard(
            "yard-north",
            Rect::new(x0, north[0], x1, north[1]),
            true,
            self.ppm,
        );
        let (south, south_masts) = yard(
            "yard-south",
            Rect::new(x0, south[0], x1, south[1]),
            false,
            self.ppm,
        );
        (vec![north, south], [north_masts, south_masts].concat())
    }

    fn siding(&self) -> Siding {
        let wagon_span = [self.rail.y0 + self.m(12.0), self.rail.y1 - self.m(6.0)];
        let per_track = ((wagon_span[1] - wagon_span[0]) / wagon_pitch(self.ppm)) as u32;
        Siding {
            name: "rail-siding".into(),
            rect: self.rail,
            tracks: self.tracks,
            wagon_span,
            capacity: 2 * per_track,
        }
    }

    fn roads(&self) -> Vec<(P, P, f64)> {
        let (w, h, m) = (self.w, self.h, |metres: f64| self.m(metres));
        let [north, gate, south] = self.road_rows;
        let service_x = self.apron_x1 + m(9.0);
        let inner_x = self.yard_x[1] + m(16.0);
        vec![
            ([service_x, 0.0], [service_x, h], m(16.0)),
            ([inner_x, north], [inner_x, south], m(16.0)),
            ([self.east_road_x, 0.0], [self.east_road_x, h], m(18.0)),
            ([self.apron_x1, north], [w, north], m(16.0)),
            ([self.apron_x1, south], [w, south], m(16.0)),
            ([self.apron_x1, gate], [inner_x, gate], m(18.0)),
        ]
    }

    /// Warehouses in the east strip; an office and a workshop between the yards.
    fn buildings(&self) -> Vec<Building> {
        let east = |x1: f64, y0: f64, y1: f64| {
            let x0 = self.east_x0;
            Rect::new(x0, self.fy(y0), x0 + x1 * (self.w - x0), self.fy(y1))
        };
        let between_yards = |x0: f64, x1: f64| {
            let [start, end] = self.yard_x;
            Rect::new(
                start + x0 * (end - start),
                self.yard_rows[0][1] + self.m(12.0),
                start + x1 * (end - start),
                self.road_rows[1] - self.m(16.0),
            )
        };
        let building = |rect, roof, height_m| Building {
            rect,
            roof,
            height_m,
        };
        vec![
            building(east(0.62, 0.05, 0.21), Roof::Gable, 14.0),
            building(east(0.5, 0.25, 0.38), Roof::Gable, 12.0),
            building(between_yards(0.08, 0.45), Roof::Flat, 16.0),
            building(between_yards(0.6, 0.85), Roof::Gable, 10.0),
        ]
    }

    fn parking(&self) -> Vec<Rect> {
        let [start, end] = self.yard_x;
        vec![
            Rect::new(
                start + 0.08 * (end - start),
                self.road_rows[1] + self.m(16.0),
                start + 0.7 * (end - start),
                self.yard_rows[1][0] - self.m(12.0),
            ),
            Rect::new(
                self.east_x0,
                self.fy(0.44),
                self.w - self.m(30.0),
                self.fy(0.54),
            ),
        ]
    }

    fn tank_farm(&self) -> Rect {
        Rect::new(
            self.east_x0,
            self.fy(0.6),
            self.w - self.m(24.0),
            self.fy(0.9),
        )
    }

    fn groves(&self) -> Vec<Rect> {
        let (w, x0) = (self.w, self.east_x0);
        vec![
            Rect::new(x0 + 0.7 * (w - x0), self.fy(0.04), w, self.fy(0.4)),
            Rect::new(x0, self.fy(0.55), w, self.fy(0.6)),
            Rect::new(self.rail.x1 + self.m(4.0), self.fy(0.9), w, self.fy(0.96)),
        ]
    }
}

/// Water strips along the quay, each wide and long enough for the largest ship and its shadow.
/// Also returns the longest ship (metres) that fits.
fn berth_strips(quay_x: f64, y0: f64, y1: f64, ppm: f64) -> (Vec<Berth>, f64) {
    let longest = *SHIP_LENGTH_M.end();
    let reach = scale(SHADOW_PER_M, superstructure_height_m(longest)).map(f64::abs);
    let width = ((FENDER_M + longest / BEAM_RATIO + reach[0]) * ppm).ceil() + 2.0;
    let pitch = (y1 - y0) / BERTH_COUNT as f64;
    let length = (((longest + 2.0 * (reach[1] + BERTH_SLACK_M)) * ppm).ceil() + 2.0)
        .min((0.8 * pitch).floor());
    let max_ship_m = ((length - 2.0) / ppm - 2.0 * reach[1]).min(longest);
    let berths = (0..BERTH_COUNT)
        .map(|i| {
            let top = (y0 + pitch * (i as f64 + 0.5) - length / 2.0).round();
            Berth {
                name: format!("berth-{}", i + 1),
                rect: Rect::new(quay_x - width, top, quay_x, top + length),
            }
        })
        .collect();
    (berths, max_ship_m)
}

/// A paved yard with one chamfered landward corner and its stacking blocks. Also returns
/// sites for light masts in its lanes.
fn yard(name: &str, bounds: Rect, north: bool, ppm: f64) -> (Yard, Vec<P>) {
    let Rect { x0, y0, x1, y1 } = bounds;
    let c = (45.0 * ppm).min(0.1 * bounds.width()).round();
    let ring = if north {
        vec![[x0, y0], [x1 - c, y0], [x1, y0 + c], [x1, y1], [x0, y1]]
    } else {
        vec![[x0, y0], [x1, y0], [x1, y1 - c], [x1 - c, y1], [x0, y1]]
    };
    let (blocks, masts) = stacking_grid(bounds, &ring, ppm);
    let yard = Yard {
        name: name.into(),
        ring,
        blocks,
    };
    (yard, masts)
}

/// A centred grid of pixel-aligned stacking blocks (16 x 6 container slots) separated by
/// lanes, keeping the blocks that lie well inside `ring`; and mast sites every third lane.
fn stacking_grid(bounds: Rect, ring: &[P], ppm: f64) -> (Vec<Rect>, Vec<P>) {
    let slot = CONTAINER_M.map(|metres| (metres * ppm).round().max(1.0));
    let block = [0, 1].map(|i| BLOCK_SLOTS[i] as f64 * slot[i]);
    let lane = [(20.0 * ppm).round().max(3.0), (15.0 * ppm).round().max(2.0)];
    let inset = (18.0 * ppm).round().max(3.0);
    let span = [bounds.width(), bounds.height()];
    let pitch = [0, 1].map(|i| block[i] + lane[i]);
    let counts = [0, 1].map(|i| {
        ((span[i] - 2.0 * inset + lane[i]) / pitch[i])
            .floor()
            .max(0.0)
    });
    let start = [bounds.x0, bounds.y0];
    let origin =
        [0, 1].map(|i| start[i] + ((span[i] - counts[i] * pitch[i] + lane[i]) / 2.0).round());
    let at = |col: f64, row: f64| [origin[0] + col * pitch[0], origin[1] + row * pitch[1]];

    let mut blocks = Vec::new();
    for row in 0..counts[1] as usize {
        for col in 0..counts[0] as usize {
            let [bx, by] = at(col as f64, row as f64);
            let rect = Rect::new(bx, by, bx + block[0], by + block[1]);
            if rect
                .inset(-inset)
                .corners()
                .iter()
                .all(|&p| contains(ring, p))
            {
                blocks.push(rect);
            }
        }
    }
    let lane_centre = scale(lane, 0.5);
    let masts = (0..=counts[1] as usize)
        .step_by(3)
        .flat_map(|row| [0.0, counts[0]].map(|col| sub(at(col, row as f64), lane_centre)))
        .filter(|&p| contains(ring, p))
        .collect();
    (blocks, masts)
}

/// Distances of the crane rails from the quay edge, in metres.
const CRANE_RAILS_M: [f64; 2] = [3.0, 33.0];

/// A ship-to-shore gantry crane straddling the apron at `y`, its boom raised over the berth.
fn crane(quay_x: f64, y: f64, ppm: f64) -> Vec<Strut> {
    let m = |metres: f64| metres * ppm;
    let [sea, land] = CRANE_RAILS_M.map(|d| quay_x + m(d));
    let top = CRANE_HEIGHT_M;
    let beam = |a: P, b: P, height: f64, width: f64| Strut {
        a,
        b,
        heights: [height, height],
        width: m(width),
    };
    let mut struts = Vec::new();
    for dy in [-9.0, 9.0] {
        for x in [sea, land] {
            let foot = [x, y + m(dy)];
            struts.push(Strut {
                a: foot,
                b: foot,
                heights: [0.0, top],
                width: m(2.0),
            });
        }
        struts.push(beam([sea, y + m(dy)], [land, y + m(dy)], top, 2.0));
    }
    struts.push(beam(
        [quay_x - m(38.0), y],
        [land + m(16.0), y],
        top + 4.0,
        5.0,
    ));
    struts.push(beam(
        [land + m(3.0), y],
        [land + m(14.0), y],
        top + 7.0,
        9.0,
    ));
    struts
}

/// A yard floodlight: a pole with a short head.
fn mast(at: P, ppm: f64) -> Vec<Strut> {
    let height = 30.0;
    let head = [2.0 * ppm, 0.0];
    vec![
        Strut {
            a: at,
            b: at,
            heights: [0.0, height],
            width: 1.2 * ppm,
        },
        Strut {
            a: sub(at, head),
            b: add(at, head),
            heights: [height, height],
            width: ppm,
        },
    ]
}

// ---------------------------------------------------------------------------
// Rendering scenes
// ---------------------------------------------------------------------------

/// A seeded port: layout and plan, ready to paint scenes.
struct Port {
    seed: u64,
    layout: Layout,
    plan: Plan,
}

impl Port {
    fn new(spec: &SampleSpec) -> Self {
        let layout = Layout::new(spec);
        let plan = Plan::draw(spec, &layout);
        Self {
            seed: spec.seed,
            layout,
            plan,
        }
    }

    /// Everything that never changes: ground, water, quay, yards, rail, buildings.
    fn paint_background(&self) -> Canvas {
        let layout = &self.layout;
        let rng = &mut Stream::Background.rng(self.seed);
        let mut canvas = Canvas::new(layout.width as usize, layout.height as usize);
        paint_ground(&mut canvas, rng);
        paint_water(&mut canvas, layout, rng);
        paint_breakwater(&mut canvas, layout, rng);
        paint_quay(&mut canvas, layout, rng);
        paint_terminal(&mut canvas, layout, rng);
        paint_roads(&mut canvas, layout, rng);
        paint_yards(&mut canvas, layout, rng);
        paint_rail(&mut canvas, layout, rng);
        for building in &layout.buildings {
            paint_building(&mut canvas, layout, building, rng);
        }
        paint_tank_farm(&mut canvas, layout, rng);
        for lot in &layout.parking {
            paint_parking(&mut canvas, layout, lot, rng);
        }
        for grove in &layout.groves {
            paint_trees(&mut canvas, layout, grove, rng);
        }
        canvas
    }

    fn render_scene(&self, background: &Canvas, index: usize) -> SampleScene {
        let date = self.plan.dates[index];
        let mut canvas = background.clone();
        self.draw_ships(&mut canvas, date);
        self.draw_stacks(&mut canvas, date);
        self.draw_wagons(&mut canvas, date);
        draw_towers(&mut canvas, &self.layout);
        let rng = &mut Stream::Scene(index).rng(self.seed);
        let cloud_mask = self
            .plan
            .cloudy
            .contains(&index)
            .then(|| Cloud::draw(&self.layout, rng).apply(&mut canvas));
        SampleScene {
            date,
            image: expose(&canvas, rng),
            cloud_mask,
        }
    }

    fn draw_ships(&self, canvas: &mut Canvas, date: NaiveDate) {
        for (k, visit) in active(&self.plan.visits, date) {
            let berth = &self.layout.berths[self.layout.berth_index(&visit.region)];
            let rng = &mut Stream::Ship(k).rng(self.seed);
            draw_ship(canvas, &self.layout, &berth.rect, visit.length_m, rng);
        }
    }

    fn draw_stacks(&self, canvas: &mut Canvas, date: NaiveDate) {
        for (k, fill) in active(&self.plan.yard_fills, date) {
            let share = self.layout.berth_index(&fill.berth);
            let blocks = self
                .layout
                .yard(&fill.region)
                .blocks_for(share, BERTH_COUNT);
            draw_stacks(
                canvas,
                &self.layout,
                blocks,
                &mut Stream::Stack(k).rng(self.seed),
            );
        }
    }

    fn draw_wagons(&self, canvas: &mut Canvas, date: NaiveDate) {
        for (k, stay) in active(&self.plan.wagon_stays, date) {
            let rng = &mut Stream::Wagons(k).rng(self.seed);
            draw_consist(canvas, &self.layout, stay.wagons, rng);
        }
    }

    fn into_archive(self, scenes: Vec<SampleScene>) -> SampleArchive {
        SampleArchive {
            scenes,
            regions: self.layout.regions(),
            visits: self.plan.visits,
            yard_fills: self.plan.yard_fills,
            wagon_stays: self.plan.wagon_stays,
        }
    }
}

const SOIL: Rgb = [138.0, 124.0, 102.0];
const GRASS_DRY: Rgb = [124.0, 120.0, 86.0];
const GRASS_GREEN: Rgb = [74.0, 94.0, 56.0];
const WATER: Rgb = [20.0, 50.0, 54.0];
const GLINT: Rgb = [190.0, 200.0, 198.0];
const FOAM: Rgb = [200.0, 206.0, 204.0];
const ROCK: Rgb = [138.0, 132.0, 120.0];
const CONCRETE: Rgb = [174.0, 172.0, 164.0];
const PAVEMENT: Rgb = [140.0, 138.0, 132.0];
const YARD_PAVEMENT: Rgb = [118.0, 117.0, 112.0];
const ASPHALT: Rgb = [76.0, 77.0, 78.0];
const PAINT_WHITE: Rgb = [214.0, 214.0, 206.0];
const PAINT_YELLOW: Rgb = [196.0, 172.0, 84.0];
const GRAVEL: Rgb = [156.0, 148.0, 134.0];
const BALLAST: Rgb = [118.0, 108.0, 96.0];
const SLEEPER: Rgb = [70.0, 60.0, 52.0];
const RAIL: Rgb = [52.0, 52.0, 56.0];
const BUFFER_STOP: Rgb = [172.0, 60.0, 44.0];
const BUND: Rgb = [150.0, 142.0, 118.0];
const TREE: Rgb = [40.0, 64.0, 34.0];
const CRANE: Rgb = [84.0, 110.0, 146.0];
const MAST: Rgb = [150.0, 150.0, 146.0];
const CLOUD_GREY: Rgb = [188.0, 192.0, 198.0];
const CLOUD_WHITE: Rgb = [246.0, 247.0, 248.0];
const ROOFS: [Rgb; 5] = [
    [162.0, 166.0, 170.0],
    [118.0, 134.0, 150.0],
    [150.0, 84.0, 66.0],
    [196.0, 196.0, 190.0],
    [104.0, 120.0, 104.0],
];
const CONTAINERS: [Rgb; 12] = [
    [150.0, 62.0, 42.0],
    [150.0, 62.0, 42.0],
    [112.0, 42.0, 38.0],
    [42.0, 74.0, 132.0],
    [42.0, 74.0, 132.0],
    [32.0, 48.0, 92.0],
    [52.0, 104.0, 64.0],
    [226.0, 226.0, 220.0],
    [226.0, 226.0, 220.0],
    [150.0, 152.0, 150.0],
    [206.0, 112.0, 42.0],
    [40.0, 112.0, 118.0],
];
const CARS: [Rgb; 6] = [
    [220.0, 220.0, 216.0],
    [168.0, 170.0, 172.0],
    [40.0, 40.0, 44.0],
    [110.0, 110.0, 112.0],
    [150.0, 40.0, 36.0],
    [40.0, 60.0, 120.0],
];

fn pick<T: Copy>(rng: &mut impl Rng, items: &[T]) -> T {
    items[rng.random_range(0..items.len())]
}

/// A colour from `palette` with its brightness varied by up to `amount`.
fn shade_of(rng: &mut impl Rng, palette: &[Rgb], amount: f64) -> Rgb {
    let colour = pick(rng, palette);
    vary(rng, colour, amount)
}

/// Scales a colour's brightness by a random factor in `1 ± amount`.
fn vary(rng: &mut impl Rng, colour: Rgb, amount: f64) -> Rgb {
    scale(colour, 1.0 + rng.random_range(-amount..=amount))
}

/// Soil, dry and green grass in patches.
fn paint_ground(canvas: &mut Canvas, rng: &mut ChaCha8Rng) {
    let (patches, grain) = (Noise::new(rng), Noise::new(rng));
    canvas.map(|x, y, _| {
        let [px, py] = centre(x, y);
        let t = patches.fbm(px / 70.0, py / 70.0, 4);
        let base = if t < 0.5 {
            mix(SOIL, GRASS_DRY, smoothstep(0.38, 0.5, t))
        } else {
            mix(GRASS_DRY, GRASS_GREEN, smoothstep(0.5, 0.64, t))
        };
        textured(base, &grain, px / 1.4, py / 1.4, 0.1)
    });
}

/// Brightens or darkens `colour` by up to `amount` following `noise` at (x, y).
fn textured(colour: Rgb, noise: &Noise, x: f64, y: f64, amount: f64) -> Rgb {
    scale(colour, 1.0 + amount * (2.0 * noise.value(x, y) - 1.0))
}

/// Harbour basin and, beyond the breakwater, rougher open sea with sun glint.
fn paint_water(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let (swell, ripple, glint) = (Noise::new(rng), Noise::new(rng), Noise::new(rng));
    let sea_x = layout.breakwater.x0;
    let water = Rect::new(-1.0, -1.0, layout.quay_x, layout.height + 1.0);
    canvas.paint(&water.ring(), |x, y, _| {
        let [px, py] = centre(x, y);
        let roughness = if px < sea_x { 1.0 } else { 0.5 };
        let broad = swell.fbm(px / 80.0, py / 80.0, 3) - 0.5;
        let waves = ripple.fbm(px / 1.6, py / 4.5, 2) - 0.5;
        let colour = add(WATER, scale([10.0, 14.0, 14.0], 2.0 * broad));
        let colour = add(colour, [8.0 * waves * roughness; 3]);
        let sparkle = glint.value(px / 1.1, py / 1.1) * swell.value(px / 140.0 + 9.0, py / 140.0);
        let threshold = 0.86 - 0.12 * roughness;
        mix(colour, GLINT, (sparkle - threshold).max(0.0) * 3.0)
    });
    // The quay wall shades a sliver of water.
    let wall = Rect::new(
        layout.quay_x - 2.0 * layout.ppm,
        -1.0,
        layout.quay_x,
        layout.height + 1.0,
    );
    canvas.darken(&wall.ring(), 0.75);
}

/// A rubble-mound breakwater with surf along it and a light at its head.
fn paint_breakwater(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let (stones, surf) = (Noise::new(rng), Noise::new(rng));
    let mole = layout.breakwater;
    let head = [(mole.x0 + mole.x1) / 2.0, mole.y1];
    let radius = mole.width() / 2.0;
    let surf_width = 6.0 * layout.ppm;
    for ring in [
        mole.inset(-surf_width).ring(),
        disk(head, radius + surf_width),
    ] {
        canvas.paint(&ring, |x, y, under| {
            let [px, py] = centre(x, y);
            mix(
                under,
                FOAM,
                smoothstep(0.55, 0.85, surf.fbm(px / 2.0, py / 2.0, 2)),
            )
        });
    }
    for ring in [mole.ring(), disk(head, radius)] {
        canvas.paint(&ring, |x, y, _| {
            let [px, py] = centre(x, y);
            let stone = stones.value(px / 0.8, py / 0.8);
            scale(ROCK, 0.55 + 0.75 * stone * stone)
        });
    }
    let light = disk(head, 4.0 * layout.ppm);
    canvas.darken(&extrude(&light, scale(layout.shadow, 12.0)), 0.6);
    canvas.fill(&light, [236.0, 236.0, 230.0]);
}

/// Concrete apron with slab joints, the bright quay edge and the crane rails.
fn paint_quay(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let stains = Noise::new(rng);
    let h = layout.height;
    let apron = Rect::new(layout.quay_x, -1.0, layout.apron_x1, h + 1.0);
    canvas.paint(&apron.ring(), |x, y, _| {
        let [px, py] = centre(x, y);
        textured(CONCRETE, &stains, px / 9.0, py / 9.0, 0.05)
    });
    let mut joint = 0.0;
    while joint < h {
        let line = segment([layout.quay_x, joint], [layout.apron_x1, joint], 0.3);
        canvas.darken(&line, 0.9);
        joint += layout.m(15.0);
    }
    let edge = segment([layout.quay_x + 0.5, 0.0], [layout.quay_x + 0.5, h], 1.0);
    canvas.fill(&edge, [214.0, 212.0, 204.0]);
    for rail in CRANE_RAILS_M {
        let x = layout.quay_x + layout.m(rail);
        canvas.paint(&segment([x, 0.0], [x, h], 0.6), |_, _, under| {
            mix(under, RAIL, 0.7)
        });
    }
}

/// Paved ground behind the apron, up to the rail siding.
fn paint_terminal(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let wear = Noise::new(rng);
    let terminal = Rect::new(
        layout.apron_x1,
        -1.0,
        layout.siding.rect.x0 - layout.m(6.0),
        layout.height + 1.0,
    );
    canvas.paint(&terminal.ring(), |x, y, _| {
        let [px, py] = centre(x, y);
        textured(PAVEMENT, &wear, px / 12.0, py / 12.0, 0.05)
    });
}

fn paint_roads(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let wear = Noise::new(rng);
    for &(a, b, width) in &layout.roads {
        canvas.paint(&segment(a, b, width), |x, y, _| {
            let [px, py] = centre(x, y);
            textured(ASPHALT, &wear, px / 3.0, py / 3.0, 0.06)
        });
    }
    for &(a, b, _) in &layout.roads {
        dashes(canvas, a, b, layout.m(6.0), layout.m(15.0), |under| {
            mix(under, PAINT_WHITE, 0.6)
        });
    }
}

/// Draws dashes of length `dash` every `period` along a-b, shading each with `ink`.
fn dashes(canvas: &mut Canvas, a: P, b: P, dash: f64, period: f64, ink: impl Fn(Rgb) -> Rgb) {
    let length = norm(sub(b, a));
    let dir = scale(sub(b, a), 1.0 / length);
    let mut s = 0.0;
    while s + dash <= length {
        let line = segment(add(a, scale(dir, s)), add(a, scale(dir, s + dash)), 0.4);
        canvas.paint(&line, |_, _, under| ink(under));
        s += period;
    }
}

/// Yard paving with painted block outlines and dashed lane lines.
fn paint_yards(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let slabs = Noise::new(rng);
    for yard in &layout.yards {
        canvas.paint(&yard.ring, |x, y, _| {
            let [px, py] = centre(x, y);
            let patch = slabs.value(px / 20.0, py / 20.0);
            textured(
                scale(YARD_PAVEMENT, 0.96 + 0.08 * patch),
                &slabs,
                px / 1.5,
                py / 1.5,
                0.04,
            )
        });
        for block in &yard.blocks {
            canvas.stroke(&block.ring(), 0.35, |under| mix(under, PAINT_WHITE, 0.5));
            let lane_y = block.y1 + layout.m(7.5);
            dashes(
                canvas,
                [block.x0, lane_y],
                [block.x1, lane_y],
                layout.m(4.0),
                layout.m(10.0),
                |under| mix(under, PAINT_YELLOW, 0.45),
            );
        }
    }
}

/// Two parallel siding tracks with buffer stops; the second joins the first south of the
/// siding, and the single line runs off the image.
fn paint_rail(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let grit = Noise::new(rng);
    let siding = &layout.siding;
    let [t0, t1] = siding.tracks;
    let top = siding.rect.y0 + layout.m(4.0);
    let lines = [
        vec![[t0, top], [t0, layout.height + 2.0]],
        vec![
            [t1, top],
            [t1, siding.rect.y1],
            [t0, siding.rect.y1 + layout.m(80.0)],
        ],
    ];
    let bed = Rect::new(
        t0 - layout.m(10.0),
        top - layout.m(8.0),
        t1 + layout.m(10.0),
        siding.rect.y1 + layout.m(40.0),
    );
    canvas.paint(&bed.ring(), |x, y, _| {
        let [px, py] = centre(x, y);
        textured(GRAVEL, &grit, px / 1.2, py / 1.2, 0.07)
    });
    for line in &lines {
        for pair in line.windows(2) {
            canvas.paint(&segment(pair[0], pair[1], layout.m(4.5)), |x, y, _| {
                let [px, py] = centre(x, y);
                textured(BALLAST, &grit, px, py, 0.1)
            });
        }
    }
    for line in &lines {
        for pair in line.windows(2) {
            paint_track(canvas, pair[0], pair[1], layout.ppm);
        }
    }
    for x in siding.tracks {
        canvas.fill(
            &segment(
                [x - layout.m(2.0), top],
                [x + layout.m(2.0), top],
                layout.m(1.5),
            ),
            BUFFER_STOP,
        );
    }
}

/// Sleepers and rails from a to b. Both are far thinner than a pixel at coarse GSD, so they
/// are drawn no thinner than can still be seen as texture.
fn paint_track(canvas: &mut Canvas, a: P, b: P, ppm: f64) {
    let frame = Frame::along(a, b);
    let length = norm(sub(b, a));
    let (gauge, sleeper) = (0.72 * ppm, 1.3 * ppm);
    let pitch = (0.65 * ppm).max(1.6);
    let mut u = 0.0;
    while u < length {
        let tie = frame.rect(u, u + (0.25 * ppm).max(0.5), -sleeper, sleeper);
        canvas.paint(&tie, |_, _, under| mix(under, SLEEPER, 0.6));
        u += pitch;
    }
    let rail_width = (0.1 * ppm).max(0.35);
    for v in [-gauge, gauge] {
        canvas.fill(
            &frame.rect(0.0, length, v - rail_width / 2.0, v + rail_width / 2.0),
            RAIL,
        );
    }
}

/// A warehouse (gable roof, lit on its sunward slope) or an office block (flat roof with
/// plant on it), with its shadow.
fn paint_building(canvas: &mut Canvas, layout: &Layout, building: &Building, rng: &mut ChaCha8Rng) {
    let rect = building.rect;
    canvas.darken(
        &extrude(&rect.ring(), scale(layout.shadow, building.height_m)),
        0.55,
    );
    let roof = shade_of(rng, &ROOFS, 0.05);
    match building.roof {
        Roof::Gable => {
            let ridge_along_y = rect.height() >= rect.width();
            let seam = layout.m(5.0);
            canvas.paint(&rect.ring(), |x, y, _| {
                let [px, py] = centre(x, y);
                let (across, along, mid) = if ridge_along_y {
                    (px, py, (rect.x0 + rect.x1) / 2.0)
                } else {
                    (py, px, (rect.y0 + rect.y1) / 2.0)
                };
                // The south- or east-facing slope is lit.
                let slope = if across > mid { 1.08 } else { 0.8 };
                let ribs = if (along / seam).fract() < 0.2 {
                    0.96
                } else {
                    1.0
                };
                scale(roof, slope * ribs)
            });
        }
        Roof::Flat => {
            canvas.fill(&rect.ring(), roof);
            canvas.stroke(&rect.ring(), 0.6, |under| scale(under, 1.12));
            for _ in 0..rng.random_range(3..=7) {
                let size = layout.m(rng.random_range(3.0..7.0));
                let room = rect.inset(layout.m(4.0));
                let [x, y] =
                    Rect::new(room.x0, room.y0, room.x1 - size, room.y1 - size).random_point(rng);
                let unit = Rect::new(x, y, x + size, y + size).ring();
                canvas.darken(&extrude(&unit, scale(layout.shadow, 2.5)), 0.7);
                canvas.fill(&unit, [200.0, 200.0, 196.0]);
            }
        }
    }
}

/// Floating-roof storage tanks inside an earth bund.
fn paint_tank_farm(canvas: &mut Canvas, layout: &Layout, rng: &mut ChaCha8Rng) {
    let farm = layout.tank_farm;
    canvas.fill(&farm.ring(), BUND);
    canvas.fill(&farm.inset(layout.m(6.0)).ring(), [164.0, 160.0, 150.0]);
    let pitch = layout.m(70.0);
    let cols = ((farm.width() - layout.m(12.0)) / pitch).floor().max(1.0);
    let rows = ((farm.height() - layout.m(12.0)) / pitch).floor().max(1.0);
    let origin = [
        farm.x0 + (farm.width() - cols * pitch) / 2.0 + pitch / 2.0,
        farm.y0 + (farm.height() - rows * pitch) / 2.0 + pitch / 2.0,
    ];
    let sun = scale(layout.shadow, -1.0 / norm(layout.shadow));
    for row in 0..rows as usize {
        for col in 0..cols as usize {
            let c = add(origin, [col as f64 * pitch, row as f64 * pitch]);
            let r = layout.m(rng.random_range(14.0..26.0));
            let shell = disk(c, r);
            canvas.darken(&extrude(&shell, scale(layout.shadow, 16.0)), 0.55);
            let colour = vary(rng, [212.0, 212.0, 206.0], 0.04);
            canvas.paint(&shell, |x, y, _| {
                let d = sub(centre(x, y), c);
                scale(colour, 0.92 + 0.1 * dot(d, sun) / r)
            });
            canvas.fill(&disk(c, 0.82 * r), scale(colour, 0.88));
        }
    }
}

/// A parking lot with rows of cars.
fn paint_parking(canvas: &mut Canvas, layout: &Layout, lot: &Rect, rng: &mut ChaCha8Rng) {
    canvas.fill(&lot.ring(), ASPHALT);
    let mut y = lot.y0 + layout.m(3.0);
    while y + layout.m(5.0) <= lot.y1 - layout.m(3.0) {
        let mut x = lot.x0 + layout.m(3.0);
        while x + layout.m(2.0) <= lot.x1 - layout.m(3.0) {
            if rng.random_bool(0.6) {
                let car = Rect::new(x, y, x + layout.m(1.9), y + layout.m(4.6)).ring();
                canvas.fill(&car, shade_of(rng, &CARS, 0.05));
            }
            x += layout.m(2.8);
        }
        y += layout.m(12.0);
    }
}

fn paint_trees(canvas: &mut Canvas, layout: &Layout, grove: &Rect, rng: &mut ChaCha8Rng) {
    let count = (grove.width() * grove.height() / (layout.m(14.0) * layout.m(14.0))) as usize;
    for _ in 0..count {
        let crown = disk(
            grove.random_point(rng),
            layout.m(rng.random_range(2.5..5.5)),
        );
        canvas.darken(&extrude(&crown, scale(layout.shadow, 9.0)), 0.65);
        canvas.fill(&crown, vary(rng, TREE, 0.15));
    }
}

/// Cranes and floodlight masts: all their shadows first, then the steel over them.
fn draw_towers(canvas: &mut Canvas, layout: &Layout) {
    let towers = || {
        let cranes = layout.cranes.iter().flatten().map(|s| (s, CRANE));
        cranes.chain(layout.masts.iter().flatten().map(|s| (s, MAST)))
    };
    let shadows: Vec<_> = towers()
        .map(|(s, _)| {
            let [a, b] = [(s.a, s.heights[0]), (s.b, s.heights[1])]
                .map(|(p, height)| add(p, scale(layout.shadow, height)));
            segment(a, b, s.width)
        })
        .collect();
    canvas.darken_union(&shadows, 0.6);
    for (strut, colour) in towers() {
        canvas.fill(&segment(strut.a, strut.b, strut.width), colour);
    }
}

#[derive(Clone, Copy)]
enum ShipKind {
    Container,
    Bulk,
    Tanker,
}

const HULLS: [Rgb; 5] = [
    [38.0, 38.0, 42.0],
    [112.0, 34.0, 32.0],
    [34.0, 48.0, 84.0],
    [46.0, 72.0, 52.0],
    [80.0, 84.0, 88.0],
];
const DECKS: [Rgb; 3] = [
    [150.0, 68.0, 48.0],
    [82.0, 120.0, 84.0],
    [116.0, 120.0, 128.0],
];

/// Hull outline with a transom stern and a pointed bow, as (along, across) fractions of
/// length and beam, from the stern round the starboard side.
const HULL: [[f64; 2]; 7] = [
    [-0.5, 0.42],
    [-0.49, 0.5],
    [0.22, 0.5],
    [0.32, 0.47],
    [0.4, 0.38],
    [0.46, 0.22],
    [0.5, 0.0],
];

fn hull_ring(frame: &Frame, length: f64, beam: f64) -> Vec<P> {
    let starboard = HULL.iter().map(|&[u, v]| [u * length, v * beam]);
    let port = HULL
        .iter()
        .rev()
        .skip(1)
        .map(|&[u, v]| [u * length, -v * beam]);
    frame.ring(&starboard.chain(port).collect::<Vec<_>>())
}

/// A moored ship against the quay side of `berth`, bow north or south, with its cargo,
/// superstructure near the stern and the shadows of both.
fn draw_ship(
    canvas: &mut Canvas,
    layout: &Layout,
    berth: &Rect,
    length_m: f64,
    rng: &mut ChaCha8Rng,
) {
    let ppm = layout.ppm;
    let (length, beam) = (length_m * ppm, length_m * ppm / BEAM_RATIO);
    let reach = (layout.shadow[1] * superstructure_height_m(*SHIP_LENGTH_M.end())).abs();
    let lowest = berth.y0 + 1.0 + reach + length / 2.0;
    let highest = (berth.y1 - 1.0 - reach - length / 2.0).max(lowest);
    let origin = [
        berth.x1 - FENDER_M * ppm - beam / 2.0,
        rng.random_range(lowest..=highest),
    ];
    let axis = if rng.random_bool(0.5) {
        [0.0, -1.0]
    } else {
        [0.0, 1.0]
    };
    let ship = Frame { origin, axis };

    let hull = hull_ring(&ship, length, beam);
    canvas.darken(
        &extrude(&hull, scale(layout.shadow, freeboard_m(length_m))),
        0.5,
    );
    canvas.fill(&hull, pick(rng, &HULLS));
    let deck = hull_ring(&ship, 0.96 * length, 0.8 * beam);
    match pick(
        rng,
        &[ShipKind::Container, ShipKind::Bulk, ShipKind::Tanker],
    ) {
        ShipKind::Container => {
            canvas.fill(&deck, [112.0, 114.0, 108.0]);
            draw_deck_containers(canvas, &ship, length, beam, ppm, rng);
        }
        ShipKind::Bulk => {
            let colour = pick(rng, &DECKS);
            canvas.fill(&deck, colour);
            let hatches = (length_m / 22.0).round().clamp(5.0, 9.0);
            let pitch = 0.68 * length / hatches;
            for i in 0..hatches as usize {
                let u = -0.32 * length + i as f64 * pitch;
                let cover = ship.rect(u + 0.15 * pitch, u + 0.85 * pitch, -0.3 * beam, 0.3 * beam);
                canvas.fill(&cover, scale(colour, 1.3));
            }
        }
        ShipKind::Tanker => {
            canvas.fill(&deck, pick(rng, &DECKS[..2]));
            let pipes = [172.0, 172.0, 164.0];
            let half = (0.05 * beam).max(0.3);
            canvas.fill(
                &ship.rect(-0.35 * length, 0.42 * length, -half, half),
                pipes,
            );
            canvas.fill(
                &ship.rect(-0.02 * length, 0.02 * length, -0.4 * beam, 0.4 * beam),
                pipes,
            );
        }
    }
    let house = ship.rect(-0.47 * length, -0.36 * length, -0.42 * beam, 0.42 * beam);
    let rise = superstructure_height_m(length_m) - freeboard_m(length_m);
    canvas.darken(&extrude(&house, scale(layout.shadow, rise)), 0.55);
    canvas.fill(&house, vary(rng, [230.0, 228.0, 220.0], 0.03));
    let funnel = ship.rect(-0.46 * length, -0.43 * length, -0.12 * beam, 0.12 * beam);
    canvas.fill(&funnel, [44.0, 40.0, 40.0]);
}

/// Bays of 40-ft containers across the deck of a container ship, some bays empty.
fn draw_deck_containers(
    canvas: &mut Canvas,
    ship: &Frame,
    length: f64,
    beam: f64,
    ppm: f64,
    rng: &mut ChaCha8Rng,
) {
    let (bay, width) = (2.0 * CONTAINER_M[0] * ppm, CONTAINER_M[1] * ppm);
    let rows = (0.84 * beam / width).floor();
    let mut u = -0.34 * length;
    while u + bay <= 0.4 * length {
        if rng.random_bool(0.85) {
            for row in 0..rows as usize {
                let v = -rows * width / 2.0 + row as f64 * width;
                let container = ship.rect(u, u + bay, v, v + width);
                canvas.fill(&container, shade_of(rng, &CONTAINERS, 0.08));
            }
        }
        u += bay + ppm;
    }
}

/// Fills each block with rows of 20-ft and 40-ft containers, leaving some slots empty, over
/// the shadow of the stack.
fn draw_stacks(canvas: &mut Canvas, layout: &Layout, blocks: &[Rect], rng: &mut ChaCha8Rng) {
    let ppm = layout.ppm;
    let slot = (CONTAINER_M[0] * ppm).round().max(1.0);
    let row = (CONTAINER_M[1] * ppm).round().max(1.0);
    let fill = rng.random_range(0.6..0.95);
    for block in blocks {
        let tiers = f64::from(rng.random_range(2..=4_u8));
        canvas.darken(
            &extrude(&block.ring(), scale(layout.shadow, tiers * TIER_M)),
            0.7,
        );
        let mut y = block.y0;
        while y + row <= block.y1 {
            let mut x = block.x0;
            while x + slot <= block.x1 {
                let forty = x + 2.0 * slot <= block.x1 && rng.random_bool(0.6);
                let length = if forty { 2.0 * slot } else { slot };
                if rng.random_bool(fill) {
                    let container = Rect::new(x, y, x + length, y + row).ring();
                    canvas.fill(&container, shade_of(rng, &CONTAINERS, 0.1));
                }
                x += length;
            }
            y += row;
        }
    }
}

#[derive(Clone, Copy)]
struct WagonKind {
    body: Rgb,
    carries_containers: bool,
}

const WAGON_KINDS: [WagonKind; 4] = [
    WagonKind {
        body: [92.0, 56.0, 42.0],
        carries_containers: false,
    },
    WagonKind {
        body: [82.0, 84.0, 86.0],
        carries_containers: false,
    },
    WagonKind {
        body: [34.0, 34.0, 38.0],
        carries_containers: false,
    },
    WagonKind {
        body: [60.0, 58.0, 56.0],
        carries_containers: true,
    },
];

/// `wagons` wagons of one kind split over the two siding tracks.
fn draw_consist(canvas: &mut Canvas, layout: &Layout, wagons: u32, rng: &mut ChaCha8Rng) {
    let siding = &layout.siding;
    let per_track = siding.capacity / 2;
    let first = rng.random_range(wagons.saturating_sub(per_track)..=wagons.min(per_track));
    let kind = pick(rng, &WAGON_KINDS);
    let pitch = wagon_pitch(layout.ppm);
    // At coarse GSD a wagon is drawn two pixels wide, or it would read as a dashed line.
    let half_width = (layout.m(WAGON_M[1]) / 2.0).max(1.0);
    let counts = [first, wagons - first];
    let wagons: Vec<Frame> = siding
        .tracks
        .iter()
        .zip(counts)
        .flat_map(|(&x, count)| {
            let free = siding.wagon_span[1] - siding.wagon_span[0] - f64::from(count) * pitch;
            let start = siding.wagon_span[0] + rng.random_range(0.0..=free.max(0.0));
            (0..count).map(move |i| Frame {
                origin: [x, start + f64::from(i) * pitch],
                axis: [0.0, 1.0],
            })
        })
        .collect();
    let body = |wagon: &Frame| wagon.rect(0.0, layout.m(WAGON_M[0]), -half_width, half_width);
    let shadows: Vec<_> = wagons
        .iter()
        .map(|wagon| extrude(&body(wagon), scale(layout.shadow, 4.0)))
        .collect();
    canvas.darken_union(&shadows, 0.6);
    for wagon in &wagons {
        canvas.fill(&body(wagon), vary(rng, kind.body, 0.1));
        if kind.carries_containers && rng.random_bool(0.8) {
            let half = 0.8 * half_width;
            let load = wagon.rect(
                layout.m(1.0),
                layout.m(1.0 + 2.0 * CONTAINER_M[0]),
                -half,
                half,
            );
            canvas.fill(&load, shade_of(rng, &CONTAINERS, 0.08));
        }
    }
}

/// A cumulus: a soft white blob and, displaced away from the sun, its shadow.
struct Cloud {
    body: SoftBlob,
    shadow_offset: P,
}

impl Cloud {
    fn draw(layout: &Layout, rng: &mut ChaCha8Rng) -> Self {
        let size = layout.width.min(layout.height);
        let centre = [
            rng.random_range(0.15..0.85) * layout.width,
            rng.random_range(0.15..0.85) * layout.height,
        ];
        let lobes = (0..rng.random_range(6..=10))
            .map(|_| {
                let offset = [0, 1].map(|_| rng.random_range(-0.16..0.16) * size);
                (add(centre, offset), rng.random_range(0.06..0.13) * size)
            })
            .collect();
        Self {
            body: SoftBlob {
                lobes,
                noise: Noise::new(rng),
                grain: 0.05 * size,
            },
            shadow_offset: scale(layout.shadow, CLOUD_HEIGHT_M),
        }
    }

    /// Billows: thick parts white, thin parts and the folds between billows grey.
    fn colour(&self, p: P, cover: f64) -> Rgb {
        let billow = self.body.noise.fbm(p[0] / 6.0 + 31.0, p[1] / 6.0, 3);
        mix(
            CLOUD_GREY,
            CLOUD_WHITE,
            cover * (0.55 + 0.6 * billow).min(1.0),
        )
    }

    /// Draws the cloud and its shadow, returning the validity mask (0 under either).
    fn apply(&self, canvas: &mut Canvas) -> GrayImage {
        let mut mask = GrayImage::from_pixel(canvas.w as u32, canvas.h as u32, Luma([255]));
        canvas.map(|x, y, under| {
            let p = centre(x, y);
            let cover = self.body.alpha(p);
            let shade = self.body.alpha(sub(p, self.shadow_offset));
            if cover > 0.0 || shade > 0.0 {
                mask.put_pixel(x as u32, y as u32, Luma([0]));
            }
            let shaded = scale(under, 1.0 - 0.45 * shade);
            mix(shaded, self.colour(p, cover), 0.97 * cover)
        });
        mask
    }
}

const NOISE_SIGMA_DN: f64 = 2.0;

/// The sensor: per-band gain and offset of a few percent, noise, and 8-bit quantization
/// that never yields the all-zero nodata value.
fn expose(canvas: &Canvas, rng: &mut ChaCha8Rng) -> RgbImage {
    let common = rng.random_range(-0.03..0.03);
    let gain: Rgb = std::array::from_fn(|_| 1.0 + common + rng.random_range(-0.015..0.015));
    let offset: Rgb = std::array::from_fn(|_| rng.random_range(-3.0..3.0));
    let mut image = RgbImage::new(canvas.w as u32, canvas.h as u32);
    for (pixel, colour) in image.pixels_mut().zip(&canvas.px) {
        pixel.0 = std::array::from_fn(|b| {
            let dn = colour[b] * gain[b] + offset[b] + sensor_noise(rng);
            dn.round().clamp(1.0, 255.0) as u8
        });
    }
    image
}

/// Roughly Gaussian noise: the centred sum of four uniform bytes (standard deviation 147.8),
/// scaled to the sensor's sigma. Much cheaper than Box-Muller.
fn sensor_noise(rng: &mut ChaCha8Rng) -> f64 {
    let sum: u32 = rng
        .random::<u32>()
        .to_le_bytes()
        .into_iter()
        .map(u32::from)
        .sum();
    (f64::from(sum) - 510.0) * (NOISE_SIGMA_DN / 147.8)
}

// ---------------------------------------------------------------------------
// Raster primitives
// ---------------------------------------------------------------------------

type P = [f64; 2];
type Rgb = [f64; 3];

fn add<const N: usize>(a: [f64; N], b: [f64; N]) -> [f64; N] {
    std::array::from_fn(|i| a[i] + b[i])
}

fn sub<const N: usize>(a: [f64; N], b: [f64; N]) -> [f64; N] {
    std::array::from_fn(|i| a[i] - b[i])
}

fn scale<const N: usize>(a: [f64; N], f: f64) -> [f64; N] {
    a.map(|v| v * f)
}

fn mix<const N: usize>(a: [f64; N], b: [f64; N], t: f64) -> [f64; N] {
    std::array::from_fn(|i| a[i] + (b[i] - a[i]) * t)
}

fn dot(a: P, b: P) -> f64 {
    a[0] * b[0] + a[1] * b[1]
}

fn norm(a: P) -> f64 {
    dot(a, a).sqrt()
}

fn centre(x: usize, y: usize) -> P {
    [x as f64 + 0.5, y as f64 + 0.5]
}

fn smoothstep(edge0: f64, edge1: f64, x: f64) -> f64 {
    let t = ((x - edge0) / (edge1 - edge0)).clamp(0.0, 1.0);
    t * t * (3.0 - 2.0 * t)
}

#[derive(Clone, Copy, Debug)]
struct Rect {
    x0: f64,
    y0: f64,
    x1: f64,
    y1: f64,
}

impl Rect {
    fn new(x0: f64, y0: f64, x1: f64, y1: f64) -> Self {
        Self { x0, y0, x1, y1 }
    }

    fn width(&self) -> f64 {
        self.x1 - self.x0
    }

    fn height(&self) -> f64 {
        self.y1 - self.y0
    }

    /// Shrinks each side by `d` (grows for negative `d`).
    fn inset(&self, d: f64) -> Self {
        Self::new(self.x0 + d, self.y0 + d, self.x1 - d, self.y1 - d)
    }

    fn corners(&self) -> [P; 4] {
        [
            [self.x0, self.y0],
            [self.x1, self.y0],
            [self.x1, self.y1],
            [self.x0, self.y1],
        ]
    }

    fn ring(&self) -> Vec<P> {
        self.corners().to_vec()
    }

    /// A uniformly random point; never panics, even on an empty rectangle.
    fn random_point(&self, rng: &mut impl Rng) -> P {
        [
            self.x0 + rng.random::<f64>() * self.width(),
            self.y0 + rng.random::<f64>() * self.height(),
        ]
    }
}

/// A local frame: `u` runs along the unit vector `axis` and `v` across it, in pixels from `origin`.
#[derive(Clone, Copy)]
struct Frame {
    origin: P,
    axis: P,
}

impl Frame {
    /// A frame at `a` pointing at `b` (any direction if they coincide).
    fn along(a: P, b: P) -> Self {
        let d = sub(b, a);
        let length = norm(d);
        let axis = if length > 0.0 {
            scale(d, 1.0 / length)
        } else {
            [1.0, 0.0]
        };
        Self { origin: a, axis }
    }

    fn at(&self, u: f64, v: f64) -> P {
        let [ax, ay] = self.axis;
        [
            self.origin[0] + u * ax - v * ay,
            self.origin[1] + u * ay + v * ax,
        ]
    }

    fn ring(&self, points: &[P]) -> Vec<P> {
        points.iter().map(|&[u, v]| self.at(u, v)).collect()
    }

    /// The rectangle `u0..u1` by `v0..v1` in this frame: a rotated rectangle in the image.
    fn rect(&self, u0: f64, u1: f64, v0: f64, v1: f64) -> Vec<P> {
        self.ring(&[[u0, v0], [u1, v0], [u1, v1], [u0, v1]])
    }
}

/// A bar of `width` from a to b; a square when they coincide (a vertical member seen from above).
fn segment(a: P, b: P, width: f64) -> Vec<P> {
    let half = width / 2.0;
    let length = norm(sub(b, a));
    if length == 0.0 {
        return Rect::new(a[0] - half, a[1] - half, a[0] + half, a[1] + half).ring();
    }
    Frame::along(a, b).rect(0.0, length, -half, half)
}

fn disk(c: P, r: f64) -> Vec<P> {
    let n = (r * 4.0).clamp(12.0, 64.0) as usize;
    (0..n)
        .map(|i| {
            let a = std::f64::consts::TAU * i as f64 / n as f64;
            [c[0] + r * a.cos(), c[1] + r * a.sin()]
        })
        .collect()
}

/// The sides of a polygon, closing it if its ring is open.
fn edges(ring: &[P]) -> impl Iterator<Item = (P, P)> + '_ {
    ring.iter()
        .zip(ring.iter().cycle().skip(1))
        .map(|(&a, &b)| (a, b))
}

fn closed(ring: &[P]) -> Vec<P> {
    let mut closed = ring.to_vec();
    closed.push(ring[0]);
    closed
}

/// Convex hull by Andrew's monotone chain.
fn convex_hull(mut points: Vec<P>) -> Vec<P> {
    points.sort_by(|a, b| a[0].total_cmp(&b[0]).then(a[1].total_cmp(&b[1])));
    let cross = |o: P, a: P, b: P| (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
    let half = |ordered: &mut dyn Iterator<Item = P>| {
        let mut chain: Vec<P> = Vec::new();
        for p in ordered {
            while chain.len() >= 2
                && cross(chain[chain.len() - 2], chain[chain.len() - 1], p) <= 0.0
            {
                chain.pop();
            }
            chain.push(p);
        }
        // The last point starts the other half.
        chain.pop();
        chain
    };
    let mut hull = half(&mut points.iter().copied());
    hull.extend(half(&mut points.iter().rev().copied()));
    hull
}

/// The shadow of a vertical prism on a convex footprint: the footprint swept along `offset`.
fn extrude(ring: &[P], offset: P) -> Vec<P> {
    convex_hull(ring.iter().flat_map(|&p| [p, add(p, offset)]).collect())
}

/// Even-odd point-in-polygon test; `ring` may be open or closed.
fn contains(ring: &[P], p: P) -> bool {
    let mut inside = false;
    for (a, b) in edges(ring) {
        if (a[1] > p[1]) != (b[1] > p[1])
            && p[0] < a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
        {
            inside = !inside;
        }
    }
    inside
}

/// The bounding box of a polygon: its least and greatest corners.
fn bounds(ring: &[P]) -> (P, P) {
    ring.iter()
        .fold(([f64::MAX; 2], [f64::MIN; 2]), |(lo, hi), p| {
            (
                [lo[0].min(p[0]), lo[1].min(p[1])],
                [hi[0].max(p[0]), hi[1].max(p[1])],
            )
        })
}

/// Vertical samples per pixel row; coverage along a row is exact.
const SUBROWS: usize = 4;

/// Calls `plot(x, y, coverage)` for every pixel of a `w` x `h` image that the polygon touches.
fn rasterize(ring: &[P], w: usize, h: usize, mut plot: impl FnMut(usize, usize, f64)) {
    let (lo, hi) = bounds(ring);
    let x0 = lo[0].floor().clamp(0.0, w as f64) as usize;
    let x1 = hi[0].ceil().clamp(0.0, w as f64) as usize;
    let y0 = lo[1].floor().clamp(0.0, h as f64) as usize;
    let y1 = hi[1].ceil().clamp(0.0, h as f64) as usize;
    if x0 >= x1 {
        return;
    }
    let mut cover = vec![0.0; x1 - x0];
    let mut crossings = Vec::new();
    for y in y0..y1 {
        cover.fill(0.0);
        for s in 0..SUBROWS {
            let sy = y as f64 + (s as f64 + 0.5) / SUBROWS as f64;
            crossings.clear();
            for (a, b) in edges(ring) {
                if (a[1] <= sy) != (b[1] <= sy) {
                    crossings.push(a[0] + (sy - a[1]) * (b[0] - a[0]) / (b[1] - a[1]));
                }
            }
            crossings.sort_by(f64::total_cmp);
            for span in crossings.chunks_exact(2) {
                add_span(&mut cover, x0, span[0], span[1], 1.0 / SUBROWS as f64);
            }
        }
        for (i, &c) in cover.iter().enumerate() {
            if c > 0.0 {
                plot(x0 + i, y, c.min(1.0));
            }
        }
    }
}

/// Adds `weight` times the overlap of `[xa, xb]` with each pixel of `cover` (which starts at `x0`).
fn add_span(cover: &mut [f64], x0: usize, xa: f64, xb: f64, weight: f64) {
    let start = x0 as f64;
    let (xa, xb) = (xa.max(start), xb.min(start + cover.len() as f64));
    if xa >= xb {
        return;
    }
    for px in (xa.floor() as usize)..(xb.ceil() as usize) {
        let overlap = xb.min(px as f64 + 1.0) - xa.max(px as f64);
        cover[px - x0] += overlap * weight;
    }
}

/// Linear RGB in digital numbers before the sensor model.
#[derive(Clone)]
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<Rgb>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Self {
            w,
            h,
            px: vec![[0.0; 3]; w * h],
        }
    }

    /// Paints a polygon: `shade(x, y, under)` gives each touched pixel's new colour, blended
    /// in by the pixel's coverage.
    fn paint(&mut self, ring: &[P], mut shade: impl FnMut(usize, usize, Rgb) -> Rgb) {
        let (w, px) = (self.w, &mut self.px);
        rasterize(ring, w, self.h, |x, y, coverage| {
            let under = px[y * w + x];
            px[y * w + x] = mix(under, shade(x, y, under), coverage);
        });
    }

    /// Paints the outline of a polygon with lines of `width`.
    fn stroke(&mut self, ring: &[P], width: f64, shade: impl Fn(Rgb) -> Rgb) {
        for (a, b) in edges(ring) {
            self.paint(&segment(a, b, width), |_, _, under| shade(under));
        }
    }

    fn fill(&mut self, ring: &[P], colour: Rgb) {
        self.paint(ring, |_, _, _| colour);
    }

    fn darken(&mut self, ring: &[P], factor: f64) {
        self.paint(ring, |_, _, under| scale(under, factor));
    }

    /// Darkens the union of `rings` once, so overlapping shadows do not compound.
    fn darken_union(&mut self, rings: &[Vec<P>], factor: f64) {
        let mut cover: HashMap<usize, f64> = HashMap::new();
        for ring in rings {
            rasterize(ring, self.w, self.h, |x, y, c| {
                let max = cover.entry(y * self.w + x).or_default();
                *max = max.max(c);
            });
        }
        for (i, c) in cover {
            self.px[i] = scale(self.px[i], 1.0 - (1.0 - factor) * c);
        }
    }

    fn map(&mut self, mut op: impl FnMut(usize, usize, Rgb) -> Rgb) {
        let w = self.w;
        for (i, pixel) in self.px.iter_mut().enumerate() {
            *pixel = op(i % w, i / w, *pixel);
        }
    }
}

/// Smooth value noise on a unit lattice, from a hash of the lattice point and a seed.
#[derive(Clone, Copy)]
struct Noise(u64);

impl Noise {
    fn new(rng: &mut impl Rng) -> Self {
        Self(rng.random())
    }

    fn lattice(self, x: i64, y: i64) -> f64 {
        let h = splitmix(self.0 ^ splitmix(x as u64 ^ splitmix(y as u64)));
        (h >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// Value in [0, 1) varying over about one unit.
    fn value(self, x: f64, y: f64) -> f64 {
        let (fx, fy) = (x.floor(), y.floor());
        let (ix, iy) = (fx as i64, fy as i64);
        let (tx, ty) = (smoothstep(0.0, 1.0, x - fx), smoothstep(0.0, 1.0, y - fy));
        let top = self.lattice(ix, iy) + (self.lattice(ix + 1, iy) - self.lattice(ix, iy)) * tx;
        let bottom = self.lattice(ix, iy + 1)
            + (self.lattice(ix + 1, iy + 1) - self.lattice(ix, iy + 1)) * tx;
        top + (bottom - top) * ty
    }

    /// Fractal sum of `octaves` octaves, each twice as fine and half as strong, in [0, 1).
    fn fbm(self, x: f64, y: f64, octaves: u32) -> f64 {
        let (mut sum, mut weight, mut total, mut freq) = (0.0, 1.0, 0.0, 1.0);
        for octave in 0..octaves {
            sum += weight * Noise(self.0.wrapping_add(u64::from(octave))).value(x * freq, y * freq);
            total += weight;
            weight *= 0.5;
            freq *= 2.0;
        }
        sum / total
    }
}

fn splitmix(z: u64) -> u64 {
    let z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A soft-edged blob: round lobes whose density is roughened by noise. Exactly zero outside
/// the lobes, so masks derived from it are exact.
struct SoftBlob {
    lobes: Vec<(P, f64)>,
    noise: Noise,
    /// Size of the roughening features, in pixels.
    grain: f64,
}

impl SoftBlob {
    fn alpha(&self, p: P) -> f64 {
        let shape = self
            .lobes
            .iter()
            .map(|&(c, r)| 1.0 - dot(sub(p, c), sub(p, c)) / (r * r))
            .fold(0.0, f64::max);
        if shape <= 0.0 {
            return 0.0;
        }
        // The square root flattens the core, leaving the rim to the noise.
        let density =
            shape.sqrt() * (0.1 + 1.2 * self.noise.fbm(p[0] / self.grain, p[1] / self.grain, 4));
        smoothstep(0.3, 0.75, density)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small_spec(seed: u64) -> SampleSpec {
        SampleSpec {
            width: 256,
            height: 256,
            scenes: 4,
            seed,
            gsd_m: 6.0,
            ..SampleSpec::default()
        }
    }

    fn active_regions<T: Occupancy>(events: &[T], date: NaiveDate) -> Vec<String> {
        active(events, date)
            .map(|(_, e)| e.region().to_owned())
            .collect()
    }

    #[test]
    fn same_seed_gives_same_pixels_and_other_seeds_differ() {
        let spec = small_spec(7);
        let (a, b) = (render_sample(&spec), render_sample(&spec));
        let c = render_sample(&SampleSpec {
            seed: 8,
            scenes: 2,
            ..spec
        });
        for (x, y) in a.scenes.iter().zip(&b.scenes) {
            assert_eq!(
                (x.date, &x.image, &x.cloud_mask),
                (y.date, &y.image, &y.cloud_mask)
            );
        }
        assert_eq!(a.visits, b.visits);
        assert!(
            a.scenes
                .iter()
                .zip(&c.scenes)
                .all(|(x, y)| x.image != y.image)
        );
    }

    #[test]
    fn ships_stacks_and_wagons_stay_inside_their_active_regions() {
        let port = Port::new(&SampleSpec {
            scenes: 24,
            ..small_spec(3)
        });
        let background = port.paint_background();
        let regions = port.layout.regions();
        type Draw = fn(&Port, &mut Canvas, NaiveDate);
        type Occupied = fn(&Plan, NaiveDate) -> Vec<String>;
        let layers: [(Draw, Occupied); 3] = [
            (Port::draw_ships, |plan, date| {
                active_regions(&plan.visits, date)
            }),
            (Port::draw_stacks, |plan, date| {
                active_regions(&plan.yard_fills, date)
            }),
            (Port::draw_wagons, |plan, date| {
                active_regions(&plan.wagon_stays, date)
            }),
        ];
        for (draw, occupied) in layers {
            let mut changed_scenes = 0;
            for &date in &port.plan.dates {
                let names = occupied(&port.plan, date);
                let allowed: Vec<_> = regions.iter().filter(|r| names.contains(&r.name)).collect();
                let mut canvas = background.clone();
                draw(&port, &mut canvas, date);
                let mut changed = 0;
                for (i, (now, before)) in canvas.px.iter().zip(&background.px).enumerate() {
                    if now != before {
                        let p = centre(i % canvas.w, i / canvas.w);
                        assert!(
                            allowed.iter().any(|r| contains(&r.polygon, p)),
                            "{date}: {p:?} is outside {names:?}"
                        );
                        changed += 1;
                    }
                }
                assert_eq!(changed > 0, !names.is_empty(), "{date}: {names:?}");
                changed_scenes += usize::from(changed > 0);
            }
            assert!(changed_scenes > 0);
        }
    }

    #[test]
    fn regions_are_disjoint_and_inside_the_image_at_any_valid_size() {
        let specs = [
            SampleSpec::default(),
            SampleSpec {
                width: 256,
                height: 256,
                gsd_m: 4.0,
                ..SampleSpec::default()
            },
            SampleSpec {
                width: 300,
                height: 700,
                gsd_m: 5.0,
                ..SampleSpec::default()
            },
            SampleSpec {
                width: 1000,
                height: 1000,
                gsd_m: 1.0,
                ..SampleSpec::default()
            },
            SampleSpec {
                width: 256,
                height: 256,
                gsd_m: 10.0,
                ..SampleSpec::default()
            },
        ];
        for spec in specs {
            spec.validate().unwrap();
            let layout = Layout::new(&spec);
            let regions = layout.regions();
            let (w, h) = (f64::from(spec.width), f64::from(spec.height));
            for region in &regions {
                assert_eq!(
                    region.polygon.first(),
                    region.polygon.last(),
                    "{} is not closed",
                    region.name
                );
                let inside = |&[x, y]: &P| (0.0..=w).contains(&x) && (0.0..=h).contains(&y);
                assert!(
                    region.polygon.iter().all(inside),
                    "{} leaves the image",
                    region.name
                );
            }
            // A pixel centre in two regions lies where their bounding boxes overlap.
            for (i, a) in regions.iter().enumerate() {
                for b in &regions[i + 1..] {
                    let ((a_lo, a_hi), (b_lo, b_hi)) = (bounds(&a.polygon), bounds(&b.polygon));
                    let lo = [0, 1].map(|k| a_lo[k].max(b_lo[k]).floor() as usize);
                    let hi = [0, 1].map(|k| a_hi[k].min(b_hi[k]).ceil() as usize);
                    for y in lo[1]..hi[1] {
                        for x in lo[0]..hi[0] {
                            let p = centre(x, y);
                            assert!(
                                !(contains(&a.polygon, p) && contains(&b.polygon, p)),
                                "{spec:?}: {p:?} is in {} and {}",
                                a.name,
                                b.name
                            );
                        }
                    }
                }
            }
            assert!(layout.max_ship_m >= *SHIP_LENGTH_M.start(), "{spec:?}");
            assert!(
                layout.yards.iter().all(|y| y.blocks.len() >= BERTH_COUNT),
                "{spec:?}"
            );
            assert!(layout.siding.capacity >= 6, "{spec:?}");
        }
    }

    #[test]
    fn renders_at_the_limits_of_valid_specs() {
        for (width, height, gsd_m) in [(256, 256, 10.0), (256, 700, 1000.0 / 256.0)] {
            let spec = SampleSpec {
                width,
                height,
                gsd_m,
                scenes: 1,
                ..SampleSpec::default()
            };
            let archive = render_sample(&spec);
            assert_eq!(archive.scenes[0].image.dimensions(), (width, height));
        }
    }

    #[test]
    fn geojson_names_every_region_with_its_kind() {
        let regions = Layout::new(&SampleSpec::default()).regions();
        let parsed: serde_json::Value = serde_json::from_str(&regions_geojson(&regions)).unwrap();
        assert_eq!(parsed["type"], "FeatureCollection");
        let features = parsed["features"].as_array().unwrap();
        let labels: Vec<(&str, &str)> = features
            .iter()
            .map(|f| {
                assert_eq!(f["geometry"]["type"], "Polygon");
                let ring = f["geometry"]["coordinates"][0].as_array().unwrap();
                assert_eq!(ring.first(), ring.last());
                let props = &f["properties"];
                (
                    props["name"].as_str().unwrap(),
                    props["kind"].as_str().unwrap(),
                )
            })
            .collect();
        let expected = [
            ("berth-1", "berth"),
            ("berth-2", "berth"),
            ("berth-3", "berth"),
            ("yard-north", "yard"),
            ("yard-south", "yard"),
            ("rail-siding", "rail"),
        ];
        assert_eq!(labels, expected);
    }

    #[test]
    fn activity_follows_the_rules_for_many_seeds() {
        for seed in 1..=25 {
            let spec = SampleSpec {
                seed,
                ..SampleSpec::default()
            };
            let layout = Layout::new(&spec);
            let plan = Plan::draw(&spec, &layout);
            let dates = &plan.dates;
            assert_eq!((dates.len(), dates[0]), (spec.scenes as usize, spec.start));
            assert!(
                dates
                    .windows(2)
                    .all(|d| SCENE_GAP_DAYS.contains(&(d[1] - d[0]).num_days().unsigned_abs()))
            );
            assert!(plan.visits.len() >= 6, "seed {seed}");
            assert!(CLOUDY_SCENES.contains(&plan.cloudy.len()));
            for berth in &layout.berths {
                let visits: Vec<_> = plan
                    .visits
                    .iter()
                    .filter(|v| v.region == berth.name)
                    .collect();
                assert!(
                    visits.windows(2).all(|v| v[0].departure < v[1].arrival),
                    "seed {seed}: overlap"
                );
                let busy = dates
                    .iter()
                    .filter(|&&d| active_regions(&plan.visits, d).contains(&berth.name))
                    .count();
                assert!(
                    0 < busy && busy < dates.len(),
                    "seed {seed}: {} busy in {busy} scenes",
                    berth.name
                );
            }
            for (visit, fill) in plan.visits.iter().zip(&plan.yard_fills) {
                assert!(
                    SHIP_STAY_DAYS
                        .contains(&(visit.departure - visit.arrival).num_days().unsigned_abs())
                );
                assert!(SHIP_LENGTH_M.contains(&visit.length_m));
                assert!(
                    dates
                        .iter()
                        .any(|d| (visit.arrival..visit.departure).contains(d))
                );
                assert_eq!(fill.berth, visit.region);
                assert!(
                    FILL_LEAD_DAYS
                        .contains(&(visit.arrival - fill.filled).num_days().unsigned_abs())
                );
                assert!((0..=1).contains(&(fill.cleared - visit.departure).num_days()));
            }
            assert!(!plan.wagon_stays.is_empty(), "seed {seed}");
        }
    }

    #[test]
    fn written_sample_has_every_file_and_consistent_truth() {
        let spec = small_spec(5);
        let dir = std::env::temp_dir().join(format!("portwatch-synth-test-{}", std::process::id()));
        let archive = render_sample(&spec);
        archive.write_to(&dir).unwrap();
        for scene in &archive.scenes {
            let image = image::open(dir.join(format!("{}.png", scene.date))).unwrap();
            let image = image.as_rgb8().expect("8-bit RGB");
            assert_eq!(image, &scene.image);
            assert!(
                image.pixels().all(|p| p.0 != [0, 0, 0]),
                "nodata pixel in {}",
                scene.date
            );
            let mask_path = dir.join(format!("{}.mask.png", scene.date));
            assert_eq!(mask_path.exists(), scene.cloud_mask.is_some());
            if let Some(mask) = &scene.cloud_mask {
                let written = image::open(&mask_path).unwrap();
                assert_eq!(written.as_luma8().expect("8-bit gray"), mask);
                assert!(mask.pixels().any(|p| p.0 == [0]) && mask.pixels().any(|p| p.0 == [255]));
            }
        }
        let truth = fs::read_to_string(dir.join("truth.csv")).unwrap();
        let mut lines = truth.lines();
        assert_eq!(lines.next(), Some("date,region,kind,occupied"));
        assert_eq!(lines.count(), archive.scenes.len() * archive.regions.len());
        let geojson = fs::read_to_string(dir.join("regions.geojson")).unwrap();
        assert_eq!(geojson, regions_geojson(&archive.regions));
        let leftovers = fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("tmp".as_ref()));
        assert_eq!(leftovers.count(), 0);
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn invalid_specs_are_rejected() {
        for spec in [
            SampleSpec {
                width: 100,
                ..SampleSpec::default()
            },
            SampleSpec {
                gsd_m: 0.5,
                ..SampleSpec::default()
            },
            SampleSpec {
                width: 300,
                gsd_m: 3.0,
                ..SampleSpec::default()
            },
            SampleSpec {
                scenes: 0,
                ..SampleSpec::default()
            },
        ] {
            assert!(
                matches!(spec.validate(), Err(Error::Setting(_))),
                "{spec:?}"
            );
        }
    }
}
