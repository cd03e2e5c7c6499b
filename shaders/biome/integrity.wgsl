// One Jacobi pass of structural integrity: IMMOVABLE holds the cap, EARTH and agents take
// the largest integrity of their 3x3 window (self included) minus their decay, floored at
// 0, everything else 0. Five passes run per step, ping-ponging between two scratch arrays;
// the first reads the state's integrity channel (SRC_STATE), the last writes it back
// (DST_STATE).
//! variants: SRC_STATE|DST_STATE|
//! generated: biome/state_read
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
#ifdef SRC_STATE
#import biome/state_read
#else
@group(0) @binding(2) var<storage, read> src: array<f32>;
#endif
#ifdef DST_STATE
#import biome/state_write
#else
@group(0) @binding(3) var<storage, read_write> dst: array<f32>;
#endif

fn integrity_at(cell: u32) -> f32 {
#ifdef SRC_STATE
    return state_at(cell * params.channels + INTEGRITY);
#else
    return src[cell];
#endif
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let cell = linear_workgroup(wid, nwg) * WG + lid;
    if (cell >= cell_count()) {
        return;
    }
    let t = types[cell];
    var value = 0.0;
    if (t == IMMOVABLE) {
        value = params.struct_cap;
    } else if (t == EARTH || is_agent(t)) {
        var best = integrity_at(cell);
        let at = place_of(cell);
        for (var k = 0u; k < 9u; k = k + 1u) {
            let n = neighbor_at(at, k);
            if (n >= 0) {
                best = max(best, integrity_at(u32(n)));
            }
        }
        value = max(best - structure_decay(t), 0.0);
    }
#ifdef DST_STATE
    state_put(cell * params.channels + INTEGRITY, value);
#else
    dst[cell] = value;
#endif
}
