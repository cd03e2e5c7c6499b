// Coarse-graining, third pass: each cell's window average over the g x g window centred
// on it, truncated at the borders (only in-grid cells count), thresholded into 3 buckets
// (average <= 1/3, <= 2/3, above) and into 7 (the smallest k with average / max_value
// <= k/6, at most 6). Both thresholds compare integers: 3 S <= C, 6 S <= k C max_value.
// CPU twin: `reference::coarse_grain`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> sat: array<u32>;
@group(0) @binding(2) var<storage, read_write> coarse: array<u32>;
@group(0) @binding(3) var<storage, read_write> buckets: array<u32>;

// Sum of rows <= r and columns <= c, where r or c may be -1 (an empty rectangle).
fn corner(base: u32, r: i32, c: i32) -> u32 {
    if (r < 0 || c < 0) {
        return 0u;
    }
    return sat[base + u32(r) * params.n + u32(c)];
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    let nn = params.n * params.n;
    if (i >= params.replicas * nn) {
        return;
    }
    let base = (i / nn) * nn;
    let cell = i % nn;
    let n = i32(params.n);
    let h = i32(params.grain_half);
    let row = i32(cell / params.n);
    let col = i32(cell % params.n);
    let r0 = max(row - h, 0);
    let r1 = min(row + h, n - 1);
    let c0 = max(col - h, 0);
    let c1 = min(col + h, n - 1);
    let sum = corner(base, r1, c1) + corner(base, r0 - 1, c0 - 1)
        - corner(base, r0 - 1, c1) - corner(base, r1, c0 - 1);
    let count = u32((r1 - r0 + 1) * (c1 - c0 + 1));
    var three = 2u;
    if (3u * sum <= count) {
        three = 0u;
    } else if (3u * sum <= 2u * count) {
        three = 1u;
    }
    coarse[i] = three;
    let scale = count * params.max_value;
    var seven = 6u;
    for (var k = 0u; k < 6u; k = k + 1u) {
        if (6u * sum <= k * scale) {
            seven = k;
            break;
        }
    }
    buckets[i] = seven;
}
