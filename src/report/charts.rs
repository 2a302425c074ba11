//! The report's charts, generated as plain SVG text: a region's occupancy over time with its events and
//! unobserved dates, and bar charts (arrivals per month, yard-fill leads). Plain generation keeps the page
//! self-contained and the output byte-stable; every element carries a class, which the page's style sheet
//! colours and the tests count.

use super::html::escape;
use crate::series::{Cell, EventKind, State};
use chrono::{Datelike, Months, NaiveDate, NaiveDateTime};
use std::fmt::Write;

const OCCUPANCY_WIDTH: f64 = 900.0;
const OCCUPANCY_HEIGHT: f64 = 210.0;
const BAR_CHART_HEIGHT: f64 = 250.0;
/// Horizontal room per bar of a bar chart.
const BAR_SLOT: f64 = 84.0;
/// At most this many date ticks on a time axis.
const MAX_DATE_TICKS: usize = 8;

/// The plotting area of a chart, in SVG user units, y down.
struct Frame {
    left: f64,
    top: f64,
    width: f64,
    height: f64,
}

impl Frame {
    /// The frame of a `width` × `height` chart with room for a title, tick labels and axis titles;
    /// `label_lines` lines of labels under the x axis.
    fn inside(width: f64, height: f64, label_lines: usize) -> Frame {
        let (left, top, right) = (64.0, 30.0, 16.0);
        let bottom = 30.0 + 14.0 * label_lines as f64;
        Frame {
            left,
            top,
            width: width - left - right,
            height: height - top - bottom,
        }
    }

    /// The x coordinate of `fraction` of the way across.
    fn x(&self, fraction: f64) -> f64 {
        self.left + fraction * self.width
    }

    /// The y coordinate of `fraction` of the way up.
    fn y(&self, fraction: f64) -> f64 {
        self.top + (1.0 - fraction) * self.height
    }

    fn bottom(&self) -> f64 {
        self.top + self.height
    }
}

/// SVG text being written.
struct Svg(String);

impl Svg {
    /// An `<svg>` element of class `chart {class}` with an accessible title, drawn at the top.
    fn new(class: &str, data: &str, width: f64, height: f64, title: &str) -> Svg {
        let title = escape(title);
        let mut svg = Svg(format!(
            "<svg class=\"chart {class}\"{data} width=\"{width}\" \
             height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\"><title>{title}</title>"
        ));
        svg.text(8.0, 18.0, "start", "chart-title", &title);
        svg
    }

    fn line(&mut self, (x1, y1): (f64, f64), (x2, y2): (f64, f64), class: &str) {
        let _ = write!(
            self.0,
            "<line class=\"{class}\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\"/>"
        );
    }

    fn rect(&mut self, x: f64, y: f64, width: f64, height: f64, class: &str) {
        let _ = write!(
            self.0,
            "<rect class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" width=\"{width:.1}\" height=\"{height:.1}\"/>"
        );
    }

    /// Text already escaped for XML.
    fn text(&mut self, x: f64, y: f64, anchor: &str, class: &str, escaped: &str) {
        let _ = write!(
            self.0,
            "<text class=\"{class}\" x=\"{x:.1}\" y=\"{y:.1}\" text-anchor=\"{anchor}\">{escaped}</text>"
        );
    }

