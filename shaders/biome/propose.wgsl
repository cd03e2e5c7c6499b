// Exclusive ops, first phase: each cell proposes at most one op on one neighbour slot.
// AIR picks one of its 8 neighbours uniformly and proposes to fill it if it is VOID.
// EARTH that cannot fall picks left or right uniformly and proposes to slide there if
// that cell and the one below it are intangible.

override WG: u32 = 64u;

#import grid
#import biome/draws

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
@group(0) @binding(2) var<storage, read_write> proposal: array<u32>;
@group(0) @binding(3) var<storage, read> seeds: array<vec2<u32>>;

fn type_or_out(n: i32) -> u32 {
    if (n < 0) {
        return OUT_OF_BOUNDS;
    }
    return types[u32(n)];
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
    var slot = NO_SLOT;
    if (t == AIR) {
        let j = pick_below(step_bits(cell, STREAM_EXCLUSIVE, 0u).x, 8u);
        let k = select(j + 1u, j, j < 4u);
        if (type_or_out(neighbor(cell, k)) == VOID) {
            slot = k;
        }
    } else if (t == EARTH) {
        if (!is_intangible(type_or_out(neighbor(cell, 7u)))) {
            let side = select(5u, 3u, pick_below(step_bits(cell, STREAM_EXCLUSIVE, 0u).x, 2u) == 0u);
            if (is_intangible(type_or_out(neighbor(cell, side)))
                && is_intangible(type_or_out(neighbor(cell, side + 3u)))) {
                slot = side;
            }
        }
    }
    proposal[cell] = slot;
}
