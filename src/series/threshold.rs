//! The change thresholds chosen from the data. Each region has its own, since water, pavement and
//! ballast are not equally noisy: a multiple of the noise measured in its histograms against the
//! background over the archive, raised on a date when the whole region reads brighter or darker than
//! usual (patchy haze, thin cloud the masks missed). `pairs.csv` uses one port-wide threshold, from the
//! noise of every region.
//!
//! A cell's level is read from the low tail of its histogram, not its median: haze lifts every pixel
//! of a region, while ships and stacks, however many, leave some of it at the noise level.

use crate::kernel::RegionStats;
use crate::kernel::params::{HISTOGRAM_BINS, histogram_bin_lower_edge};
use crate::statistics::median;

/// The base threshold is this many times the noise level.
pub const NOISE_MULTIPLE: u32 = 6;

/// The quantile of a cell's magnitudes that tells how far haze lifts the whole region.
const LEVEL_QUANTILE: f64 = 0.03;

/// One threshold: given by the user, or chosen from the observed cells of a region or of the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// The typical magnitude of an unchanged pixel: the median, over the observed cells, of each
    /// cell's median magnitude against the background. `None` when the threshold was given.
    pub noise: Option<u32>,
    /// The typical level of a cell: the median, over the observed cells, of each cell's
    /// `LEVEL_QUANTILE` magnitude. `None` when the threshold was given.
    pub level: Option<u32>,
    /// The threshold of a cell at the typical level, and of the comparisons between scenes.
    pub base: u32,
}

impl Threshold {
    /// A threshold given by the user, used everywhere as it is.
    pub fn given(threshold: u32) -> Threshold {
        Threshold {
            noise: None,
            level: None,
            base: threshold,
        }
    }

    /// Chooses the base threshold from the histograms of the observed cells: `NOISE_MULTIPLE` times the
    /// noise level, and at least `NOISE_MULTIPLE` per band. `None` without a cell with valid pixels.
    pub fn choose<'a>(
        observed: impl IntoIterator<Item = &'a RegionStats>,
        bands: u32,
    ) -> Option<Threshold> {
        let cells: Vec<&RegionStats> = observed.into_iter().collect();
        let typical = |quantile| {
            let per_cell = cells
                .iter()
                .filter_map(|cell| histogram_quantile(cell, quantile))
                .map(f64::from);
            median(per_cell.collect()).map(|m| m as u32)
        };
        let noise = typical(0.5)?;
        Some(Threshold {
            noise: Some(noise),
            level: typical(LEVEL_QUANTILE),
            base: (NOISE_MULTIPLE * noise).max(NOISE_MULTIPLE * bands),
        })
    }

    /// The threshold of one cell: the base, raised by as much as the cell's level exceeds the typical
    /// level, so that a region under haze needs the same contrast above its own level as any other.
    pub fn for_cell(&self, cell: &RegionStats) -> u32 {
        match (self.level, histogram_quantile(cell, LEVEL_QUANTILE)) {
            (Some(typical), Some(level)) => self.base + level.saturating_sub(typical),
            _ => self.base,
        }
    }
}

/// The thresholds of a run: one per region, and the port-wide one of `pairs.csv`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Thresholds {
    pub port: Threshold,
    /// In region order.
    pub regions: Vec<Threshold>,
}

impl Thresholds {
    /// The user's threshold for every region and the port.
    pub fn given(threshold: u32, regions: usize) -> Thresholds {
        Thresholds {
            port: Threshold::given(threshold),
            regions: vec![Threshold::given(threshold); regions],
        }
    }

    /// Chooses each region's threshold from its observed cells, `cells[date][region]` (`None` where
    /// unobserved), and the port's from all of them. A region never observed takes the port's.
    pub fn choose(cells: &[Vec<Option<&RegionStats>>], regions: usize, bands: u32) -> Thresholds {
        let port = Threshold::choose(cells.iter().flatten().flatten().copied(), bands).unwrap_or(
            Threshold {
                noise: Some(0),
                level: Some(0),
                base: NOISE_MULTIPLE * bands,
            },
        );
        let regions = (0..regions)
            .map(|region| {
                Threshold::choose(cells.iter().filter_map(|row| row[region]), bands).unwrap_or(port)
            })
            .collect();
        Thresholds { port, regions }
    }
}

/// The lower edge of the histogram bin holding the `quantile` of a cell's magnitudes; `None` without
/// valid pixels.
pub fn histogram_quantile(cell: &RegionStats, quantile: f64) -> Option<u32> {
    let total: u64 = cell.histogram.iter().sum();
    if total == 0 {
        return None;
    }
    let rank = ((quantile * total as f64).ceil() as u64).max(1);
    let mut seen = 0;
    (0..HISTOGRAM_BINS)
        .find(|&bin| {
            seen += cell.histogram[bin];
            seen >= rank
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
    fn quantiles_are_read_from_the_bins() {
        let five = cell(&[1, 2, 9, 9, 200]);
        assert_eq!(histogram_quantile(&five, 0.5), Some(8));
        assert_eq!(histogram_quantile(&five, 0.1), Some(1));
        assert_eq!(histogram_quantile(&five, 1.0), Some(192));
        assert_eq!(histogram_quantile(&cell(&[]), 0.5), None);
    }

    #[test]
    fn noise_sets_the_base_and_hazy_cells_get_more() {
        let quiet = cell(&[8, 9, 10, 300]);
        let hazy = cell(&[40, 41, 42, 300]);
        let threshold = Threshold::choose([&quiet, &quiet, &hazy], 3).unwrap();
        assert_eq!(threshold.noise, Some(8));
        assert_eq!(threshold.level, Some(8));
        assert_eq!(threshold.base, 48);
        assert_eq!(threshold.for_cell(&quiet), 48);
        assert_eq!(threshold.for_cell(&hazy), 48 + 40 - 8);
        // Three quarters covered by stacks: the low tail is still at the noise level.
        let stacked = cell(&[8, 300, 300, 300]);
        assert_eq!(threshold.for_cell(&stacked), 48);
        let flat = cell(&[0, 0, 0]);
        assert_eq!(Threshold::choose([&flat], 4).unwrap().base, 24);
        assert_eq!(Threshold::choose([&cell(&[])], 4), None);
        assert_eq!(Threshold::given(60).for_cell(&hazy), 60);
    }

    #[test]
    fn each_region_has_its_own_noise_and_the_port_all_of_them() {
        let calm_water = cell(&[4, 4, 5, 5]);
        let rough_pavement = cell(&[16, 16, 20, 20]);
        let row = vec![Some(&calm_water), Some(&rough_pavement), None];
        let thresholds = Thresholds::choose(&[row.clone(), row], 3, 3);
        assert_eq!(thresholds.regions[0].base, 24);
        assert_eq!(thresholds.regions[1].base, 96);
        assert_eq!(thresholds.regions[2], thresholds.port);
        assert_eq!(thresholds.port.noise, Some(10));
        let given = Thresholds::given(50, 3);
        assert!(given.regions.iter().all(|t| t.base == 50) && given.port.base == 50);
    }
}