    /// The axes of `frame`: ticks at fractions of its width and height with their labels, horizontal grid
    /// lines at the y ticks, and the axis titles.
    fn axes(
        &mut self,
        frame: &Frame,
        x_ticks: &[(f64, Vec<String>)],
        y_ticks: &[(f64, String)],
        x_title: &str,
        y_title: &str,
    ) {
        for (fraction, label) in y_ticks {
            let y = frame.y(*fraction);
            self.line((frame.left, y), (frame.x(1.0), y), "grid");
            self.text(frame.left - 6.0, y + 4.0, "end", "tick", &escape(label));
        }
        for (fraction, lines) in x_ticks {
            let x = frame.x(*fraction);
            self.line((x, frame.bottom()), (x, frame.bottom() + 4.0), "tick-mark");
            for (row, label) in lines.iter().enumerate() {
                let y = frame.bottom() + 16.0 + 13.0 * row as f64;
                self.text(x, y, "middle", "tick", &escape(label));
            }
        }
        self.line(
            (frame.left, frame.bottom()),
            (frame.x(1.0), frame.bottom()),
            "axis",
        );
        self.line(
            (frame.left, frame.top),
            (frame.left, frame.bottom()),
            "axis",
        );
        let lines = x_ticks.iter().map(|(_, l)| l.len()).max().unwrap_or(1) as f64;
        let x_title_y = frame.bottom() + 18.0 + 13.0 * lines;
        self.text(
            frame.x(0.5),
            x_title_y,
            "middle",
            "axis-title",
            &escape(x_title),
        );
        let (x, y) = (14.0, frame.top + frame.height / 2.0);
        let _ = write!(
            self.0,
            "<text class=\"axis-title\" x=\"{x}\" y=\"{y:.1}\" text-anchor=\"middle\" \
             transform=\"rotate(-90 {x} {y:.1})\">{}</text>",
            escape(y_title)
        );
    }

    fn finish(mut self) -> String {
        self.0 += "</svg>";
        self.0
    }
}

/// A round top for an axis from 0 that shows `max` (and at least 1), and the step of its ticks (4 to 5 of
/// them): 1, 2, 2.5 (unless `integer`) or 5 times a power of ten.
fn nice_scale(max: f64, integer: bool) -> (f64, f64) {
    let max = max.max(1.0);
    let raw = if integer {
        (max / 4.0).max(1.0)
    } else {
        max / 4.0
    };
    let magnitude = 10f64.powf(raw.log10().floor());
    let multiples: &[f64] = if integer {
        &[1.0, 2.0, 5.0, 10.0]
    } else {
        &[1.0, 2.0, 2.5, 5.0, 10.0]
    };
    let step = multiples
        .iter()
        .map(|m| m * magnitude)
        .find(|&step| step >= raw * (1.0 - 1e-9))
        .unwrap_or(10.0 * magnitude);
    let top = ((max / step - 1e-9).ceil().max(1.0)) * step;
    (top, step)
}

/// Ticks from 0 to `top` every `step`, labelled by `label`.
fn value_ticks(top: f64, step: f64, label: impl Fn(f64) -> String) -> Vec<(f64, String)> {
    let count = (top / step).round() as usize;
    (0..=count)
        .map(|i| {
            let value = i as f64 * step;
            (value / top, label(value))
        })
        .collect()
}

