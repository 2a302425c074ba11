//! What happens at the port, drawn from the seed before anything is painted: the acquisition dates, the
//! ships' stays at the berths, the container stacks in the yards and the wagons on the siding.

use super::layout::{BERTH_COUNT, Layout, SHIP_LENGTH_M};
use super::paint::stack_blocks;
use super::scenario::{Activity, Arrivals};
use super::{Cadence, Stream, SynthSpec};
use crate::error::{Error, Result};
use chrono::{Datelike, Days, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::ops::RangeInclusive;

const SHIP_STAY_DAYS: RangeInclusive<u64> = 2..=6;
const FILL_LEAD_DAYS: RangeInclusive<u64> = 1..=4;
const WAGON_STAY_DAYS: RangeInclusive<u64> = 1..=4;
const WAGON_IDLE_DAYS: RangeInclusive<u64> = 1..=7;

/// A ship at berth `berth` on the dates `arrival <= date < departure`; it arrives after scene `seen - 1`
/// and scene `seen` is the first to show it.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Visit {
    pub(super) berth: usize,
    pub(super) arrival: NaiveDate,
    pub(super) departure: NaiveDate,
    pub(super) length_m: f64,
    pub(super) seen: usize,
}

/// Containers in yard `yard` for the ship of `visit`, in the blocks of the yard that serve its berth,
/// on the dates `filled <= date < cleared`; `slots` container slots are filled.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct YardFill {
    pub(super) yard: usize,
    pub(super) visit: usize,
    pub(super) filled: NaiveDate,
    pub(super) cleared: NaiveDate,
    pub(super) slots: u32,
}

/// Wagons standing on the siding on the dates `arrival <= date < departure`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct WagonStay {
    pub(super) arrival: NaiveDate,
    pub(super) departure: NaiveDate,
    pub(super) wagons: u32,
}

/// Something present over a half-open span of dates.
pub(super) trait Stay {
    fn span(&self) -> (NaiveDate, NaiveDate);

    fn covers(&self, date: NaiveDate) -> bool {
        let (from, to) = self.span();
        (from..to).contains(&date)
    }
}

impl Stay for Visit {
    fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.arrival, self.departure)
    }
}

impl Stay for YardFill {
    fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.filled, self.cleared)
    }
}

impl Stay for WagonStay {
    fn span(&self) -> (NaiveDate, NaiveDate) {
        (self.arrival, self.departure)
    }
}

/// The stays present on `date`, with their indices.
pub(super) fn present<T: Stay>(stays: &[T], date: NaiveDate) -> impl Iterator<Item = (usize, &T)> {
    stays
        .iter()
        .enumerate()
        .filter(move |(_, s)| s.covers(date))
}

/// Everything drawn from the seed before painting.
pub(super) struct Plan {
    pub(super) dates: Vec<NaiveDate>,
    pub(super) visits: Vec<Visit>,
    pub(super) yard_fills: Vec<YardFill>,
    pub(super) wagon_stays: Vec<WagonStay>,
}

impl Plan {
    pub(super) fn draw(spec: &SynthSpec, layout: &Layout, activity: &Activity) -> Result<Self> {
        let mut rng = Stream::Plan.rng(spec.seed);
        let dates = scene_dates(spec, &mut rng);
        let arrival_scenes = match activity.arrivals {
            Arrivals::None => Vec::new(),
            Arrivals::PerMonth(months) => {
                per_month_scenes(&dates, months, spec.scenario, &mut rng)?
            }
            Arrivals::PerScene(probability) => (1..dates.len())
                .filter(|_| rng.random_bool(probability))
                .collect(),
        };
        let visits = draw_visits(
            layout,
            &dates,
            &arrival_scenes,
            activity.back_to_back,
            &mut rng,
        );
        let yard_fills = draw_yard_fills(spec.seed, layout, &visits, &mut rng);
        let wagon_stays = if activity.wagons {
            busy_spans(&dates, WAGON_IDLE_DAYS, WAGON_STAY_DAYS, &mut rng)
                .into_iter()
                .map(|(arrival, departure)| WagonStay {
                    arrival,
                    departure,
                    wagons: rng.random_range(layout.siding.capacity / 3..=layout.siding.capacity),
                })
                .collect()
        } else {
            Vec::new()
        };
        Ok(Self {
            dates,
            visits,
            yard_fills,
            wagon_stays,
        })
    }
}

/// Acquisitions from `start`, each `cadence` days after the last, up to `end` and at most `max_scenes`.
fn scene_dates(spec: &SynthSpec, rng: &mut ChaCha8Rng) -> Vec<NaiveDate> {
    let Cadence { min_days, max_days } = spec.cadence;
    let mut dates = vec![spec.start];
    while dates.len() < spec.max_scenes.unwrap_or(u32::MAX) as usize {
        let gap = Days::new(rng.random_range(u64::from(min_days)..=u64::from(max_days)));
        match dates[dates.len() - 1].checked_add_days(gap) {
            Some(next) if next <= spec.end => dates.push(next),
            _ => break,
        }
    }
    dates
}

