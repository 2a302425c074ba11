//! Preparing an archive's scenes against a reference of the same place (`run --cloud-mask auto`,
//! `run --align`): each scene's clouds and shadows masked and its shift measured, and with alignment
//! resampled away, before the run's backgrounds and radiometric fits are made.

use crate::cloud::{self, CloudCover, CloudMasking};
use crate::coregister::{self, Shift};
use crate::error::Result;
use crate::kernel::{ChangeKernel, Radiometry, Slot};
use crate::radiometry;
use crate::scene::Scene;
use rayon::prelude::*;

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

/// Prepares every scene against `reference` (of the same format), using the kernel's slots `reference_slot`
/// and `scene_slot`, which are left holding other content.
pub fn prepare_against(
    kernel: &mut dyn ChangeKernel,
    (reference_slot, scene_slot): (Slot, Slot),
    reference: &Scene,
    scenes: &mut [Scene],
    preparation: &Preparation,
    nodata: Option<u32>,
) -> Result<Vec<Prepared>> {
    // Clouds scene by scene in parallel, each independent of the others; then the shifts on the kernel.
    let covers: Vec<CloudCover> = scenes
        .par_iter_mut()
        .map(|scene| {
            let clouds = match preparation.clouds {
                CloudMasking::Auto => cloud::detect(scene, reference, nodata),
                CloudMasking::None => CloudCover::clear(scene, nodata),
            };
            clouds.mask(scene);
            clouds
        })
        .collect();
    if preparation.align {
        kernel.load_scene(reference_slot, reference.clone(), Radiometry::IDENTITY)?;
    }
    scenes
        .iter_mut()
        .zip(covers)
        .map(|(scene, clouds)| {
            let mut shift = None;
            if preparation.align {
                let correction = radiometry::fit(scene, reference, nodata);
                kernel.load_scene(scene_slot, scene.clone(), correction)?;
                shift = coregister::estimate(
                    kernel,
                    reference_slot,
                    scene_slot,
                    preparation.search_radius,
                    nodata,
                )?;
                if let Some(shift) = shift {
                    *scene = coregister::resample(scene, shift, nodata);
                }
            }
            Ok(Prepared { clouds, shift })
        })
        .collect()
}
