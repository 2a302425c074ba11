// Co-registration: for every integer shift d = (dx, dy) within ±radius, over the pixels p of the inner
// window (radius px in from every edge) valid in scene a at p and in scene b at p + d: how many, and the
// sum of Σ over bands |a'(p) - b'(p + d)| of the radiometrically corrected samples. One invocation sums one
// segment of a row for one shift. CPU mirror: src/kernel/cpu/coregister.rs.

// Keep in sync with `Search` in src/kernel/params.rs.
struct Search {
    radius: u32,
    segments_per_row: u32,
    inner_rows: u32,
    shifts: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> search: Search;
@group(0) @binding(2) var<storage, read> scene_a: array<u32>;
@group(0) @binding(3) var<storage, read> scene_b: array<u32>;
@group(0) @binding(4) var<storage, read> validity_a: array<u32>;
@group(0) @binding(5) var<storage, read> validity_b: array<u32>;
@group(0) @binding(6) var<uniform> radiometry_a: Radiometry;
@group(0) @binding(7) var<uniform> radiometry_b: Radiometry;
// Per shift: pixels compared, then the sum as low and high words (WGSL has no 64-bit atomics).
@group(0) @binding(8) var<storage, read_write> costs: array<atomic<u32>>;

const SEARCH_SEGMENT_PIXELS: u32 = 64u;
const COST_WORDS: u32 = 3u;

// valid_a and valid_b differ only in the buffers they read: WGSL functions cannot take storage buffers as
// arguments.
fn valid_a(pixel: u32) -> bool {
    if (params.validity_bitmaps & 1u) != 0u && !bitmap_bit(validity_a[pixel >> 5u], pixel) {
        return false;
    }
    if params.nodata_enabled == 0u {
        return true;
    }
    for (var band = 0u; band < params.bands; band++) {
        let s = pixel * params.bands + band;
        if sample_value(scene_a[sample_word(s)], s) != params.nodata {
            return true;
        }
    }
    return false;
}

fn valid_b(pixel: u32) -> bool {
    if (params.validity_bitmaps & 2u) != 0u && !bitmap_bit(validity_b[pixel >> 5u], pixel) {
        return false;
    }
    if params.nodata_enabled == 0u {
        return true;
    }
    for (var band = 0u; band < params.bands; band++) {
        let s = pixel * params.bands + band;
        if sample_value(scene_b[sample_word(s)], s) != params.nodata {
            return true;
        }
    }
    return false;
}

// Σ over bands |a'(p) - b'(q)|.
fn difference(p: u32, q: u32) -> u32 {
    var sum = 0u;
    for (var band = 0u; band < params.bands; band++) {
        let sa = p * params.bands + band;
        let sb = q * params.bands + band;
        let v = band >> 2u;
        let c = band & 3u;
        let a = radiometry_apply(radiometry_a.gain[v][c], radiometry_a.offset[v][c], sample_value(scene_a[sample_word(sa)], sa));
        let b = radiometry_apply(radiometry_b.gain[v][c], radiometry_b.offset[v][c], sample_value(scene_b[sample_word(sb)], sb));
        sum += max(a, b) - min(a, b);
    }
    return sum;
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let index = invocation_index(workgroup, workgroups, local);
    let per_shift = search.inner_rows * search.segments_per_row;
    if index >= per_shift * search.shifts {
        return;
    }
    let shift = index / per_shift;
    let row = (index % per_shift) / search.segments_per_row;
    let segment = index % search.segments_per_row;
    let side = 2u * search.radius + 1u;
    let dx = i32(shift % side) - i32(search.radius);
    let dy = i32(shift / side) - i32(search.radius);
    let y = row + search.radius;
    let start = search.radius + segment * SEARCH_SEGMENT_PIXELS;
    let end = min(start + SEARCH_SEGMENT_PIXELS, params.width - search.radius);
    var pixels = 0u;
    var sum = 0u;
    for (var x = start; x < end; x++) {
        let p = y * params.width + x;
        let q = u32(i32(y) + dy) * params.width + u32(i32(x) + dx);
        if valid_a(p) && valid_b(q) {
            pixels += 1u;
            sum += difference(p, q);
        }
    }
    if pixels == 0u {
        return;
    }
    let base = shift * COST_WORDS;
    atomicAdd(&costs[base], pixels);
    let before = atomicAdd(&costs[base + 1u], sum);
    if before > 0xffffffffu - sum {
        atomicAdd(&costs[base + 2u], 1u);
    }
}
