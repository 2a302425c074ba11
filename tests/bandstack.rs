//! Scenes given as folders of single-band GeoTIFFs (band stacks), written by the tests themselves on
//! three grids (10, 20 and 60 m-like: 1x, 2x and 6x pixels), 16-bit, with nodata and georeferencing:
//! decoded onto the finest grid in band order, bands picked with `--bands`, bad folders refused naming
//! the file, an archive of dated folders run through the binary with the same bytes from both backends,
//! `pair` masks equal on both backends, and a changed band file decoded again on resume.

mod common;

use common::run::{
    REGIONS, assert_error, assert_left_out, assert_same_outputs, portwatch, run_on, stderr,
};
use portwatch::geotiff::{self, Crs, GeoReference};
use portwatch::scene::{BandSelection, DecodeOptions, SceneFile};
use std::path::{Path, PathBuf};
use tiff::encoder::colortype::{ColorType, Gray8, Gray16, RGB16};
use tiff::encoder::{TiffEncoder, TiffValue};
use tiff::tags::Tag;

/// The finest grid, in pixels.
const WIDTH: u32 = 36;
const HEIGHT: u32 = 24;
/// The bands of the test stacks in Sentinel-2's band order, each with its pixel size in finest pixels.
/// Written in this order; their names sort otherwise (`_B8A` after `_B11`).
const BANDS: [(&str, u32); 7] = [
    ("B01", 6),
    ("B02", 1),
    ("B03", 1),
    ("B05", 2),
    ("B08", 1),
    ("B8A", 2),
    ("B11", 2),
];
/// The band (0-based) that carries a GDAL nodata tag of 0.
const NODATA_BAND: usize = 3;
/// On date NODATA_DATE, the nodata band's pixel (8, 1) is nodata: finest pixels 16..18 x 2..4.
const NODATA_DATE: usize = 2;
use common::run::SIX_DATES as DATES;
/// Fixed settings, so that runs compare exactly.
const SETTINGS: [&str; 7] = [
    "--threshold",
    "600",
    "--smooth",
    "0",
    "--no-normalize",
    "--cloud-mask",
    "none",
];

/// 10 m pixels of UTM zone 52N from (500000, 4680000), scaled by `scale` for the coarser bands.
fn utm(scale: u32) -> GeoReference {
    let pixel = 10.0 * f64::from(scale);
    geotiff::georeference(
        Crs {
            epsg: 32652,
            geographic: false,
            metres_per_unit: Some(1.0),
        },
        [500_000.0, pixel, 0.0, 4_680_000.0, 0.0, -pixel],
    )
}

/// A single-band TIFF of colour type `C`, with georeferencing and nodata tags when given.
fn write_band<C: ColorType>(
    path: &Path,
    (width, height): (u32, u32),
    samples: &[C::Inner],
    georeference: Option<&GeoReference>,
    nodata: Option<&str>,
) where
    [C::Inner]: TiffValue,
{
    let mut file = std::fs::File::create(path).unwrap();
    let mut encoder = TiffEncoder::new(&mut file).unwrap();
    let mut image = encoder.new_image::<C>(width, height).unwrap();
    if let Some(georeference) = georeference {
        geotiff::write_geo_tags(image.encoder(), georeference).unwrap();
    }
    if let Some(nodata) = nodata {
        image.encoder().write_tag(Tag::GdalNodata, nodata).unwrap();
    }
    image.write_data(samples).unwrap();
}

/// The sample of band `band` (0-based in BANDS) on `date` at the band's own pixel (x, y): a textured
/// port, a bright ship at the berth from date 3 on, a container stack in the yard on date 4; band b
/// offset by 300 b.
fn band_sample(date: usize, band: usize, x: u32, y: u32) -> u16 {
    let scale = BANDS[band].1;
    if band == NODATA_BAND && date == NODATA_DATE && (x, y) == (8, 1) {
        return 0;
    }
    let (fx, fy) = (x * scale, y * scale);
    let ship = date >= 3 && (2..18).contains(&fx) && (2..6).contains(&fy);
    let stack = date == 4 && (10..26).contains(&fx) && (14..22).contains(&fy);
    let value = if ship {
        9000
    } else if stack {
        6000
    } else {
        1000 + ((x * 7 + y * 3 + date as u32) % 5) as u16 * 10
    };
    value + 300 * band as u16
}

