//! Small statistics over values and dates, shared by the series summary, the thresholds and the evaluation
//! so that each computes a figure the same way.

use chrono::{Datelike, NaiveDate};

/// The median of `values` (the mean of the middle two for an even count), `None` when there are none.
pub fn median(mut values: Vec<f64>) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    match values.len() {
        0 => None,
        len if len % 2 == 1 => Some(values[middle]),
        _ => Some((values[middle - 1] + values[middle]) / 2.0),
    }
}

/// The mean of `values`, `None` when there are none.
pub fn mean(values: &[f64]) -> Option<f64> {
    (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
}

/// Otsu's split of a histogram whose bin i holds `counts[i]` values of `values[i]` (increasing): the first
/// bin of the upper class, the one maximising the between-class variance; `None` when fewer than two
/// bins are filled.
pub fn otsu(counts: &[f64], values: &[f64]) -> Option<usize> {
    let total: f64 = counts.iter().sum();
    let sum: f64 = counts.iter().zip(values).map(|(c, v)| c * v).sum();
    let (mut below, mut below_sum) = (0.0, 0.0);
    let mut best: Option<(usize, f64)> = None;
    for split in 1..counts.len() {
        below += counts[split - 1];
        below_sum += counts[split - 1] * values[split - 1];
        let above = total - below;
        if below == 0.0 || above == 0.0 {
            continue;
        }
        let difference = below_sum / below - (sum - below_sum) / above;
        let variance = below * above * difference * difference;
        if best.is_none_or(|(_, v)| variance > v) {
            best = Some((split, variance));
        }
    }
    best.map(|(split, _)| split)
}

/// The calendar month of `date`, `YYYY-MM`.
pub fn month_of(date: NaiveDate) -> String {
    date.format("%Y-%m").to_string()
}

/// Every calendar month from the first of `dates` to the last (which must be in order), `YYYY-MM`.
pub fn months_between(dates: &[NaiveDate]) -> Vec<String> {
    let mut months = Vec::new();
    if let (Some(first), Some(last)) = (dates.first(), dates.last()) {
        let mut month = first.with_day(1);
        while let Some(day) = month.filter(|day| day <= last) {
            months.push(month_of(day));
            month = day.checked_add_months(chrono::Months::new(1));
        }
    }
    months
}

/// The median number of days between consecutive dates of `dates`, taken in date order.
pub fn median_interval_days(dates: impl IntoIterator<Item = NaiveDate>) -> Option<f64> {
    let mut dates: Vec<NaiveDate> = dates.into_iter().collect();
    dates.sort_unstable();
    median(
        dates
            .windows(2)
            .map(|pair| (pair[1] - pair[0]).num_days() as f64)
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn otsu_splits_two_modes() {
        let counts = [0.0, 50.0, 60.0, 40.0, 0.0, 0.0, 10.0, 12.0, 0.0];
        let values: Vec<f64> = (0..9).map(f64::from).collect();
        assert_eq!(otsu(&counts, &values), Some(4));
        assert_eq!(otsu(&[0.0, 5.0, 0.0], &[0.0, 1.0, 2.0]), None);
    }

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn median_of_odd_even_and_no_values() {
        assert_eq!(median(vec![9.0, 1.0, 4.0]), Some(4.0));
        assert_eq!(median(vec![9.0, 1.0, 4.0, 2.0]), Some(3.0));
        assert_eq!(median(vec![7.0]), Some(7.0));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn months_span_the_dates_and_intervals_are_sorted() {
        assert_eq!(
            months_between(&[day(2023, 8, 30), day(2023, 10, 1)]),
            ["2023-08", "2023-09", "2023-10"]
        );
        assert!(months_between(&[]).is_empty());
        let dates = [day(2023, 8, 9), day(2023, 8, 1), day(2023, 8, 3)];
        assert_eq!(median_interval_days(dates), Some(4.0));
        assert_eq!(median_interval_days([day(2023, 8, 1)]), None);
    }
}
