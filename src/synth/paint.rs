//! Painting the port: the ground, water and built structures that never change, and the ships, container
//! stacks and wagons of a given date, over the background.

use super::Stream;
use super::geometry::*;
use super::layout::*;
use super::plan::{Plan, present};
use super::raster::{Canvas, Noise};
use chrono::NaiveDate;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// Everything that never changes: ground, water, quay, yards, rail, buildings.
pub(super) fn paint_background(layout: &Layout, seed: u64) -> Canvas {
    let rng = &mut Stream::Background.rng(seed);
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

/// The port on `date`: the ships, container stacks and wagons present that day over the background, and
/// the cranes and masts over them.
pub(super) fn paint_date(
    background: &Canvas,
    layout: &Layout,
    plan: &Plan,
    seed: u64,
    date: NaiveDate,
) -> Canvas {
    let mut canvas = background.clone();
    paint_activity(&mut canvas, layout, plan, seed, date);
    draw_towers(&mut canvas, layout);
    canvas
}

/// Ships, stacks and wagons present on `date`.
pub(super) fn paint_activity(
    canvas: &mut Canvas,
    layout: &Layout,
    plan: &Plan,
    seed: u64,
    date: NaiveDate,
) {
    for (k, visit) in present(&plan.visits, date) {
        let berth = &layout.berths[visit.berth].rect;
        draw_ship(
            canvas,
            layout,
            berth,
            visit.length_m,
            &mut Stream::Ship(k).rng(seed),
        );
    }
    for (_, fill) in present(&plan.yard_fills, date) {
        let berth = plan.visits[fill.visit].berth;
        let blocks = layout.yards[fill.yard].blocks_for(berth, BERTH_COUNT);
        let stacks = stack_blocks(layout, blocks, &mut Stream::Stack(fill.visit).rng(seed));
        draw_stacks(canvas, layout, &stacks);
    }
    for (k, stay) in present(&plan.wagon_stays, date) {
        draw_consist(
            canvas,
            layout,
            stay.wagons,
            &mut Stream::Wagons(k).rng(seed),
        );
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
pub(super) const CLOUD_GREY: Rgb = [188.0, 192.0, 198.0];
pub(super) const CLOUD_WHITE: Rgb = [246.0, 247.0, 248.0];
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

/// The containers of one stacking block, stacked `tiers` high.
pub(super) struct StackedBlock {
    block: Rect,
    tiers: u8,
    containers: Vec<(Rect, Rgb)>,
    /// Container slots (20-ft ground slots) the containers take.
    pub(super) slots: u32,
}

/// Fills each block with rows of 20-ft and 40-ft containers, leaving some slots empty.
pub(super) fn stack_blocks(
    layout: &Layout,
    blocks: &[Rect],
    rng: &mut ChaCha8Rng,
) -> Vec<StackedBlock> {
    let ppm = layout.ppm;
    let slot = (CONTAINER_M[0] * ppm).round().max(1.0);
    let row = (CONTAINER_M[1] * ppm).round().max(1.0);
    let fill = rng.random_range(0.6..0.95);
    blocks
        .iter()
        .map(|&block| {
            let tiers = rng.random_range(2..=4_u8);
            let (mut containers, mut slots) = (Vec::new(), 0);
            let mut y = block.y0;
            while y + row <= block.y1 {
                let mut x = block.x0;
                while x + slot <= block.x1 {
                    let forty = x + 2.0 * slot <= block.x1 && rng.random_bool(0.6);
                    let length = if forty { 2.0 * slot } else { slot };
                    if rng.random_bool(fill) {
                        let colour = shade_of(rng, &CONTAINERS, 0.1);
                        containers.push((Rect::new(x, y, x + length, y + row), colour));
                        slots += if forty { 2 } else { 1 };
                    }
                    x += length;
                }
                y += row;
            }
            StackedBlock {
                block,
                tiers,
                containers,
                slots,
            }
        })
        .collect()
}

/// Paints stacked blocks over the shadows of their stacks.
fn draw_stacks(canvas: &mut Canvas, layout: &Layout, stacks: &[StackedBlock]) {
    for stack in stacks {
        let height = f64::from(stack.tiers) * TIER_M;
        canvas.darken(
            &extrude(&stack.block.ring(), scale(layout.shadow, height)),
            0.7,
        );
        for (container, colour) in &stack.containers {
            canvas.fill(&container.ring(), *colour);
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
