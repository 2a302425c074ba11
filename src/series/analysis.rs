//! States with hysteresis, events and vessel lengths, from the measurements of each region date by date.

use super::{CellMeasurement, RegionInfo, SeriesSettings, Stretch};
use crate::statistics::median;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Occupied,
    Empty,
    /// Too little of the region was valid (clouds, shadows, nodata, masks).
    Unobserved,
}

impl State {
    pub const ALL: [State; 3] = [State::Occupied, State::Empty, State::Unobserved];

    /// The state named by its word in `series.csv`.
    pub fn parse(word: &str) -> Option<State> {
        State::ALL.into_iter().find(|state| state.word() == word)
    }

    pub fn word(self) -> &'static str {
        match self {
            State::Occupied => "occupied",
            State::Empty => "empty",
            State::Unobserved => "unobserved",
        }
    }
}

/// One (date, region) cell of the series.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub valid_fraction: f64,
    /// The fraction of the valid pixels that differ from the background; `None` when unobserved.
    pub occupancy: Option<f64>,
    /// The fraction changed since the previous observed date; `None` when unobserved or first observed.
    pub change_score: Option<f64>,
    pub state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EventKind {
    Arrival,
    Departure,
    Fill,
    Clear,
}

impl EventKind {
    pub const ALL: [EventKind; 4] = [
        EventKind::Arrival,
        EventKind::Departure,
        EventKind::Fill,
        EventKind::Clear,
    ];

    /// The kind named by its word in `events.csv`.
    pub fn parse(word: &str) -> Option<EventKind> {
        EventKind::ALL.into_iter().find(|kind| kind.word() == word)
    }

    pub fn word(self) -> &'static str {
        match self {
            EventKind::Arrival => "arrival",
            EventKind::Departure => "departure",
            EventKind::Fill => "fill",
            EventKind::Clear => "clear",
        }
    }
}

/// A change of a region's occupant, dated at the first observation that shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// Index of the date in the series.
    pub date: usize,
    pub region: usize,
    pub kind: EventKind,
    /// For arrivals: the vessel's length, when the pixel size is known.
    pub length_m: Option<f64>,
}

/// The whole series: `cells[date][region]` and the events in date order, then region order.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub cells: Vec<Vec<Cell>>,
    pub events: Vec<Event>,
}

/// Turns the measurements `measurements[date][region]` into states and events.
///
/// A cell is unobserved when less than `min_valid_fraction` of its region is valid. An observed berth is
/// occupied when its longest occupied stretch covers at least `berth_occupied_above` of its length; any
/// other region when at least `yard_occupied_above` of its valid pixels differ from the background. It
/// falls back to empty only below `release` times that level; in between it keeps its previous state, so
/// noise near the level does not flicker. An unobserved cell changes nothing: a transition across a gap
/// is dated at the first observation after it. At a berth that stays occupied, an end of the occupied
/// stretch lying more than `new_ship_shift_px` from the median of where the stay saw that end is a new
/// ship: a departure and an arrival on the same date. (The change score is no guide there: a moored ship
/// seen a pixel off by the next pass changes as much as a new ship.)
pub fn analyse(
    regions: &[RegionInfo],
    measurements: &[Vec<CellMeasurement>],
    settings: &SeriesSettings,
) -> Analysis {
    let mut cells: Vec<Vec<Cell>> = measurements.iter().map(|_| Vec::new()).collect();
    let mut events = Vec::new();
    for (region_index, region) in regions.iter().enumerate() {
        let column = measurements.iter().map(|row| &row[region_index]);
        let (column_cells, column_events) = analyse_region(region, column, settings);
        for (row, cell) in cells.iter_mut().zip(column_cells) {
            row.push(cell);
        }
        events.extend(column_events.into_iter().map(|mut event| {
            event.region = region_index;
            event
        }));
    }
    events.sort_by_key(|e| (e.date, e.region, e.kind == EventKind::Arrival));
    Analysis { cells, events }
}

