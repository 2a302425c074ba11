//! The change thresholds chosen from the data. Each region other than a yard has its own, since water,
//! pavement and ballast are not equally noisy: a multiple of the noise measured in its histograms against
//! the background over the archive, raised on a date when the whole region reads brighter or darker than
//! usual (patchy haze, thin cloud the masks missed). `pairs.csv` uses one port-wide threshold, from the
//! noise of every region but the yards; `portwatch pair` uses Otsu's split of the pair's magnitudes.
//!
//! Noise and level are read from the low tail of a cell's histogram, not its median: haze lifts every
//! pixel of a region, while ships, however many, leave some of it at the noise level. Not so a yard:
//! on a busy port its stacks and their shadows cover most of it on most dates, even all of it, so
//! neither its own low tail nor its level says anything about noise or haze there. A yard's threshold
//! is instead set by the contrast of its containers, two thirds of the mean magnitude of the occupants
//! that Otsu's split finds in its magnitudes over the archive, and never raised; a multiple of the
//! port's noise level only when the yard held nothing that split could find.

use super::RegionInfo;
use crate::kernel::RegionStats;
use crate::kernel::params::{HISTOGRAM_BINS, histogram_bin_lower_edge};
use crate::statistics::{median, otsu};

/// The base threshold of a region other than a yard, and of the port, is this many times the noise
/// level.
pub const NOISE_MULTIPLE: u32 = 11;

/// A yard whose magnitudes Otsu's split cannot tell from noise takes this many times the port's noise
/// level: lower than a ship's, since a container is two pixels by one at 3 m and the smoothing window
/// averages it with the gaps beside it.
pub const YARD_NOISE_MULTIPLE: u32 = 9;

/// A yard's threshold from its occupants' contrast is taken when it lies above this many times the
/// port's noise level. A yard that never held anything has one mode, the noise, which Otsu's split cuts
/// in two: the threshold drawn from its upper half is 1.5 to 2.5 times the noise level on the `quiet`
/// synthetic seeds, where yards that hold containers on some dates get 9 to 14 times (`busy` and
/// `rajin-2023` seeds).
pub const YARD_SPLIT_MIN_NOISE_MULTIPLE: u32 = 5;

/// A yard's threshold, where Otsu's split finds occupants, is this fraction of their mean magnitude: the
/// contrast of a container row, one pixel wide at 3 m, is spread by the smoothing window over its
/// neighbours, so that the pixels above half of it outnumber the slots the row fills. Two thirds was
/// chosen on the `busy` and `rajin-2023` seeds 11, 12, 13 and 21, where 0.64 to 0.66 did best.
pub const OCCUPANT_CONTRAST: (u32, u32) = (2, 3);

/// The quantile of a cell's magnitudes that measures its noise: low enough that a region nine tenths
/// covered still shows it.
const NOISE_QUANTILE: f64 = 0.1;

/// The quantile of a cell's magnitudes that tells how far haze lifts the whole region.
const LEVEL_QUANTILE: f64 = 0.03;

/// What a threshold's base was set from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Basis {
    /// Given by the user.
    Given,
    /// A multiple of this noise level: the median, over the observed cells (of the region, or of the
    /// port for a yard), of each cell's `NOISE_QUANTILE` magnitude against the background.
    Noise(u32),
    /// `OCCUPANT_CONTRAST` of the mean magnitude of a yard's occupants: the upper class of Otsu's split
    /// of its magnitudes over its observed cells.
    Occupants,
}

