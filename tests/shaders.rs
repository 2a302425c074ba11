//! Every WGSL stage must parse and validate with naga, on any machine, GPU or not; and every stage must
//! have its CPU mirror of the same name.

use portwatch::kernel::gpu::{STAGES, shader_source};
use std::path::Path;

#[test]
fn every_stage_validates_with_naga() {
    for (stage, wgsl) in STAGES {
        let source = shader_source(wgsl);
        let module = naga::front::wgsl::parse_str(&source).unwrap_or_else(|e| {
            panic!(
                "shaders/{stage}.wgsl does not parse:\n{}",
                e.emit_to_string(&source)
            )
        });
        naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::empty(),
        )
        .validate(&module)
        .unwrap_or_else(|e| {
            panic!(
                "shaders/{stage}.wgsl does not validate:\n{}",
                e.emit_to_string(&source)
            )
        });
        assert!(
            module
                .entry_points
                .iter()
                .any(|e| e.name == "main" && e.stage == naga::ShaderStage::Compute),
            "shaders/{stage}.wgsl has no compute entry point named main"
        );
    }
}

#[test]
fn each_shader_file_is_a_stage_with_a_cpu_mirror() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files: Vec<String> = std::fs::read_dir(root.join("shaders"))
        .unwrap()
        .map(|entry| {
            entry
                .unwrap()
                .path()
                .file_stem()
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    files.sort();
    let mut expected: Vec<String> = STAGES
        .iter()
        .map(|(stage, _)| stage.to_string())
        .chain(["params".into()])
        .collect();
    expected.sort();
    assert_eq!(
        files, expected,
        "shaders/ must hold params.wgsl and exactly the stages in STAGES"
    );
    for (stage, wgsl) in STAGES {
        let on_disk = std::fs::read_to_string(root.join(format!("shaders/{stage}.wgsl"))).unwrap();
        assert_eq!(on_disk, wgsl);
        let mirror = root.join(format!("src/kernel/cpu/{stage}.rs"));
        assert!(
            mirror.exists(),
            "shaders/{stage}.wgsl has no CPU mirror at {}",
            mirror.display()
        );
    }
}
