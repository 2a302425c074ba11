//! Named regions of interest (berths, yards, rail sidings) read from a GeoJSON FeatureCollection in pixel
//! coordinates, or in map coordinates when it has a `crs` member (then moved onto the scenes' pixel grid
//! with their georeferencing), checked so that every later error can name the region at fault.

use crate::error::{Error, Result};
use crate::geotiff::GeoReference;
use serde::Deserialize;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// Labels are 16-bit on both backends, 0 meaning "no region".
pub const MAX_REGIONS: usize = u16::MAX as usize;

/// A closed ring of (x, y) pixel coordinates: x right, y down, origin at the top-left pixel's corner.
pub type Ring = Vec<[f64; 2]>;

/// A polygon: its outer ring, then its holes.
#[derive(Clone, Debug, PartialEq)]
pub struct Polygon {
    pub rings: Vec<Ring>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Region {
    pub name: String,
    /// `berth`, `yard`, `rail`, or any other word; `other` when the feature gives none.
    pub kind: String,
    pub polygons: Vec<Polygon>,
}

/// The regions of a file, sorted by name; a region's label is its index plus one.
#[derive(Clone, Debug)]
pub struct RegionSet {
    pub source: PathBuf,
    pub regions: Vec<Region>,
    /// The EPSG code of the map coordinates the positions are in, as the file's `crs` member says;
    /// `None` for pixel coordinates (see [`RegionSet::in_pixels`]).
    pub map_crs: Option<u32>,
}

#[derive(Deserialize)]
struct FeatureCollection {
    #[serde(rename = "type")]
    kind: String,
    features: Vec<Feature>,
    #[serde(default)]
    crs: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct Feature {
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
    geometry: Option<Geometry>,
}

#[derive(Deserialize)]
#[serde(tag = "type")]
enum Geometry {
    Polygon {
        coordinates: Vec<Vec<Vec<f64>>>,
    },
    MultiPolygon {
        coordinates: Vec<Vec<Vec<Vec<f64>>>>,
    },
}

impl RegionSet {
    pub fn read(path: &Path) -> Result<RegionSet> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::input(path, format!("cannot read regions: {e}")))?;
        Self::parse(&text, path)
    }

    /// Parses GeoJSON text; `path` is only used to name the source in errors.
    pub fn parse(text: &str, path: &Path) -> Result<RegionSet> {
        let collection: FeatureCollection = serde_json::from_str(text).map_err(|e| {
            Error::input(
                path,
                format!("not a GeoJSON FeatureCollection of polygons: {e}"),
            )
        })?;
        if collection.kind != "FeatureCollection" {
            return Err(Error::input(
                path,
                format!(
                    "GeoJSON type is \"{}\", expected \"FeatureCollection\"",
                    collection.kind
                ),
            ));
        }
        let map_crs = collection
            .crs
            .as_ref()
            .map(epsg_of)
            .transpose()
            .map_err(|message| Error::input(path, message))?;
        if collection.features.len() > MAX_REGIONS {
            return Err(Error::input(
                path,
                format!(
                    "{} regions, at most {MAX_REGIONS} are supported",
                    collection.features.len()
                ),
            ));
        }
        let mut names = HashSet::new();
        let mut regions = Vec::with_capacity(collection.features.len());
        for (index, feature) in collection.features.into_iter().enumerate() {
            let region = region_from_feature(feature, index, path)?;
            if !names.insert(region.name.clone()) {
                return Err(Error::Region {
                    path: path.to_path_buf(),
                    region: region.name,
                    message: "name is used by more than one feature".into(),
                });
            }
            regions.push(region);
        }
        if regions.is_empty() {
            return Err(Error::input(
                path,
                "no regions: the FeatureCollection has no features",
            ));
        }
        regions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(RegionSet {
            source: path.to_path_buf(),
            regions,
            map_crs,
        })
    }

