//! The headline metrics of an evaluation, their thresholds, and the two renderings: an aligned table and JSON.

use super::metrics::{EventMetrics, EventScore, Report, Share};
use serde::Serialize;

/// A metric that can be given a threshold and has a row of the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    StateAccuracy,
    ObservedCalledUnobserved,
    CloudedCaught,
    ArrivalPrecision,
    ArrivalRecall,
    ArrivalF1,
    DepartureF1,
    FillF1,
    ClearF1,
    YardMae,
    LengthErrorMean,
    LengthErrorMedian,
}

/// A metric's value, or why there is none.
pub struct Measurement {
    pub value: Option<f64>,
    /// The counts behind the value, or the reason it is missing.
    pub detail: String,
}

impl Metric {
    pub const ALL: [Metric; 12] = [
        Metric::StateAccuracy,
        Metric::ObservedCalledUnobserved,
        Metric::CloudedCaught,
        Metric::ArrivalPrecision,
        Metric::ArrivalRecall,
        Metric::ArrivalF1,
        Metric::DepartureF1,
        Metric::FillF1,
        Metric::ClearF1,
        Metric::YardMae,
        Metric::LengthErrorMean,
        Metric::LengthErrorMedian,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Metric::StateAccuracy => "berth state accuracy",
            Metric::ObservedCalledUnobserved => "observed cells called unobserved",
            Metric::CloudedCaught => "clouded cells caught",
            Metric::ArrivalPrecision => "arrival precision",
            Metric::ArrivalRecall => "arrival recall",
            Metric::ArrivalF1 => "arrival F1",
            Metric::DepartureF1 => "departure F1",
            Metric::FillF1 => "fill F1",
            Metric::ClearF1 => "clear F1",
            Metric::YardMae => "yard occupancy MAE",
            Metric::LengthErrorMean => "vessel length error, mean",
            Metric::LengthErrorMedian => "vessel length error, median",
        }
    }

    /// A threshold on this metric is a minimum when higher is better, else a maximum.
    pub fn bound(self) -> Bound {
        match self {
            Metric::ObservedCalledUnobserved
            | Metric::YardMae
            | Metric::LengthErrorMean
            | Metric::LengthErrorMedian => Bound::Max,
            _ => Bound::Min,
        }
    }

    fn in_metres(self) -> bool {
        matches!(self, Metric::LengthErrorMean | Metric::LengthErrorMedian)
    }

    fn format(self, value: f64) -> String {
        if self.in_metres() {
            format!("{value:.1} m")
        } else {
            format!("{value:.4}")
        }
    }

    pub fn measure(self, report: &Report) -> Measurement {
        let from_events = |measure: fn(&EventMetrics) -> Measurement| match &report.events {
            Some(events) => measure(events),
            None => Measurement {
                value: None,
                detail: report.events_unavailable.clone().unwrap_or_default(),
            },
        };
        match self {
            Metric::StateAccuracy => share(
                &report.berth_state_accuracy,
                "no observed berth cell reported observed",
            ),
            Metric::ObservedCalledUnobserved => {
                share(&report.observed_called_unobserved, "no truly observed cell")
            }
            Metric::CloudedCaught => share(&report.clouded_caught, "no clouded cell"),
            Metric::YardMae => {
                let yards = &report.yard_occupancy;
                measured(
                    yards.mean_absolute_error,
                    || format!("{} cells", yards.scored_cells),
                    || "no observed yard cell with a fill_fraction reported observed".to_owned(),
                )
            }
            Metric::ArrivalPrecision => from_events(|e| {
                event_share(e.arrival.precision, e.arrival.matched, e.arrival.result)
            }),
            Metric::ArrivalRecall => {
                from_events(|e| event_share(e.arrival.recall, e.arrival.matched, e.arrival.truth))
            }
            Metric::ArrivalF1 => from_events(|e| f1(&e.arrival)),
            Metric::DepartureF1 => from_events(|e| f1(&e.departure)),
            Metric::FillF1 => from_events(|e| f1(&e.fill)),
            Metric::ClearF1 => from_events(|e| f1(&e.clear)),
            Metric::LengthErrorMean => from_events(|e| length(e.length_error_m.mean, e)),
            Metric::LengthErrorMedian => from_events(|e| length(e.length_error_m.median, e)),
        }
    }
}

/// `value` with `counts()` behind it, or with `missing()` saying why there is none.
fn measured(
    value: Option<f64>,
    counts: impl FnOnce() -> String,
    missing: impl FnOnce() -> String,
) -> Measurement {
    Measurement {
        value,
        detail: if value.is_some() { counts() } else { missing() },
    }
}

fn share(share: &Share, missing: &str) -> Measurement {
    measured(
        share.fraction,
        || format!("{}/{}", share.count, share.out_of),
        || missing.to_owned(),
    )
}

const NO_EVENTS: &str = "no event of this kind in truth or result";

fn event_share(value: Option<f64>, matched: usize, out_of: usize) -> Measurement {
    measured(
        value,
        || format!("{matched}/{out_of}"),
        || NO_EVENTS.to_owned(),
    )
}

