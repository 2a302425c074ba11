//! The metrics of `portwatch eval`, computed from the truth and a run's results (defined in the README).

use super::matching::match_events;
use super::tables::{
    Event, EventKind, RESULT_EVENTS_FILE, ResultCell, RunResults, State, TRUTH_EVENTS_FILE, Truth,
    TruthCell,
};
use crate::statistics::{mean, median, median_interval_days, month_of, months_between};
use chrono::NaiveDate;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Every metric of one evaluation, serialized as the `--json` report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub acquisitions: usize,
    pub regions: usize,
    pub truth_cells: usize,
    /// Truth cells with no row in `series.csv`; left out of every cell metric.
    pub cells_missing_from_result: usize,
    /// Berth cells truly observed and reported observed whose state is right.
    pub berth_state_accuracy: Share,
    /// Truly observed cells (every kind) reported unobserved.
    pub observed_called_unobserved: Share,
    /// Truly clouded cells (observed = 0, every kind) reported unobserved.
    pub clouded_caught: Share,
    pub yard_occupancy: YardOccupancy,
    /// `None` when an events file is absent; `events_unavailable` says which.
    pub events: Option<EventMetrics>,
    pub events_unavailable: Option<String>,
}

/// `count` out of `out_of`, and their ratio when `out_of` is not zero.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Share {
    pub count: usize,
    pub out_of: usize,
    pub fraction: Option<f64>,
}

impl Share {
    fn of(count: usize, out_of: usize) -> Share {
        Share {
            count,
            out_of,
            fraction: ratio(count, out_of),
        }
    }
}

/// `count / out_of`, `None` when `out_of` is zero.
fn ratio(count: usize, out_of: usize) -> Option<f64> {
    (out_of > 0).then(|| count as f64 / out_of as f64)
}

#[derive(Debug, Serialize)]
pub struct YardOccupancy {
    pub scored_cells: usize,
    pub mean_absolute_error: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct EventMetrics {
    pub arrival: EventScore,
    pub departure: EventScore,
    pub fill: EventScore,
    pub clear: EventScore,
    pub arrivals_per_month: ArrivalsPerMonth,
    pub median_inter_arrival_days: TruthAndResult<Option<f64>>,
    pub length_error_m: LengthError,
}

/// How the reported events of one kind compare with the true ones.
#[derive(Debug, Serialize)]
pub struct EventScore {
    pub truth: usize,
    pub result: usize,
    pub matched: usize,
    /// matched / result.
    pub precision: Option<f64>,
    /// matched / truth.
    pub recall: Option<f64>,
    /// 2 matched / (truth + result), which is 2PR / (P + R) whenever both are defined.
    pub f1: Option<f64>,
    pub matches: Vec<EventMatch>,
    pub missed: Vec<EventAt>,
    pub false_alarms: Vec<EventAt>,
}

#[derive(Debug, Serialize)]
pub struct EventMatch {
    pub region: String,
    #[serde(serialize_with = "iso_date")]
    pub truth_date: NaiveDate,
    #[serde(serialize_with = "iso_date")]
    pub result_date: NaiveDate,
    pub truth_length_m: Option<f64>,
    pub result_length_m: Option<f64>,
}

#[derive(Debug, Serialize)]
pub struct EventAt {
    pub region: String,
    #[serde(serialize_with = "iso_date")]
    pub date: NaiveDate,
    pub length_m: Option<f64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct TruthAndResult<T> {
    pub truth: T,
    pub result: T,
}

/// Arrivals per calendar month (`YYYY-MM`), every month from the first acquisition's to the last's.
#[derive(Debug, Serialize)]
pub struct ArrivalsPerMonth {
    pub port: BTreeMap<String, TruthAndResult<usize>>,
    /// Per berth, and per any other region with arrivals.
    pub regions: BTreeMap<String, BTreeMap<String, TruthAndResult<usize>>>,
}

/// Absolute differences between the true and reported lengths of matched arrivals that both have one.
#[derive(Debug, Serialize)]
pub struct LengthError {
    pub pairs: usize,
    pub mean: Option<f64>,
    pub median: Option<f64>,
}

fn iso_date<S: Serializer>(date: &NaiveDate, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.collect_str(&date.format("%Y-%m-%d"))
}

/// A truth cell beside the result's row for it.
struct CellPair<'a> {
    kind: &'a str,
    truth: &'a TruthCell,
    result: &'a ResultCell,
}

impl CellPair<'_> {
    fn reported_observed(&self) -> bool {
        self.result.state != State::Unobserved
    }
}

