//! The change threshold chosen from the data: a multiple of the noise measured in the per-region
//! histograms of every scene against the background, raised for a cell whose whole region reads brighter
//! or darker than usual (patchy haze, thin cloud the masks missed).

use crate::kernel::RegionStats;
use crate::kernel::params::{HISTOGRAM_BINS, histogram_bin_lower_edge};
use crate::statistics::median;

/// The base threshold is this many times the noise level.
pub const NOISE_MULTIPLE: u32 = 6;

/// The thresholds of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Thresholds {
    /// The typical magnitude of an unchanged pixel: the median, over the observed cells, of each cell's
    /// median magnitude against the background. `None` when the threshold was given.
    pub noise: Option<u32>,
    /// The threshold of a cell at the typical noise level, and of the comparisons between scenes.
    pub base: u32,
}

impl Thresholds {
    /// A threshold given by the user, used everywhere as it is.
    pub fn given(threshold: u32) -> Thresholds {
        Thresholds {
            noise: None,
            base: threshold,
        }
    }

    /// Chooses the base threshold from the histograms of the observed cells: `NOISE_MULTIPLE` times the
    /// noise level, and at least `NOISE_MULTIPLE` per band.
    pub fn choose<'a>(
        observed: impl IntoIterator<Item = &'a RegionStats>,
        bands: u32,
    ) -> Thresholds {
        let medians: Vec<f64> = observed
            .into_iter()
            .filter_map(histogram_median)
            .map(f64::from)
            .collect();
        let noise = median(medians).map_or(0, |m| m as u32);
        Thresholds {
            noise: Some(noise),
            base: (NOISE_MULTIPLE * noise).max(NOISE_MULTIPLE * bands),
        }
    }

    /// The threshold of one cell: the base, raised by as much as the cell's median magnitude exceeds the
    /// noise level, so that a region under haze needs the same contrast above its own level as any other.
    pub fn for_cell(&self, cell: &RegionStats) -> u32 {
        match (self.noise, histogram_median(cell)) {
            (Some(noise), Some(cell_median)) => self.base + cell_median.saturating_sub(noise),
            _ => self.base,
        }
    }
}

/// The lower edge of the histogram bin holding a cell's median magnitude; `None` without valid pixels.
pub fn histogram_median(cell: &RegionStats) -> Option<u32> {
    let total: u64 = cell.histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let mut seen = 0;
    (0..HISTOGRAM_BINS)
        .find(|&bin| {
            seen += cell.histogram[bin];
            2 * seen >= total
        })
        .map(histogram_bin_lower_edge)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::params::histogram_bin;

    fn cell(magnitudes: &[u32]) -> RegionStats {
        let mut stats = RegionStats::default();
        for &m in magnitudes {
            stats.histogram[histogram_bin(m) as usize] += 1;
            stats.valid_px += 1;
        }
        stats
    }

    #[test]
    fn the_median_is_read_from_the_bins() {
        assert_eq!(histogram_median(&cell(&[1, 2, 9, 9, 200])), Some(8));
        assert_eq!(histogram_median(&cell(&[])), None);
    }

    #[test]
    fn noise_sets_the_base_and_hazy_cells_get_more() {
        let quiet = cell(&[8, 9, 10, 300]);
        let hazy = cell(&[40, 41, 42, 300]);
        let thresholds = Thresholds::choose([&quiet, &quiet, &hazy], 3);
        assert_eq!(thresholds.noise, Some(8));
        assert_eq!(thresholds.base, 48);
        assert_eq!(thresholds.for_cell(&quiet), 48);
        assert_eq!(thresholds.for_cell(&hazy), 48 + 40 - 8);
        let flat = cell(&[0, 0, 0]);
        assert_eq!(Thresholds::choose([&flat], 4).base, 24);
        assert_eq!(Thresholds::given(60).for_cell(&hazy), 60);
    }
}