fn f1(score: &EventScore) -> Measurement {
    measured(
        score.f1,
        || {
            format!(
                "{} matched, {} true, {} reported",
                score.matched, score.truth, score.result
            )
        },
        || NO_EVENTS.to_owned(),
    )
}

fn length(value: Option<f64>, events: &EventMetrics) -> Measurement {
    measured(
        value,
        || format!("{} arrivals", events.length_error_m.pairs),
        || "no matched arrival with both lengths".to_owned(),
    )
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Bound {
    Min,
    Max,
}

/// A limit a metric must respect, in the direction of its [`Metric::bound`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Threshold {
    pub metric: Metric,
    pub limit: f64,
}

/// Whether one threshold held.
#[derive(Debug, Serialize)]
pub struct Verdict {
    pub metric: Metric,
    pub bound: Bound,
    pub limit: f64,
    pub value: Option<f64>,
    pub passed: bool,
    /// Why it failed, `None` when it passed.
    pub failure: Option<String>,
}

impl Threshold {
    /// Judges `report`; a metric that cannot be computed fails its threshold.
    pub fn judge(&self, report: &Report) -> Verdict {
        let metric = self.metric;
        let measurement = metric.measure(report);
        let failure = match measurement.value {
            None => Some(format!(
                "{} cannot be computed ({}), so its threshold {} fails",
                metric.label(),
                measurement.detail,
                self.limit
            )),
            Some(value) if metric.bound() == Bound::Min && value < self.limit => Some(format!(
                "{} is {}, below the minimum {}",
                metric.label(),
                metric.format(value),
                self.limit
            )),
            Some(value) if metric.bound() == Bound::Max && value > self.limit => Some(format!(
                "{} is {}, above the maximum {}",
                metric.label(),
                metric.format(value),
                self.limit
            )),
            Some(_) => None,
        };
        Verdict {
            metric,
            bound: metric.bound(),
            limit: self.limit,
            value: measurement.value,
            passed: failure.is_none(),
            failure,
        }
    }
}

impl Verdict {
    /// The threshold as the table shows it: `>= 0.95`, `<= 10`.
    fn describe(&self) -> String {
        let sign = match self.bound {
            Bound::Min => ">=",
            Bound::Max => "<=",
        };
        format!("{sign} {}", self.limit)
    }
}

/// The report as an aligned table: every headline metric with the verdict on its threshold, if any, then arrivals per
/// month and the median interval between arrivals, truth beside result.
pub fn render_table(report: &Report, verdicts: &[Verdict]) -> String {
    let mut rows = vec![[
        "metric".to_owned(),
        "value".to_owned(),
        "threshold".to_owned(),
        "verdict".to_owned(),
    ]];
    for metric in Metric::ALL {
        let measurement = metric.measure(report);
        let value = match measurement.value {
            Some(value) => format!("{} ({})", metric.format(value), measurement.detail),
            None => format!("n/a ({})", measurement.detail),
        };
        let (limit, verdict) = match verdicts.iter().find(|v| v.metric == metric) {
            Some(verdict) => (
                verdict.describe(),
                if verdict.passed { "pass" } else { "FAIL" },
            ),
            None => (String::new(), ""),
        };
        rows.push([metric.label().to_owned(), value, limit, verdict.to_owned()]);
    }
    let mut text = aligned(&rows);
    text += &format!(
        "\n{} acquisitions, {} regions, {} truth cells, {} of them missing from the result\n",
        report.acquisitions, report.regions, report.truth_cells, report.cells_missing_from_result
    );
    if let Some(events) = &report.events {
        let mut rows = vec![[
            "arrivals".to_owned(),
            "truth".to_owned(),
            "result".to_owned(),
        ]];
        for (month, counts) in &events.arrivals_per_month.port {
            rows.push([
                month.clone(),
                counts.truth.to_string(),
                counts.result.to_string(),
            ]);
        }
        let days = |value: Option<f64>| value.map_or("n/a".to_owned(), |d| format!("{d:.1}"));
        rows.push([
            "median days between arrivals".to_owned(),
            days(events.median_inter_arrival_days.truth),
            days(events.median_inter_arrival_days.result),
        ]);
        text += "\n";
        text += &aligned(&rows);
    }
    text
}

/// Rows of cells, each column padded to its widest cell, two spaces apart.
fn aligned<const N: usize>(rows: &[[String; N]]) -> String {
    let widths: Vec<usize> = (0..N)
        .map(|column| {
            rows.iter()
                .map(|row| row[column].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|row| {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .map(|(cell, width)| format!("{cell:width$}"))
                .collect();
            cells.join("  ").trim_end().to_owned() + "\n"
        })
        .collect()
}

/// The `--json` document: every metric with its match lists, and the verdict on each threshold.
pub fn to_json(report: &Report, verdicts: &[Verdict]) -> String {
    #[derive(Serialize)]
    struct Document<'a> {
        #[serde(flatten)]
        report: &'a Report,
        thresholds: &'a [Verdict],
        passed: bool,
    }
    let document = Document {
        report,
        thresholds: verdicts,
        passed: verdicts.iter().all(|v| v.passed),
    };
    serde_json::to_string_pretty(&document).expect("a report always serializes") + "\n"
}
