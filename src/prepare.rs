//! Preparing an archive's scenes against a reference of the same place (`run --cloud-mask auto`,
//! `run --align`): each scene's clouds and shadows masked and its shift measured, and with alignment
//! resampled away, before the run's backgrounds and radiometric fits are made.

use crate::cloud::{self, CloudCover, CloudMasking};
use crate::coregister::{self, Shift};
use crate::error::Result;
use crate::kernel::{ChangeKernel, Radiometry, Slot};
use crate::radiometry;
use crate::scene::Scene;
use crate::series::shelf::{Kept, Note, Shelf};
use crate::store::{Reader, Writer};

/// What to do to each scene.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Preparation {
    pub clouds: CloudMasking,
    /// Resample each scene onto the reference's grid by its measured shift.
    pub align: bool,
    /// Shifts searched, in pixels either way.
    pub search_radius: u32,
}

impl Preparation {
    /// Leave the scenes as they are (and measure no shift).
    pub const NONE: Preparation = Preparation {
        clouds: CloudMasking::None,
        align: false,
        search_radius: coregister::DEFAULT_SEARCH_RADIUS,
    };

    pub fn is_active(&self) -> bool {
        self.align || self.clouds == CloudMasking::Auto
    }
}

/// What preparing one scene found.
#[derive(Clone, Debug)]
pub struct Prepared {
    pub clouds: CloudCover,
    /// Its shift against the reference, when aligning and some pixel could be compared.
    pub shift: Option<Shift>,
}

impl Prepared {
    /// A line for the run's log, for the scene named `name`.
    pub fn describe(&self, name: &str) -> String {
        let shift = self.shift.map_or_else(String::new, |s| {
            format!(", shifted by ({:.2}, {:.2}) px and aligned", s.dx, s.dy)
        });
        format!(
            "{name}: {:.1}% cloud, {:.1}% cloud shadow{shift}",
            100.0 * self.clouds.cloud_fraction(),
            100.0 * self.clouds.shadow_fraction()
        )
    }
}

/// Prepares every scene of `scenes` against their reference, the median of the raw scenes, using the
/// kernel's slots `reference_slot` and `scene_slot`, which are left holding other content. With alignment
/// the scenes go one at a time through the kernel; without, their clouds are found in parallel. When the
/// store holds every scene as an earlier attempt of the run prepared it, they are taken from there and no
/// reference is made.
pub fn prepare(
    kernel: &mut dyn ChangeKernel,
    (reference_slot, scene_slot): (Slot, Slot),
    scenes: &mut Shelf,
    preparation: &Preparation,
    nodata: Option<u32>,
) -> Result<Vec<Prepared>> {
    let kept = match preparation.align {
        true => Kept::Scene,
        false => Kept::Validity,
    };
    if let Some(prepared) = scenes.take_earlier_changes(kept, &NOTE) {
        return Ok(prepared);
    }
    let raw: Vec<(usize, Radiometry)> = (0..scenes.len())
        .map(|index| (index, Radiometry::IDENTITY))
        .collect();
    let reference = &scenes.background(kernel, &raw, nodata)?;
    let mask_clouds = |scene: &mut Scene| {
        let mut clouds = match preparation.clouds {
            CloudMasking::Auto => cloud::detect(scene, reference, nodata),
            CloudMasking::None => CloudCover::clear(scene, nodata),
        };
        clouds.mask(scene);
        clouds
    };
    if !preparation.align {
        return scenes.update_each(
            |scene| {
                Ok(Prepared {
                    clouds: mask_clouds(scene),
                    shift: None,
                })
            },
            kept,
            &NOTE,
        );
    }
    kernel.load_scene(reference_slot, 0, reference.clone(), Radiometry::IDENTITY)?;
    (0..scenes.len())
        .map(|index| {
            let align = |scene: &mut Scene| {
                let clouds = mask_clouds(scene);
                let correction = radiometry::fit(scene, reference, nodata);
                kernel.load_scene(scene_slot, 0, scene.clone(), correction)?;
                let shift = coregister::estimate(
                    kernel,
                    reference_slot,
                    scene_slot,
                    preparation.search_radius,
                    nodata,
                )?;
                if let Some(shift) = shift {
                    *scene = coregister::resample(scene, shift, nodata);
                }
                Ok(Prepared { clouds, shift })
            };
            scenes.update(index, align, kept, &NOTE)
        })
        .collect()
}

/// How what preparing a scene found is kept in the work store.
const NOTE: Note<Prepared> = (write_prepared, read_prepared);

fn write_prepared(prepared: &Prepared, w: &mut Writer) {
    let clouds = &prepared.clouds;
    for count in [clouds.valid_px, clouds.cloud_px, clouds.shadow_px] {
        w.u64(count);
    }
    w.bool(prepared.shift.is_some());
    if let Some(shift) = prepared.shift {
        w.u64(shift.dx.to_bits());
        w.u64(shift.dy.to_bits());
        w.bool(shift.at_search_edge);
    }
}

fn read_prepared(r: &mut Reader) -> Option<Prepared> {
    let clouds = CloudCover::from_counts(r.u64()?, r.u64()?, r.u64()?);
    let shift = if r.bool()? {
        Some(Shift {
            dx: f64::from_bits(r.u64()?),
            dy: f64::from_bits(r.u64()?),
            at_search_edge: r.bool()?,
        })
    } else {
        None
    };
    Some(Prepared { clouds, shift })
}
