// Stage 3: threshold the (smoothed) magnitudes, accumulate per-region valid and changed counts, 64-bit
// magnitude sums and histograms, optionally write the change bitmap and count each region's profile. The
// change bitmap is thresholded at `params.threshold`, each region's counts at its own threshold.
// CPU mirror: src/kernel/cpu/region_stats.rs.

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> magnitude: array<u32>;
// Region label per pixel, 1-based (0 = outside every region), two 16-bit labels to a word.
@group(0) @binding(2) var<storage, read> labels: array<u32>;
@group(0) @binding(3) var<storage, read_write> stats: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> change_mask: array<u32>;
// Position along the region's axis per pixel, packed like the labels.
@group(0) @binding(5) var<storage, read> positions: array<u32>;
// Where region l's profile starts, in bins: entry l - 1.
@group(0) @binding(6) var<storage, read> profile_offsets: array<u32>;
// The regions' concatenated profiles, PROFILE_WORDS words a bin.
@group(0) @binding(7) var<storage, read_write> profiles: array<atomic<u32>>;
// Each region's threshold: entry l - 1.
@group(0) @binding(8) var<storage, read> region_thresholds: array<u32>;

// The region of the pass's pixel, 0 outside the counted pixels.
fn label_at(pixel: u32) -> u32 {
    if pixel < params.counted_first || pixel >= params.counted_end {
        return 0u;
    }
    let raster_pixel = params.label_offset + pixel;
    return (labels[raster_pixel >> 1u] >> ((raster_pixel & 1u) * 16u)) & 0xffffu;
}

fn position_at(pixel: u32) -> u32 {
    let raster_pixel = params.label_offset + pixel;
    return (positions[raster_pixel >> 1u] >> ((raster_pixel & 1u) * 16u)) & 0xffffu;
}

// Adds one run of pixels of a single region to the global totals; the magnitude sum is a 64-bit value kept
// as two words, carried by hand because WGSL has no 64-bit atomics.
fn flush(label: u32, valid: u32, changed: u32, sum: u32) {
    if label == 0u || valid == 0u {
        return;
    }
    let base = (label - 1u) * STATS_WORDS;
    atomicAdd(&stats[base + STAT_VALID], valid);
    atomicAdd(&stats[base + STAT_CHANGED], changed);
    let before = atomicAdd(&stats[base + STAT_SUM_LO], sum);
    if before + sum < before {
        atomicAdd(&stats[base + STAT_SUM_HI], 1u);
    }
}

@compute @workgroup_size(256)
fn main(
    @builtin(workgroup_id) workgroup: vec3<u32>,
    @builtin(num_workgroups) workgroups: vec3<u32>,
    @builtin(local_invocation_index) local: u32,
) {
    let word = invocation_index(workgroup, workgroups, local);
    let first = word * PIXELS_PER_INVOCATION;
    if first >= pixel_count() {
        return;
    }
    let end = min(first + PIXELS_PER_INVOCATION, pixel_count());
    var mask_word = 0u;
    var run_label = 0u;
    var run_valid = 0u;
    var run_changed = 0u;
    // At most 32 magnitudes of at most 16 · 65535 each: no overflow.
    var run_sum = 0u;
    for (var pixel = first; pixel < end; pixel++) {
        let label = label_at(pixel);
        if label == 0u && params.write_change_mask == 0u {
            continue;
        }
        let m = magnitude[pixel];
        if m == INVALID {
            continue;
        }
        if m > params.threshold {
            mask_word |= 1u << (pixel - first);
        }
        if label == 0u {
            continue;
        }
        let changed = m > region_thresholds[label - 1u];
        if params.write_profiles != 0u {
            let bin = (profile_offsets[label - 1u] + position_at(pixel)) * PROFILE_WORDS;
            atomicAdd(&profiles[bin + PROFILE_VALID], 1u);
            if changed {
                atomicAdd(&profiles[bin + PROFILE_CHANGED], 1u);
            }
        }
        if label != run_label {
            flush(run_label, run_valid, run_changed, run_sum);
            run_label = label;
            run_valid = 0u;
            run_changed = 0u;
            run_sum = 0u;
        }
        run_valid += 1u;
        run_changed += select(0u, 1u, changed);
        run_sum += m;
        atomicAdd(&stats[(label - 1u) * STATS_WORDS + STAT_HISTOGRAM + histogram_bin(m)], 1u);
    }
    flush(run_label, run_valid, run_changed, run_sum);
    if params.write_change_mask != 0u {
        change_mask[word] = mask_word;
    }
}