/// A number with at most two decimals and none needless: `5`, `2.5`, `0.25`.
fn number(value: f64) -> String {
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

/// Dates for the ticks of a time axis from `start` to `end`: every 1, 2, 5 or 10 days from the first
/// midnight, or the first of every 1, 2, 3, 6 or 12 months (of months divisible by the step), whichever
/// is the finest that gives at most [`MAX_DATE_TICKS`].
fn date_ticks(start: NaiveDateTime, end: NaiveDateTime) -> Vec<NaiveDate> {
    let first_day = if start.time() == chrono::NaiveTime::MIN {
        start.date()
    } else {
        start.date() + chrono::Days::new(1)
    };
    let days_apart = |step: u64| -> Vec<NaiveDate> {
        std::iter::successors(Some(first_day), |d| {
            d.checked_add_days(chrono::Days::new(step))
        })
        .take_while(|d| d.and_time(chrono::NaiveTime::MIN) <= end)
        .collect()
    };
    let months_apart = |step: u32| -> Vec<NaiveDate> {
        let month_start = first_day.with_day(1).expect("every month has a first day");
        std::iter::successors(Some(month_start), |d| d.checked_add_months(Months::new(1)))
            .skip_while(|d| *d < first_day)
            .take_while(|d| d.and_time(chrono::NaiveTime::MIN) <= end)
            .filter(|d| d.month0() % step == 0)
            .collect()
    };
    let candidates = [1, 2, 5, 10]
        .into_iter()
        .map(days_apart)
        .chain([1, 2, 3, 6, 12].into_iter().map(months_apart));
    let mut last = Vec::new();
    for ticks in candidates {
        if ticks.len() <= MAX_DATE_TICKS {
            return ticks;
        }
        last = ticks;
    }
    last
}

/// One region's occupancy chart: the fraction of its valid pixels that differ from the background on
/// each date (`cells`, one per instant of `instants`), a point per observed date filled when the state is
/// occupied, the line broken across unobserved dates, which are shaded, and a vertical mark per event.
pub fn occupancy_chart(
    title: &str,
    region: &str,
    instants: &[NaiveDateTime],
    cells: &[Cell],
    events: &[(usize, EventKind)],
) -> String {
    let frame = Frame::inside(OCCUPANCY_WIDTH, OCCUPANCY_HEIGHT, 1);
    let data = format!(" data-region=\"{}\"", escape(region));
    let mut svg = Svg::new("occupancy", &data, OCCUPANCY_WIDTH, OCCUPANCY_HEIGHT, title);
    let (Some(&start), Some(&end)) = (instants.first(), instants.last()) else {
        return svg.finish();
    };
    let span = (end - start).num_seconds().max(86_400) as f64;
    let pad = span * 0.02;
    let fraction_of =
        |t: NaiveDateTime| ((t - start).num_seconds() as f64 + pad) / (span + 2.0 * pad);
    let xs: Vec<f64> = instants.iter().map(|&t| frame.x(fraction_of(t))).collect();

    let largest = cells.iter().filter_map(|c| c.occupancy).fold(0.0, f64::max) * 100.0;
    let (top, step) = nice_scale(largest, false);
    let top = top.min(100.0);
    let y_ticks = value_ticks(top, step.min(top), |v| format!("{}%", number(v)));
    let x_ticks: Vec<(f64, Vec<String>)> = date_ticks(start, end)
        .into_iter()
        .map(|d| {
            let fraction = fraction_of(d.and_time(chrono::NaiveTime::MIN));
            (fraction, vec![d.format("%Y-%m-%d").to_string()])
        })
        .collect();

    // Unobserved dates: shaded from half way to the previous date to half way to the next.
    for (date, cell) in cells.iter().enumerate() {
        if cell.state == State::Unobserved {
            let half_gap = |other: Option<&f64>| other.map(|o| (o - xs[date]).abs() / 2.0);
            let left = half_gap(date.checked_sub(1).and_then(|d| xs.get(d)));
            let right = half_gap(xs.get(date + 1));
            let (left, right) = (left.or(right).unwrap_or(4.0), right.or(left).unwrap_or(4.0));
            let x0 = (xs[date] - left).max(frame.left);
            let x1 = (xs[date] + right).min(frame.x(1.0));
            svg.rect(x0, frame.top, x1 - x0, frame.height, "unobserved");
        }
    }
    svg.axes(
        &frame,
        &x_ticks,
        &y_ticks,
        "acquisition date",
        "occupancy (%)",
    );
    let y_of = |occupancy: f64| frame.y((occupancy * 100.0 / top).min(1.0));
    // The line, broken where the region was unobserved.
    let mut path = String::new();
    let mut pen_down = false;
    for (x, cell) in xs.iter().zip(cells) {
        match cell.occupancy.filter(|_| cell.state != State::Unobserved) {
            Some(occupancy) => {
                let command = if pen_down { 'L' } else { 'M' };
                let _ = write!(path, "{command}{x:.1} {:.1} ", y_of(occupancy));
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    let _ = write!(
        svg.0,
        "<path class=\"occupancy-line\" d=\"{}\"/>",
        path.trim_end()
    );
    for ((x, cell), instant) in xs.iter().zip(cells).zip(instants) {
        if let (Some(occupancy), State::Occupied | State::Empty) = (cell.occupancy, cell.state) {
            let _ = write!(
                svg.0,
                "<circle class=\"cell {}\" cx=\"{x:.1}\" cy=\"{:.1}\" r=\"3\"><title>{} {}: {:.1}%</title></circle>",
                cell.state.word(),
                y_of(occupancy),
                instant.format("%Y-%m-%d"),
                cell.state.word(),
                occupancy * 100.0
            );
        }
    }
    for &(date, kind) in events {
        let x = xs[date];
        let _ = write!(
            svg.0,
            "<g class=\"event {}\"><title>{} {}</title>",
            kind.word(),
            kind.word(),
            instants[date].format("%Y-%m-%d")
        );
        svg.line((x, frame.top), (x, frame.bottom()), "event-mark");
        svg.text(
            x,
            frame.top - 3.0,
            "middle",
            "event-label",
            event_letter(kind),
        );
        svg.0 += "</g>";
    }
    svg.finish()
}

/// The letter marking an event on a chart.
pub fn event_letter(kind: EventKind) -> &'static str {
    match kind {
        EventKind::Arrival => "A",
        EventKind::Departure => "D",
        EventKind::Fill => "F",
        EventKind::Clear => "C",
    }
}

/// One bar of a bar chart.
pub struct Bar {
    /// The category, one line of text under the bar per entry.
    pub label: Vec<String>,
    /// `None` draws no bar, only `value_label`.
    pub value: Option<f64>,
    /// Written above the bar.
    pub value_label: String,
}

/// A bar chart of class `chart {class}` of whole numbers (counts, days), with integer ticks.
pub fn bar_chart(
    class: &str,
    title: &str,
    bars: &[Bar],
    (x_title, y_title): (&str, &str),
) -> String {
    let label_lines = bars.iter().map(|b| b.label.len()).max().unwrap_or(1);
    let width = (80.0 + BAR_SLOT * bars.len() as f64).max(360.0);
    let frame = Frame::inside(width, BAR_CHART_HEIGHT, label_lines);
    let mut svg = Svg::new(class, "", width, BAR_CHART_HEIGHT, title);
    let largest = bars.iter().filter_map(|b| b.value).fold(0.0, f64::max);
    let (top, step) = nice_scale(largest, true);
    let slot = frame.width / bars.len().max(1) as f64;
    let centre = |index: usize| (index as f64 + 0.5) / bars.len().max(1) as f64;
    let x_ticks: Vec<_> = (bars.iter().enumerate())
        .map(|(index, bar)| (centre(index), bar.label.clone()))
        .collect();
    svg.axes(
        &frame,
        &x_ticks,
        &value_ticks(top, step, number),
        x_title,
        y_title,
    );
    for (index, bar) in bars.iter().enumerate() {
        let x = frame.x(centre(index));
        let y = frame.y(bar.value.unwrap_or(0.0) / top);
        if bar.value.is_some() {
            let bar_width = slot * 0.6;
            svg.rect(x - bar_width / 2.0, y, bar_width, frame.bottom() - y, "bar");
        }
        svg.text(x, y - 4.0, "middle", "bar-value", &escape(&bar.value_label));
    }
    svg.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(day: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(2023, 8, day)
            .unwrap()
            .and_time(chrono::NaiveTime::MIN)
    }

    fn cell(state: State, occupancy: Option<f64>) -> Cell {
        Cell {
            valid_fraction: if state == State::Unobserved { 0.2 } else { 1.0 },
            occupancy,
            change_score: None,
            state,
        }
    }

    fn count(svg: &str, needle: &str) -> usize {
        svg.matches(needle).count()
    }

    #[test]
    fn occupancy_chart_draws_every_date_event_and_gap_with_labelled_axes() {
        let instants = [at(1), at(3), at(4), at(8), at(9)];
        let cells = [
            cell(State::Empty, Some(0.01)),
            cell(State::Occupied, Some(0.31)),
            cell(State::Unobserved, None),
            cell(State::Occupied, Some(0.28)),
            cell(State::Empty, Some(0.02)),
        ];
        let events = [(1, EventKind::Arrival), (4, EventKind::Departure)];
        let svg = occupancy_chart("berth <1> (berth)", "berth <1>", &instants, &cells, &events);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>"));
        assert!(svg.contains("class=\"chart occupancy\" data-region=\"berth &lt;1&gt;\""));
        assert!(!svg.contains("<1>"), "names are escaped: {svg}");
        assert_eq!(count(&svg, "class=\"unobserved\""), 1);
        assert_eq!(count(&svg, "class=\"cell occupied\""), 2);
        assert_eq!(count(&svg, "class=\"cell empty\""), 2);
        assert_eq!(count(&svg, "class=\"event arrival\""), 1);
        assert_eq!(count(&svg, "class=\"event departure\""), 1);
        assert_eq!(count(&svg, "class=\"occupancy-line\""), 1);
        // The line lifts its pen across the unobserved date: two runs of points.
        let path = svg.split("class=\"occupancy-line\" d=\"").nth(1).unwrap();
        let path = &path[..path.find('"').unwrap()];
        assert_eq!(
            (path.matches('M').count(), path.matches('L').count()),
            (2, 2)
        );
        assert!(svg.contains(">acquisition date</text>"));
        assert!(svg.contains(">occupancy (%)</text>"));
        // 31% rounds the axis up to 40%, ticked every 10%.
        for tick in ["0%", "10%", "20%", "30%", "40%"] {
            assert!(svg.contains(&format!(">{tick}</text>")), "{tick}");
        }
        // Eight days: a tick every 2 days from the first.
        assert_eq!(count(&svg, "class=\"tick-mark\""), 5);
        assert!(svg.contains(">2023-08-09</text>"));
    }

    #[test]
    fn bar_chart_draws_one_bar_per_value_with_labelled_axes() {
        let bars: Vec<Bar> = [("2023-08", 5), ("2023-09", 0), ("2023-10", 2)]
            .into_iter()
            .map(|(month, n)| Bar {
                label: vec![month.to_owned()],
                value: Some(f64::from(n)),
                value_label: n.to_string(),
            })
            .chain([Bar {
                label: vec!["2023-11".into(), "yard & co".into()],
                value: None,
                value_label: "–".into(),
            }])
            .collect();
        let svg = bar_chart("arrivals", "Arrivals", &bars, ("month", "arrivals (count)"));
        assert!(svg.contains("class=\"chart arrivals\""));
        assert_eq!(count(&svg, "class=\"bar\""), 3);
        assert_eq!(count(&svg, "class=\"bar-value\""), 4);
        assert!(svg.contains(">month</text>") && svg.contains(">arrivals (count)</text>"));
        assert!(svg.contains(">yard &amp; co</text>"));
        // Counts up to 5: integer ticks 0, 2, 4, 6.
        for tick in ["0", "2", "4", "6"] {
            assert!(svg.contains(&format!("\">{tick}</text>")), "{tick}");
        }
        assert!(!svg.contains(">2.5</text>"));
    }

    #[test]
    fn scales_are_round_and_cover_the_largest_value() {
        assert_eq!(nice_scale(5.0, true), (6.0, 2.0));
        assert_eq!(nice_scale(0.0, true), (1.0, 1.0));
        assert_eq!(nice_scale(0.0, false), (1.0, 0.25));
        assert_eq!(number(0.25), "0.25");
        assert_eq!(number(40.0), "40");
        assert_eq!(nice_scale(31.0, false), (40.0, 10.0));
        assert_eq!(nice_scale(9.0, false), (10.0, 2.5));
        assert_eq!(nice_scale(100.0, false), (100.0, 25.0));
    }

    #[test]
    fn date_ticks_get_coarser_with_the_span() {
        let daily = date_ticks(at(1), at(8));
        assert_eq!(daily, (1..=8).map(|d| at(d).date()).collect::<Vec<_>>());
        let long = date_ticks(at(1), at(1) + chrono::Days::new(74));
        assert_eq!(long.len(), 8);
        assert_eq!(long[1], NaiveDate::from_ymd_opt(2023, 8, 11).unwrap());
        let years = date_ticks(at(1), at(1) + chrono::Days::new(900));
        assert!(years.len() <= MAX_DATE_TICKS, "{years:?}");
        assert!(years.iter().all(|d| d.day() == 1));
    }
}
