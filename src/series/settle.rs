//! The background where the archive's median holds an occupant. A berth busy on most dates keeps ships in
//! its per-pixel median, so that its empty dates would read as occupied. A region's settled pixels are
//! those where most observations lie within the region's threshold of the median; the median of the
//! background over them is the region's surface (the water of a berth, the pavement of a yard). Where a
//! pixel is unsettled, or its median lies beyond the threshold from the surface (occupants alike enough to
//! make a majority), its background is taken from the observations that look like the surface instead: the
//! one nearest it and those within the threshold of that one, band by band their median (the cluster
//! centred once more on that median). A pixel whose observations all agree keeps its median, and so does a
//! region without a surface: without settled pixels, or textured (its settled pixels mostly beyond the
//! threshold from their median). Everything is integer arithmetic on the corrected samples the
//! kernels see, so the background is the same whichever backend computed the median.

use super::shelf::Shelf;
use crate::error::Result;
use crate::kernel::params::Radiometry;
use crate::rasterize::LabelRaster;
use crate::scene::{Scene, SceneFormat};

/// The most bytes of corrected samples gathered at once, over all scenes; more pixels take more passes.
const GATHERED_BYTES: usize = 256 << 20;

/// The pixels of the regions, row-major, each with its region (its label − 1).
pub struct RegionPixels {
    pixels: Vec<u32>,
    regions: Vec<u16>,
}

impl RegionPixels {
    pub fn of(labels: &LabelRaster) -> RegionPixels {
        let (mut pixels, mut regions) = (Vec::new(), Vec::new());
        for pixel in 0..labels.width as usize * labels.height as usize {
            if let Some(region) = labels.label_at(pixel).checked_sub(1) {
                pixels.push(pixel as u32);
                regions.push(region);
            }
        }
        RegionPixels { pixels, regions }
    }

    fn only(&self, mut keep: impl FnMut(usize) -> bool) -> RegionPixels {
        let (pixels, regions) = (0..self.pixels.len())
            .filter(|&i| keep(i))
            .map(|i| (self.pixels[i], self.regions[i]))
            .unzip();
        RegionPixels { pixels, regions }
    }
}

/// What settling did: per region, its pixels and how many of them it changed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub pixels: Vec<u64>,
    pub changed: Vec<u64>,
}

impl Settled {
    pub fn changed_any(&self) -> bool {
        self.changed.iter().any(|&n| n > 0)
    }
}

/// Settles `background`, the median of the shelf's scenes as `radiometry` corrects them, in `regions`, each
/// region at its threshold from `thresholds` (on the scale of the kernel's magnitudes: absolute differences
/// summed over bands). A region without a surface ([`surfaces`]) is left as it is.
pub fn settle(
    background: &mut Scene,
    scenes: &Shelf,
    radiometry: &[Radiometry],
    regions: &RegionPixels,
    thresholds: &[u32],
    nodata: Option<u32>,
) -> Result<Settled> {
    let bands = background.format.bands as usize;
    let mut pixels = vec![0; thresholds.len()];
    let mut is_unsettled = vec![false; regions.pixels.len()];
    let mut median = vec![0u16; bands];
    for_each_observed(scenes, radiometry, regions, nodata, |i, values| {
        let region = usize::from(regions.regions[i]);
        pixels[region] += 1;
        background.unpack_samples(regions.pixels[i] as usize, &mut median);
        let agreeing = values
            .iter()
            .filter(|v| l1(v, &median) <= thresholds[region])
            .count();
        is_unsettled[i] = 2 * agreeing < values.len();
    })?;
    let surfaces = surfaces(background, regions, &is_unsettled, thresholds);
    // Also where the median is a settled occupant: one that most observations share, unlike the surface.
    let reestimated = regions.only(|i| {
        let region = usize::from(regions.regions[i]);
        let Some(surface) = &surfaces[region] else {
            return false;
        };
        background.unpack_samples(regions.pixels[i] as usize, &mut median);
        is_unsettled[i] || l1(&median, surface) > thresholds[region]
    });
    let mut estimates = Vec::with_capacity(reestimated.pixels.len());
    for_each_observed(scenes, radiometry, &reestimated, nodata, |i, values| {
        let region = usize::from(reestimated.regions[i]);
        let surface = surfaces[region]
            .as_deref()
            .expect("only regions with a surface");
        estimates.push(nearest_cluster_median(values, surface, thresholds[region]));
    })?;
    let mut changed = vec![0; thresholds.len()];
    for ((&pixel, &region), estimate) in reestimated
        .pixels
        .iter()
        .zip(&reestimated.regions)
        .zip(estimates)
    {
        background.unpack_samples(pixel as usize, &mut median);
        if estimate != median {
            changed[usize::from(region)] += 1;
            for (band, sample) in estimate.into_iter().enumerate() {
                background.set_sample(pixel as usize, band, u32::from(sample));
            }
        }
    }
    Ok(Settled { pixels, changed })
}

