//! Turns regions into the label raster the kernels read: one 16-bit label per pixel, built once per
//! archive. A pixel belongs to a polygon when its centre is inside (even-odd rule, so holes are respected).

use crate::error::{Error, Result};
use crate::regions::{Polygon, RegionSet};

/// Region labels of every pixel, 1-based in region-name order (0 = no region), packed two to a 32-bit word
/// as the kernels read them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabelRaster {
    pub width: u32,
    pub height: u32,
    pub region_count: u32,
    pub words: Vec<u32>,
}

impl LabelRaster {
    pub fn label_at(&self, pixel: usize) -> u16 {
        (self.words[pixel / 2] >> ((pixel % 2) * 16)) as u16
    }

    fn set_label(&mut self, pixel: usize, label: u16) {
        let shift = (pixel % 2) * 16;
        let word = &mut self.words[pixel / 2];
        *word = (*word & !(0xffff << shift)) | (u32::from(label) << shift);
    }

    /// Rasterizes `regions` on a `width`×`height` grid. Parts outside the grid are clipped; a region with no
    /// pixel centre inside the grid, or two regions claiming one pixel, are errors naming the regions.
    pub fn rasterize(regions: &RegionSet, width: u32, height: u32) -> Result<LabelRaster> {
        let pixel_count = width as usize * height as usize;
        let mut raster = LabelRaster {
            width,
            height,
            region_count: regions.regions.len() as u32,
            words: vec![0; pixel_count.div_ceil(2)],
        };
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
                        match raster.label_at(pixel) {
                            0 => {
                                raster.set_label(pixel, label);
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
        Ok(raster)
    }
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
}