    /// The regions in pixel coordinates: those of a file in map coordinates are moved onto the pixel grid
    /// of scenes georeferenced by `georeference`; a file in pixel coordinates is kept as it is. An error
    /// when the file is in map coordinates and the scenes are not georeferenced, or in another system.
    pub fn in_pixels(self, georeference: Option<&GeoReference>) -> Result<RegionSet> {
        let Some(epsg) = self.map_crs else {
            return Ok(self);
        };
        let refuse = |message: String| Err(Error::input(&self.source, message));
        let Some(georeference) = georeference else {
            return refuse(format!(
                "regions are in map coordinates of EPSG:{epsg} (the file has a \"crs\" member) but the \
                 scenes carry no georeferencing (GeoTIFF tags); give the regions in pixel coordinates"
            ));
        };
        match georeference.crs {
            Some(crs) if crs.epsg == epsg => {}
            Some(crs) => {
                return refuse(format!(
                    "regions are in EPSG:{epsg} but the scenes are in {crs}: reproject the regions to {crs}"
                ));
            }
            None => {
                return refuse(format!(
                    "regions are in EPSG:{epsg} but the scenes' coordinate system is user-defined (no EPSG \
                     code in their GeoTIFF tags)"
                ));
            }
        }
        let regions = self
            .regions
            .into_iter()
            .map(|region| Region {
                polygons: (region.polygons.into_iter())
                    .map(|polygon| Polygon {
                        rings: (polygon.rings.into_iter())
                            .map(|ring| {
                                ring.into_iter()
                                    .map(|[x, y]| georeference.to_pixel(x, y))
                                    .collect()
                            })
                            .collect(),
                    })
                    .collect(),
                ..region
            })
            .collect();
        Ok(RegionSet {
            source: self.source,
            regions,
            map_crs: None,
        })
    }
}

/// The EPSG code a GeoJSON `crs` member names: `"EPSG:32652"`, or the old named form
/// `{"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::32652"}}` (also with `EPSG:32652`;
/// OGC's CRS84, longitude and latitude, is EPSG:4326).
fn epsg_of(crs: &serde_json::Value) -> Result<u32, String> {
    let name = match crs {
        serde_json::Value::String(name) => Some(name.as_str()),
        serde_json::Value::Object(member)
            if member.get("type").and_then(|t| t.as_str()) == Some("name") =>
        {
            member
                .get("properties")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str())
        }
        _ => None,
    };
    let unknown = || {
        format!(
            "\"crs\" member {crs} is not understood: expected \"EPSG:NNNN\" or {{\"type\": \"name\", \
             \"properties\": {{\"name\": \"urn:ogc:def:crs:EPSG::NNNN\"}}}}"
        )
    };
    let name = name.ok_or_else(unknown)?.trim();
    let upper = name.to_ascii_uppercase();
    if matches!(
        upper.as_str(),
        "URN:OGC:DEF:CRS:OGC:1.3:CRS84" | "OGC:CRS84" | "CRS84"
    ) {
        return Ok(4326);
    }
    let code = upper
        .strip_prefix("URN:OGC:DEF:CRS:EPSG:")
        .map(|rest| rest.rsplit(':').next().unwrap_or(rest))
        .or_else(|| upper.strip_prefix("EPSG:"))
        .ok_or_else(unknown)?;
    code.parse::<u32>().map_err(|_| unknown())
}

fn region_from_feature(feature: Feature, index: usize, path: &Path) -> Result<Region> {
    let properties = feature.properties.unwrap_or_default();
    let name = match properties.get("name") {
        Some(serde_json::Value::String(name)) if !name.trim().is_empty() => name.clone(),
        _ => {
            return Err(Error::input(
                path,
                format!("feature {index} has no \"name\" property (a non-empty string)"),
            ));
        }
    };
    let region_error = |message: String| Error::Region {
        path: path.to_path_buf(),
        region: name.clone(),
        message,
    };
    let kind = match properties.get("kind") {
        None | Some(serde_json::Value::Null) => "other".to_owned(),
        Some(serde_json::Value::String(kind)) if !kind.trim().is_empty() => kind.clone(),
        Some(other) => {
            return Err(region_error(format!(
                "\"kind\" must be a word, found {other}"
            )));
        }
    };
    let polygons = match feature.geometry {
        None => return Err(region_error("feature has no geometry".into())),
        Some(Geometry::Polygon { coordinates }) => vec![coordinates],
        Some(Geometry::MultiPolygon { coordinates }) => coordinates,
    };
    if polygons.is_empty() {
        return Err(region_error("geometry has no polygon".into()));
    }
    let polygons = polygons
        .into_iter()
        .map(|rings| polygon_from_rings(rings).map_err(&region_error))
        .collect::<Result<Vec<_>>>()?;
    Ok(Region {
        name,
        kind,
        polygons,
    })
}