/// Calls `visit(i, values)` for each pixel `i` of `pixels` in order, with its valid observations' corrected
/// samples (one slice of bands each, in the shelf's order), gathering at most [`GATHERED_BYTES`] at once.
fn for_each_observed(
    scenes: &Shelf,
    radiometry: &[Radiometry],
    pixels: &RegionPixels,
    nodata: Option<u32>,
    mut visit: impl FnMut(usize, &[&[u16]]),
) -> Result<()> {
    let format = scenes.format();
    let bands = format.bands as usize;
    let per_pixel = scenes.len() * (bands * 2 + 1);
    let chunk = (GATHERED_BYTES / per_pixel.max(1)).max(1);
    for first in (0..pixels.pixels.len()).step_by(chunk) {
        let chunk = &pixels.pixels[first..(first + chunk).min(pixels.pixels.len())];
        let observed = scenes.gather_each(
            |_| Observed::new(chunk.len(), bands),
            |observed, stripe, first_row| observed.add(chunk, stripe, first_row, nodata),
            |observed| observed,
        )?;
        let observed: Vec<Observed> = observed
            .into_iter()
            .zip(radiometry)
            .map(|(observed, radiometry)| observed.corrected(radiometry, format))
            .collect();
        let mut values = Vec::with_capacity(observed.len());
        for i in 0..chunk.len() {
            values.clear();
            values.extend(
                observed
                    .iter()
                    .filter(|o| o.valid[i])
                    .map(|o| &o.samples[i * bands..(i + 1) * bands]),
            );
            visit(first + i, &values);
        }
    }
    Ok(())
}

/// One scene's samples at some pixels, and whether it observed each.
struct Observed {
    samples: Vec<u16>,
    valid: Vec<bool>,
}

impl Observed {
    fn new(pixels: usize, bands: usize) -> Observed {
        Observed {
            samples: vec![0; pixels * bands],
            valid: vec![false; pixels],
        }
    }

    /// Takes the samples of those of `pixels` that lie in `stripe`, whose first row is `first_row`.
    fn add(&mut self, pixels: &[u32], stripe: &Scene, first_row: u32, nodata: Option<u32>) {
        let width = stripe.format.width as usize;
        let bands = stripe.format.bands as usize;
        let start = first_row as usize * width;
        let end = start + stripe.format.height as usize * width;
        let from = pixels.partition_point(|&p| (p as usize) < start);
        let to = pixels.partition_point(|&p| (p as usize) < end);
        for (i, &pixel) in pixels.iter().enumerate().take(to).skip(from) {
            let local = pixel as usize - start;
            self.valid[i] = stripe.is_valid(local, nodata);
            stripe.unpack_samples(local, &mut self.samples[i * bands..(i + 1) * bands]);
        }
    }

    fn corrected(mut self, radiometry: &Radiometry, format: SceneFormat) -> Observed {
        let bands = format.bands as usize;
        let max = format.max_sample();
        for pixel in self.samples.chunks_exact_mut(bands) {
            for (band, sample) in pixel.iter_mut().enumerate() {
                *sample = radiometry.apply(band, u32::from(*sample), max) as u16;
            }
        }
        self
    }
}