fn band_size(band: usize) -> (u32, u32) {
    let scale = BANDS[band].1;
    (WIDTH / scale, HEIGHT / scale)
}

fn band_path(dir: &Path, date: usize, band: usize) -> PathBuf {
    dir.join(format!("T52SDG_{}_{}.tif", DATES[date], BANDS[band].0))
}

/// Writes band `band` of `date` into `dir`.
fn write_stack_band(dir: &Path, date: usize, band: usize) {
    write_band_file(&band_path(dir, date, band), date, band);
}

/// Writes band `band` of `date` as the file `path`.
fn write_band_file(path: &Path, date: usize, band: usize) {
    let (width, height) = band_size(band);
    let samples: Vec<u16> = (0..height)
        .flat_map(|y| (0..width).map(move |x| band_sample(date, band, x, y)))
        .collect();
    let nodata = (band == NODATA_BAND).then_some("0");
    write_band::<Gray16>(
        path,
        (width, height),
        &samples,
        Some(&utm(BANDS[band].1)),
        nodata,
    );
}

/// The folder scene of `date` in a new folder `dir`.
fn write_stack(dir: &Path, date: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for band in 0..BANDS.len() {
        write_stack_band(dir, date, band);
    }
}

/// An archive of every date as a folder scene named by the date, with REGIONS.
fn stack_archive() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (index, date) in DATES.iter().enumerate() {
        write_stack(&dir.path().join(date), index);
    }
    std::fs::write(dir.path().join("regions.geojson"), REGIONS).unwrap();
    dir
}

fn read(dir: &Path, bands: Option<&str>) -> portwatch::Result<SceneFile> {
    let options = DecodeOptions {
        bands: bands.map(|b| b.parse::<BandSelection>().unwrap()),
    };
    SceneFile::read(dir, &options)
}

#[test]
fn a_band_stack_decodes_onto_the_finest_grid_in_band_order_with_nodata() {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("scene");
    write_stack(&dir, NODATA_DATE);
    let file = read(&dir, None).unwrap();
    let format = file.scene.format;
    assert_eq!(
        (
            format.width,
            format.height,
            format.bands,
            format.bits_per_sample
        ),
        (WIDTH, HEIGHT, 7, 16)
    );
    assert!(file.georeference.unwrap().same_grid(&utm(1)));
    for y in 0..HEIGHT {
        for x in 0..WIDTH {
            let pixel = (y * WIDTH + x) as usize;
            for (band, &(_, scale)) in BANDS.iter().enumerate() {
                assert_eq!(
                    file.scene.sample(pixel, band),
                    u32::from(band_sample(NODATA_DATE, band, x / scale, y / scale)),
                    "band {band} at ({x}, {y})"
                );
            }
            let nodata = (16..18).contains(&x) && (2..4).contains(&y);
            assert_eq!(file.scene.is_valid(pixel, None), !nodata, "({x}, {y})");
        }
    }
    // B8A (band 6) then B02 (band 2): the nodata band is not picked, so every pixel is valid.
    let picked = read(&dir, Some("6,2")).unwrap().scene;
    assert_eq!(picked.format.bands, 2);
    assert!(picked.validity.is_none());
    for (pixel, (x, y)) in [(0, (0, 0)), (WIDTH as usize * 5 + 7, (7, 5))] {
        assert_eq!(
            picked.sample(pixel, 0),
            u32::from(band_sample(NODATA_DATE, 5, x / 2, y / 2))
        );
        assert_eq!(
            picked.sample(pixel, 1),
            u32::from(band_sample(NODATA_DATE, 1, x, y))
        );
    }
    let error = read(&dir, Some("2,8")).unwrap_err().to_string();
    assert!(
        error.contains("picks band 8, but the scene has 7 bands") && error.contains("scene"),
        "{error}"
    );
}

/// A folder scene of date 0 in a new temporary folder, after `spoil` has had its way with it.
fn spoiled(spoil: impl Fn(&Path)) -> (tempfile::TempDir, PathBuf) {
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("scene");
    write_stack(&dir, 0);
    spoil(&dir);
    (root, dir)
}

fn assert_refused(spoil: impl Fn(&Path), culprits: &[&str], what: &str) {
    let (_root, dir) = spoiled(spoil);
    let error = read(&dir, None).unwrap_err().to_string();
    for culprit in culprits {
        assert!(error.contains(culprit), "{error:?} should name {culprit:?}");
    }
    assert!(error.contains(what), "{error:?} should say {what:?}");
}

