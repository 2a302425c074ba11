//! Turns regions into the label raster the kernels read: one 16-bit label per pixel, built once per
//! archive. A pixel belongs to a polygon when its centre is inside (even-odd rule, so holes are respected).
//! Each pixel of a region also gets its position along the region's long axis, for the kernels' profiles.

use crate::error::{Error, Result};
use crate::regions::{Polygon, RegionSet};
use std::ops::Range;

/// Longest profile of a region, in pixels along its axis: positions are 16-bit.
pub const MAX_PROFILE_LENGTH: usize = 1 << 16;

/// Region labels of every pixel, 1-based in region-name order (0 = no region), packed two to a 32-bit word
/// as the kernels read them, with each pixel's position along its region's long axis.
///
/// The position rule, for region l: take the centres (x + 0.5, y + 0.5) of its pixels, their mean μ and
/// covariance; the axis u is the unit eigenvector of the covariance's larger eigenvalue (closed form),
/// oriented so that its component of larger magnitude is positive (x on a tie), and u = (1, 0) for a region
/// whose covariance is a multiple of the identity (one pixel, or perfectly round). A pixel's coordinate is
/// t = (centre − μ)·u and its position ⌊t − min t⌋, the minimum over the region; the region's profile
/// length is its largest position + 1, at most [`MAX_PROFILE_LENGTH`]. The sums are exact integers, so
/// axis-aligned regions get exact positions; t is then computed in f64.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRaster {
    pub width: u32,
    pub height: u32,
    pub region_count: u32,
    pub words: Vec<u32>,
    /// Position of each pixel along its region's axis (0 outside regions), packed like `words`.
    pub positions: Vec<u32>,
    /// Where region l's profile starts in the regions' concatenated profiles: entry l − 1, with the total
    /// length last (`region_count + 1` entries).
    pub profile_offsets: Vec<u32>,
}

/// The 16-bit entry `pixel` of an array packed two to a word, lowest half first.
fn half_word(words: &[u32], pixel: usize) -> u16 {
    (words[pixel / 2] >> ((pixel % 2) * 16)) as u16
}

fn set_half_word(words: &mut [u32], pixel: usize, value: u16) {
    let shift = (pixel % 2) * 16;
    let word = &mut words[pixel / 2];
    *word = (*word & !(0xffff << shift)) | (u32::from(value) << shift);
}

/// Exact sums over one region's pixel centres, doubled to integers (X = 2x + 1, Y = 2y + 1).
#[derive(Clone, Copy, Default)]
struct Moments {
    n: i128,
    x: i128,
    y: i128,
    xx: i128,
    xy: i128,
    yy: i128,
}

impl Moments {
    fn add(&mut self, x: i128, y: i128) {
        self.n += 1;
        self.x += x;
        self.y += y;
        self.xx += x * x;
        self.xy += x * y;
        self.yy += y * y;
    }

    /// The region's axis u, by the rule on [`LabelRaster`].
    fn axis(&self) -> [f64; 2] {
        // n² times the covariance of the doubled centres: exact, so a round region is recognised exactly.
        let a = self.n * self.xx - self.x * self.x;
        let b = self.n * self.xy - self.x * self.y;
        let c = self.n * self.yy - self.y * self.y;
        if b == 0 && a == c {
            return [1.0, 0.0];
        }
        let (a, b, c) = (a as f64, b as f64, c as f64);
        let larger = (a + c) / 2.0 + ((a - c) / 2.0).hypot(b);
        // Of the two forms of the eigenvector, the one without cancellation.
        let [ux, uy] = if a >= c {
            [larger - c, b]
        } else {
            [b, larger - a]
        };
        let norm = ux.hypot(uy);
        let sign = if uy.abs() > ux.abs() {
            uy.signum()
        } else {
            ux.signum()
        };
        [sign * ux / norm, sign * uy / norm]
    }

    /// 2n·t of the pixel whose doubled centre is (x, y).
    fn scaled_t(&self, [ux, uy]: [f64; 2], x: i128, y: i128) -> f64 {
        (self.n * x - self.x) as f64 * ux + (self.n * y - self.y) as f64 * uy
    }
}

