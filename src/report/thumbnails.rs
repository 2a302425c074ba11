//! The pictures behind each event: the event's region on the previous date it was observed and on the
//! event's date, with the change mask of that pair drawn over the second. The mask is computed again by
//! the kernel (any backend: the masks are bit-identical), from the scenes in the archive, with the
//! correction, threshold, smoothing and nodata that the run recorded in `run.json`, so it is the mask the
//! run's pair comparison would give.

use super::display::{Crop, encode_png, to_rgb, white_level};
use super::run_outputs::RunOutputs;
use crate::error::{Error, Result};
use crate::kernel::{self, ChangeSettings, DeviceChoice, Outputs};
use crate::rasterize::LabelRaster;
use image::Rgb;

/// The colour of changed pixels in the second picture.
pub const MASK_COLOUR: [u8; 3] = [255, 0, 255];
/// How much of a changed pixel's colour is [`MASK_COLOUR`], in 256ths.
const MASK_OPACITY: u32 = 140;
/// The margin around a region's pixels, as a fraction of the larger side of its bounding box.
const MARGIN_FRACTION: u32 = 4;
const MIN_MARGIN_PX: u32 = 8;

const BEFORE_SLOT: kernel::Slot = 0;
const AFTER_SLOT: kernel::Slot = 1;

/// The two pictures of one event.
pub struct EventPictures {
    /// The date (index into the archive) of the first picture: the previous observation of the region.
    pub before: usize,
    /// The rectangle of the scenes shown.
    pub crop: Crop,
    /// PNG of the region on the previous date.
    pub before_png: Vec<u8>,
    /// PNG of the region on the event's date, changed pixels tinted with [`MASK_COLOUR`].
    pub after_png: Vec<u8>,
    /// Changed pixels in the picture.
    pub changed_px: u64,
}

/// The pictures of every event of the run, in event order, and the backend that computed the masks
/// (`None` when there is no event).
pub fn event_pictures(
    run: &RunOutputs,
    device: DeviceChoice,
) -> Result<(Vec<EventPictures>, Option<String>)> {
    let Some(first) = run.analysis.events.first() else {
        return Ok((Vec::new(), None));
    };
    let format = (run.archive.entries[first.date])
        .load(&run.archive.decode)?
        .scene
        .format;
    let labels = LabelRaster::rasterize(&run.regions, format.width, format.height)?;
    let crops = region_crops(&labels);
    let mut kernel = kernel::open(device, format, &labels)?;
    let arguments = &run.record.arguments;
    let settings = ChangeSettings {
        threshold: run.record.pair_threshold,
        region_thresholds: Vec::new(),
        radius: arguments.smooth,
        nodata: arguments.nodata,
    };
    let outputs = Outputs {
        change_mask: true,
        profiles: false,
    };
    let mut pictures = Vec::with_capacity(run.analysis.events.len());
    for event in &run.analysis.events {
        let before = run
            .previous_observation(event.region, event.date)
            .ok_or_else(|| {
                Error::input(
                    run.dir.join(crate::eval::tables::RESULT_EVENTS_FILE),
                    format!(
                        "the {} at \"{}\" on {} follows no observation of the region",
                        event.kind.word(),
                        run.regions.regions[event.region].name,
                        run.archive.entries[event.date].acquired
                    ),
                )
            })?;
        let crop = crops[event.region];
        let mut images = Vec::with_capacity(2);
        for (slot, date) in [(BEFORE_SLOT, before), (AFTER_SLOT, event.date)] {
            let entry = &run.archive.entries[date];
            let scene = entry.load(&run.archive.decode)?.scene;
            let radiometry =
                run.record
                    .radiometry_of(entry.acquired, format.bits_per_sample, &run.dir)?;
            kernel.load_scene(slot, 0, scene.clone(), radiometry)?;
            images.push(scene);
        }
        let white = white_level(&[&images[0], &images[1]], crop);
        let before_rgb = to_rgb(&images[0], crop, white);
        let mut after_rgb = to_rgb(&images[1], crop, white);
        let stats = kernel.compare(
            BEFORE_SLOT,
            AFTER_SLOT,
            0..format.height,
            &settings,
            outputs,
        )?;
        let mask = stats
            .change_mask
            .expect("the kernel returns the change mask it is asked for");
        let mut changed_px = 0;
        for (x, y, pixel) in after_rgb.enumerate_pixels_mut() {
            if mask.is_changed(crop.x + x, crop.y + y) {
                *pixel = tint(*pixel);
                changed_px += 1;
            }
        }
        pictures.push(EventPictures {
            before,
            crop,
            before_png: encode_png(&before_rgb),
            after_png: encode_png(&after_rgb),
            changed_px,
        });
    }
    Ok((pictures, Some(kernel.description())))
}