/// One threshold: given by the user, or chosen from the observed cells of a region or of the port.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threshold {
    pub basis: Basis,
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
            basis: Basis::Given,
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

    /// A yard's threshold from its observed cells and the port's noise level: `OCCUPANT_CONTRAST` of
    /// the mean magnitude of the upper class of Otsu's split of the cells' pooled histogram, the
    /// occupants, when that lies above `YARD_SPLIT_MIN_NOISE_MULTIPLE` times the noise (and as many
    /// times the bands); otherwise `YARD_NOISE_MULTIPLE` times the noise.
    pub fn for_yard<'a>(
        observed: impl IntoIterator<Item = &'a RegionStats>,
        noise: u32,
        bands: u32,
    ) -> Threshold {
        let pooled = pooled_histogram(observed);
        let (numerator, denominator) = OCCUPANT_CONTRAST;
        let from_occupants = otsu_bin(&pooled).map(|split| {
            let occupants = mean_magnitude(&pooled, split);
            (occupants * f64::from(numerator) / f64::from(denominator)).round() as u32
        });
        let floor = Threshold::scaled(noise, None, YARD_SPLIT_MIN_NOISE_MULTIPLE, bands).base;
        match from_occupants {
            Some(base) if base > floor => Threshold {
                basis: Basis::Occupants,
                level: None,
                base,
            },
            _ => Threshold::scaled(noise, None, YARD_NOISE_MULTIPLE, bands),
        }
    }

    /// `multiple` times `noise`, and at least `multiple` per band.
    fn scaled(noise: u32, level: Option<u32>, multiple: u32, bands: u32) -> Threshold {
        Threshold {
            basis: Basis::Noise(noise),
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
    /// there is nothing else). A region never observed takes the port's; a yard's is
    /// [`Threshold::for_yard`].
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
                let observed = cells.iter().filter_map(|row| row[index]);
                if region.is_yard() {
                    Threshold::for_yard(observed, noise, bands)
                } else {
                    Threshold::choose(observed, bands).unwrap_or(port)
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

/// The sum of the cells' histograms.
fn pooled_histogram<'a>(cells: impl IntoIterator<Item = &'a RegionStats>) -> [u64; HISTOGRAM_BINS] {
    let mut pooled = [0; HISTOGRAM_BINS];
    for cell in cells {
        for (total, count) in pooled.iter_mut().zip(&cell.histogram) {
            *total += count;
        }
    }
    pooled
}

/// Otsu's split of a histogram of magnitudes, each bin's pixels taken at the bin's lower edge: the
/// threshold above which the pixels are those of the upper class. `None` when fewer than two bins are
/// filled.
pub fn otsu_split(histogram: &[u64; HISTOGRAM_BINS]) -> Option<u32> {
    otsu_bin(histogram).map(|split| histogram_bin_lower_edge(split) - 1)
}

/// The first bin of the upper class of [`otsu_split`].
fn otsu_bin(histogram: &[u64; HISTOGRAM_BINS]) -> Option<usize> {
    let values: Vec<f64> = (0..HISTOGRAM_BINS)
        .map(|bin| f64::from(histogram_bin_lower_edge(bin)))
        .collect();
    let counts: Vec<f64> = histogram.iter().map(|&c| c as f64).collect();
    otsu(&counts, &values)
}

/// The mean magnitude of a histogram's pixels from bin `first` up, each bin's taken at the middle of
/// the magnitudes it holds (the last bin, unbounded, at its lower edge). `NaN` without pixels there.
fn mean_magnitude(histogram: &[u64; HISTOGRAM_BINS], first: usize) -> f64 {
    let middle = |bin: usize| {
        let lower = f64::from(histogram_bin_lower_edge(bin));
        match bin + 1 {
            HISTOGRAM_BINS => lower,
            next => (lower + f64::from(histogram_bin_lower_edge(next) - 1)) / 2.0,
        }
    };
    let (count, sum) = (first..HISTOGRAM_BINS).fold((0.0, 0.0), |(count, sum), bin| {
        let pixels = histogram[bin] as f64;
        (count + pixels, sum + pixels * middle(bin))
    });
    sum / count
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
        assert_eq!(threshold.basis, Basis::Noise(8));
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
        assert_eq!(threshold.basis, Basis::Noise(8));
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
        assert_eq!(thresholds.port.basis, Basis::Noise(10));
        assert_eq!(thresholds.regions[0].base, 44);
        assert_eq!(thresholds.regions[1].base, 176);
        assert_eq!(thresholds.regions[3], thresholds.port);
        let given = Thresholds::given(50, 3);
        assert!(given.regions.iter().all(|t| t.base == 50) && given.port.base == 50);
    }

    #[test]
    fn a_yard_that_holds_nothing_to_split_takes_the_ports_noise_and_is_never_raised() {
        let water = cell_at(6, 0);
        let hazy_water = cell_at(32, 0);
        let full_yard = cell_at(8, 10);
        let rows = [
            vec![Some(&water), Some(&full_yard)],
            vec![Some(&water), Some(&full_yard)],
            vec![Some(&hazy_water), Some(&full_yard)],
        ];
        let thresholds = Thresholds::choose(&rows, &["berth", "yard"].map(region), 3);
        assert_eq!(thresholds.port.basis, Basis::Noise(6));
        let yard = thresholds.regions[1];
        assert_eq!(
            (yard.basis, yard.level, yard.base),
            (Basis::Noise(6), None, 54)
        );
        assert_eq!(yard.for_cell(&full_yard), 54);
        assert_eq!(thresholds.regions[0].for_cell(&hazy_water), 66 + 32 - 6);
    }

    #[test]
    fn a_yard_that_held_containers_is_split_between_them_and_its_surface() {
        let water = cell_at(6, 0);
        let (empty, stacked) = (cell_at(6, 0), cell_at(6, 6));
        let rows = [
            vec![Some(&water), Some(&empty)],
            vec![Some(&water), Some(&stacked)],
            vec![Some(&water), None],
        ];
        let yard = Thresholds::choose(&rows, &["berth", "yard"].map(region), 3).regions[1];
        // The stacks at 300, in the bin of 256 to 319, and the pavement at 6 to 10: the split parts
        // them, and the threshold is two thirds of the stacks' bin's middle, 287.5.
        assert_eq!(
            (yard.basis, yard.level, yard.base),
            (Basis::Occupants, None, 192)
        );
        assert_eq!(yard.for_cell(&stacked), 192);
    }

    #[test]
    fn a_split_within_the_noise_is_not_taken() {
        // Pavement only, its noise spread over 6 to 10: the split falls inside it, and two thirds of
        // its upper half is under 5 x 6.
        let pavement = [cell_at(6, 0), cell(&[6, 6, 6, 6, 6, 6, 10, 10, 10, 10])];
        let yard = Threshold::for_yard(&pavement, 6, 3);
        assert_eq!((yard.basis, yard.base), (Basis::Noise(6), 54));
        assert!(otsu_split(&pooled_histogram(&pavement)).is_some());
    }

    #[test]
    fn otsu_split_is_the_top_of_the_lower_class() {
        let mut histogram = [0; HISTOGRAM_BINS];
        histogram[histogram_bin(5) as usize] = 100;
        histogram[histogram_bin(200) as usize] = 10;
        // Every split in the gap between the modes parts them alike; the first is taken.
        assert_eq!(otsu_split(&histogram), Some(5));
        assert_eq!(otsu_split(&[0; HISTOGRAM_BINS]), None);
    }
}
