// Stage 1: the change magnitude of every pixel, sum over bands of |a - b| on the native sample scale,
// or INVALID where either scene is masked or nodata. CPU mirror: src/kernel/cpu/magnitude.rs.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> scene_a: array<u32>;
@group(0) @binding(2) var<storage, read> scene_b: array<u32>;
@group(0) @binding(3) var<storage, read> validity_a: array<u32>;
@group(0) @binding(4) var<storage, read> validity_b: array<u32>;
@group(0) @binding(5) var<storage, read_write> magnitude: array<u32>;

// Where sample `s` (pixel * bands + band) sits: its word, and its shift inside the word.
fn sample_word(s: u32) -> u32 {
    return select(s >> 1u, s >> 2u, params.bits_per_sample == 8u);
}

fn sample_value(word: u32, s: u32) -> u32 {
    let per_word_mask = select(1u, 3u, params.bits_per_sample == 8u);
    let sample_mask = (1u << params.bits_per_sample) - 1u;
    return (word >> ((s & per_word_mask) * params.bits_per_sample)) & sample_mask;
}

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
        sum += max(a, b) - min(a, b);
    }
    if params.nodata_enabled != 0u && (a_is_nodata || b_is_nodata) {
        valid = false;
    }
    magnitude[pixel] = select(INVALID, sum, valid);
}
