// Stage 1: the change magnitude of every pixel, sum over bands of |a' - b'| of the radiometrically
// corrected samples on the native sample scale, or INVALID where either scene is masked or its raw samples
// are nodata. CPU mirror: src/kernel/cpu/magnitude.rs.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scene_a: array<u32>;
@group(0) @binding(2) var<storage, read> scene_b: array<u32>;
@group(0) @binding(3) var<storage, read> validity_a: array<u32>;
@group(0) @binding(4) var<storage, read> validity_b: array<u32>;
@group(0) @binding(5) var<uniform> radiometry_a: Radiometry;
@group(0) @binding(6) var<uniform> radiometry_b: Radiometry;
@group(0) @binding(7) var<storage, read_write> magnitude: array<u32>;

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let pixel = invocation_index(workgroup, workgroups, local);
    if pixel >= pixel_count() {
        return;
    }
    var valid = true;
    if (params.validity_bitmaps & 1u) != 0u {
        valid = valid && bitmap_bit(validity_a[pixel >> 5u], pixel);
    }
    if (params.validity_bitmaps & 2u) != 0u {
        valid = valid && bitmap_bit(validity_b[pixel >> 5u], pixel);
    }
    var a_is_nodata = true;
    var b_is_nodata = true;
    var sum = 0u;
    for (var band = 0u; band < params.bands; band++) {
        let s = pixel * params.bands + band;
        let w = sample_word(s);
        let a = sample_value(scene_a[w], s);
        let b = sample_value(scene_b[w], s);
        a_is_nodata = a_is_nodata && a == params.nodata;
        b_is_nodata = b_is_nodata && b == params.nodata;
        // Band b's gain and offset: component b & 3 of vec4 b >> 2.
        let v = band >> 2u;
        let c = band & 3u;
        let a_corrected = radiometry_apply(radiometry_a.gain[v][c], radiometry_a.offset[v][c], a);
        let b_corrected = radiometry_apply(radiometry_b.gain[v][c], radiometry_b.offset[v][c], b);
        sum += max(a_corrected, b_corrected) - min(a_corrected, b_corrected);
    }
    if params.nodata_enabled != 0u && (a_is_nodata || b_is_nodata) {
        valid = false;
    }
    magnitude[pixel] = select(INVALID, sum, valid);
}
