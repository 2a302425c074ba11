//! GeoTIFF archives written by the tests themselves (16-bit, 13 bands, float32 with NaN, strips and tiles,
//! uncompressed, deflate and LZW, nodata and georeferencing tags): decoded like their PNG twins, bands
//! picked with `--bands`, regions in map coordinates, lengths in metres without `--gsd`, georeferencing
//! carried to the GeoTIFF outputs, and the same bytes from both backends.

mod common;

use portwatch::geotiff::{self, Crs, GeoReference};
use portwatch::scene::{BandSelection, DecodeOptions, Scene, SceneFile};
use std::io::Cursor;
use std::path::{Path, PathBuf};
use tiff::encoder::TiffEncoder;
use tiff::encoder::compression::{CompressionAlgorithm, Deflate, Lzw};
use tiff::tags::Tag;

const WIDTH: u32 = 48;
const HEIGHT: u32 = 40;
/// UTM zone 52N, where Rajin is.
const UTM_52N: u32 = 32652;
/// 3 m pixels from (500100, 4680000), the top-left corner.
const TRANSFORM: [f64; 6] = [500_100.0, 3.0, 0.0, 4_680_000.0, 0.0, -3.0];
use common::run::SIX_DATES as DATES;

fn utm() -> GeoReference {
    geotiff::georeference(
        Crs {
            epsg: UTM_52N,
            geographic: false,
            metres_per_unit: Some(1.0),
        },
        TRANSFORM,
    )
}

#[derive(Clone, Copy, Debug)]
enum Compression {
    None,
    Deflate,
    Lzw,
}

#[derive(Clone, Copy, Debug)]
enum Chunks {
    /// Strips of this many rows.
    Strips(u32),
    /// Square tiles of this side (a multiple of 16).
    Tiles(u32),
}

