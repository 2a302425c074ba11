//! What each fuzz target does with one input, shared with `tests/fuzz_corpus.rs`, which runs the
//! committed corpora through the same functions as an ordinary test. Each must return, whatever the
//! bytes: an error is a fine answer, a panic is a bug.

use portwatch::acquisition::Acquisition;
use portwatch::rasterize::LabelRaster;
use portwatch::regions::RegionSet;
use portwatch::scene::Scene;
use std::path::Path;

/// The file-name date parser on any stem; what it finds must read back the same from the stem
/// `YYYYMMDD[THHMMSS]` written for it.
pub fn date_parser(data: &[u8]) {
    let stem = String::from_utf8_lossy(data);
    if let Some(acquired) = Acquisition::from_stem(&stem) {
        let time = acquired
            .time
            .map_or_else(String::new, |t| t.format("T%H%M%S").to_string());
        let written = format!("{}{time}", acquired.date.format("%Y%m%d"));
        assert_eq!(Acquisition::from_stem(&written), Some(acquired), "{stem:?}");
    }
}

/// The GeoJSON region reader, and the rasterizer on a small image for the regions it accepts.
pub fn regions(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(regions) = RegionSet::parse(text, Path::new("fuzz.geojson")) {
        let _ = LabelRaster::rasterize(&regions, 48, 32);
    }
}

/// The scene decoder (PNG, JPEG, TIFF, told apart by their content).
pub fn image_loader(data: &[u8]) {
    let _ = Scene::decode_bytes(data, Path::new("fuzz"));
}
