//! The series driver: turns what the kernel measured against the background, date by date and region by
//! region, into the occupancy series, the events (arrivals, departures, yard fills and clears), vessel
//! lengths and port statistics.
//!
//! [`measure`] runs the kernel over an archive; everything else here is plain arithmetic on its
//! [`CellMeasurement`]s, so the rules can be read and tested without images.

mod analysis;
pub mod measure;
mod profile;
mod settle;
pub mod shelf;
mod summary;
pub mod threshold;

pub use analysis::{Analysis, Cell, Event, EventKind, State, analyse};
pub use profile::{Stretch, longest_stretch};
pub use summary::{Summary, fill_lead_days, summarize};

use chrono::NaiveDate;

/// A region as the analysis sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionInfo {
    pub name: String,
    pub kind: String,
    /// Pixels of the region in the label raster.
    pub pixel_count: u64,
    /// Pixels in each bin of the region's profile along its long axis (one bin per pixel of length).
    pub bin_pixels: Vec<u32>,
}

impl RegionInfo {
    /// Bins of the region's profile.
    pub fn profile_length(&self) -> u32 {
        self.bin_pixels.len() as u32
    }

    pub fn is_berth(&self) -> bool {
        self.kind == "berth"
    }

    pub fn is_yard(&self) -> bool {
        self.kind == "yard"
    }

    /// Whether the region is observed on a date where `valid_px` of its pixels are valid: at least one,
    /// and at least `min_valid_fraction` of them.
    pub fn is_observed(&self, valid_px: u64, min_valid_fraction: f64) -> bool {
        valid_px > 0 && valid_px as f64 >= min_valid_fraction * self.pixel_count as f64
    }
}

/// What the kernel measured in one region on one date.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CellMeasurement {
    /// Pixels valid in both the scene and the background.
    pub valid_px: u64,
    /// Valid pixels that differ from the background.
    pub changed_px: u64,
    /// The longest occupied stretch along the region's axis ([`longest_stretch`]).
    pub stretch: Stretch,
    /// The fraction of the valid pixels changed since the previous date on which the region was
    /// observed; `None` on its first observed date.
    pub change_score: Option<f64>,
}

/// How measurements become states and events.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SeriesSettings {
    /// A cell whose valid fraction is below this is `unobserved`.
    pub min_valid_fraction: f64,
    /// A berth becomes occupied when its occupied stretch covers at least this fraction of its length,
    /// and empty again when the stretch falls to `release` times that.
    pub berth_occupied_above: f64,
    /// A yard (or any region other than a berth) becomes occupied when at least this fraction of its
    /// valid pixels differ from the background, and empty again below `release` times that.
    pub yard_occupied_above: f64,
    /// The hysteresis: the fraction of an occupied-above level below which the state falls back to empty.
    pub release: f64,
    /// At a berth that stays occupied, an end of the occupied stretch lying more than this many pixels from
    /// where the stay has seen it is a new ship. In pixels, not metres: what it allows for is the
    /// pixel or two by which a moored ship's ends are misread from pass to pass.
    pub new_ship_shift_px: u32,
    /// Metres per pixel, for vessel lengths; `None` when unknown.
    pub gsd_m: Option<f64>,
}

impl Default for SeriesSettings {
    fn default() -> Self {
        SeriesSettings {
            min_valid_fraction: 0.5,
            berth_occupied_above: 0.25,
            yard_occupied_above: 0.05,
            release: 0.6,
            new_ship_shift_px: 4,
            gsd_m: None,
        }
    }
}

/// The acquisition dates of a series, in order.
pub type Dates = [NaiveDate];