/// Samples as a TIFF stores them: little-endian bytes, and what the SampleFormat tag says.
enum Samples<'a> {
    U8(&'a [u8]),
    U16(&'a [u16]),
    F32(&'a [f32]),
}

impl Samples<'_> {
    fn bytes_per_sample(&self) -> usize {
        match self {
            Samples::U8(_) => 1,
            Samples::U16(_) => 2,
            Samples::F32(_) => 4,
        }
    }

    fn sample_format(&self) -> u16 {
        if matches!(self, Samples::F32(_)) {
            3
        } else {
            1
        }
    }

    fn bytes(&self) -> Vec<u8> {
        match self {
            Samples::U8(s) => s.to_vec(),
            Samples::U16(s) => s.iter().flat_map(|v| v.to_le_bytes()).collect(),
            Samples::F32(s) => s.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }
}

/// A pixel-interleaved TIFF of `bands` bands, laid out and compressed as asked, with the georeferencing
/// and GDAL nodata tags when given.
fn encode_tiff(
    bands: u16,
    samples: Samples,
    chunks: Chunks,
    compression: Compression,
    georeference: Option<&GeoReference>,
    nodata: Option<&str>,
) -> Vec<u8> {
    let pixel_bytes = samples.bytes_per_sample() * usize::from(bands);
    let bytes = samples.bytes();
    let (chunk_width, chunk_height) = match chunks {
        Chunks::Strips(rows) => (WIDTH, rows),
        Chunks::Tiles(side) => (side, side),
    };
    // Tiles are whole (padded) at the right and bottom edges; strips are not.
    let mut raw_chunks = Vec::new();
    for top in (0..HEIGHT).step_by(chunk_height as usize) {
        for left in (0..WIDTH).step_by(chunk_width as usize) {
            let rows = match chunks {
                Chunks::Strips(_) => chunk_height.min(HEIGHT - top),
                Chunks::Tiles(_) => chunk_height,
            };
            let mut chunk = Vec::new();
            for y in top..top + rows {
                for x in left..left + chunk_width {
                    if x < WIDTH && y < HEIGHT {
                        let at = (y * WIDTH + x) as usize * pixel_bytes;
                        chunk.extend(&bytes[at..at + pixel_bytes]);
                    } else {
                        chunk.extend(std::iter::repeat_n(0, pixel_bytes));
                    }
                }
            }
            raw_chunks.push(chunk);
        }
    }
    let compressed: Vec<Vec<u8>> = raw_chunks
        .iter()
        .map(|chunk| {
            let mut out = Vec::new();
            match compression {
                Compression::None => out.extend(chunk),
                Compression::Deflate => {
                    Deflate::default().write_to(&mut out, chunk).unwrap();
                }
                Compression::Lzw => {
                    Lzw.write_to(&mut out, chunk).unwrap();
                }
            };
            out
        })
        .collect();
    let mut file = Cursor::new(Vec::new());
    let mut encoder = TiffEncoder::new(&mut file).unwrap();
    let mut directory = encoder.image_directory().unwrap();
    let mut offsets = Vec::new();
    for chunk in &compressed {
        offsets.push(directory.write_data(chunk.as_slice()).unwrap() as u32);
    }
    let counts: Vec<u32> = compressed.iter().map(|c| c.len() as u32).collect();
    let bits = vec![samples.bytes_per_sample() as u16 * 8; usize::from(bands)];
    let formats = vec![samples.sample_format(); usize::from(bands)];
    directory.write_tag(Tag::ImageWidth, WIDTH).unwrap();
    directory.write_tag(Tag::ImageLength, HEIGHT).unwrap();
    directory
        .write_tag(Tag::BitsPerSample, bits.as_slice())
        .unwrap();
    let compression_code: u16 = match compression {
        Compression::None => 1,
        Compression::Lzw => 5,
        Compression::Deflate => 8,
    };
    directory
        .write_tag(Tag::Compression, compression_code)
        .unwrap();
    directory
        .write_tag(Tag::PhotometricInterpretation, 1u16)
        .unwrap();
    directory.write_tag(Tag::SamplesPerPixel, bands).unwrap();
    directory.write_tag(Tag::PlanarConfiguration, 1u16).unwrap();
    directory
        .write_tag(Tag::SampleFormat, formats.as_slice())
        .unwrap();
    if bands > 1 {
        let extra = vec![0u16; usize::from(bands) - 1];
        directory
            .write_tag(Tag::ExtraSamples, extra.as_slice())
            .unwrap();
    }
    match chunks {
        Chunks::Strips(rows) => {
            directory.write_tag(Tag::RowsPerStrip, rows).unwrap();
            directory
                .write_tag(Tag::StripOffsets, offsets.as_slice())
                .unwrap();
            directory
                .write_tag(Tag::StripByteCounts, counts.as_slice())
                .unwrap();
        }
        Chunks::Tiles(side) => {
            directory.write_tag(Tag::TileWidth, side).unwrap();
            directory.write_tag(Tag::TileLength, side).unwrap();
            directory
                .write_tag(Tag::TileOffsets, offsets.as_slice())
                .unwrap();
            directory
                .write_tag(Tag::TileByteCounts, counts.as_slice())
                .unwrap();
        }
    }
    if let Some(georeference) = georeference {
        geotiff::write_geo_tags(&mut directory, georeference).unwrap();
    }
    if let Some(nodata) = nodata {
        directory.write_tag(Tag::GdalNodata, nodata).unwrap();
    }
    directory.finish().unwrap();
    file.into_inner()
}

/// Scene `date` (0-based) of the test archives, `bands` bands of 16-bit samples: a quiet textured port,
/// with a bright ship 15 px long moored at the berth from date 3 on, and a container stack in the yard
/// on date 4. Band b is offset by 300 b, so that picked bands are told apart.
fn scene_samples(date: usize, bands: usize) -> Vec<u16> {
    let mut samples = Vec::with_capacity((WIDTH * HEIGHT) as usize * bands);
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let ship = date >= 3 && (2..17).contains(&x) && (2..6).contains(&y);
            let stack = date == 4 && (10..26).contains(&x) && (16..30).contains(&y);
            for band in 0..bands {
                let texture = ((x * 7 + y * 3 + date as u32) % 5) as u16 * 10;
                let value = if ship {
                    9000
                } else if stack {
                    6000
                } else {
                    1000 + texture
                };
                samples.push(value + 300 * band as u16);
            }
        }
    }
    samples
}