/// One stay of a vessel at a berth: its arrival event (none for a ship already there at the first
/// observation) and its stretches while it lasted.
struct Stay {
    arrival: Option<usize>,
    stretches: Vec<Stretch>,
}

impl Stay {
    /// Whether an end of `now`, where seen, lies more than `allowed` pixels from the median of where
    /// this stay saw that end: the median, so that one pass's misread end does not start a new ship. A
    /// stay seen once whose stretch `now` holds was read short that once (part of the ship hidden or
    /// faint), not left.
    fn is_left_by(&self, now: Stretch, allowed: u32) -> bool {
        if let [once] = self.stretches[..]
            && now.start <= once.start
            && now.end() >= once.end()
        {
            return false;
        }
        let moved = |end: usize, position: fn(&Stretch) -> u32| {
            let seen = self
                .stretches
                .iter()
                .filter(|s| s.ends_seen[end])
                .map(|s| f64::from(position(s)));
            now.ends_seen[end]
                && median(seen.collect())
                    .is_some_and(|at| (f64::from(position(&now)) - at).abs() > f64::from(allowed))
        };
        moved(0, |s| s.start) || moved(1, Stretch::end)
    }

    /// The median length of the stretches whose both ends were seen, or of all when none was.
    fn length_px(&self) -> Option<f64> {
        let lengths = |seen_only: bool| -> Vec<f64> {
            self.stretches
                .iter()
                .filter(|s| !seen_only || s.both_ends_seen())
                .map(|s| f64::from(s.length))
                .collect()
        };
        median(lengths(true)).or_else(|| median(lengths(false)))
    }
}