/// `pixel` blended with [`MASK_COLOUR`].
fn tint(pixel: Rgb<u8>) -> Rgb<u8> {
    let mut blended = pixel;
    for (channel, mask) in blended.0.iter_mut().zip(MASK_COLOUR) {
        *channel = ((u32::from(mask) * MASK_OPACITY + u32::from(*channel) * (256 - MASK_OPACITY))
            >> 8) as u8;
    }
    blended
}

/// For each region (label − 1), the bounding box of its pixels with a margin, clipped to the image.
pub fn region_crops(labels: &LabelRaster) -> Vec<Crop> {
    let count = labels.region_count as usize;
    let mut bounds = vec![[u32::MAX, u32::MAX, 0, 0]; count];
    for y in 0..labels.height {
        for x in 0..labels.width {
            let label = labels.label_at(y as usize * labels.width as usize + x as usize);
            if label > 0 {
                let [x0, y0, x1, y1] = &mut bounds[usize::from(label) - 1];
                (*x0, *y0, *x1, *y1) = ((*x0).min(x), (*y0).min(y), (*x1).max(x), (*y1).max(y));
            }
        }
    }
    bounds
        .into_iter()
        .map(|[x0, y0, x1, y1]| {
            let margin = ((x1 - x0 + 1).max(y1 - y0 + 1) / MARGIN_FRACTION).max(MIN_MARGIN_PX);
            let (left, top) = (x0.saturating_sub(margin), y0.saturating_sub(margin));
            let right = (x1 + 1 + margin).min(labels.width);
            let bottom = (y1 + 1 + margin).min(labels.height);
            Crop {
                x: left,
                y: top,
                width: right - left,
                height: bottom - top,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::regions::RegionSet;

    #[test]
    fn crops_frame_each_region_with_a_margin_inside_the_image() {
        let regions = RegionSet::parse(
            r#"{"type":"FeatureCollection","features":[
             {"type":"Feature","properties":{"name":"a"},"geometry":{"type":"Polygon","coordinates":[[[2,3],[10,3],[10,5],[2,5],[2,3]]]}},
             {"type":"Feature","properties":{"name":"b"},"geometry":{"type":"Polygon","coordinates":[[[40,60],[100,60],[100,80],[40,80],[40,60]]]}}]}"#,
            "test.geojson".as_ref(),
        )
        .unwrap();
        let labels = LabelRaster::rasterize(&regions, 110, 90).unwrap();
        let crops = region_crops(&labels);
        // a: pixels x 2..10, y 3..5, margin 8, clipped at the top-left corner.
        assert_eq!(
            crops[0],
            Crop {
                x: 0,
                y: 0,
                width: 18,
                height: 13
            }
        );
        // b: pixels x 40..100, y 60..80, margin 60 / 4 = 15, clipped at the right and bottom.
        assert_eq!(
            crops[1],
            Crop {
                x: 25,
                y: 45,
                width: 85,
                height: 45
            }
        );
    }

    #[test]
    fn changed_pixels_are_tinted_towards_the_mask_colour() {
        let tinted = tint(Rgb([0, 200, 0]));
        assert!(
            tinted.0[0] > 100 && tinted.0[1] < 100 && tinted.0[2] > 100,
            "{tinted:?}"
        );
    }
}
