// One layer's parameter gradients, each invocation a tile of 4 output units x 4 columns
// of the layer's input extended by a column of ones (whose products are the biases'
// gradients), summing over the model's batch rows in a fixed order (deterministic: no
// atomics). dW_oi = sum_r dL/dz_o h_i, db_o = sum_r dL/dz_o. Twin:
// flow::train::reference::loss_and_gradient.

override WG: u32 = 64u;
override B: u32 = 256u;
override MODELS: u32 = 1u;
override TAPE: u32 = 1u;
override PARAMS: u32 = 1u;
override IN: u32 = 1u;
override OUT: u32 = 1u;
override P_OFF: u32 = 0u;
override IN_OFF: u32 = 0u;
override Z_OFF: u32 = 0u;

#import grid

@group(0) @binding(0) var<storage, read> tape: array<f32>;
@group(0) @binding(1) var<storage, read> back: array<f32>;
@group(0) @binding(2) var<storage, read_write> grads: array<f32>;

// Column i of a row's extended input: h_i, or 1 for i = IN (the bias).
fn column(row: u32, i: u32) -> f32 {
    return select(tape[row + IN_OFF + min(i, IN - 1u)], 1.0, i >= IN);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let out_tiles = (OUT + 3u) / 4u;
    let col_tiles = (IN + 1u + 3u) / 4u;
    let index = linear_workgroup(wid, nwg) * WG + lid;
    if (index >= MODELS * out_tiles * col_tiles) {
        return;
    }
    let i0 = (index % col_tiles) * 4u;
    let tile = index / col_tiles;
    let model = tile / out_tiles;
    let o0 = (tile % out_tiles) * 4u;
    let q0 = min(o0, OUT - 1u);
    let q1 = min(o0 + 1u, OUT - 1u);
    let q2 = min(o0 + 2u, OUT - 1u);
    let q3 = min(o0 + 3u, OUT - 1u);
    var s0 = vec4<f32>();
    var s1 = vec4<f32>();
    var s2 = vec4<f32>();
    var s3 = vec4<f32>();
    for (var s = 0u; s < B; s = s + 1u) {
        let row = (model * B + s) * TAPE;
        let h = vec4<f32>(column(row, i0), column(row, i0 + 1u), column(row, i0 + 2u), column(row, i0 + 3u));
        let d = row + Z_OFF;
        s0 = s0 + h * back[d + q0];
        s1 = s1 + h * back[d + q1];
        s2 = s2 + h * back[d + q2];
        s3 = s3 + h * back[d + q3];
    }
    let sums = array<vec4<f32>, 4>(s0, s1, s2, s3);
    let w = model * PARAMS + P_OFF;
    for (var k = 0u; k < 4u; k = k + 1u) {
        let o = o0 + k;
        if (o >= OUT) {
            break;
        }
        for (var c = 0u; c < 4u; c = c + 1u) {
            let i = i0 + c;
            if (i < IN) {
                grads[w + o * IN + i] = sums[k][c];
            } else if (i == IN) {
                grads[w + OUT * IN + o] = sums[k][c];
            }
        }
    }
}