/// The test regions in pixel coordinates: a berth across the ship's stretch and a yard.
const PIXEL_REGIONS: &str = r#"{"type":"FeatureCollection","features":[
 {"type":"Feature","properties":{"name":"berth-1","kind":"berth"},"geometry":{"type":"Polygon","coordinates":[[[0,0],[20,0],[20,8],[0,8],[0,0]]]}},
 {"type":"Feature","properties":{"name":"yard","kind":"yard"},"geometry":{"type":"Polygon","coordinates":[[[4,12],[30,12],[30,34],[4,34],[4,12]]]}}]}"#;

/// PIXEL_REGIONS in map coordinates of `epsg` on the grid of TRANSFORM, with a `crs` member as `crs`
/// writes it.
fn map_regions(crs: &str) -> String {
    let mut text = PIXEL_REGIONS.to_owned();
    for (column, row) in [
        (0, 0),
        (20, 0),
        (20, 8),
        (0, 8),
        (4, 12),
        (30, 12),
        (30, 34),
        (4, 34),
    ] {
        let x = TRANSFORM[0] + f64::from(column) * TRANSFORM[1];
        let y = TRANSFORM[3] + f64::from(row) * TRANSFORM[5];
        text = text.replace(&format!("[{column},{row}]"), &format!("[{x},{y}]"));
    }
    text.replacen(
        r#"{"type":"FeatureCollection","#,
        &format!(r#"{{"type":"FeatureCollection","crs":{crs},"#),
        1,
    )
}

/// An archive of the six test scenes written by `write(date, path_without_extension)`, with regions.
fn archive_of(write: impl Fn(usize, &Path)) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (index, date) in DATES.iter().enumerate() {
        write(index, &dir.path().join(date));
    }
    std::fs::write(dir.path().join("regions.geojson"), PIXEL_REGIONS).unwrap();
    dir
}

fn geotiff_archive(
    bands: u16,
    chunks: Chunks,
    compression: Compression,
    georeference: Option<&GeoReference>,
) -> tempfile::TempDir {
    archive_of(|date, stem| {
        let samples = scene_samples(date, usize::from(bands));
        let bytes = encode_tiff(
            bands,
            Samples::U16(&samples),
            chunks,
            compression,
            georeference,
            None,
        );
        std::fs::write(stem.with_extension("tif"), bytes).unwrap();
    })
}

/// The same scenes as 16-bit RGB PNGs of bands `picks` (1-based).
fn png_archive(bands: usize, picks: [usize; 3]) -> tempfile::TempDir {
    archive_of(|date, stem| {
        let samples = scene_samples(date, bands);
        let rgb: Vec<u16> = samples
            .chunks_exact(bands)
            .flat_map(|pixel| picks.map(|band| pixel[band - 1]))
            .collect();
        image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(WIDTH, HEIGHT, rgb)
            .unwrap()
            .save(stem.with_extension("png"))
            .unwrap();
    })
}

/// Fixed settings, so that runs of different archives compare exactly.
const SETTINGS: [&str; 5] = ["--threshold", "600", "--smooth", "0", "--no-normalize"];

/// `portwatch run ARCHIVE SETTINGS EXTRA --device DEVICE --out OUT`, as [`common::run::run_on`].
fn run(archive: &Path, device: &str, extra: &[&str]) -> Option<(tempfile::TempDir, String)> {
    let flags: Vec<&str> = SETTINGS.iter().chain(extra).copied().collect();
    common::run::run_on(device, archive, &flags)
}