impl LabelRaster {
    /// A raster from labels packed two to a word, with `region_count` regions; computes the positions.
    /// Refuses words of the wrong count, labels above `region_count`, and regions longer than
    /// [`MAX_PROFILE_LENGTH`] along their axis.
    pub fn from_words(
        width: u32,
        height: u32,
        region_count: u32,
        words: Vec<u32>,
    ) -> Result<LabelRaster> {
        let pixel_count = width as usize * height as usize;
        if words.len() != pixel_count.div_ceil(2) {
            return Err(Error::Setting(format!(
                "{} label words for {width}x{height} px, which need {}",
                words.len(),
                pixel_count.div_ceil(2)
            )));
        }
        if let Some(label) = (0..pixel_count)
            .map(|pixel| half_word(&words, pixel))
            .find(|&l| u32::from(l) > region_count)
        {
            return Err(Error::Setting(format!(
                "label {label} of a raster of {region_count} regions"
            )));
        }
        Self::with_positions(width, height, region_count, words).map_err(|(label, length)| {
            Error::Setting(format!("region label {label}: {}", too_long(length)))
        })
    }

    pub fn label_at(&self, pixel: usize) -> u16 {
        half_word(&self.words, pixel)
    }

    /// The pixel's position along its region's axis; 0 outside regions.
    pub fn position_at(&self, pixel: usize) -> u16 {
        half_word(&self.positions, pixel)
    }

    /// The bins of region `label`'s profile in the regions' concatenated profiles.
    pub fn profile_range(&self, label: usize) -> Range<usize> {
        self.profile_offsets[label - 1] as usize..self.profile_offsets[label] as usize
    }

    /// The length of region `label`'s profile: its largest position + 1.
    pub fn profile_length(&self, label: usize) -> usize {
        self.profile_range(label).len()
    }

    /// The length of all the regions' profiles together.
    pub fn profile_bins(&self) -> usize {
        self.profile_offsets.last().map_or(0, |&end| end as usize)
    }

    /// The raster with every pixel's position and every region's profile offset, or the label and
    /// length of a region too long for 16-bit positions.
    fn with_positions(
        width: u32,
        height: u32,
        region_count: u32,
        words: Vec<u32>,
    ) -> Result<LabelRaster, (u16, usize)> {
        let width = width as usize;
        let pixels = || {
            (0..width * height as usize)
                .map(|pixel| (pixel, half_word(&words, pixel)))
                .filter(|&(_, label)| label != 0)
                .map(move |(pixel, label)| {
                    let (x, y) = ((pixel % width) as i128, (pixel / width) as i128);
                    (pixel, usize::from(label) - 1, 2 * x + 1, 2 * y + 1)
                })
        };
        let mut moments = vec![Moments::default(); region_count as usize];
        for (_, region, x, y) in pixels() {
            moments[region].add(x, y);
        }
        let axes: Vec<[f64; 2]> = moments.iter().map(Moments::axis).collect();
        let mut lowest = vec![f64::INFINITY; region_count as usize];
        for (_, region, x, y) in pixels() {
            let t = moments[region].scaled_t(axes[region], x, y);
            lowest[region] = lowest[region].min(t);
        }
        let mut positions = vec![0; words.len()];
        let mut lengths = vec![0usize; region_count as usize];
        for (pixel, region, x, y) in pixels() {
            let m = &moments[region];
            let t = m.scaled_t(axes[region], x, y);
            let position = ((t - lowest[region]) / (2 * m.n) as f64).floor() as usize;
            lengths[region] = lengths[region].max(position + 1);
            set_half_word(&mut positions, pixel, position.min(0xffff) as u16);
        }
        if let Some((region, &length)) = (0..)
            .zip(&lengths)
            .find(|&(_, &length)| length > MAX_PROFILE_LENGTH)
        {
            return Err((region + 1, length));
        }
        let profile_offsets = std::iter::once(0)
            .chain(lengths.iter().scan(0u32, |end, &length| {
                *end += length as u32;
                Some(*end)
            }))
            .collect();
        Ok(LabelRaster {
            width: width as u32,
            height,
            region_count,
            words,
            positions,
            profile_offsets,
        })
    }

