//! The bundled sample is what the synthetic port renderer makes: regenerating it must give the same
//! pixels, masks, regions and truth (`cargo run --release --example make_sample` rewrites it).

use portwatch::synth::{SampleSpec, regions_geojson, render_sample};
use std::path::Path;

#[test]
fn samples_are_reproduced_by_the_renderer() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let archive = render_sample(&SampleSpec::default());
    for scene in &archive.scenes {
        let path = dir.join(format!("{}.png", scene.date));
        let stored = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(
            stored.into_rgb8() == scene.image,
            "{} differs from the renderer's scene",
            path.display()
        );
        let mask_path = dir.join(format!("{}.mask.png", scene.date));
        match &scene.cloud_mask {
            Some(mask) => assert!(
                image::open(&mask_path).unwrap().into_luma8() == *mask,
                "{}",
                mask_path.display()
            ),
            None => assert!(
                !mask_path.exists(),
                "{} should not exist",
                mask_path.display()
            ),
        }
    }
    let scene_files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".png")
        })
        .count();
    let masks = archive
        .scenes
        .iter()
        .filter(|s| s.cloud_mask.is_some())
        .count();
    assert_eq!(
        scene_files,
        archive.scenes.len() + masks,
        "samples/ holds PNGs the renderer does not make"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("regions.geojson")).unwrap(),
        regions_geojson(&archive.regions)
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("truth.csv")).unwrap(),
        archive.truth_csv()
    );
}