fn read(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn decode(bytes: &[u8], options: &DecodeOptions) -> SceneFile {
    SceneFile::from_reader(Cursor::new(bytes), Path::new("scene.tif"), options).unwrap()
}

#[test]
fn every_layout_and_compression_decodes_to_the_same_scene_and_georeferencing() {
    let samples = scene_samples(4, 4);
    let expected = Scene::from_u16(WIDTH, HEIGHT, 4, &samples);
    let georeference = utm();
    for chunks in [Chunks::Strips(7), Chunks::Strips(HEIGHT), Chunks::Tiles(16)] {
        for compression in [Compression::None, Compression::Deflate, Compression::Lzw] {
            let bytes = encode_tiff(
                4,
                Samples::U16(&samples),
                chunks,
                compression,
                Some(&georeference),
                None,
            );
            let file = decode(&bytes, &DecodeOptions::default());
            assert_eq!(file.scene, expected, "{chunks:?} {compression:?}");
            let read = file.georeference.expect("georeferenced");
            assert_eq!(read.transform, TRANSFORM, "{chunks:?} {compression:?}");
            assert_eq!(read.crs.map(|c| c.epsg), Some(UTM_52N));
            assert!(!read.crs.unwrap().geographic);
        }
    }
    // 8-bit samples too.
    let bytes: Vec<u8> = samples.iter().map(|&v| (v / 40) as u8).collect();
    let file = decode(
        &encode_tiff(
            4,
            Samples::U8(&bytes),
            Chunks::Tiles(32),
            Compression::Lzw,
            None,
            None,
        ),
        &DecodeOptions::default(),
    );
    assert_eq!(file.scene, Scene::from_u8(WIDTH, HEIGHT, 4, &bytes));
    assert!(file.georeference.is_none());
}

#[test]
fn bands_are_picked_and_ordered_and_more_than_16_need_a_pick() {
    let samples = scene_samples(3, 13);
    let bytes = encode_tiff(
        13,
        Samples::U16(&samples),
        Chunks::Tiles(16),
        Compression::Deflate,
        None,
        None,
    );
    let every = decode(&bytes, &DecodeOptions::default()).scene;
    assert_eq!(every.format.bands, 13);
    let picks: BandSelection = "4,3,2".parse().unwrap();
    let picked = decode(&bytes, &DecodeOptions { bands: Some(picks) }).scene;
    let expected: Vec<u16> = samples
        .chunks_exact(13)
        .flat_map(|pixel| [pixel[3], pixel[2], pixel[1]])
        .collect();
    assert_eq!(picked, Scene::from_u16(WIDTH, HEIGHT, 3, &expected));

    let too_many = scene_samples(0, 20);
    let bytes = encode_tiff(
        20,
        Samples::U16(&too_many),
        Chunks::Strips(8),
        Compression::None,
        None,
        None,
    );
    let error = SceneFile::from_reader(
        Cursor::new(&bytes),
        Path::new("s2.tif"),
        &DecodeOptions::default(),
    )
    .unwrap_err()
    .to_string();
    assert!(
        error.contains(
            "s2.tif: scene has 20 bands, more than the 16 the kernel takes: pick some with --bands"
        ),
        "{error}"
    );
    let options = DecodeOptions {
        bands: Some("1,20".parse().unwrap()),
    };
    assert_eq!(decode(&bytes, &options).scene.format.bands, 2);
    let options = DecodeOptions {
        bands: Some("2,21".parse().unwrap()),
    };
    let error = SceneFile::from_reader(Cursor::new(&bytes), Path::new("s2.tif"), &options)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("--bands 2,21 picks band 21, but the scene has 20 bands"),
        "{error}"
    );
    for (text, message) in [
        ("0,1", "numbered from 1"),
        ("1,x", "expected band numbers"),
        ("3,1,3", "band 3 is picked twice"),
        (
            "1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17",
            "17 bands picked: pick 1 to 16",
        ),
    ] {
        let error = text.parse::<BandSelection>().unwrap_err();
        assert!(error.contains(message), "{text}: {error}");
    }
}

