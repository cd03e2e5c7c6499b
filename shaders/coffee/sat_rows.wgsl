// Coarse-graining, first pass: running sums along each row of each replica (the rows of
// the integer summed-area table), and each row's total. CPU twin: `reference::summed_area`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> cells: array<u32>;
@group(0) @binding(2) var<storage, read_write> sat: array<u32>;
@group(0) @binding(3) var<storage, read_write> row_totals: array<u32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let row = linear_workgroup(wid, nwg) * WG + lid;
    let n = params.n;
    if (row >= params.replicas * n) {
        return;
    }
    let start = row * n;
    var sum = 0u;
    for (var c = 0u; c < n; c = c + 1u) {
        sum = sum + cells[start + c];
        sat[start + c] = sum;
    }
    row_totals[row] = sum;
}
