// Stage 2 (radius > 0 only): the integer mean of the valid magnitudes in the (2r + 1)² window around each
// valid pixel, clipped at the image borders; invalid pixels stay invalid. CPU mirror: src/kernel/cpu/smooth.rs.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> magnitude: array<u32>;
@group(0) @binding(2) var<storage, read_write> smoothed: array<u32>;

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
    if magnitude[pixel] == INVALID {
        smoothed[pixel] = INVALID;
        return;
    }
    let x = pixel % params.width;
    let y = pixel / params.width;
    let r = params.radius;
    let x0 = select(0u, x - r, x >= r);
    let y0 = select(0u, y - r, y >= r);
    let x1 = min(x + r, params.width - 1u);
    let y1 = min(y + r, params.height - 1u);
    var sum = 0u;
    var count = 0u;
    for (var wy = y0; wy <= y1; wy++) {
        for (var wx = x0; wx <= x1; wx++) {
            let m = magnitude[wy * params.width + wx];
            if m != INVALID {
                sum += m;
                count += 1u;
            }
        }
    }
    smoothed[pixel] = sum / count;
}
