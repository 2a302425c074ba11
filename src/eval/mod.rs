//! `portwatch eval`: scores a run's occupancy series and events against the truth of its archive.
//!
//! [`tables`] reads and cross-checks the four CSV tables, [`metrics`] computes the scores, [`report`] judges
//! them against thresholds and renders them as a table or JSON.

mod matching;
pub mod metrics;
pub mod report;
pub mod tables;

pub use metrics::Report;
pub use report::{Metric, Threshold, Verdict, render_table, to_json};

use crate::error::Result;
use std::path::Path;

/// Reads the truth in `truth_dir` and the results of a run in `result_dir` and scores the one against the other.
pub fn evaluate(truth_dir: &Path, result_dir: &Path) -> Result<Report> {
    let truth = tables::Truth::read(truth_dir)?;
    let results = truth.read_results(result_dir)?;
    Ok(metrics::score(&truth, &results))
}