fn analyse_region<'a>(
    region: &RegionInfo,
    column: impl Iterator<Item = &'a CellMeasurement>,
    settings: &SeriesSettings,
) -> (Vec<Cell>, Vec<Event>) {
    let (occupied_above, came, went) = if region.is_berth() {
        let berth = (
            settings.berth_occupied_above,
            EventKind::Arrival,
            EventKind::Departure,
        );
        (berth.0, Some(berth.1), Some(berth.2))
    } else if region.is_yard() {
        (
            settings.yard_occupied_above,
            Some(EventKind::Fill),
            Some(EventKind::Clear),
        )
    } else {
        (settings.yard_occupied_above, None, None)
    };
    let mut cells = Vec::new();
    let mut events: Vec<Event> = Vec::new();
    let mut stays: Vec<Stay> = Vec::new();
    // The state of the last observation.
    let mut previous: Option<State> = None;
    for (date, m) in column.enumerate() {
        let valid_fraction = m.valid_px as f64 / region.pixel_count.max(1) as f64;
        if !region.is_observed(m.valid_px, settings.min_valid_fraction) {
            cells.push(Cell {
                valid_fraction,
                occupancy: None,
                change_score: None,
                state: State::Unobserved,
            });
            continue;
        }
        let occupancy = m.changed_px as f64 / m.valid_px as f64;
        let stretch = f64::from(m.stretch.length);
        let presence = if region.is_berth() {
            stretch / f64::from(region.profile_length().max(1))
        } else {
            occupancy
        };
        let state = if presence >= occupied_above {
            State::Occupied
        } else if presence < occupied_above * settings.release {
            State::Empty
        } else {
            previous.unwrap_or(State::Empty)
        };
        let mut event = |kind: Option<EventKind>| {
            if let Some(kind) = kind {
                events.push(Event {
                    date,
                    region: 0,
                    kind,
                    length_m: None,
                });
            }
        };
        let stays_on = previous == Some(State::Occupied) && state == State::Occupied;
        let new_ship = stays_on
            && region.is_berth()
            && stays
                .last()
                .is_some_and(|stay| stay.is_left_by(m.stretch, settings.new_ship_shift_px));
        match (previous, state) {
            (Some(State::Empty), State::Occupied) => event(came),
            (Some(State::Occupied), State::Empty) => event(went),
            _ if new_ship => {
                event(went);
                event(came);
            }
            _ => {}
        }
        if region.is_berth() && state == State::Occupied {
            match stays.last_mut() {
                Some(stay) if stays_on && !new_ship => stay.stretches.push(m.stretch),
                // A new stay, whose arrival was the last event pushed unless this is the first observation.
                _ => stays.push(Stay {
                    arrival: previous.is_some().then(|| events.len() - 1),
                    stretches: vec![m.stretch],
                }),
            }
        }
        previous = Some(state);
        cells.push(Cell {
            valid_fraction,
            occupancy: Some(occupancy),
            change_score: m.change_score,
            state,
        });
    }
    if let Some(gsd) = settings.gsd_m {
        for stay in stays {
            if let Some(arrival) = stay.arrival {
                events[arrival].length_m = stay.length_px().map(|px| px * gsd);
            }
        }
    }
    (cells, events)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn berth(profile_length: u32) -> RegionInfo {
        RegionInfo {
            name: "berth-1".into(),
            kind: "berth".into(),
            pixel_count: 1000,
            bin_pixels: vec![10; profile_length as usize],
        }
    }

    fn yard() -> RegionInfo {
        RegionInfo {
            name: "yard".into(),
            kind: "yard".into(),
            pixel_count: 1000,
            bin_pixels: vec![20; 50],
        }
    }

    fn cell(
        valid_px: u64,
        changed_px: u64,
        stretch_px: u32,
        change_score: Option<f64>,
    ) -> CellMeasurement {
        CellMeasurement {
            valid_px,
            changed_px,
            stretch: Stretch {
                start: 10,
                length: stretch_px,
                ends_seen: [true; 2],
            },
            change_score,
        }
    }

    fn kinds(analysis: &Analysis) -> Vec<(usize, EventKind)> {
        analysis.events.iter().map(|e| (e.date, e.kind)).collect()
    }

    /// A berth's events when a ship arrives on date 1 and another takes its place on `date`.
    fn arrival_then_new_ship(date: usize) -> Vec<(usize, EventKind)> {
        vec![
            (1, EventKind::Arrival),
            (date, EventKind::Departure),
            (date, EventKind::Arrival),
        ]
    }

    #[test]
    fn a_ship_arrives_and_leaves_across_a_cloudy_gap() {
        let settings = SeriesSettings {
            gsd_m: Some(3.0),
            ..Default::default()
        };
        let column = [
            cell(1000, 5, 2, None),
            cell(1000, 200, 40, Some(0.2)),
            cell(100, 0, 0, None),
            cell(1000, 210, 44, Some(0.01)),
            cell(1000, 0, 0, Some(0.2)),
        ];
        let rows: Vec<Vec<CellMeasurement>> = column.into_iter().map(|c| vec![c]).collect();
        let analysis = analyse(&[berth(100)], &rows, &settings);
        let states: Vec<State> = analysis.cells.iter().map(|row| row[0].state).collect();
        assert_eq!(
            states,
            [
                State::Empty,
                State::Occupied,
                State::Unobserved,
                State::Occupied,
                State::Empty
            ]
        );
        assert_eq!(
            kinds(&analysis),
            [(1, EventKind::Arrival), (4, EventKind::Departure)]
        );
        assert_eq!(analysis.events[0].length_m, Some(126.0));
        assert_eq!(analysis.events[1].length_m, None);
    }

    #[test]
    fn hysteresis_holds_the_state_between_the_levels() {
        // Yard level 0.05, released below 0.03.
        let occupancies = [0.0, 0.06, 0.04, 0.031, 0.029, 0.04, 0.05];
        let rows: Vec<Vec<CellMeasurement>> = occupancies
            .iter()
            .map(|&o| vec![cell(1000, (o * 1000.0) as u64, 0, None)])
            .collect();
        let analysis = analyse(&[yard()], &rows, &SeriesSettings::default());
        assert_eq!(
            kinds(&analysis),
            [
                (1, EventKind::Fill),
                (4, EventKind::Clear),
                (6, EventKind::Fill)
            ]
        );
    }

    #[test]
    fn a_new_ship_at_an_occupied_berth_is_a_departure_and_an_arrival() {
        let rows = vec![
            vec![cell(1000, 0, 0, None)],
            vec![cell(1000, 200, 40, Some(0.2))],
            // The same ship, its deck worked: a large change, its ends within 4 px.
            vec![cell(1000, 190, 42, Some(0.25))],
            vec![cell(1000, 250, 60, Some(0.18))],
        ];
        let settings = SeriesSettings {
            gsd_m: Some(2.0),
            ..Default::default()
        };
        let analysis = analyse(&[berth(100)], &rows, &settings);
        assert_eq!(kinds(&analysis), arrival_then_new_ship(3));
        assert_eq!(analysis.events[0].length_m, Some(82.0));
        assert_eq!(analysis.events[2].length_m, Some(120.0));
    }

    /// An occupied berth cell whose stretch runs from `start` to `end`.
    fn at(start: u32, end: u32, ends_seen: [bool; 2]) -> CellMeasurement {
        let mut cell = cell(1000, 200, 0, Some(0.2));
        cell.stretch = Stretch {
            start,
            length: end - start,
            ends_seen,
        };
        cell
    }

    fn berth_events(stretches: Vec<CellMeasurement>) -> Vec<(usize, EventKind)> {
        let rows: Vec<Vec<CellMeasurement>> = stretches.into_iter().map(|c| vec![c]).collect();
        kinds(&analyse(&[berth(100)], &rows, &SeriesSettings::default()))
    }

    #[test]
    fn a_new_ship_is_told_from_where_the_stay_saw_its_ends() {
        let seen = [true; 2];
        let events = berth_events(vec![
            at(20, 21, seen),
            at(10, 50, seen),
            at(11, 50, seen),
            // One pass misreads the end by 4 px, the next by 3 px the other way: 7 px between them,
            // but each within 4 px of where the stay has seen it.
            at(10, 54, seen),
            at(10, 47, seen),
            // An end under a cloud is not compared.
            at(10, 30, [true, false]),
            // Ships of like length, the next one 5 px further along.
            at(15, 55, seen),
        ]);
        assert_eq!(events, arrival_then_new_ship(6));
    }

    #[test]
    fn a_ship_read_short_on_its_first_pass_is_not_a_new_ship_on_its_second() {
        let seen = [true; 2];
        let events = berth_events(vec![
            at(20, 21, seen),
            at(18, 45, seen),
            at(10, 50, seen),
            at(11, 50, seen),
        ]);
        assert_eq!(events, [(1, EventKind::Arrival)]);
        // Seen twice where it was, the stretch growing past both ends is a longer ship.
        let events = berth_events(vec![
            at(20, 21, seen),
            at(18, 45, seen),
            at(18, 45, seen),
            at(10, 50, seen),
        ]);
        assert_eq!(events, arrival_then_new_ship(3));
    }

    #[test]
    fn an_occupied_first_observation_is_no_arrival_and_lengths_need_a_pixel_size() {
        let rows = vec![
            vec![cell(1000, 200, 40, None)],
            vec![cell(1000, 0, 0, Some(0.2))],
            vec![cell(1000, 200, 30, Some(0.2))],
        ];
        let analysis = analyse(&[berth(100)], &rows, &SeriesSettings::default());
        assert_eq!(
            kinds(&analysis),
            [(1, EventKind::Departure), (2, EventKind::Arrival)]
        );
        assert_eq!(analysis.events[1].length_m, None);
    }

    #[test]
    fn other_regions_have_states_but_no_events() {
        let rail = RegionInfo {
            kind: "rail".into(),
            ..yard()
        };
        let rows = vec![
            vec![cell(1000, 0, 0, None)],
            vec![cell(1000, 500, 0, Some(0.5))],
        ];
        let analysis = analyse(&[rail], &rows, &SeriesSettings::default());
        assert_eq!(analysis.cells[1][0].state, State::Occupied);
        assert!(analysis.events.is_empty());
    }
}