/// Scores `results` against `truth`.
pub fn score(truth: &Truth, results: &RunResults) -> Report {
    let pairs: Vec<CellPair> = truth
        .cells
        .iter()
        .filter_map(|(key, truth_cell)| {
            Some(CellPair {
                kind: truth.kinds[&key.1].as_str(),
                truth: truth_cell,
                result: results.cells.get(key)?,
            })
        })
        .collect();
    // Of the cells `among` selects, how many `counted` selects.
    let share = |among: &dyn Fn(&CellPair) -> bool, counted: &dyn Fn(&CellPair) -> bool| {
        let considered: Vec<&CellPair> = pairs.iter().filter(|c| among(c)).collect();
        Share::of(
            considered.iter().filter(|c| counted(c)).count(),
            considered.len(),
        )
    };
    let yard_errors: Vec<f64> = pairs
        .iter()
        .filter(|c| c.kind == "yard" && c.truth.observed && c.reported_observed())
        .filter_map(|c| Some((c.result.occupancy? - c.truth.fill_fraction?).abs()))
        .collect();

    let (events, events_unavailable) = match (&truth.events, &results.events) {
        (Some(true_events), Some(reported_events)) => (
            Some(score_events(truth, true_events, reported_events)),
            None,
        ),
        (None, _) => (None, Some(format!("the truth has no {TRUTH_EVENTS_FILE}"))),
        (_, None) => (
            None,
            Some(format!("the result has no {RESULT_EVENTS_FILE}")),
        ),
    };
    Report {
        acquisitions: truth.acquisitions.len(),
        regions: truth.kinds.len(),
        truth_cells: truth.cells.len(),
        cells_missing_from_result: truth.cells.len() - pairs.len(),
        berth_state_accuracy: share(
            &|c| c.kind == "berth" && c.truth.observed && c.reported_observed(),
            &|c| (c.result.state == State::Occupied) == c.truth.occupied,
        ),
        observed_called_unobserved: share(&|c| c.truth.observed, &|c| !c.reported_observed()),
        clouded_caught: share(&|c| !c.truth.observed, &|c| !c.reported_observed()),
        yard_occupancy: YardOccupancy {
            scored_cells: yard_errors.len(),
            mean_absolute_error: mean(&yard_errors),
        },
        events,
        events_unavailable,
    }
}

fn score_events(truth: &Truth, true_events: &[Event], reported_events: &[Event]) -> EventMetrics {
    let [arrival, departure, fill, clear] =
        EventKind::ALL.map(|kind| score_kind(kind, true_events, reported_events));
    let length_differences: Vec<f64> = arrival
        .matches
        .iter()
        .filter_map(|m| Some((m.result_length_m? - m.truth_length_m?).abs()))
        .collect();
    EventMetrics {
        arrivals_per_month: arrivals_per_month(truth, true_events, reported_events),
        median_inter_arrival_days: TruthAndResult {
            truth: median_inter_arrival_days(true_events),
            result: median_inter_arrival_days(reported_events),
        },
        length_error_m: LengthError {
            pairs: length_differences.len(),
            mean: mean(&length_differences),
            median: median(length_differences),
        },
        arrival,
        departure,
        fill,
        clear,
    }
}

