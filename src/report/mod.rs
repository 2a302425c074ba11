//! The analysts' view of a run: `report.html`, one self-contained page with each region's occupancy over
//! time, arrivals per month, the yard-fill lead before arrivals, the change heatmap and a table of the
//! events with pictures of each; and the two images `run` writes for it, `heatmap.png` and
//! `background.png`.
//!
//! The report is made from the output directory alone ([`run_outputs`]), plus the archive it names, so
//! `portwatch report OUT` can be run at any time after `portwatch run`.

mod charts;
mod display;
pub mod heatmap;
mod html;
mod run_outputs;
mod thumbnails;

use crate::error::{Error, Result};
use crate::kernel::DeviceChoice;
use crate::output::{RasterWriter, write_atomically};
use crate::scene::Scene;
use display::{Crop, encode_png, to_rgb, white_level};
use heatmap::ChangeCounts;
use run_outputs::RunOutputs;
use std::path::Path;

pub const REPORT_FILE: &str = "report.html";
/// The name of the heatmap raster without its extension (`.png`, `.tif`).
pub const HEATMAP: &str = "heatmap";
/// The name of the background raster without its extension.
pub const BACKGROUND: &str = "background";

/// The overview images in the report are at most this many pixels on their longer side.
const MAX_OVERVIEW_SIDE: u32 = 1024;

/// Writes `heatmap` (how often each pixel changed, over the background) and `background` (the archive's
/// background as RGB) in `dir`, in the formats of `rasters`.
pub fn write_run_images(
    dir: &Path,
    background: &Scene,
    counts: &ChangeCounts,
    rasters: &RasterWriter,
) -> Result<()> {
    let whole = Crop::whole(background.format.width, background.format.height);
    rasters.write(&dir.join(HEATMAP), &counts.render(background))?;
    rasters.write(
        &dir.join(BACKGROUND),
        &to_rgb(background, whole, white_level(&[background], whole)),
    )
}

/// What a report holds, for the log.
pub struct ReportContents {
    pub regions: usize,
    pub events: usize,
    /// The backend that computed the events' change masks; `None` when there is no event.
    pub backend: Option<String>,
}

/// Writes `report.html` in `dir`, the output directory of a run, from the run's outputs there and the
/// archive it names; the events' change masks are computed on `device`.
pub fn write_report(dir: &Path, device: DeviceChoice) -> Result<ReportContents> {
    let run = RunOutputs::read(dir)?;
    // The PNG when the run wrote one, else the GeoTIFF.
    let extension = run.record.rasters.extensions()[0];
    let (heatmap, scene) = overview_png(&dir.join(HEATMAP).with_extension(extension))?;
    let (background, _) = overview_png(&dir.join(BACKGROUND).with_extension(extension))?;
    let overviews = html::Overviews {
        heatmap,
        background,
        scene,
    };
    let (pictures, backend) = thumbnails::event_pictures(&run, device)?;
    write_atomically(
        &dir.join(REPORT_FILE),
        html::page(&run, &pictures, &overviews).as_bytes(),
    )?;
    Ok(ReportContents {
        regions: run.regions.regions.len(),
        events: run.analysis.events.len(),
        backend,
    })
}

/// The image at `path` (of the scenes' size), reduced to at most [`MAX_OVERVIEW_SIDE`] pixels a side, as
/// PNG, and the whole scene it shows.
fn overview_png(path: &Path) -> Result<(Vec<u8>, Crop)> {
    let image = image::open(path)
        .map_err(|e| {
            Error::input(
                path,
                format!("cannot read ({e}); it is written by `portwatch run`"),
            )
        })?
        .into_rgb8();
    let (width, height) = image.dimensions();
    let scale = f64::from(MAX_OVERVIEW_SIDE) / f64::from(width.max(height));
    let image = if scale < 1.0 {
        image::imageops::resize(
            &image,
            ((f64::from(width) * scale).round() as u32).max(1),
            ((f64::from(height) * scale).round() as u32).max(1),
            image::imageops::FilterType::Triangle,
        )
    } else {
        image
    };
    Ok((encode_png(&image), Crop::whole(width, height)))
}