/// Each region's settled surface: band by band, the median of the background over its settled pixels;
/// `None` for a region without one, or whose settled pixels are mostly beyond its threshold from it (a
/// textured region, whose median colour is no surface its pixels show).
fn surfaces(
    background: &Scene,
    regions: &RegionPixels,
    is_unsettled: &[bool],
    thresholds: &[u32],
) -> Vec<Option<Vec<u16>>> {
    let bands = background.format.bands as usize;
    let mut settled: Vec<Vec<u16>> = vec![Vec::new(); thresholds.len()];
    let mut pixel = vec![0u16; bands];
    for (i, (&p, &region)) in regions.pixels.iter().zip(&regions.regions).enumerate() {
        if !is_unsettled[i] {
            background.unpack_samples(p as usize, &mut pixel);
            settled[usize::from(region)].extend_from_slice(&pixel);
        }
    }
    settled
        .into_iter()
        .zip(thresholds)
        .map(|(samples, &threshold)| {
            if samples.is_empty() {
                return None;
            }
            let surface: Vec<u16> = (0..bands)
                .map(|band| {
                    lower_median(
                        &mut samples
                            .iter()
                            .skip(band)
                            .step_by(bands)
                            .copied()
                            .collect::<Vec<_>>(),
                    )
                })
                .collect();
            let near = samples
                .chunks_exact(bands)
                .filter(|p| l1(p, &surface) <= threshold)
                .count();
            (2 * near > samples.len() / bands).then_some(surface)
        })
        .collect()
}

/// Band by band, the median of the observations that look like the one nearest `surface` (the earliest of
/// equally near ones): those within `threshold` of the median of those within `threshold` of it, so that
/// the cluster is centred on its middle rather than on its edge nearest the surface.
fn nearest_cluster_median(values: &[&[u16]], surface: &[u16], threshold: u32) -> Vec<u16> {
    let Some(nearest) = values.iter().min_by_key(|v| l1(v, surface)) else {
        return surface.to_vec();
    };
    let around = |centre: &[u16]| -> Vec<u16> {
        let cluster: Vec<&[u16]> = values
            .iter()
            .filter(|v| l1(v, centre) <= threshold)
            .copied()
            .collect();
        (0..surface.len())
            .map(|band| lower_median(&mut cluster.iter().map(|v| v[band]).collect::<Vec<_>>()))
            .collect()
    };
    around(&around(nearest))
}

/// The `(n - 1) / 2`-th smallest of `values`, which must not be empty.
fn lower_median(values: &mut [u16]) -> u16 {
    let middle = (values.len() - 1) / 2;
    *values.select_nth_unstable(middle).1
}

