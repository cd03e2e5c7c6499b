// One pass of a multi-pass reduction of `rows` rows of `n` values each (sum, max or
// log-sum-exp by OP_SUM / OP_MAX / OP_LSE). Linear workgroup L reduces WG * ITEMS
// consecutive inputs of row L / groups_per_row to one partial state; the host repeats the
// pass on the partials until one state per row is left.
//   FROM_VALUES: the input is f32 values (first pass), else vec2 partial states.
//   TO_VALUES:   the output is the finished f32 per row (last pass), else partial states.
// Empty rows give the identity: 0, -inf, -inf.
//! variants: OP_SUM|OP_MAX|OP_LSE FROM_VALUES| TO_VALUES|

override WG: u32 = 256u;
override ITEMS: u32 = 8u;

#import grid
#import reduce

struct Params {
    n: u32,
    groups_per_row: u32,
    rows: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
#ifdef FROM_VALUES
@group(0) @binding(1) var<storage, read> src: array<f32>;
#else
@group(0) @binding(1) var<storage, read> src: array<vec2<f32>>;
#endif
#ifdef TO_VALUES
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
#else
@group(0) @binding(2) var<storage, read_write> dst: array<vec2<f32>>;
#endif

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let linear = linear_workgroup(wid, nwg);
    if (linear >= params.groups_per_row * params.rows) {
        return;
    }
    let row = linear / params.groups_per_row;
    let group = linear % params.groups_per_row;
    let row_start = row * params.n;
    let block = group * WG * ITEMS;
    var acc = red_identity();
    for (var k = 0u; k < ITEMS; k = k + 1u) {
        let i = block + k * WG + lid;
        if (i < params.n) {
#ifdef FROM_VALUES
            acc = red_merge(acc, red_lift(src[row_start + i]));
#else
            acc = red_merge(acc, src[row_start + i]);
#endif
        }
    }
    let total = red_workgroup(lid, acc);
    if (lid == 0u) {
#ifdef TO_VALUES
        dst[linear] = red_value(total);
#else
        dst[linear] = total;
#endif
    }
}