/// Matches the events of `kind` region by region, within one acquisition of each other.
fn score_kind(kind: EventKind, true_events: &[Event], reported_events: &[Event]) -> EventScore {
    let (true_by_region, reported_by_region) = (
        by_region(true_events, kind),
        by_region(reported_events, kind),
    );
    let mut regions: Vec<&str> = true_by_region
        .keys()
        .chain(reported_by_region.keys())
        .copied()
        .collect();
    regions.sort_unstable();
    regions.dedup();
    let mut score = EventScore {
        truth: 0,
        result: 0,
        matched: 0,
        precision: None,
        recall: None,
        f1: None,
        matches: Vec::new(),
        missed: Vec::new(),
        false_alarms: Vec::new(),
    };
    for region in regions {
        let true_here = true_by_region.get(region).map_or(&[][..], Vec::as_slice);
        let reported_here = reported_by_region
            .get(region)
            .map_or(&[][..], Vec::as_slice);
        let indices = |events: &[&Event]| events.iter().map(|e| e.acquisition).collect::<Vec<_>>();
        let pairs = match_events(&indices(true_here), &indices(reported_here), 1);
        let mut true_matched = vec![false; true_here.len()];
        let mut reported_matched = vec![false; reported_here.len()];
        for &(t, r) in &pairs {
            (true_matched[t], reported_matched[r]) = (true, true);
            score.matches.push(EventMatch {
                region: region.to_owned(),
                truth_date: true_here[t].date,
                result_date: reported_here[r].date,
                truth_length_m: true_here[t].length_m,
                result_length_m: reported_here[r].length_m,
            });
        }
        let unmatched = |events: &[&Event], matched: &[bool]| {
            events
                .iter()
                .zip(matched)
                .filter(|(_, matched)| !**matched)
                .map(|(e, _)| EventAt {
                    region: region.to_owned(),
                    date: e.date,
                    length_m: e.length_m,
                })
                .collect::<Vec<_>>()
        };
        score.missed.extend(unmatched(true_here, &true_matched));
        score
            .false_alarms
            .extend(unmatched(reported_here, &reported_matched));
        score.truth += true_here.len();
        score.result += reported_here.len();
        score.matched += pairs.len();
    }
    score.precision = ratio(score.matched, score.result);
    score.recall = ratio(score.matched, score.truth);
    score.f1 = ratio(2 * score.matched, score.truth + score.result);
    score
}

/// The events of `kind`, grouped by region, each group in date order.
fn by_region(events: &[Event], kind: EventKind) -> BTreeMap<&str, Vec<&Event>> {
    let mut grouped: BTreeMap<&str, Vec<&Event>> = BTreeMap::new();
    for event in events.iter().filter(|e| e.kind == kind) {
        grouped.entry(&event.region).or_default().push(event);
    }
    for group in grouped.values_mut() {
        group.sort_by_key(|e| e.date);
    }
    grouped
}

fn arrivals_per_month(
    truth: &Truth,
    true_events: &[Event],
    reported_events: &[Event],
) -> ArrivalsPerMonth {
    let months = months_between(&truth.acquisitions);
    let zeros = || -> BTreeMap<String, TruthAndResult<usize>> {
        months
            .iter()
            .map(|m| {
                (
                    m.clone(),
                    TruthAndResult {
                        truth: 0,
                        result: 0,
                    },
                )
            })
            .collect()
    };
    let mut port = zeros();
    let mut regions: BTreeMap<String, _> = truth
        .kinds
        .iter()
        .filter(|(_, kind)| *kind == "berth")
        .map(|(name, _)| (name.clone(), zeros()))
        .collect();
    let mut tally = |events: &[Event], side: fn(&mut TruthAndResult<usize>) -> &mut usize| {
        for event in events.iter().filter(|e| e.kind == EventKind::Arrival) {
            let month = month_of(event.date);
            let region = regions.entry(event.region.clone()).or_insert_with(zeros);
            for counts in [port.get_mut(&month), region.get_mut(&month)]
                .into_iter()
                .flatten()
            {
                *side(counts) += 1;
            }
        }
    };
    tally(true_events, |counts| &mut counts.truth);
    tally(reported_events, |counts| &mut counts.result);
    ArrivalsPerMonth { port, regions }
}

/// The median number of days between consecutive arrivals, all regions together.
fn median_inter_arrival_days(events: &[Event]) -> Option<f64> {
    median_interval_days(
        events
            .iter()
            .filter(|e| e.kind == EventKind::Arrival)
            .map(|e| e.date),
    )
}