fn polygon_from_rings(rings: Vec<Vec<Vec<f64>>>) -> Result<Polygon, String> {
    if rings.is_empty() {
        return Err("polygon has no rings".into());
    }
    let rings = rings
        .into_iter()
        .map(|positions| {
            let ring: Ring = positions
                .iter()
                .map(|p| match p.as_slice() {
                    [x, y, ..] if x.is_finite() && y.is_finite() => Ok([*x, *y]),
                    _ => Err(format!("position {p:?} is not a pair of finite numbers")),
                })
                .collect::<Result<_, _>>()?;
            if ring.len() < 4 {
                return Err(format!(
                    "ring has {} positions, a closed ring needs at least 4",
                    ring.len()
                ));
            }
            if ring.first() != ring.last() {
                return Err("ring is not closed: its last position differs from its first".into());
            }
            if let Some((a, b)) = self_intersection(&ring) {
                return Err(format!(
                    "ring crosses or touches itself: the edge {} meets the edge {} (a region must be a \
                     simple polygon; split a figure of eight into a MultiPolygon)",
                    describe_edge(a),
                    describe_edge(b)
                ));
            }
            Ok(ring)
        })
        .collect::<Result<_, _>>()?;
    Ok(Polygon { rings })
}

type Edge = [[f64; 2]; 2];

fn describe_edge([[x0, y0], [x1, y1]]: Edge) -> String {
    format!("from ({x0}, {y0}) to ({x1}, {y1})")
}

/// Two edges of a closed ring that meet where a simple polygon's edges do not: edges that are not
/// neighbours sharing any point, or neighbours doubling back over each other. Repeated positions are
/// skipped. Edges are swept in order of their smallest x, so only edges whose x ranges overlap are tested.
fn self_intersection(ring: &[[f64; 2]]) -> Option<(Edge, Edge)> {
    let mut points: Vec<[f64; 2]> = ring[..ring.len() - 1].to_vec();
    points.dedup();
    while points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    let n = points.len();
    if n < 3 {
        return None;
    }
    let edges: Vec<Edge> = (0..n).map(|i| [points[i], points[(i + 1) % n]]).collect();
    let min_x = |e: &Edge| e[0][0].min(e[1][0]);
    let max_x = |e: &Edge| e[0][0].max(e[1][0]);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| min_x(&edges[a]).total_cmp(&min_x(&edges[b])));
    for (k, &i) in order.iter().enumerate() {
        for &j in &order[k + 1..] {
            if min_x(&edges[j]) > max_x(&edges[i]) {
                break;
            }
            let (a, b) = (i.min(j), i.max(j));
            let neighbours = b == a + 1 || (a == 0 && b == n - 1);
            let meet = if neighbours {
                // Ordered so that the shared vertex is the end of the first and the start of the second.
                let (first, second) = if b == a + 1 { (a, b) } else { (b, a) };
                doubles_back(edges[first], edges[second])
            } else {
                segments_meet(edges[a], edges[b])
            };
            if meet {
                return Some((edges[a], edges[b]));
            }
        }
    }
    None
}

fn cross(o: [f64; 2], a: [f64; 2], b: [f64; 2]) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Whether `second`, which starts where `first` ends, runs back along it.
fn doubles_back(first: Edge, second: Edge) -> bool {
    let [p, q] = first;
    let r = second[1];
    let dot = (p[0] - q[0]) * (r[0] - q[0]) + (p[1] - q[1]) * (r[1] - q[1]);
    cross(p, q, r) == 0.0 && dot > 0.0
}

