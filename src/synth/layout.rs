//! Where everything of the synthetic port lies, in pixels: quay, berths, yards and their stacking blocks,
//! rail siding, roads, buildings, cranes; and the regions the engine watches.

use super::SynthRegion;
use super::geometry::{P, Rect, add, closed, contains, scale, sub};
use std::ops::RangeInclusive;

/// Shadow displacement per metre of height, in metres: sun in the south-east, about 53° up.
const SHADOW_PER_M: P = [-0.6, -0.45];
pub(super) const BERTH_COUNT: usize = 3;
pub(super) const SHIP_LENGTH_M: RangeInclusive<f64> = 80.0..=200.0;
pub(super) const BEAM_RATIO: f64 = 7.0;
pub(super) const FENDER_M: f64 = 3.0;
const BERTH_SLACK_M: f64 = 8.0;
const APRON_M: f64 = 40.0;
pub(super) const CONTAINER_M: [f64; 2] = [6.1, 2.44];
pub(super) const TIER_M: f64 = 2.6;
const BLOCK_SLOTS: [usize; 2] = [16, 6];
const TRACK_SPACING_M: f64 = 15.0;
pub(super) const WAGON_M: [f64; 2] = [15.0, 3.0];
const WAGON_GAP_M: f64 = 1.5;
const CRANE_HEIGHT_M: f64 = 42.0;

/// Wagon spacing along the track in pixels; the gap is kept visible at coarse GSD.
pub(super) fn wagon_pitch(ppm: f64) -> f64 {
    (WAGON_M[0] + WAGON_GAP_M) * ppm + (1.0 - WAGON_GAP_M * ppm).max(0.0)
}

pub(super) fn superstructure_height_m(length_m: f64) -> f64 {
    14.0 + 0.1 * length_m
}

pub(super) fn freeboard_m(length_m: f64) -> f64 {
    5.0 + 0.02 * length_m
}

pub(super) struct Berth {
    pub(super) name: String,
    pub(super) rect: Rect,
}

pub(super) struct Yard {
    pub(super) name: String,
    pub(super) ring: Vec<P>,
    /// Pixel-aligned stacking blocks, in reading order.
    pub(super) blocks: Vec<Rect>,
}

impl Yard {
    /// The contiguous share of blocks that serves berth `share` of `shares`.
    /// Ground slots for 20-ft containers in all the blocks.
    pub(super) fn slots(&self) -> u32 {
        (self.blocks.len() * BLOCK_SLOTS[0] * BLOCK_SLOTS[1]) as u32
    }

    pub(super) fn blocks_for(&self, share: usize, shares: usize) -> &[Rect] {
        let n = self.blocks.len();
        &self.blocks[n * share / shares..n * (share + 1) / shares]
    }
}

pub(super) struct Siding {
    pub(super) name: String,
    pub(super) rect: Rect,
    pub(super) tracks: [f64; 2],
    /// Extent along the tracks where wagons may stand.
    pub(super) wagon_span: [f64; 2],
    pub(super) capacity: u32,
}

pub(super) enum Roof {
    Gable,
    Flat,
}

pub(super) struct Building {
    pub(super) rect: Rect,
    pub(super) roof: Roof,
    pub(super) height_m: f64,
}

/// A straight structural member between two points at given heights (metres), seen from above.
pub(super) struct Strut {
    pub(super) a: P,
    pub(super) b: P,
    pub(super) heights: [f64; 2],
    pub(super) width: f64,
}

pub(super) struct Layout {
    pub(super) width: f64,
    pub(super) height: f64,
    /// Pixels per metre.
    pub(super) ppm: f64,
    /// Shadow displacement in pixels per metre of height.
    pub(super) shadow: P,
    pub(super) quay_x: f64,
    pub(super) apron_x1: f64,
    pub(super) breakwater: Rect,
    pub(super) berths: Vec<Berth>,
    pub(super) max_ship_m: f64,
    pub(super) yards: Vec<Yard>,
    pub(super) siding: Siding,
    /// Centre lines and widths of roads.
    pub(super) roads: Vec<(P, P, f64)>,
    pub(super) buildings: Vec<Building>,
    pub(super) tank_farm: Rect,
    pub(super) parking: Vec<Rect>,
    pub(super) groves: Vec<Rect>,
    pub(super) cranes: Vec<Vec<Strut>>,
    pub(super) masts: Vec<Vec<Strut>>,
}

impl Layout {
    pub(super) fn new(width: u32, height: u32, gsd_m: f64) -> Self {
        let zones = Zones::new(width, height, gsd_m);
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
    pub(super) fn m(&self, metres: f64) -> f64 {
        metres * self.ppm
    }

    /// The regions in name order, the order of the engine's outputs.
    pub(super) fn regions(&self) -> Vec<SynthRegion> {
        let region = |name: &str, kind: &str, rects: &[Rect]| SynthRegion {
            name: name.into(),
            kind: kind.into(),
            polygons: rects.iter().map(|rect| closed(&rect.ring())).collect(),
        };
        let berths = self
            .berths
            .iter()
            .map(|b| region(&b.name, "berth", &[b.rect]));
        // An analyst draws a yard's stacking blocks, not the lanes between them, which never fill.
        let yards = self
            .yards
            .iter()
            .map(|y| region(&y.name, "yard", &y.blocks));
        let siding = region(&self.siding.name, "rail", &[self.siding.rect]);
        let mut regions: Vec<SynthRegion> = berths.chain(yards).chain([siding]).collect();
        regions.sort_by(|a, b| a.name.cmp(&b.name));
        regions
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
    fn new(width: u32, height: u32, gsd_m: f64) -> Self {
        let (w, h) = (f64::from(width), f64::from(height));
        let ppm = 1.0 / gsd_m;
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
pub(super) fn yard(name: &str, bounds: Rect, north: bool, ppm: f64) -> (Yard, Vec<P>) {
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
pub(super) const CRANE_RAILS_M: [f64; 2] = [3.0, 33.0];

/// A ship-to-shore gantry crane straddling the apron at `y`, its boom raised over the berth.
pub(super) fn crane(quay_x: f64, y: f64, ppm: f64) -> Vec<Strut> {
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