#[test]
fn bad_band_stacks_are_refused_naming_the_file() {
    let empty = tempfile::tempdir().unwrap();
    std::fs::write(empty.path().join("README.txt"), "no bands here").unwrap();
    let error = read(empty.path(), None).unwrap_err().to_string();
    assert!(
        error.contains(&empty.path().display().to_string()) && error.contains("no band files"),
        "{error}"
    );
    let b03 = "T52SDG_2023-08-01_B03.tif";
    assert_refused(
        |dir| {
            let samples = vec![7u8; (WIDTH * HEIGHT) as usize];
            write_band::<Gray8>(
                &dir.join(b03),
                (WIDTH, HEIGHT),
                &samples,
                Some(&utm(1)),
                None,
            );
        },
        &["T52SDG_2023-08-01_B01.tif", b03],
        "share their sample type, but they are 16-bit unsigned and 8-bit unsigned",
    );
    assert_refused(
        |dir| std::fs::write(dir.join(b03), b"II*\0 truncated").unwrap(),
        &[b03],
        "cannot decode image",
    );
    let b05 = "T52SDG_2023-08-01_B05.tif";
    assert_refused(
        |dir| {
            let samples = vec![1000u16; 13 * 12];
            write_band::<Gray16>(&dir.join(b05), (13, 12), &samples, Some(&utm(2)), None);
        },
        &[b05],
        "divided by a whole number",
    );
    assert_refused(
        |dir| {
            let samples = vec![1000u16; 18 * 12];
            let shifted = geotiff::georeference(
                utm(2).crs.unwrap(),
                [500_040.0, 20.0, 0.0, 4_680_000.0, 0.0, -20.0],
            );
            write_band::<Gray16>(&dir.join(b05), (18, 12), &samples, Some(&shifted), None);
        },
        &[b05],
        "more than one of the band's pixels away",
    );
    assert_refused(
        |dir| {
            let samples = vec![1000u16; 18 * 12];
            write_band::<Gray16>(&dir.join(b05), (18, 12), &samples, None, None);
        },
        &[b05, "T52SDG_2023-08-01_B02.tif"],
        "all georeferenced or none is",
    );
    assert_refused(
        |dir| {
            let samples = vec![1000u16; (WIDTH * HEIGHT) as usize];
            write_band::<Gray16>(
                &dir.join("quicklook.tif"),
                (WIDTH, HEIGHT),
                &samples,
                None,
                None,
            );
        },
        &["quicklook.tif"],
        "carries no band id",
    );
    assert_refused(
        |dir| {
            let samples = vec![1000u16; (WIDTH * HEIGHT) as usize * 3];
            write_band::<RGB16>(
                &dir.join(b03),
                (WIDTH, HEIGHT),
                &samples,
                Some(&utm(1)),
                None,
            );
        },
        &[b03],
        "holds 3 bands",
    );
    assert_refused(
        |dir| {
            std::fs::copy(dir.join(b03), dir.join("copy_B03.tiff"))
                .map(drop)
                .unwrap()
        },
        &[b03, "copy_B03.tiff"],
        "same band id",
    );
    // Through the binary: an error naming the folder, status 1, no mask written.
    let (root, dir) = spoiled(|_| {});
    let mask = root.path().join("mask.png");
    let output = portwatch(
        &[
            "pair",
            empty.path().to_str().unwrap(),
            dir.to_str().unwrap(),
            "--device",
            "cpu",
            "--mask-out",
            mask.to_str().unwrap(),
        ],
        root.path(),
    );
    assert_error(
        &output,
        &[&empty.path().display().to_string(), "no band files"],
    );
    assert!(!mask.exists());
}

/// `portwatch run ARCHIVE SETTINGS EXTRA --device DEVICE --out OUT`, as [`common::run::run_on`].
fn run(archive: &Path, device: &str, extra: &[&str]) -> Option<tempfile::TempDir> {
    let flags: Vec<&str> = SETTINGS.iter().chain(extra).copied().collect();
    run_on(device, archive, &flags).map(|(out, _)| out)
}