/// Whether two closed segments share a point.
fn segments_meet([p, q]: Edge, [r, s]: Edge) -> bool {
    let within = |a: [f64; 2], b: [f64; 2], c: [f64; 2]| {
        c[0] >= a[0].min(b[0])
            && c[0] <= a[0].max(b[0])
            && c[1] >= a[1].min(b[1])
            && c[1] <= a[1].max(b[1])
    };
    let (d1, d2) = (cross(r, s, p), cross(r, s, q));
    let (d3, d4) = (cross(p, q, r), cross(p, q, s));
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && within(r, s, p))
        || (d2 == 0.0 && within(r, s, q))
        || (d3 == 0.0 && within(p, q, r))
        || (d4 == 0.0 && within(p, q, s))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RegionSet> {
        RegionSet::parse(text, Path::new("regions.geojson"))
    }

    fn feature(properties: &str, geometry: &str) -> String {
        format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{properties},"geometry":{geometry}}}]}}"#
        )
    }

    const SQUARE: &str = r#"{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4],[0,0]]]}"#;

    #[test]
    fn reads_names_kinds_and_multipolygons() {
        let text = r#"{"type":"FeatureCollection","features":[
            {"type":"Feature","properties":{"name":"yard-b","kind":"yard"},"geometry":{"type":"MultiPolygon","coordinates":[[[[0,0],[2,0],[2,2],[0,0]]],[[[5,5],[6,5],[6,6],[5,5]]]]}},
            {"type":"Feature","properties":{"name":"berth-a"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1,0],[0,0]]]}}]}"#;
        let set = parse(text).unwrap();
        let names: Vec<_> = set
            .regions
            .iter()
            .map(|r| (r.name.as_str(), r.kind.as_str()))
            .collect();
        assert_eq!(names, [("berth-a", "other"), ("yard-b", "yard")]);
        assert_eq!(set.regions[1].polygons.len(), 2);
    }

    #[test]
    fn names_what_is_wrong() {
        let cases = [
            ("{", "not a GeoJSON FeatureCollection"),
            (
                r#"{"type":"Feature","features":[]}"#,
                "expected \"FeatureCollection\"",
            ),
            (
                &feature(r#"{"kind":"berth"}"#, SQUARE),
                "feature 0 has no \"name\"",
            ),
            (
                &feature(
                    r#"{"name":"b1"}"#,
                    r#"{"type":"LineString","coordinates":[[0,0],[1,1]]}"#,
                ),
                "LineString",
            ),
            (
                &feature(
                    r#"{"name":"b1"}"#,
                    r#"{"type":"Polygon","coordinates":[[[0,0],[4,0],[4,4],[0,4]]]}"#,
                ),
                "region \"b1\": ring is not closed",
            ),
            (
                &feature(
                    r#"{"name":"b1"}"#,
                    r#"{"type":"Polygon","coordinates":[[[0,0],[4,0],[0,0]]]}"#,
                ),
                "at least 4",
            ),
            (&feature(r#"{"name":"b1"}"#, "null"), "no geometry"),
            (
                r#"{"type":"FeatureCollection","features":[]}"#,
                "no regions",
            ),
        ];
        for (text, expected) in cases {
            let message = parse(text).unwrap_err().to_string();
            assert!(
                message.contains(expected),
                "{message:?} should contain {expected:?}"
            );
            assert!(
                message.starts_with("regions.geojson"),
                "{message:?} should name the file"
            );
        }
    }

    #[test]
    fn refuses_rings_that_cross_or_touch_themselves() {
        let region = |ring: &str| {
            parse(&feature(
                r#"{"name":"b1"}"#,
                &format!(r#"{{"type":"Polygon","coordinates":[{ring}]}}"#),
            ))
        };
        for ring in [
            "[[0,0],[4,4],[4,0],[0,4],[0,0]]",
            "[[0,0],[4,0],[4,4],[2,4],[2,-1],[0,4],[0,0]]",
            "[[0,0],[4,0],[4,4],[0,4],[4,4],[0,0]]",
            "[[0,0],[4,0],[4,4],[2,0],[0,4],[0,0]]",
            "[[0,0],[4,0],[2,0],[2,4],[0,0]]",
        ] {
            let message = region(ring).unwrap_err().to_string();
            assert!(
                message.contains("region \"b1\": ring crosses or touches itself: the edge from"),
                "{ring}: {message}"
            );
        }
        for ring in [
            "[[0,0],[4,0],[4,4],[0,4],[0,0]]",
            "[[0,0],[4,0],[4,0],[4,4],[0,4],[0,0],[0,0]]",
            "[[0,0],[4,0],[4,4],[2,1],[0,4],[0,0]]",
            "[[0,0],[2,0],[4,0],[4,4],[0,4],[0,0]]",
        ] {
            assert!(region(ring).is_ok(), "{ring} is simple");
        }
    }

    #[test]
    fn rejects_duplicate_names() {
        let text = format!(
            r#"{{"type":"FeatureCollection","features":[{{"type":"Feature","properties":{{"name":"b1"}},"geometry":{SQUARE}}},{{"type":"Feature","properties":{{"name":"b1"}},"geometry":{SQUARE}}}]}}"#
        );
        let message = parse(&text).unwrap_err().to_string();
        assert!(
            message.contains("region \"b1\": name is used by more than one feature"),
            "{message}"
        );
    }
}
