//! The change thresholds chosen from the data. Each region has its own, since water, pavement and
//! ballast are not equally noisy: a multiple of the noise measured in its histograms against the
//! background over the archive, raised on a date when the whole region reads brighter or darker than
//! usual (patchy haze, thin cloud the masks missed). `pairs.csv` uses one port-wide threshold, from the
//! noise of every region but the yards.
//!
//! Noise and level are read from the low tail of a cell's histogram, not its median: haze lifts every
//! pixel of a region, while ships, however many, leave some of it at the noise level. Not so a yard:
//! on a busy port its stacks and their shadows cover most of it on most dates, even all of it, so
//! neither its own low tail nor its level says anything about noise or haze there. A yard's
//! threshold is therefore a multiple of the port's noise level, never raised.

use super::RegionInfo;
use crate::kernel::RegionStats;
use crate::kernel::params::{HISTOGRAM_BINS, histogram_bin_lower_edge};
use crate::statistics::median;

/// The base threshold of a region other than a yard, and of the port, is this many times the noise
/// level.
pub const NOISE_MULTIPLE: u32 = 11;

/// A yard's threshold is this many times the port's noise level: lower than a ship's, since a
/// container is two pixels by one at 3 m and the smoothing window averages it with the gaps beside it.
pub const YARD_NOISE_MULTIPLE: u32 = 9;

/// The quantile of a cell's magnitudes that measures its noise: low enough that a region nine tenths
/// covered still shows it.
const NOISE_QUANTILE: f64 = 0.1;

/// The quantile of a cell's magnitudes that tells how far haze lifts the whole region.
const LEVEL_QUANTILE: f64 = 0.03;

/// One threshold: given by the user, or chosen from the observed cells of a region or of the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    /// The noise level: the median, over the observed cells, of each cell's `NOISE_QUANTILE`
    /// magnitude against the background. `None` when the threshold was given.
    pub noise: Option<u32>,
    /// The typical level of a cell: the median, over the observed cells, of each cell's
    /// `LEVEL_QUANTILE` magnitude. `None` when the threshold was given, and for a yard.
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
        let (noise, level) = noise_and_level(observed)?;
        Some(Threshold::scaled(noise, level, NOISE_MULTIPLE, bands))
    }

    /// `multiple` times `noise`, and at least `multiple` per band.
    fn scaled(noise: u32, level: Option<u32>, multiple: u32, bands: u32) -> Threshold {
        Threshold {
            noise: Some(noise),
            level,
            base: (multiple * noise).max(multiple * bands),
        }
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
    /// unobserved), and the port's from those of every region but the yards (from the yards' when
    /// there is nothing else). A region never observed takes the port's; a yard takes
    /// `YARD_NOISE_MULTIPLE` times the port's noise level.
    pub fn choose(
        cells: &[Vec<Option<&RegionStats>>],
        regions: &[RegionInfo],
        bands: u32,
    ) -> Thresholds {
        let (mut yards, mut others) = (Vec::new(), Vec::new());
        for row in cells {
            for (cell, region) in row.iter().zip(regions) {
                if let Some(cell) = *cell {
                    if region.is_yard() {
                        yards.push(cell)
                    } else {
                        others.push(cell)
                    }
                }
            }
        }
        let (noise, level) = noise_and_level(others)
            .or_else(|| noise_and_level(yards))
            .unwrap_or((0, Some(0)));
        let port = Threshold::scaled(noise, level, NOISE_MULTIPLE, bands);
        let regions = regions
            .iter()
            .enumerate()
            .map(|(index, region)| {
                if region.is_yard() {
                    Threshold::scaled(noise, None, YARD_NOISE_MULTIPLE, bands)
                } else {
                    Threshold::choose(cells.iter().filter_map(|row| row[index]), bands)
                        .unwrap_or(port)
                }
            })
            .collect();
        Thresholds { port, regions }
    }
}