#[test]
fn float_samples_become_reflectance_times_10000_and_nan_or_nodata_is_invalid() {
    let samples = scene_samples(2, 3);
    let mut floats: Vec<f32> = samples.iter().map(|&v| f32::from(v) / 10_000.0).collect();
    floats[0] = f32::NAN; // pixel 0
    floats[3 * 5 + 1] = f32::INFINITY; // pixel 5
    floats[3 * 7 + 2] = -9999.0; // pixel 7, the nodata value
    floats[3 * 9] = -0.01; // pixel 9: a small negative reflectance is clamped to 0, valid
    let bytes = encode_tiff(
        3,
        Samples::F32(&floats),
        Chunks::Strips(5),
        Compression::Deflate,
        None,
        Some("-9999"),
    );
    let scene = decode(&bytes, &DecodeOptions::default()).scene;
    assert_eq!(scene.format.bits_per_sample, 16);
    for pixel in 0..(WIDTH * HEIGHT) as usize {
        let invalid = [0, 5, 7].contains(&pixel);
        assert_eq!(scene.is_valid(pixel, None), !invalid, "pixel {pixel}");
        if !invalid {
            for band in 0..3 {
                let expected = if pixel == 9 && band == 0 {
                    0
                } else {
                    samples[pixel * 3 + band]
                };
                assert_eq!(
                    scene.sample(pixel, band),
                    u32::from(expected),
                    "pixel {pixel} band {band}"
                );
            }
        }
    }
    // An integer nodata value: a pixel with one band equal to it is invalid.
    let mut integers = samples.clone();
    integers[3 * 11 + 1] = 65535;
    let bytes = encode_tiff(
        3,
        Samples::U16(&integers),
        Chunks::Tiles(16),
        Compression::Lzw,
        None,
        Some("65535"),
    );
    let scene = decode(&bytes, &DecodeOptions::default()).scene;
    let invalid: Vec<usize> = (0..(WIDTH * HEIGHT) as usize)
        .filter(|&p| !scene.is_valid(p, None))
        .collect();
    assert_eq!(invalid, [11]);
}

#[test]
fn a_13_band_geotiff_archive_with_bands_runs_like_its_png_twin_and_map_regions_like_pixel_ones() {
    let tiffs = geotiff_archive(13, Chunks::Tiles(16), Compression::Deflate, Some(&utm()));
    let pngs = png_archive(13, [4, 3, 2]);
    let (png_out, _) = run(pngs.path(), "cpu", &["--gsd", "3"]).unwrap();
    let (tif_out, message) = run(tiffs.path(), "cpu", &["--bands", "4,3,2"]).unwrap();
    assert!(
        message.contains("6 scenes of 48x40 px, 3 bands, 16-bit"),
        "{message}"
    );
    for name in ["pairs.csv", "series.csv", "events.csv"] {
        assert_eq!(
            read(tif_out.path(), name),
            read(png_out.path(), name),
            "{name}"
        );
    }
    // The arrival's length comes in metres from the georeferencing (3 m pixels), without --gsd.
    let events = read(tif_out.path(), "events.csv");
    assert!(
        events.contains("2023-08-07,berth-1,berth,arrival,45.0"),
        "{events}"
    );
    let record: serde_json::Value =
        serde_json::from_str(&read(tif_out.path(), "run.json")).unwrap();
    assert_eq!(record["arguments"]["bands"], serde_json::json!([4, 3, 2]));
    assert_eq!(record["arguments"]["gsd"], serde_json::Value::Null);

    // Regions in map coordinates, in both forms of `crs`, give the same results.
    for crs in [
        r#"{"type":"name","properties":{"name":"urn:ogc:def:crs:EPSG::32652"}}"#,
        r#""EPSG:32652""#,
    ] {
        let regions = tiffs.path().join("map.geojson");
        std::fs::write(&regions, map_regions(crs)).unwrap();
        let (map_out, _) = run(
            tiffs.path(),
            "cpu",
            &["--bands", "4,3,2", "--regions", regions.to_str().unwrap()],
        )
        .unwrap();
        for name in ["pairs.csv", "series.csv", "events.csv"] {
            assert_eq!(
                read(map_out.path(), name),
                read(tif_out.path(), name),
                "{crs}: {name}"
            );
        }
    }
}

