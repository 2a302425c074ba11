//! Port statistics from the series: arrivals per month, intervals between arrivals, dwell times, how
//! long before an arrival the yards fill, and yard occupancy per month; per region and port-wide.

use super::{Analysis, EventKind, RegionInfo, State};
use crate::statistics::{mean, median, median_interval_days, month_of, months_between};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Statistics of one region, or of the whole port.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Statistics {
    /// Arrivals in each calendar month (`YYYY-MM`) from the first acquisition's to the last's.
    pub arrivals_per_month: BTreeMap<String, usize>,
    pub arrivals: usize,
    pub median_inter_arrival_days: Option<f64>,
    /// Days from an arrival to the departure that ends its stay, over stays that end in the series.
    pub mean_dwell_days: Option<f64>,
    /// For each yard fill, the days until the next arrival at any berth on or after its date.
    pub median_fill_lead_days: Option<f64>,
    /// Mean yard occupancy over the observed yard cells of each month; `null` for a month without one.
    pub yard_occupancy_per_month: BTreeMap<String, Option<f64>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegionSummary {
    pub name: String,
    pub kind: String,
    pub observed_dates: usize,
    pub occupied_dates: usize,
    #[serde(flatten)]
    pub statistics: Statistics,
}

/// What `summary.json` holds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub first_date: String,
    pub last_date: String,
    pub scenes: usize,
    pub port: Statistics,
    pub regions: Vec<RegionSummary>,
}

/// Statistics of the regions selected by `included` (an index into `regions`).
fn statistics(
    dates: &[NaiveDate],
    regions: &[RegionInfo],
    analysis: &Analysis,
    included: impl Fn(usize) -> bool,
) -> Statistics {
    let months = months_between(dates);
    let events: Vec<_> = analysis
        .events
        .iter()
        .filter(|e| included(e.region))
        .collect();
    let arrivals: Vec<NaiveDate> = events
        .iter()
        .filter(|e| e.kind == EventKind::Arrival)
        .map(|e| dates[e.date])
        .collect();
    let mut arrivals_per_month: BTreeMap<String, usize> =
        months.iter().map(|m| (m.clone(), 0)).collect();
    for &date in &arrivals {
        *arrivals_per_month.entry(month_of(date)).or_default() += 1;
    }
    let mut dwell_days = Vec::new();
    for arrival in events.iter().filter(|e| e.kind == EventKind::Arrival) {
        let departure = events.iter().find(|e| {
            e.region == arrival.region && e.kind == EventKind::Departure && e.date > arrival.date
        });
        if let Some(departure) = departure {
            dwell_days.push((dates[departure.date] - dates[arrival.date]).num_days() as f64);
        }
    }
    // Fill leads look at arrivals anywhere in the port: containers are staged for the next ship.
    let all_arrivals: Vec<NaiveDate> = analysis
        .events
        .iter()
        .filter(|e| e.kind == EventKind::Arrival)
        .map(|e| dates[e.date])
        .collect();
    let fill_leads: Vec<f64> = events
        .iter()
        .filter(|e| e.kind == EventKind::Fill)
        .filter_map(|fill| fill_lead_days(dates[fill.date], &all_arrivals))
        .collect();
    let mut yard_cells: BTreeMap<String, Vec<f64>> =
        months.iter().map(|m| (m.clone(), Vec::new())).collect();
    for (date, row) in dates.iter().zip(&analysis.cells) {
        for (region, cell) in row.iter().enumerate() {
            if included(region)
                && regions[region].is_yard()
                && cell.state != State::Unobserved
                && let Some(occupancy) = cell.occupancy
            {
                yard_cells
                    .entry(month_of(*date))
                    .or_default()
                    .push(occupancy);
            }
        }
    }
    Statistics {
        arrivals_per_month,
        arrivals: arrivals.len(),
        median_inter_arrival_days: median_interval_days(arrivals),
        mean_dwell_days: mean(&dwell_days),
        median_fill_lead_days: median(fill_leads),
        yard_occupancy_per_month: yard_cells
            .into_iter()
            .map(|(month, values)| (month, mean(&values)))
            .collect(),
    }
}

/// The days from a yard fill on `filled` to the first of `arrivals` (at any berth) on or after it; `None`
/// when no arrival follows.
pub fn fill_lead_days(filled: NaiveDate, arrivals: &[NaiveDate]) -> Option<f64> {
    arrivals
        .iter()
        .filter(|&&arrived| arrived >= filled)
        .min()
        .map(|&arrived| (arrived - filled).num_days() as f64)
}

/// The statistics of the series, port-wide and region by region.
pub fn summarize(dates: &[NaiveDate], regions: &[RegionInfo], analysis: &Analysis) -> Summary {
    let date_text = |date: Option<&NaiveDate>| date.map(|d| d.to_string()).unwrap_or_default();
    Summary {
        first_date: date_text(dates.first()),
        last_date: date_text(dates.last()),
        scenes: dates.len(),
        port: statistics(dates, regions, analysis, |_| true),
        regions: regions
            .iter()
            .enumerate()
            .map(|(index, region)| {
                let states = analysis.cells.iter().map(|row| row[index].state);
                RegionSummary {
                    name: region.name.clone(),
                    kind: region.kind.clone(),
                    observed_dates: states.clone().filter(|&s| s != State::Unobserved).count(),
                    occupied_dates: states.filter(|&s| s == State::Occupied).count(),
                    statistics: statistics(dates, regions, analysis, |r| r == index),
                }
            })
            .collect(),
    }
}