/// The noise level and the typical level of the observed cells: the medians, over the cells, of each
/// cell's `NOISE_QUANTILE` and `LEVEL_QUANTILE` magnitudes. `None` without a cell with valid pixels.
fn noise_and_level<'a>(
    observed: impl IntoIterator<Item = &'a RegionStats>,
) -> Option<(u32, Option<u32>)> {
    let cells: Vec<&RegionStats> = observed.into_iter().collect();
    let typical = |quantile| {
        let per_cell = cells
            .iter()
            .filter_map(|cell| histogram_quantile(cell, quantile))
            .map(f64::from);
        median(per_cell.collect()).map(|m| m as u32)
    };
    Some((typical(NOISE_QUANTILE)?, typical(LEVEL_QUANTILE)))
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

    /// A cell of ten pixels: `covered` of them at 300 over the background, the rest at `noise` to
    /// `noise + 4`.
    fn cell_at(noise: u32, covered: usize) -> RegionStats {
        let magnitudes: Vec<u32> = (0..10)
            .map(|k| {
                if k < covered {
                    300
                } else {
                    noise + ((k - covered) as u32 % 5)
                }
            })
            .collect();
        cell(&magnitudes)
    }

    #[test]
    fn noise_sets_the_base_and_hazy_cells_get_more() {
        let quiet = cell_at(8, 0);
        let hazy = cell_at(40, 0);
        let threshold = Threshold::choose([&quiet, &quiet, &hazy], 3).unwrap();
        assert_eq!(threshold.noise, Some(8));
        assert_eq!(threshold.level, Some(8));
        assert_eq!(threshold.base, 88);
        assert_eq!(threshold.for_cell(&quiet), 88);
        assert_eq!(threshold.for_cell(&hazy), 88 + 40 - 8);
        // Nine tenths covered by a ship: the low tail is still at the noise level.
        assert_eq!(threshold.for_cell(&cell_at(8, 9)), 88);
        let flat = cell(&[0, 0, 0]);
        assert_eq!(Threshold::choose([&flat], 4).unwrap().base, 44);
        assert_eq!(Threshold::choose([&cell(&[])], 4), None);
        assert_eq!(Threshold::given(60).for_cell(&hazy), 60);
    }

    #[test]
    fn a_region_covered_on_most_dates_still_shows_its_noise() {
        let busy = [cell_at(8, 8), cell_at(8, 8), cell_at(8, 0)];
        let threshold = Threshold::choose(&busy, 3).unwrap();
        assert_eq!(threshold.noise, Some(8));
        assert_eq!(threshold.base, 88);
    }

    fn region(kind: &str) -> RegionInfo {
        RegionInfo {
            name: kind.to_owned(),
            kind: kind.to_owned(),
            pixel_count: 10,
            bin_pixels: vec![5, 5],
        }
    }

    #[test]
    fn each_region_has_its_own_noise_and_the_port_all_but_the_yards() {
        let calm_water = cell(&[4, 4, 5, 5]);
        let rough_ballast = cell(&[16, 16, 20, 20]);
        let full_yard = cell_at(8, 10);
        let row = vec![
            Some(&calm_water),
            Some(&rough_ballast),
            Some(&full_yard),
            None,
        ];
        let regions = ["berth", "rail", "yard", "berth"].map(region);
        let thresholds = Thresholds::choose(&[row.clone(), row.clone(), row], &regions, 3);
        // The port's noise is the median of the berth's and the rail's cells: the yard is left out.
        assert_eq!(thresholds.port.noise, Some(10));
        assert_eq!(thresholds.regions[0].base, 44);
        assert_eq!(thresholds.regions[1].base, 176);
        assert_eq!(thresholds.regions[3], thresholds.port);
        let given = Thresholds::given(50, 3);
        assert!(given.regions.iter().all(|t| t.base == 50) && given.port.base == 50);
    }

    #[test]
    fn a_yard_takes_the_ports_noise_and_is_never_raised() {
        let water = cell_at(6, 0);
        let hazy_water = cell_at(32, 0);
        let full_yard = cell_at(8, 10);
        let rows = [
            vec![Some(&water), Some(&full_yard)],
            vec![Some(&water), Some(&full_yard)],
            vec![Some(&hazy_water), Some(&full_yard)],
        ];
        let thresholds = Thresholds::choose(&rows, &["berth", "yard"].map(region), 3);
        assert_eq!(thresholds.port.noise, Some(6));
        let yard = thresholds.regions[1];
        assert_eq!((yard.noise, yard.level, yard.base), (Some(6), None, 54));
        assert_eq!(yard.for_cell(&full_yard), 54);
        assert_eq!(thresholds.regions[0].for_cell(&hazy_water), 66 + 32 - 6);
    }
}
