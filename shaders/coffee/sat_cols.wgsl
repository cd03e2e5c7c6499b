// Coarse-graining, second pass: running sums down each column, completing the summed-area
// table (entry (r, c) holds the sum of the cells at rows <= r and columns <= c).
// CPU twin: `reference::summed_area`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> sat: array<u32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let column = linear_workgroup(wid, nwg) * WG + lid;
    let n = params.n;
    if (column >= params.replicas * n) {
        return;
    }
    let base = (column / n) * n * n + column % n;
    for (var r = 1u; r < n; r = r + 1u) {
        sat[base + r * n] = sat[base + r * n] + sat[base + (r - 1u) * n];
    }
}