#[test]
fn an_archive_of_folder_scenes_runs_with_the_same_bytes_on_both_backends() {
    let archive = stack_archive();
    let cpu = run(archive.path(), "cpu", &["--masks"]).unwrap();
    let events = std::fs::read_to_string(cpu.path().join("events.csv")).unwrap();
    assert!(
        events.contains("2023-08-07,berth-1,berth,arrival,"),
        "{events}"
    );
    assert!(
        events.contains("2023-08-09,\"yard, north\",yard,fill,"),
        "{events}"
    );
    // The georeferencing of the 10 m bands gives the pixel size: a 16 px ship is 160 m.
    assert!(events.contains("arrival,160.0"), "{events}");
    if let Some(gpu) = run(archive.path(), "gpu", &["--masks"]) {
        assert_same_outputs(cpu.path(), gpu.path());
    }
    // The same regions in the map coordinates of the 10 m grid measure the same.
    let mut regions: serde_json::Value = serde_json::from_str(REGIONS).unwrap();
    for feature in regions["features"].as_array_mut().unwrap() {
        for ring in feature["geometry"]["coordinates"].as_array_mut().unwrap() {
            for point in ring.as_array_mut().unwrap() {
                let [column, row] = [0, 1].map(|i| point[i].as_f64().unwrap());
                *point = serde_json::json!([500_000.0 + 10.0 * column, 4_680_000.0 - 10.0 * row]);
            }
        }
    }
    regions["crs"] = "EPSG:32652".into();
    let map_regions = archive.path().join("map.geojson");
    std::fs::write(&map_regions, regions.to_string()).unwrap();
    let mapped = run(
        archive.path(),
        "cpu",
        &["--masks", "--regions", map_regions.to_str().unwrap()],
    )
    .unwrap();
    for table in ["pairs.csv", "series.csv", "events.csv"] {
        assert_eq!(
            std::fs::read(mapped.path().join(table)).unwrap(),
            std::fs::read(cpu.path().join(table)).unwrap(),
            "{table}"
        );
    }
    let picked = run(archive.path(), "cpu", &["--bands", "2,4,6"]).unwrap();
    let record = std::fs::read_to_string(picked.path().join("run.json")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&record).unwrap();
    assert_eq!(record["arguments"]["bands"], serde_json::json!([2, 4, 6]));
    // A folder scene that cannot be decoded is left out, named by its band file.
    std::fs::write(
        band_path(&archive.path().join(DATES[1]), 1, 2),
        b"not a TIFF",
    )
    .unwrap();
    assert_left_out(archive.path(), &SETTINGS, &["T52SDG_2023-08-03_B03.tif"]);
}

#[test]
fn pair_masks_of_folder_scenes_are_the_same_on_both_backends() {
    let root = tempfile::tempdir().unwrap();
    let (before, after) = (root.path().join("before"), root.path().join("after"));
    write_stack(&before, NODATA_DATE);
    write_stack(&after, 4);
    // A user mask beside BEFORE's folder hides its 4 leftmost columns.
    image::GrayImage::from_fn(WIDTH, HEIGHT, |x, _| {
        image::Luma([if x < 4 { 0 } else { 255 }])
    })
    .save(root.path().join("before.mask.png"))
    .unwrap();
    let pair = |device: &str, bands: &str| {
        let mask = root.path().join(format!("mask-{device}-{bands}.png"));
        let mut args = vec![
            "pair",
            before.to_str().unwrap(),
            after.to_str().unwrap(),
            "--json",
            "--device",
            device,
            "--mask-out",
            mask.to_str().unwrap(),
        ];
        if !bands.is_empty() {
            args.extend(["--bands", bands]);
        }
        let output = portwatch(&args, root.path());
        (output, std::fs::read(&mask).ok())
    };
    for bands in ["", "2,3,4,5"] {
        let (cpu, cpu_mask) = pair("cpu", bands);
        assert!(cpu.status.success(), "{}", stderr(&cpu));
        let json: serde_json::Value = serde_json::from_slice(&cpu.stdout).unwrap();
        let expected_bands = if bands.is_empty() { 7 } else { 4 };
        assert_eq!(json["bands"], expected_bands);
        assert_eq!(
            (json["width"].as_u64(), json["height"].as_u64()),
            (Some(36), Some(24))
        );
        // The ship and the stack changed; the masked columns and BEFORE's 2x2 nodata pixels are left out.
        let changed = json["regions"][0]["changed_px"].as_u64().unwrap();
        assert!(changed >= 16 * 4, "{json}");
        assert_eq!(
            json["regions"][0]["valid_px"],
            WIDTH * HEIGHT - 4 * HEIGHT - 4
        );
        let (gpu, gpu_mask) = pair("gpu", bands);
        if !gpu.status.success() && stderr(&gpu).contains("GPU") && !common::gpu_required() {
            eprintln!("SKIPPED pair on the GPU: no GPU adapter");
            return;
        }
        assert!(gpu.status.success(), "{}", stderr(&gpu));
        assert_eq!(cpu.stdout, gpu.stdout);
        assert_eq!(cpu_mask.unwrap(), gpu_mask.unwrap());
    }
}