#[test]
fn map_regions_in_another_system_or_over_plain_images_are_refused() {
    let tiffs = geotiff_archive(4, Chunks::Strips(16), Compression::Lzw, Some(&utm()));
    let pngs = png_archive(4, [1, 2, 3]);
    let cases = [
        (
            &tiffs,
            r#""EPSG:32651""#,
            "regions are in EPSG:32651 but the scenes are in EPSG:32652",
        ),
        (&pngs, r#""EPSG:32652""#, "scenes carry no georeferencing"),
        (
            &pngs,
            r#""WGS84""#,
            "\"crs\" member \"WGS84\" is not understood",
        ),
    ];
    for (archive, crs, message) in cases {
        std::fs::write(archive.path().join("regions.geojson"), map_regions(crs)).unwrap();
        common::run::assert_refused(archive.path(), &[], &["regions.geojson", message]);
    }
}

#[test]
fn a_scene_on_another_grid_is_left_out_by_name() {
    let tiffs = geotiff_archive(4, Chunks::Strips(16), Compression::None, Some(&utm()));
    let mut shifted = TRANSFORM;
    shifted[0] += 30.0;
    let elsewhere = geotiff::georeference(utm().crs.unwrap(), shifted);
    let samples = scene_samples(2, 4);
    std::fs::write(
        tiffs.path().join("2023-08-05.tif"),
        encode_tiff(
            4,
            Samples::U16(&samples),
            Chunks::Strips(16),
            Compression::None,
            Some(&elsewhere),
            None,
        ),
    )
    .unwrap();
    common::run::assert_left_out(
        tiffs.path(),
        &[],
        &[
            "2023-08-05.tif",
            "georeferenced in EPSG:32652, origin (500130, 4680000), pixel 3 x 3 but the archive's scenes are \
             48x40 px, 4 bands, 16-bit, georeferenced in EPSG:32652, origin (500100, 4680000), pixel 3 x 3 (5 of 6)",
        ],
    );
}

/// The pixels of an 8-bit image file, whatever its format.
fn pixels(path: &Path) -> image::DynamicImage {
    image::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn geotiffs_match_pngs(out: &Path, names: &[PathBuf]) {
    for name in names {
        let tif = out.join(name).with_extension("tif");
        assert_eq!(
            pixels(&tif),
            pixels(&out.join(name).with_extension("png")),
            "{}",
            name.display()
        );
        let georeference = geotiff::georeference_of(&tif)
            .unwrap()
            .expect("georeferenced");
        assert_eq!(georeference.transform, TRANSFORM, "{}", name.display());
        assert_eq!(georeference.crs.map(|c| c.epsg), Some(UTM_52N));
    }
}

#[test]
fn geotiff_outputs_carry_the_georeferencing_and_the_pixels_of_the_pngs_on_both_backends() {
    let tiffs = geotiff_archive(4, Chunks::Tiles(32), Compression::Deflate, Some(&utm()));
    let flags = ["--raster-format", "both", "--masks"];
    let (cpu, _) = run(tiffs.path(), "cpu", &flags).unwrap();
    let mut rasters = vec![PathBuf::from("heatmap"), PathBuf::from("background")];
    for pair in DATES.windows(2) {
        rasters.push(PathBuf::from(format!("masks/{}_{}", pair[0], pair[1])));
    }
    geotiffs_match_pngs(cpu.path(), &rasters);
    if let Some((gpu, _)) = run(tiffs.path(), "gpu", &flags) {
        let mut files: Vec<PathBuf> = [
            "pairs.csv",
            "series.csv",
            "events.csv",
            "summary.json",
            "run.json",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        for raster in &rasters {
            files.push(raster.with_extension("png"));
            files.push(raster.with_extension("tif"));
        }
        for file in files {
            assert!(
                std::fs::read(cpu.path().join(&file)).unwrap()
                    == std::fs::read(gpu.path().join(&file)).unwrap(),
                "{} differs between the CPU and GPU runs",
                file.display()
            );
        }
    }
    // GeoTIFF alone: no PNG is written, and the report reads the GeoTIFFs.
    let (only, _) = run(
        tiffs.path(),
        "cpu",
        &["--raster-format", "geotiff", "--masks", "--report"],
    )
    .unwrap();
    let mut written = common::run::listing(only.path());
    written.extend(common::run::listing(&only.path().join("masks")));
    assert!(
        !written.iter().any(|name| name.ends_with(".png")),
        "{written:?}"
    );
    assert!(
        written.contains(&"heatmap.tif".to_owned()) && written.contains(&"report.html".to_owned())
    );
    assert_eq!(
        std::fs::read(only.path().join("heatmap.tif")).unwrap(),
        std::fs::read(cpu.path().join("heatmap.tif")).unwrap()
    );
}

#[test]
fn geographic_pixels_are_converted_to_metres_at_the_scenes_latitude() {
    // 10 m Sentinel-2 pixels over Mumbai (19.07 N) in degrees.
    let georeference = geotiff::georeference(
        Crs {
            epsg: 4326,
            geographic: true,
            metres_per_unit: None,
        },
        [72.9, 8.983e-5, 0.0, 19.1, 0.0, -9.05e-5],
    );
    let gsd = georeference.ground_sample_distance(557, 858).unwrap();
    // A degree of latitude is 110.6 km there, one of longitude 105.3 km.
    let expected = (8.983e-5 * 105_300.0 * 9.05e-5 * 110_600.0f64).sqrt();
    assert!(
        (gsd - expected).abs() < 0.05,
        "{gsd} m, expected {expected}"
    );
    let polar = geotiff::georeference(
        georeference.crs.unwrap(),
        [0.0, 0.001, 0.0, 90.0, 0.0, -0.001],
    );
    let error = polar.ground_sample_distance(10, 10).unwrap_err();
    assert!(error.contains("latitude"), "{error}");
}

#[test]
fn the_oscd_mumbai_sentinel_2_bands_decode_with_their_georeferencing() {
    let dir = common::data_folder().join("oscd-13band/mumbai/imgs_1");
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED the_oscd_mumbai_sentinel_2_bands_decode_with_their_georeferencing: {} is absent (set \
             PORTWATCH_DATA to the data folder)",
            dir.display()
        );
        return;
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "tif"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 13, "{files:?}");
    let band = |name: &str| {
        let path = files
            .iter()
            .find(|p| p.to_string_lossy().ends_with(&format!("_{name}.tif")))
            .unwrap();
        SceneFile::read(path, &DecodeOptions::default()).unwrap_or_else(|e| panic!("{e}"))
    };
    let blue = band("B02");
    assert_eq!(
        (
            blue.scene.format.width,
            blue.scene.format.height,
            blue.scene.format.bands,
            blue.scene.format.bits_per_sample
        ),
        (557, 858, 1, 16)
    );
    let grid = blue.georeference.clone().expect("georeferenced");
    assert_eq!(grid.crs.map(|c| (c.epsg, c.geographic)), Some((4326, true)));
    let gsd = grid.ground_sample_distance(557, 858).unwrap();
    assert!((9.0..11.0).contains(&gsd), "10 m bands: {gsd} m");
    // The 10 m bands share the grid; the 20 m and 60 m bands are on coarser ones.
    for name in ["B03", "B04", "B08"] {
        assert!(band(name).georeference.unwrap().same_grid(&grid), "{name}");
    }
    for name in ["B05", "B11", "B01"] {
        let file = band(name);
        assert!(file.scene.format.width < 557, "{name}");
        assert!(!file.georeference.unwrap().same_grid(&grid), "{name}");
    }
    let samples: Vec<u32> = (0..blue.scene.format.pixel_count())
        .map(|p| blue.scene.sample(p, 0))
        .collect();
    assert!(samples.iter().any(|&v| v > 0) && samples.iter().min() != samples.iter().max());
}
