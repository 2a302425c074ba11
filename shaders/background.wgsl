// The background of a stack of scenes, one stripe of rows at a time: per pixel and band, the lower median
// of the radiometrically corrected samples of the valid observations, the smallest m such that at least
// (n + 1) / 2 of the n valid observations are at most m. An observation is valid when its validity bit is
// set and, with nodata, not every raw band equals it. One invocation per pixel of the stripe.
// CPU mirror: src/kernel/cpu/background.rs.

// Keep in sync with `Stripe` in src/kernel/gpu.rs.
struct Stripe {
    // The stripe's first pixel and its number of pixels.
    first_pixel: u32,
    pixels: u32,
    // The first word of the scenes' samples and of their validity bitmaps held for the stripe.
    first_word: u32,
    first_validity_word: u32,
    // Words per scene in `stack` and in `stack_validity`.
    scene_words: u32,
    validity_words: u32,
    scenes: u32,
    _padding: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> stripe: Stripe;
// Scene after scene, the stripe's words of samples, `stripe.scene_words` words apart.
@group(0) @binding(2) var<storage, read> stack: array<u32>;
// Scene after scene, the stripe's words of the validity bitmaps (all ones for a scene without one).
@group(0) @binding(3) var<storage, read> stack_validity: array<u32>;
@group(0) @binding(4) var<storage, read> stack_radiometry: array<Radiometry>;
// The stripe's words of background samples and of its validity bitmap, cleared before the dispatch.
@group(0) @binding(5) var<storage, read_write> background: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> background_validity: array<atomic<u32>>;

fn raw_sample(scene: u32, s: u32) -> u32 {
    return sample_value(stack[scene * stripe.scene_words + sample_word(s) - stripe.first_word], s);
}

fn is_valid(scene: u32, pixel: u32) -> bool {
    let word = scene * stripe.validity_words + (pixel >> 5u) - stripe.first_validity_word;
    let marked = bitmap_bit(stack_validity[word], pixel);
    var nodata = params.nodata_enabled != 0u;
    for (var band = 0u; band < params.bands && nodata; band++) {
        nodata = raw_sample(scene, pixel * params.bands + band) == params.nodata;
    }
    return marked && !nodata;
}

fn corrected_sample(scene: u32, pixel: u32, band: u32) -> u32 {
    let v = band >> 2u;
    let c = band & 3u;
    let value = raw_sample(scene, pixel * params.bands + band);
    return radiometry_apply(stack_radiometry[scene].gain[v][c], stack_radiometry[scene].offset[v][c], value);
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let index = invocation_index(workgroup, workgroups, local);
    if index >= stripe.pixels {
        return;
    }
    let pixel = stripe.first_pixel + index;
    var valid_count = 0u;
    for (var scene = 0u; scene < stripe.scenes; scene++) {
        valid_count += select(0u, 1u, is_valid(scene, pixel));
    }
    if valid_count > 0u {
        let word = (pixel >> 5u) - stripe.first_validity_word;
        atomicOr(&background_validity[word], 1u << (pixel & 31u));
    }
    // The median is the largest m with fewer than half of the valid observations below it, built from the
    // top bit down. With no valid observation, half is 0 and the median stays 0.
    let half = (valid_count + 1u) / 2u;
    for (var band = 0u; band < params.bands; band++) {
        var median = 0u;
        for (var bit = params.bits_per_sample; bit > 0u; bit--) {
            let candidate = median | (1u << (bit - 1u));
            var below = 0u;
            for (var scene = 0u; scene < stripe.scenes; scene++) {
                if is_valid(scene, pixel) && corrected_sample(scene, pixel, band) < candidate {
                    below += 1u;
                }
            }
            if below < half {
                median = candidate;
            }
        }
        let s = pixel * params.bands + band;
        atomicOr(&background[sample_word(s) - stripe.first_word], median << sample_shift(s));
    }
}
