//! The bundled sample is what `portwatch synth --scenario sample --out samples` writes: regenerating it
//! must give the same pixels, masks, regions and truth.

use portwatch::synth::{Samples, Scenario, Synthesizer, regions_geojson};
use std::path::Path;

#[test]
fn samples_are_reproduced_by_the_synthesizer() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("samples");
    let synth = Synthesizer::new(&Scenario::Sample.defaults()).unwrap();
    let mut expected_files = vec![
        "README.md".to_string(),
        "regions.geojson".into(),
        "truth.csv".into(),
        "truth_events.csv".into(),
    ];
    for index in 0..synth.dates().len() {
        let scene = synth.render(index);
        let path = dir.join(format!("{}.png", scene.date));
        let stored = image::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let Samples::Eight(rendered) = &scene.raster.samples else {
            panic!("the sample is 8-bit");
        };
        assert!(
            stored.into_rgb8().as_raw() == rendered,
            "{} differs from the synthesizer's scene",
            path.display()
        );
        expected_files.push(format!("{}.png", scene.date));
        if let Some(mask) = &scene.mask {
            let mask_path = dir.join(format!("{}.mask.png", scene.date));
            assert!(
                image::open(&mask_path).unwrap().into_luma8() == *mask,
                "{}",
                mask_path.display()
            );
            expected_files.push(format!("{}.mask.png", scene.date));
        }
    }
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    expected_files.sort();
    assert_eq!(
        files, expected_files,
        "samples/ holds other files than the synthesizer writes"
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    assert_eq!(read("regions.geojson"), regions_geojson(synth.regions()));
    assert_eq!(read("truth.csv"), synth.truth_csv());
    assert_eq!(read("truth_events.csv"), synth.events_csv());
}