fn l1(a: &[u16], b: &[u16]) -> u32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| u32::from(x.abs_diff(y)))
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WATER: u8 = 50;
    const THRESHOLD: u32 = 30;

    /// One band, 8 px in a row, all in region 0: a berth whose ships lie at the first pixels, whose others
    /// are water but the last, a bollard.
    fn archive(dates: &[[u8; 8]]) -> (Shelf<'static>, Scene) {
        let scenes: Vec<Scene> = dates.iter().map(|d| Scene::from_u8(8, 1, 1, d)).collect();
        let shelf = Shelf::held(scenes);
        // The per-pixel lower median, as the kernels compute it.
        let median: Vec<u8> = (0..8)
            .map(|p| {
                let mut values: Vec<u16> = dates.iter().map(|d| u16::from(d[p])).collect();
                lower_median(&mut values) as u8
            })
            .collect();
        (shelf, Scene::from_u8(8, 1, 1, &median))
    }

    fn settled(dates: &[[u8; 8]]) -> (Vec<u32>, Settled) {
        let (shelf, mut background) = archive(dates);
        let regions = RegionPixels {
            pixels: (0..8).collect(),
            regions: vec![0; 8],
        };
        let radiometry = vec![Radiometry::IDENTITY; dates.len()];
        let settled = settle(
            &mut background,
            &shelf,
            &radiometry,
            &regions,
            &[THRESHOLD],
            None,
        )
        .expect("held scenes");
        ((0..8).map(|p| background.sample(p, 0)).collect(), settled)
    }

    fn assert_left_as_median(dates: &[[u8; 8]]) {
        let (_, median) = archive(dates);
        let (background, settled) = settled(dates);
        assert_eq!(
            background,
            (0..8).map(|p| median.sample(p, 0)).collect::<Vec<_>>()
        );
        assert!(!settled.changed_any());
    }

    #[test]
    fn a_berth_busy_on_most_dates_gets_the_water_it_shows_when_empty() {
        let w = WATER;
        let dates = [
            [w, w + 2, w, w + 1, w, w + 1, w, 140],
            // Two ships of alike colours, each for three dates, make the median's majority at pixels 0
            // and 1.
            [200, 205, w, w + 1, w + 1, w, w, 141],
            [201, 204, w, w, w, w, w + 1, 140],
            [200, 205, w + 1, w, w, w + 2, w, 139],
            [190, 195, w, w, w, w, w, 140],
            [191, 196, w, w + 2, w + 1, w, w, 140],
            [190, 194, w, w, w, w, w + 2, 141],
        ];
        let (background, settled) = settled(&dates);
        // Pixels 0 and 1 are water again; the open water and the bollard, whose observations agree, keep
        // their medians.
        assert_eq!(background, vec![50, 52, 50, 50, 50, 50, 50, 140]);
        assert_eq!(settled.pixels, vec![8]);
        assert_eq!(settled.changed, vec![2]);
        assert!(settled.changed_any());
    }

    #[test]
    fn unsettled_pixels_take_the_observations_nearest_the_surface() {
        let w = WATER;
        // Three ships of different colours, none with a majority; water twice at pixel 0, once elsewhere.
        let dates = [
            [w, w, w, w, w, w, w, 140],
            [w + 3, 120, 121, 122, w, w, w, 140],
            [160, 160, 161, 162, w, w, w, 140],
            [161, 161, 160, 160, w, w, w, 140],
            [230, 231, 232, 230, w, w, w, 140],
        ];
        let (background, settled) = settled(&dates);
        assert_eq!(
            background,
            [w, w, w, w, w, w, w, 140].map(u32::from).to_vec()
        );
        assert_eq!(settled.changed, vec![4]);
    }

    #[test]
    fn a_port_whose_median_is_empty_is_left_as_it_is() {
        let w = WATER;
        let dates = [
            [w, w, w, w, w, w, w, 140],
            [200, 200, w, w, w, w, w, 140],
            [w, w, w + 1, w, w, w, w, 141],
        ];
        assert_left_as_median(&dates);
    }

    #[test]
    fn a_textured_region_has_no_surface_and_is_left_as_it_is() {
        // Alike occupants make the median's majority at pixels 0 and 1, but the other pixels, settled,
        // are each their own colour: no surface to go by.
        let ground = [20, 90, 160, 230, 60, 130];
        let mut dates = Vec::new();
        for date in 0..5u8 {
            let mut pixels = [0u8; 8];
            for (p, &g) in ground.iter().enumerate() {
                pixels[p + 2] = g + date % 2;
            }
            let occupant = if date == 0 { 125 } else { 200 + date };
            pixels[0] = occupant;
            pixels[1] = occupant;
            dates.push(pixels);
        }
        assert_left_as_median(&dates);
    }

    #[test]
    fn a_region_without_settled_pixels_is_left_as_it_is() {
        // Every pixel flickers between far-apart values: no surface to go by.
        let dates = [[0; 8], [100; 8], [200; 8], [250; 8]];
        let (background, settled) = settled(&dates);
        assert_eq!(background, vec![100; 8]);
        assert!(!settled.changed_any());
    }
}
