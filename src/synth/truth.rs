//! Ground truth of a synthetic archive: what each region holds on each scene date and whether the scene
//! shows it (`truth.csv`), and the changes dated at the first scene that shows them (`truth_events.csv`).

use super::SynthRegion;
use super::geometry::centre;
use super::layout::Layout;
use super::nuisance::SceneNuisance;
use super::plan::{Plan, present};
use chrono::NaiveDate;

/// A region is unobserved on a scene when cloud or cloud shadow covers more than this fraction of it:
/// half, the default of `portwatch run --min-valid`.
pub(super) const UNOBSERVED_ABOVE: f64 = 0.5;

/// The fraction of `region`'s pixels that the scene's cloud or its shadow covers (0 on a clear scene).
pub(super) fn clouded_fraction(
    region: &SynthRegion,
    scene: &SceneNuisance,
    w: usize,
    h: usize,
) -> f64 {
    if scene.cloud.is_none() {
        return 0.0;
    }
    let (lo, hi) = region.bounds();
    let (x0, x1) = (lo[0].max(0.0) as usize, (hi[0].ceil() as usize).min(w));
    let (y0, y1) = (lo[1].max(0.0) as usize, (hi[1].ceil() as usize).min(h));
    let (mut inside, mut clouded) = (0_u64, 0_u64);
    for y in y0..y1 {
        for x in x0..x1 {
            if region.contains(centre(x, y)) {
                inside += 1;
                clouded += u64::from(!scene.clear_at(x, y));
            }
        }
    }
    clouded as f64 / inside.max(1) as f64
}

/// What a region holds on one scene date.
#[derive(Debug, Clone, PartialEq)]
struct State {
    observed: bool,
    /// The ship at a berth, or 0 for a filled yard or wagons on the siding: a change of occupant is an
    /// event.
    occupant: Option<usize>,
    fill_fraction: f64,
    length_m: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
struct Event {
    scene: usize,
    region: usize,
    event: &'static str,
    length_m: Option<f64>,
}

/// The truth of a whole archive: `states[scene][region]` and the events in date order.
pub(super) struct Truth {
    states: Vec<Vec<State>>,
    events: Vec<Event>,
}

impl Truth {
    pub(super) fn compute(
        layout: &Layout,
        regions: &[SynthRegion],
        plan: &Plan,
        scenes: &[SceneNuisance],
    ) -> Self {
        let (w, h) = (layout.width as usize, layout.height as usize);
        let states: Vec<Vec<State>> = plan
            .dates
            .iter()
            .zip(scenes)
            .map(|(&date, scene)| {
                regions
                    .iter()
                    .map(|region| {
                        let mut state = occupancy(layout, plan, region, date);
                        state.observed = clouded_fraction(region, scene, w, h) <= UNOBSERVED_ABOVE;
                        state
                    })
                    .collect()
            })
            .collect();
        let events = events(regions, &states);
        Self { states, events }
    }

    /// The regions occupied on scene `scene`.
    #[cfg(test)]
    pub(super) fn occupied_regions(&self, scene: usize) -> Vec<usize> {
        (0..self.states[scene].len())
            .filter(|&r| self.states[scene][r].occupant.is_some())
            .collect()
    }

    /// `date,region,kind,observed,occupied,fill_fraction,length_m`, one row per scene date and region.
    pub(super) fn csv(&self, dates: &[NaiveDate], regions: &[SynthRegion]) -> String {
        let mut csv = String::from("date,region,kind,observed,occupied,fill_fraction,length_m\n");
        for (date, states) in dates.iter().zip(&self.states) {
            for (region, state) in regions.iter().zip(states) {
                csv += &format!(
                    "{date},{},{},{},{},{:.4},{}\n",
                    region.name,
                    region.kind,
                    u8::from(state.observed),
                    u8::from(state.occupant.is_some()),
                    state.fill_fraction,
                    metres(state.length_m)
                );
            }
        }
        csv
    }

    /// `date,region,kind,event,length_m`, in date order, then region name.
    pub(super) fn events_csv(&self, dates: &[NaiveDate], regions: &[SynthRegion]) -> String {
        let mut csv = String::from("date,region,kind,event,length_m\n");
        for e in &self.events {
            let region = &regions[e.region];
            csv += &format!(
                "{},{},{},{},{}\n",
                dates[e.scene],
                region.name,
                region.kind,
                e.event,
                metres(e.length_m)
            );
        }
        csv
    }
}

fn metres(length_m: Option<f64>) -> String {
    length_m.map_or_else(String::new, |m| format!("{m:.1}"))
}

/// What `region` holds on `date` (observed left to the caller): for a berth the ship and the fraction
/// of the berth's length it covers; for a yard the fraction of its container slots filled; for the
/// siding the fraction of its wagon places taken.
fn occupancy(layout: &Layout, plan: &Plan, region: &SynthRegion, date: NaiveDate) -> State {
    let empty = State {
        observed: true,
        occupant: None,
        fill_fraction: 0.0,
        length_m: None,
    };
    if let Some(b) = layout.berths.iter().position(|b| b.name == region.name) {
        let berth_length_m = layout.berths[b].rect.height() / layout.ppm;
        return present(&plan.visits, date)
            .find(|(_, v)| v.berth == b)
            .map_or(empty.clone(), |(k, visit)| State {
                occupant: Some(k),
                fill_fraction: (visit.length_m / berth_length_m).min(1.0),
                length_m: Some(visit.length_m),
                ..empty.clone()
            });
    }
    let filled = if let Some(y) = layout.yards.iter().position(|y| y.name == region.name) {
        let slots: u32 = present(&plan.yard_fills, date)
            .filter(|(_, fill)| fill.yard == y)
            .map(|(_, fill)| fill.slots)
            .sum();
        f64::from(slots) / f64::from(layout.yards[y].slots())
    } else {
        let wagons: u32 = present(&plan.wagon_stays, date)
            .map(|(_, s)| s.wagons)
            .sum();
        f64::from(wagons) / f64::from(layout.siding.capacity)
    };
    State {
        occupant: (filled > 0.0).then_some(0),
        fill_fraction: filled,
        ..empty
    }
}

/// Changes of occupant at berths (`departure`, `arrival`) and yards (`clear`, `fill`), each dated at the
/// first observed scene that shows it. A region's first observed scene is its baseline: no earlier scene
/// showed what it changed from, so what it shows is not an event. A stay that no observed scene shows
/// leaves no event.
fn events(regions: &[SynthRegion], states: &[Vec<State>]) -> Vec<Event> {
    let mut events = Vec::new();
    // Each region's occupant on its last observed scene; `None` until it has been observed.
    let mut last_seen: Vec<Option<Option<usize>>> = vec![None; regions.len()];
    for (scene, states) in states.iter().enumerate() {
        for (region, state) in states.iter().enumerate() {
            let (gone, came) = match regions[region].kind.as_str() {
                "berth" => ("departure", "arrival"),
                "yard" => ("clear", "fill"),
                _ => continue,
            };
            if !state.observed {
                continue;
            }
            let Some(seen) = last_seen[region].replace(state.occupant) else {
                continue;
            };
            if state.occupant == seen {
                continue;
            }
            if seen.is_some() {
                events.push(Event {
                    scene,
                    region,
                    event: gone,
                    length_m: None,
                });
            }
            if state.occupant.is_some() {
                events.push(Event {
                    scene,
                    region,
                    event: came,
                    length_m: state.length_m,
                });
            }
        }
    }
    events
}