    /// Rasterizes `regions` on a `width`×`height` grid. Parts outside the grid are clipped; a region with no
    /// pixel centre inside the grid, or two regions claiming one pixel, are errors naming the regions.
    pub fn rasterize(regions: &RegionSet, width: u32, height: u32) -> Result<LabelRaster> {
        if let Some(epsg) = regions.map_crs {
            return Err(Error::input(
                &regions.source,
                format!(
                    "regions are in map coordinates (EPSG:{epsg}), not yet moved onto the pixel grid"
                ),
            ));
        }
        let pixel_count = width as usize * height as usize;
        let mut words = vec![0; pixel_count.div_ceil(2)];
        let region_error = |name: &str, message: String| Error::Region {
            path: regions.source.clone(),
            region: name.to_owned(),
            message,
        };
        for (index, region) in regions.regions.iter().enumerate() {
            let label = index as u16 + 1;
            let mut covered = 0usize;
            for polygon in &region.polygons {
                for (y, x0, x1) in polygon_spans(polygon, width, height) {
                    for x in x0..x1 {
                        let pixel = y as usize * width as usize + x as usize;
                        match half_word(&words, pixel) {
                            0 => {
                                set_half_word(&mut words, pixel, label);
                                covered += 1;
                            }
                            l if l == label => {}
                            other => {
                                let other = &regions.regions[usize::from(other) - 1].name;
                                return Err(region_error(
                                    &region.name,
                                    format!(
                                        "overlaps region \"{other}\" (both contain pixel x={x}, y={y})"
                                    ),
                                ));
                            }
                        }
                    }
                }
            }
            if covered == 0 {
                let (w, h) = (f64::from(width), f64::from(height));
                let inside = region.polygons.iter().any(|p| {
                    let [min_x, min_y, max_x, max_y] = bounds(&p.rings[0]);
                    min_x < w && max_x > 0.0 && min_y < h && max_y > 0.0
                });
                let message = if inside {
                    format!(
                        "contains no pixel centre of the {width}x{height} px image (thinner than a pixel)"
                    )
                } else {
                    format!("lies wholly outside the {width}x{height} px image")
                };
                return Err(region_error(&region.name, message));
            }
        }
        let region_count = regions.regions.len() as u32;
        Self::with_positions(width, height, region_count, words).map_err(|(label, length)| {
            region_error(
                &regions.regions[usize::from(label) - 1].name,
                too_long(length),
            )
        })
    }
}

fn too_long(length: usize) -> String {
    format!("is {length} px long along its axis, above the {MAX_PROFILE_LENGTH} px supported")
}

/// The runs of pixels `(y, x_start, x_end)` whose centres lie inside `polygon`, clipped to the grid.
/// Centres exactly on an edge follow GDAL's rasterizer (`gdal_rasterize` without `-at`): on a right edge
/// inside, on a left edge outside; on a top edge inside, on a bottom edge outside. So regions that share an
/// edge never share a pixel, and regions drawn in a GIS give the pixels GDAL would give them.
fn polygon_spans(polygon: &Polygon, width: u32, height: u32) -> Vec<(u32, u32, u32)> {
    let [_, min_y, _, max_y] = bounds(&polygon.rings[0]);
    let first_row = (min_y - 0.5).ceil().max(0.0) as u32;
    let end_row = ((max_y - 0.5).ceil().max(0.0) as u32).min(height);
    let mut spans = Vec::new();
    let mut crossings = Vec::new();
    for y in first_row..end_row {
        let centre_y = f64::from(y) + 0.5;
        crossings.clear();
        for ring in &polygon.rings {
            for edge in ring.windows(2) {
                let ([x0, y0], [x1, y1]) = (edge[0], edge[1]);
                if (y0 <= centre_y) != (y1 <= centre_y) {
                    crossings.push(x0 + (centre_y - y0) * (x1 - x0) / (y1 - y0));
                }
            }
        }
        crossings.sort_by(f64::total_cmp);
        for pair in crossings.chunks_exact(2) {
            let first = first_pixel_right_of(pair[0], width);
            let end = first_pixel_right_of(pair[1], width);
            if first < end {
                spans.push((y, first, end));
            }
        }
    }
    spans
}

/// `[min_x, min_y, max_x, max_y]` of a ring.
fn bounds(ring: &[[f64; 2]]) -> [f64; 4] {
    ring.iter().fold(
        [
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        ],
        |[x0, y0, x1, y1], &[x, y]| [x0.min(x), y0.min(y), x1.max(x), y1.max(y)],
    )
}

