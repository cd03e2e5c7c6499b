// Coarse-graining, fourth pass: the adjusted 7-bucket state, one invocation per row. The
// row's most frequent value (ties: the one seen first from the left) replaces the whole
// row when the row spans at most one bucket (ADJUST_ROWWISE, the authors' code), or each
// cell within one bucket of it (ADJUST_CELLWISE, the paper's words).
// CPU twin: `reference::adjust_row`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> buckets: array<u32>;
@group(0) @binding(2) var<storage, read_write> adjusted: array<u32>;

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
    var counts = array<u32, 7>(0u, 0u, 0u, 0u, 0u, 0u, 0u);
    var first = array<u32, 7>(n, n, n, n, n, n, n);
    var low = 6u;
    var high = 0u;
    for (var c = 0u; c < n; c = c + 1u) {
        let v = buckets[start + c];
        counts[v] = counts[v] + 1u;
        first[v] = min(first[v], c);
        low = min(low, v);
        high = max(high, v);
    }
    var majority = 0u;
    for (var v = 1u; v < 7u; v = v + 1u) {
        let more = counts[v] > counts[majority];
        let tie_earlier = counts[v] == counts[majority] && first[v] < first[majority];
        if (more || tie_earlier) {
            majority = v;
        }
    }
    let flat_row = high - low <= 1u;
    for (var c = 0u; c < n; c = c + 1u) {
        let v = buckets[start + c];
        var out = v;
        if (params.adjust == ADJUST_ROWWISE) {
            out = select(v, majority, flat_row);
        } else if (max(v, majority) - min(v, majority) <= 1u) {
            out = majority;
        }
        adjusted[start + c] = out;
    }
}
