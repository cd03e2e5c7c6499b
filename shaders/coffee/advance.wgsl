// The interacting model: each invocation runs one replica's chain until its clock (swaps
// or attempts) reaches the target. An attempt picks a cell and a direction uniformly; if
// the neighbour is off the grid or holds the same value the attempt is rejected, else the
// two cells swap. Attempt k of replica r draws from Philox counter (k / 2, r, STREAM_SWAP)
// (two attempts per call), so the chain does not depend on how dispatches split it.
// CPU twin: `reference::advance`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> cells: array<u32>;
@group(0) @binding(2) var<storage, read_write> clock: array<u32>;
@group(0) @binding(3) var<storage, read_write> status: array<u32>;

fn add_one(v: vec2<u32>) -> vec2<u32> {
    let lo = v.x + 1u;
    return vec2<u32>(lo, v.y + select(0u, 1u, lo == 0u));
}

fn below(a: vec2<u32>, b: vec2<u32>) -> bool {
    return a.y < b.y || (a.y == b.y && a.x < b.x);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let replica = linear_workgroup(wid, nwg) * WG + lid;
    if (replica >= params.replicas) {
        return;
    }
    let nn = params.n * params.n;
    let base = replica * nn;
    let key = vec2<u32>(params.seed_lo, params.seed_hi);
    let goal = vec2<u32>(params.goal_lo, params.goal_hi);
    let c = replica * CLOCK_WORDS;
    var swaps = vec2<u32>(clock[c], clock[c + 1u]);
    var attempts = vec2<u32>(clock[c + 2u], clock[c + 3u]);
    var bits = vec4<u32>(0u);
    var fresh = true;
    var left = params.max_attempts;
    loop {
        let now = select(swaps, attempts, params.clock == CLOCK_ATTEMPTS);
        if (!below(now, goal)) {
            break;
        }
        if (left == 0u) {
            status[0] = 1u;
            break;
        }
        left = left - 1u;
        let odd = (attempts.x & 1u) == 1u;
        if (fresh || !odd) {
            let pair = vec2<u32>((attempts.x >> 1u) | (attempts.y << 31u), attempts.y >> 1u);
            bits = philox4x32_10(vec4<u32>(pair.x, pair.y, replica, STREAM_SWAP), key);
            fresh = false;
        }
        let draw = select(bits.xy, bits.zw, odd);
        let cell = mul_hi_lo(draw.x, nn).x;
        let other = neighbour(params.n, params.boundary, cell, draw.y >> 30u);
        attempts = add_one(attempts);
        let a = cells[base + cell];
        let b = cells[base + other];
        if (a != b) {
            cells[base + cell] = b;
            cells[base + other] = a;
            swaps = add_one(swaps);
        }
    }
    clock[c] = swaps.x;
    clock[c + 1u] = swaps.y;
    clock[c + 2u] = attempts.x;
    clock[c + 3u] = attempts.y;
}