/// The first column whose centre is strictly right of `x`, clamped to [0, width]: GDAL's ⌊x + 0.5⌋.
fn first_pixel_right_of(x: f64, width: u32) -> u32 {
    (x + 0.5).floor().clamp(0.0, f64::from(width)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn regions(features: &[(&str, &str)]) -> RegionSet {
        let features: Vec<String> = features
            .iter()
            .map(|(name, geometry)| {
                format!(
                    r#"{{"type":"Feature","properties":{{"name":"{name}"}},"geometry":{geometry}}}"#
                )
            })
            .collect();
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{}]}}"#,
            features.join(",")
        );
        RegionSet::parse(&text, Path::new("test.geojson")).unwrap()
    }

    /// The raster as rows of characters: '.' for no region, 'a', 'b', … for labels 1, 2, ….
    fn picture(raster: &LabelRaster) -> Vec<String> {
        (0..raster.height as usize)
            .map(|y| {
                (0..raster.width as usize)
                    .map(|x| match raster.label_at(y * raster.width as usize + x) {
                        0 => '.',
                        l => char::from(b'a' + l as u8 - 1),
                    })
                    .collect()
            })
            .collect()
    }

    fn rasterized(features: &[(&str, &str)], width: u32, height: u32) -> Vec<String> {
        picture(&LabelRaster::rasterize(&regions(features), width, height).unwrap())
    }

    fn polygon(ring: &str) -> String {
        format!(r#"{{"type":"Polygon","coordinates":[{ring}]}}"#)
    }

    #[test]
    fn centre_rule_on_a_square() {
        // Corners on pixel centres: centres on the right and top edges are in, on the left and bottom out.
        let square = polygon("[[0.5,0.5],[3.5,0.5],[3.5,3.5],[0.5,3.5],[0.5,0.5]]");
        assert_eq!(
            rasterized(&[("a", &square)], 5, 5),
            [".aaa.", ".aaa.", ".aaa.", ".....", "....."]
        );
    }

    #[test]
    fn triangle_takes_the_pixels_whose_centres_it_contains() {
        let triangle = polygon("[[0,0],[6,0],[0,6],[0,0]]");
        assert_eq!(
            rasterized(&[("a", &triangle)], 6, 6),
            // The hypotenuse runs through centres: on a right edge, they are inside.
            ["aaaaaa", "aaaaa.", "aaaa..", "aaa...", "aa....", "a....."]
        );
    }

    #[test]
    fn holes_are_left_out() {
        let framed = r#"{"type":"Polygon","coordinates":[[[0,0],[5,0],[5,5],[0,5],[0,0]],[[1,1],[1,4],[4,4],[4,1],[1,1]]]}"#;
        assert_eq!(
            rasterized(&[("a", framed)], 5, 5),
            ["aaaaa", "a...a", "a...a", "a...a", "aaaaa"]
        );
    }

    #[test]
    fn multipolygon_parts_are_one_region() {
        let parts = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[2,0],[2,1],[0,1],[0,0]]],[[[3,2],[5,2],[5,3],[3,3],[3,2]]]]}"#;
        assert_eq!(
            rasterized(&[("a", parts)], 5, 3),
            ["aa...", ".....", "...aa"]
        );
    }

    #[test]
    fn labels_follow_name_order_and_shared_edges_do_not_overlap() {
        let left = polygon("[[0,0],[2,0],[2,2],[0,2],[0,0]]");
        let right = polygon("[[2,0],[4,0],[4,2],[2,2],[2,0]]");
        assert_eq!(
            rasterized(&[("zeta", &left), ("alpha", &right)], 4, 2),
            ["bbaa", "bbaa"]
        );
    }

    #[test]
    fn partly_outside_is_clipped() {
        let spilling = polygon("[[-3,-3],[2,-3],[2,2],[-3,2],[-3,-3]]");
        let past_the_end = polygon("[[3,1],[9,1],[9,9],[3,9],[3,1]]");
        assert_eq!(
            rasterized(&[("a", &spilling), ("b", &past_the_end)], 4, 3),
            ["aa..", "aa.b", "...b"]
        );
    }

    #[test]
    fn errors_name_the_regions() {
        let cases = [
            (
                vec![("far", polygon("[[10,10],[12,10],[12,12],[10,10]]"))],
                "region \"far\": lies wholly outside the 4x4 px image",
            ),
            (
                vec![("thin", polygon("[[0,1.1],[4,1.1],[4,1.4],[0,1.4],[0,1.1]]"))],
                "region \"thin\": contains no pixel centre of the 4x4 px image (thinner than a pixel)",
            ),
            (
                vec![
                    ("a", polygon("[[0,0],[3,0],[3,3],[0,3],[0,0]]")),
                    ("b", polygon("[[2,2],[4,2],[4,4],[2,4],[2,2]]")),
                ],
                "region \"b\": overlaps region \"a\" (both contain pixel x=2, y=2)",
            ),
        ];
        for (features, expected) in cases {
            let features: Vec<(&str, &str)> =
                features.iter().map(|(n, g)| (*n, g.as_str())).collect();
            let message = LabelRaster::rasterize(&regions(&features), 4, 4)
                .unwrap_err()
                .to_string();
            assert_eq!(message, format!("test.geojson: {expected}"));
        }
    }

    /// A raster with region 1 on `pixels` (x, y).
    fn one_region(width: u32, height: u32, pixels: &[(u32, u32)]) -> LabelRaster {
        let mut words = vec![0; (width * height).div_ceil(2) as usize];
        for &(x, y) in pixels {
            set_half_word(&mut words, (y * width + x) as usize, 1);
        }
        LabelRaster::from_words(width, height, 1, words).unwrap()
    }

    fn positions_of(raster: &LabelRaster, pixels: &[(u32, u32)]) -> Vec<u16> {
        pixels
            .iter()
            .map(|&(x, y)| raster.position_at((y * raster.width + x) as usize))
            .collect()
    }

    #[test]
    fn rectangles_run_along_their_long_side() {
        let horizontal: Vec<(u32, u32)> =
            (2..5).flat_map(|y| (3..13).map(move |x| (x, y))).collect();
        let raster = one_region(16, 8, &horizontal);
        let expected: Vec<u16> = (2..5).flat_map(|_| 0..10).collect();
        assert_eq!(positions_of(&raster, &horizontal), expected);
        assert_eq!(raster.profile_length(1), 10);
        let vertical: Vec<(u32, u32)> = (1..11).flat_map(|y| (4..7).map(move |x| (x, y))).collect();
        let raster = one_region(8, 12, &vertical);
        let expected: Vec<u16> = (0..10).flat_map(|p| [p; 3]).collect();
        assert_eq!(positions_of(&raster, &vertical), expected);
        assert_eq!(raster.profile_length(1), 10);
        // Outside the region: position 0.
        assert_eq!(raster.position_at(0), 0);
    }

    #[test]
    fn diagonal_strips_run_along_the_diagonal() {
        let floors: Vec<u16> = (0..8)
            .map(|k| (f64::from(k) * std::f64::consts::SQRT_2).floor() as u16)
            .collect();
        // Both diagonals: the axis points towards +x (the tie), so positions grow with x.
        let down: Vec<(u32, u32)> = (0..8).map(|k| (k + 1, k)).collect();
        let up: Vec<(u32, u32)> = (0..8).map(|k| (k, 7 - k)).collect();
        for strip in [down, up] {
            let raster = one_region(10, 10, &strip);
            assert_eq!(positions_of(&raster, &strip), floors);
            assert_eq!(raster.profile_length(1), usize::from(floors[7]) + 1);
        }
    }

    #[test]
    fn single_pixels_and_round_regions_have_the_x_axis() {
        let raster = one_region(5, 5, &[(3, 2)]);
        assert_eq!(raster.profile_length(1), 1);
        let square: Vec<(u32, u32)> = (1..4).flat_map(|y| (1..4).map(move |x| (x, y))).collect();
        let raster = one_region(5, 5, &square);
        let expected: Vec<u16> = (0..3).flat_map(|_| 0..3).collect();
        assert_eq!(positions_of(&raster, &square), expected);
    }

    #[test]
    fn profile_offsets_concatenate_the_regions() {
        let mut words = vec![0; 8];
        // Region 1: 4 px in a row; region 2: one pixel; region 3: 3 px in a column.
        for (pixel, label) in [
            (0, 1),
            (1, 1),
            (2, 1),
            (3, 1),
            (5, 2),
            (12, 3),
            (8, 3),
            (4, 3),
        ] {
            set_half_word(&mut words, pixel, label);
        }
        let raster = LabelRaster::from_words(4, 4, 3, words).unwrap();
        assert_eq!(raster.profile_offsets, [0, 4, 5, 8]);
        assert_eq!(raster.profile_bins(), 8);
        assert_eq!(raster.profile_range(3), 5..8);
    }

    #[test]
    fn regions_too_long_for_16_bit_positions_are_refused() {
        let width = MAX_PROFILE_LENGTH as u32 + 1;
        let words = vec![0x0001_0001; (width as usize).div_ceil(2)];
        assert!(
            LabelRaster::from_words(
                width - 1,
                1,
                1,
                words.clone()[..(width as usize - 1) / 2].to_vec()
            )
            .is_ok()
        );
        let message = LabelRaster::from_words(width, 1, 1, words)
            .unwrap_err()
            .to_string();
        assert!(message.contains("65537 px long"), "{message}");
        let long = polygon("[[0,0],[70000,0],[70000,1],[0,1],[0,0]]");
        let message = LabelRaster::rasterize(&regions(&[("quay", &long)]), 70000, 1)
            .unwrap_err()
            .to_string();
        assert_eq!(
            message,
            "test.geojson: region \"quay\": is 70000 px long along its axis, above the 65536 px supported"
        );
        let words = vec![0x0002_0001; 2];
        assert!(LabelRaster::from_words(2, 2, 1, words.clone()).is_err());
        assert!(LabelRaster::from_words(3, 2, 2, words).is_err());
    }
}