#[test]
fn a_changed_band_file_is_decoded_again_on_resume() {
    let archive = stack_archive();
    let out = tempfile::tempdir().unwrap();
    // `portwatch run` into `out`, aborted by the test hook after `abort_after` store entries when given.
    let run_into = |out: &Path, abort_after: Option<&str>| {
        let mut command = std::process::Command::new(common::portwatch_bin());
        command
            .arg("run")
            .arg(archive.path())
            .args(SETTINGS)
            .args(["--device", "cpu", "--quiet", "--out"])
            .arg(out);
        if let Some(entries) = abort_after {
            command.env("PORTWATCH_TEST_ABORT_AFTER", entries);
        }
        command.output().unwrap()
    };
    let stopped = run_into(out.path(), Some("1"));
    assert_eq!(stopped.status.code(), None, "{}", stderr(&stopped));
    let stored: Vec<String> = std::fs::read_dir(out.path().join("work/scenes"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let date = DATES
        .iter()
        .position(|date| stored.contains(&format!("{date}.scene")))
        .unwrap_or_else(|| panic!("no scene stored: {stored:?}"));
    // The stored scene's B02, rewritten in place (its folder's own time stays), now shows a ship, or
    // none, as another date's: the resumed run must see it.
    let other_date = if date >= 3 { 0 } else { 3 };
    let dir = archive.path().join(DATES[date]);
    let folder_time = std::fs::metadata(&dir).unwrap().modified().unwrap();
    write_band_file(&band_path(&dir, date, 1), other_date, 1);
    assert_eq!(
        std::fs::metadata(&dir).unwrap().modified().unwrap(),
        folder_time
    );
    let resumed = run_into(out.path(), None);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let fresh = tempfile::tempdir().unwrap();
    let output = run_into(fresh.path(), None);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_same_outputs(fresh.path(), out.path());
}

#[test]
fn the_oscd_mumbai_band_folders_decode_onto_the_10_m_grid() {
    let dir = common::data_folder().join("oscd-13band/mumbai/imgs_1");
    if !dir.is_dir() {
        eprintln!(
            "SKIPPED the_oscd_mumbai_band_folders_decode_onto_the_10_m_grid: {} is absent (set \
             PORTWATCH_DATA to the data folder)",
            dir.display()
        );
        return;
    }
    let stack = read(&dir, None).unwrap();
    let format = stack.scene.format;
    assert_eq!(
        (
            format.width,
            format.height,
            format.bands,
            format.bits_per_sample
        ),
        (557, 858, 13, 16)
    );
    let grid = stack.georeference.clone().unwrap();
    let files = portwatch::band_stack::band_files(&dir).unwrap();
    let ids: Vec<String> = files
        .iter()
        .map(|f| {
            let stem = f.file_stem().unwrap().to_string_lossy();
            stem[stem.len() - 3..].to_owned()
        })
        .collect();
    assert_eq!(
        ids,
        [
            "B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11",
            "B12"
        ]
    );
    // Each band as decoded on its own grid: the stack holds, at every pixel, the band's pixel under
    // the pixel's centre.
    for (band, file) in files.iter().enumerate() {
        let single = SceneFile::read(file, &DecodeOptions::default()).unwrap();
        let own = single.georeference.unwrap();
        let width = single.scene.format.width;
        for (x, y) in [(0, 0), (556, 857), (300, 200), (1, 433), (555, 5)] {
            let [mx, my] = grid.to_map(f64::from(x) + 0.5, f64::from(y) + 0.5);
            let [cx, cy] = own.to_pixel(mx, my);
            let source = cy as usize * width as usize + cx as usize;
            assert_eq!(
                stack.scene.sample((y * 557 + x) as usize, band),
                single.scene.sample(source, 0),
                "{} at ({x}, {y})",
                file.display()
            );
        }
    }
}
