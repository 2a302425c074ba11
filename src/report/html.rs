//! The report page: one HTML file with its style sheet, charts and images inside it (PNG as base64 data
//! URIs), so that it can be mailed, archived and opened offline; it loads nothing and runs no script.

use super::charts::{self, Bar};
use super::display::Crop;
use super::heatmap::RAMP;
use super::run_outputs::RunOutputs;
use super::thumbnails::{EventPictures, MASK_COLOUR};
use crate::regions::Region;
use crate::series::{EventKind, fill_lead_days};
use base64::Engine;
use chrono::NaiveDate;
use std::fmt::Write;

/// Thumbnails are zoomed (at most 6x) to this many pixels on their longer side, or shown at their own size
/// when larger.
const THUMBNAIL_SIDE: f64 = 240.0;
const MAX_THUMBNAIL_ZOOM: f64 = 6.0;

const STYLE: &str = "
body { font: 14px/1.4 'DejaVu Sans', Arial, sans-serif; color: #222; margin: 24px; max-width: 1200px; }
h1 { font-size: 24px; margin: 0 0 8px; } h2 { font-size: 19px; margin: 28px 0 8px; }
table.facts td { padding: 1px 12px 1px 0; } table.facts td:first-child { color: #555; }
.chart { display: block; margin: 6px 0 14px; background: #fff; }
.chart text { font-size: 11px; fill: #333; } .chart .chart-title { font-size: 13px; font-weight: bold; }
.chart .axis-title { font-size: 12px; fill: #222; }
.axis, .tick-mark { stroke: #444; stroke-width: 1; } .grid { stroke: #e3e3e3; stroke-width: 1; }
.unobserved { fill: #d9d9d9; }
.occupancy-line { fill: none; stroke: #1f5fa8; stroke-width: 2; }
.cell { stroke: #1f5fa8; stroke-width: 1.5; } .cell.occupied { fill: #1f5fa8; } .cell.empty { fill: #fff; }
.event-mark { stroke-width: 1.5; stroke-dasharray: 4 3; }
.event.arrival .event-mark { stroke: #1a9641; } .event.departure .event-mark { stroke: #d7191c; }
.event.fill .event-mark { stroke: #e08a00; } .event.clear .event-mark { stroke: #7b3294; }
.event.arrival text { fill: #1a9641; } .event.departure text { fill: #d7191c; }
.event.fill text { fill: #e08a00; } .event.clear text { fill: #7b3294; }
.chart .event-label { font-weight: bold; }
.bar { fill: #1f5fa8; }
.legend span.key { display: inline-block; margin-right: 16px; }
.swatch { display: inline-block; width: 12px; height: 12px; vertical-align: -1px; margin-right: 4px; border: 1px solid #1f5fa8; }
.swatch.occupied { background: #1f5fa8; } .swatch.empty { background: #fff; border-radius: 6px; }
.swatch.unobserved { background: #d9d9d9; border-color: #d9d9d9; }
.letter.arrival { color: #1a9641; } .letter.departure { color: #d7191c; }
.letter.fill { color: #e08a00; } .letter.clear { color: #7b3294; } .letter { font-weight: bold; }
.overviews { display: flex; flex-wrap: wrap; gap: 16px; }
.overviews figure { margin: 0; } .overviews svg { width: 560px; height: auto; display: block; }
figcaption { color: #555; font-size: 12px; margin-top: 4px; }
svg image { image-rendering: pixelated; }
.region-outline { fill: none; stroke: #ffd700; stroke-width: 1.5px; vector-effect: non-scaling-stroke; }
.region-name { fill: #ffd700; font-size: 11px; paint-order: stroke; stroke: #000; stroke-width: 2px; vector-effect: non-scaling-stroke; }
.ramp text { font-size: 11px; fill: #333; }
table.events { border-collapse: collapse; } table.events th, table.events td { padding: 4px 10px; border-bottom: 1px solid #ddd; text-align: left; vertical-align: middle; }
table.events td.number { text-align: right; }
svg.thumbnail { display: block; border: 3px solid #123456; }
";

/// `text` escaped for HTML and SVG text and attribute values.
pub fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => escaped += "&amp;",
            '<' => escaped += "&lt;",
            '>' => escaped += "&gt;",
            '"' => escaped += "&quot;",
            '\'' => escaped += "&#39;",
            c => escaped.push(c),
        }
    }
    escaped
}

/// A PNG as a data URI.
fn png_uri(png: &[u8]) -> String {
    format!(
        "data:image/png;base64,{}",
        base64::engine::general_purpose::STANDARD.encode(png)
    )
}

/// The outline of `region` as SVG path data in pixel coordinates.
fn outline(region: &Region) -> String {
    let mut path = String::new();
    for ring in region.polygons.iter().flat_map(|p| &p.rings) {
        for (index, [x, y]) in ring.iter().enumerate() {
            let command = if index == 0 { 'M' } else { 'L' };
            let _ = write!(path, "{command}{x} {y} ");
        }
        path += "Z ";
    }
    path.trim_end().to_owned()
}

/// An image of `crop` of the scenes with the outlines of `regions` over it (and their names when
/// `named`), drawn `zoom` times its size.
fn framed_image(
    class: &str,
    png: &[u8],
    crop: Crop,
    zoom: f64,
    regions: &[&Region],
    named: bool,
) -> String {
    let Crop {
        x,
        y,
        width,
        height,
    } = crop;
    let mut svg = format!(
        "<svg class=\"{class}\" width=\"{}\" height=\"{}\" \
         viewBox=\"{x} {y} {width} {height}\"><image x=\"{x}\" y=\"{y}\" width=\"{width}\" height=\"{height}\" \
         href=\"{}\"/>",
        (f64::from(width) * zoom).round(),
        (f64::from(height) * zoom).round(),
        png_uri(png)
    );
    for region in regions {
        let _ = write!(
            svg,
            "<path class=\"region-outline\" d=\"{}\"><title>{}</title></path>",
            outline(region),
            escape(&region.name)
        );
        let corner = region
            .polygons
            .first()
            .and_then(|p| p.rings.first()?.first());
        if let (true, Some([x, y])) = (named, corner) {
            let _ = write!(
                svg,
                "<text class=\"region-name\" x=\"{x}\" y=\"{}\">{}</text>",
                y - 3.0,
                escape(&region.name)
            );
        }
    }
    svg + "</svg>"
}

/// The two overview images of the port, PNG, each showing the whole of `scene`.
pub struct Overviews {
    pub heatmap: Vec<u8>,
    pub background: Vec<u8>,
    pub scene: Crop,
}

/// The whole page.
pub fn page(run: &RunOutputs, pictures: &[EventPictures], overviews: &Overviews) -> String {
    let archive = &run.archive;
    let name = archive.dir.file_name().map_or_else(
        || archive.dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>portwatch report: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        escape(&name)
    );
    html += &facts(run, &name);
    html += &occupancy_section(run);
    html += &arrivals_section(run);
    html += &fill_lead_section(run);
    html += &heatmap_section(run, overviews);
    html += &events_section(run, pictures);
    html += "</body>\n</html>\n";
    html
}

fn facts(run: &RunOutputs, name: &str) -> String {
    let arguments = &run.record.arguments;
    let summary = &run.summary;
    let or_text =
        |value: Option<String>, otherwise: &str| value.unwrap_or_else(|| otherwise.into());
    let rows = [
        ("archive", arguments.archive.display().to_string()),
        ("regions", arguments.regions.display().to_string()),
        (
            "period",
            format!(
                "{} to {}, {} scenes",
                summary.first_date, summary.last_date, summary.scenes
            ),
        ),
        (
            "change threshold",
            format!(
                "{} ({}), smoothing radius {}",
                run.record.pair_threshold,
                if arguments.threshold.is_some() {
                    "given"
                } else {
                    "chosen from the data"
                },
                arguments.smooth
            ),
        ),
        (
            "radiometry",
            (if arguments.normalize {
                "each scene normalized to the background"
            } else {
                "not normalized"
            })
            .to_owned(),
        ),
        (
            "background",
            or_text(
                arguments
                    .background_window
                    .map(|k| format!("median of the {k} scenes around each date")),
                "median of the whole archive",
            ),
        ),
        (
            "pixel size",
            or_text(
                arguments.gsd.map(|m| format!("{m} m")),
                "unknown (no vessel lengths)",
            ),
        ),
    ];
    let mut html = format!(
        "<header>\n<h1>portwatch report: {}</h1>\n<table class=\"facts\">\n",
        escape(name)
    );
    for (label, value) in rows {
        let _ = writeln!(html, "<tr><td>{label}</td><td>{}</td></tr>", escape(&value));
    }
    let _ = writeln!(
        html,
        "<tr><td>made by</td><td>portwatch {}</td></tr>\n</table>\n</header>",
        escape(&run.record.portwatch)
    );
    html
}

fn legend_key(class: &str, text: &str) -> String {
    format!("<span class=\"key\"><span class=\"swatch {class}\"></span>{text}</span>")
}

fn occupancy_section(run: &RunOutputs) -> String {
    let instants: Vec<_> = run
        .archive
        .entries
        .iter()
        .map(|e| e.acquired.instant())
        .collect();
    let mut html = String::from(
        "<section id=\"occupancy\">\n<h2>Occupancy by region</h2>\n<p>Occupancy: the share of the \
         region's valid pixels that differ from the background, on each date (series.csv), with the \
         events (events.csv).</p>\n<p class=\"legend\">",
    );
    html += &legend_key("occupied", "occupied");
    html += &legend_key("empty", "empty");
    html += &legend_key(
        "unobserved",
        "unobserved date (too little of the region valid)",
    );
    for kind in EventKind::ALL {
        let _ = write!(
            html,
            "<span class=\"key\"><span class=\"letter {0}\">{1}</span> {0}</span>",
            kind.word(),
            charts::event_letter(kind)
        );
    }
    html += "</p>\n";
    for (index, region) in run.regions.regions.iter().enumerate() {
        let cells: Vec<_> = run
            .analysis
            .cells
            .iter()
            .map(|row| row[index].clone())
            .collect();
        let events: Vec<_> = (run.analysis.events.iter())
            .filter(|e| e.region == index)
            .map(|e| (e.date, e.kind))
            .collect();
        let title = format!("{} ({})", region.name, region.kind);
        html += &charts::occupancy_chart(&title, &region.name, &instants, &cells, &events);
        html += "\n";
    }
    html + "</section>\n"
}

fn arrivals_section(run: &RunOutputs) -> String {
    let port = &run.summary.port;
    let bars: Vec<Bar> = port
        .arrivals_per_month
        .iter()
        .map(|(month, &count)| Bar {
            label: vec![month.clone()],
            value: Some(count as f64),
            value_label: count.to_string(),
        })
        .collect();
    let interval = port
        .median_inter_arrival_days
        .map_or_else(|| "n/a".to_owned(), |d| format!("{d:.1} days"));
    format!(
        "<section id=\"arrivals\">\n<h2>Arrivals per month</h2>\n{}\n<p>{} arrivals at the berths; median \
         interval between arrivals {interval}.</p>\n</section>\n",
        charts::bar_chart(
            "arrivals",
            "Arrivals per month, all berths",
            &bars,
            ("month", "arrivals (count)"),
        ),
        port.arrivals
    )
}

fn fill_lead_section(run: &RunOutputs) -> String {
    let dates: Vec<NaiveDate> = run
        .archive
        .entries
        .iter()
        .map(|e| e.acquired.date)
        .collect();
    let events = &run.analysis.events;
    let arrivals: Vec<NaiveDate> = (events.iter())
        .filter(|e| e.kind == EventKind::Arrival)
        .map(|e| dates[e.date])
        .collect();
    let bars: Vec<Bar> = (events.iter())
        .filter(|e| e.kind == EventKind::Fill)
        .map(|fill| {
            let lead = fill_lead_days(dates[fill.date], &arrivals);
            Bar {
                label: vec![
                    dates[fill.date].to_string(),
                    run.regions.regions[fill.region].name.clone(),
                ],
                value: lead,
                value_label: lead
                    .map_or_else(|| "no arrival after".to_owned(), |d| format!("{d} d")),
            }
        })
        .collect();
    let mut html = String::from(
        "<section id=\"fill-lead\">\n<h2>Yard fill lead before arrivals</h2>\n<p>For each yard fill, the \
         days until the next arrival at any berth (on or after the fill's date).</p>\n",
    );
    if bars.is_empty() {
        html += "<p>No yard fill in the series.</p>\n";
    } else {
        html += &charts::bar_chart(
            "fill-lead",
            "Days from each yard fill to the next arrival",
            &bars,
            ("yard fill (date, yard)", "lead (days)"),
        );
        html += "\n";
    }
    let median = run
        .summary
        .port
        .median_fill_lead_days
        .map_or_else(|| "n/a".to_owned(), |d| format!("{d:.1} days"));
    let _ = writeln!(html, "<p>Median lead: {median}.</p>\n</section>");
    html
}

/// The colour ramp of the heatmap with its scale: the share of pairs, placed at its square root.
fn ramp_legend(pairs: usize) -> String {
    let (width, left, bar_width) = (480.0, 20.0, 440.0);
    let mut svg = format!(
        "<svg class=\"ramp\" width=\"{width}\" height=\"58\" \
         viewBox=\"0 0 {width} 58\"><defs><linearGradient id=\"ramp\">"
    );
    for (index, [r, g, b]) in RAMP.iter().enumerate() {
        let offset = index as f64 / (RAMP.len() - 1) as f64;
        let _ = write!(
            svg,
            "<stop offset=\"{offset:.3}\" stop-color=\"rgb({r},{g},{b})\"/>"
        );
    }
    let _ = write!(
        svg,
        "</linearGradient></defs><rect x=\"{left}\" y=\"4\" width=\"{bar_width}\" height=\"14\" fill=\"url(#ramp)\"/>"
    );
    for share in [0.01, 0.05, 0.25, 0.5, 1.0] {
        let x = left + bar_width * f64::sqrt(share);
        let _ = write!(
            svg,
            "<line x1=\"{x:.1}\" y1=\"18\" x2=\"{x:.1}\" y2=\"22\" stroke=\"#444\"/>\
             <text x=\"{x:.1}\" y=\"33\" text-anchor=\"middle\">{}%</text>",
            share * 100.0
        );
    }
    let _ = write!(
        svg,
        "<text x=\"{:.1}\" y=\"52\" text-anchor=\"middle\">share of the {pairs} consecutive pairs in \
         which the pixel changed (%, square-root scale)</text></svg>",
        left + bar_width / 2.0
    );
    svg
}

fn heatmap_section(run: &RunOutputs, overviews: &Overviews) -> String {
    let regions: Vec<&Region> = run.regions.regions.iter().collect();
    let pairs = run.archive.entries.len().saturating_sub(1);
    let mut html = String::from(
        "<section id=\"heatmap\">\n<h2>Change heatmap</h2>\n<div class=\"overviews\">\n",
    );
    let _ = write!(
        html,
        "<figure>{}<figcaption>How often each pixel changed between consecutive scenes \
         (heatmap.png), over the background in gray; regions outlined.</figcaption></figure>\n\
         <figure>{}<figcaption>The background: the median of the archive (background.png).\
         </figcaption></figure>\n</div>\n{}\n</section>\n",
        framed_image(
            "overview heatmap",
            &overviews.heatmap,
            overviews.scene,
            1.0,
            &regions,
            true
        ),
        framed_image(
            "overview background",
            &overviews.background,
            overviews.scene,
            1.0,
            &regions,
            true
        ),
        ramp_legend(pairs)
    );
    html
}

fn events_section(run: &RunOutputs, pictures: &[EventPictures]) -> String {
    let [r, g, b] = MASK_COLOUR;
    let mut html = format!(
        "<section id=\"events\">\n<h2>Events</h2>\n<p>Each event's region on the previous date it was \
         observed and on the event's date, its outline in yellow; on the second, the pixels that changed \
         between the two are tinted <span style=\"color: rgb({r},{g},{b})\">magenta</span> (a pixel invalid \
         in either scene, under a cloud mask or nodata, is never changed).</p>\n\
         <table class=\"events\">\n<tr><th>date</th><th>region</th><th>event</th><th>vessel length (m)</th>\
         <th>before</th><th>after, with the change</th><th>changed pixels</th></tr>\n"
    );
    for (event, picture) in run.analysis.events.iter().zip(pictures) {
        let region = &run.regions.regions[event.region];
        let longer_side = f64::from(picture.crop.width.max(picture.crop.height));
        let zoom = (THUMBNAIL_SIDE / longer_side).clamp(1.0, MAX_THUMBNAIL_ZOOM);
        let entries = &run.archive.entries;
        let length = event
            .length_m
            .map_or_else(|| "–".to_owned(), |m| format!("{m:.1}"));
        let _ = writeln!(
            html,
            "<tr class=\"event-row\"><td>{}</td><td>{}</td><td><span class=\"letter {2}\">{3}</span> {2}</td>\
             <td class=\"number\">{length}</td><td>{5}<br>{4}</td><td>{7}<br>{6}</td><td class=\"number\">{8}</td></tr>",
            entries[event.date].acquired,
            escape(&region.name),
            event.kind.word(),
            charts::event_letter(event.kind),
            framed_image(
                "thumbnail before",
                &picture.before_png,
                picture.crop,
                zoom,
                &[region],
                false
            ),
            entries[picture.before].acquired,
            framed_image(
                "thumbnail after",
                &picture.after_png,
                picture.crop,
                zoom,
                &[region],
                false
            ),
            entries[event.date].acquired,
            picture.changed_px
        );
    }
    html + "</table>\n</section>\n"
}