/// For each `(year, month, count)`, `count` distinct scenes of that month (never the first scene, which
/// nothing earlier can be compared with), spread evenly over the month's scenes.
fn per_month_scenes(
    dates: &[NaiveDate],
    months: &[(i32, u32, usize)],
    scenario: super::Scenario,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<usize>> {
    let mut chosen = Vec::new();
    for &(year, month, count) in months {
        let candidates: Vec<usize> = (1..dates.len())
            .filter(|&i| (dates[i].year(), dates[i].month()) == (year, month))
            .collect();
        if candidates.len() < count {
            return Err(Error::Setting(format!(
                "scenario {scenario}: {count} arrivals in {year}-{month:02} need at least {count} \
                 acquisitions that month after the first scene, the dates and cadence give {}",
                candidates.len()
            )));
        }
        for k in 0..count {
            let bin = &candidates[k * candidates.len() / count..(k + 1) * candidates.len() / count];
            chosen.push(bin[rng.random_range(0..bin.len())]);
        }
    }
    chosen.sort_unstable();
    Ok(chosen)
}

/// One ship per arrival scene, the berths taken in turn. A ship arrives on a day after the previous
/// scene (and in the same month as its scene), stays 2 to 6 days and is still there on its scene. It
/// leaves at least a day before the next ship at its berth arrives, or, with `back_to_back`, just as the
/// next one arrives when that is within its longest stay.
fn draw_visits(
    layout: &Layout,
    dates: &[NaiveDate],
    arrival_scenes: &[usize],
    back_to_back: bool,
    rng: &mut ChaCha8Rng,
) -> Vec<Visit> {
    let first_berth = rng.random_range(0..BERTH_COUNT);
    let arrivals: Vec<NaiveDate> = arrival_scenes
        .iter()
        .map(|&i| {
            let scene = dates[i];
            let month_start = scene.with_day(1).expect("day 1 exists");
            let earliest = (dates[i - 1] + Days::new(1))
                .max(scene - Days::new(*SHIP_STAY_DAYS.end() - 1))
                .max(month_start);
            let window = (scene - earliest).num_days().unsigned_abs();
            scene - Days::new(rng.random_range(0..=window))
        })
        .collect();
    (0..arrivals.len())
        .map(|k| {
            let (scene, arrival) = (arrival_scenes[k], arrivals[k]);
            let days_to_scene = (dates[scene] - arrival).num_days().unsigned_abs();
            let shortest = (days_to_scene + 1).max(*SHIP_STAY_DAYS.start());
            let next_at_berth = arrivals.get(k + BERTH_COUNT).copied();
            let stay = match next_at_berth.map(|next| (next - arrival).num_days().unsigned_abs()) {
                Some(gap) if back_to_back && gap <= *SHIP_STAY_DAYS.end() => gap,
                Some(gap) => {
                    let longest = (gap - 1).min(*SHIP_STAY_DAYS.end()).max(shortest);
                    rng.random_range(shortest..=longest)
                }
                None => rng.random_range(shortest..=*SHIP_STAY_DAYS.end()),
            };
            let length_m = rng
                .random_range(SHIP_LENGTH_M)
                .min(layout.max_ship_m)
                .round();
            Visit {
                berth: (first_berth + k) % BERTH_COUNT,
                arrival,
                departure: arrival + Days::new(stay),
                length_m,
                seen: scene,
            }
        })
        .collect()
}

/// Containers for each ship arrive 1 to 4 days ahead of it and leave on its departure day or the day
/// after, in one of the yards, in the blocks that serve its berth. A berth's stacks are cleared before
/// the next ship's are brought: at the latest the day before that ship arrives, or as the ship before
/// leaves when it leaves later (back to back).
fn draw_yard_fills(
    seed: u64,
    layout: &Layout,
    visits: &[Visit],
    rng: &mut ChaCha8Rng,
) -> Vec<YardFill> {
    let mut fills: Vec<YardFill> = Vec::with_capacity(visits.len());
    let mut last_at_berth: [Option<usize>; BERTH_COUNT] = [None; BERTH_COUNT];
    for (k, visit) in visits.iter().enumerate() {
        let ahead = visit.arrival - Days::new(rng.random_range(FILL_LEAD_DAYS));
        let filled = match last_at_berth[visit.berth] {
            Some(previous) => {
                let previous = &mut fills[previous];
                let cap = (visit.arrival - Days::new(1)).max(visits[previous.visit].departure);
                previous.cleared = previous.cleared.min(cap);
                ahead.max(previous.cleared)
            }
            None => ahead,
        };
        let yard = rng.random_range(0..layout.yards.len());
        let blocks = layout.yards[yard].blocks_for(visit.berth, BERTH_COUNT);
        let slots = stack_blocks(layout, blocks, &mut Stream::Stack(k).rng(seed))
            .iter()
            .map(|block| block.slots)
            .sum();
        last_at_berth[visit.berth] = Some(fills.len());
        fills.push(YardFill {
            yard,
            visit: k,
            filled,
            cleared: visit.departure + Days::new(rng.random_range(0..=1)),
            slots,
        });
    }
    fills
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
