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
    let at = place_of(cell);
    var slot = NO_SLOT;
    // The draw is keyed by cell and step: a cell whose draw cannot matter skips it.
    if (t == AIR) {
        var any_void = false;
        for (var k = 0u; k < 9u; k = k + 1u) {
            any_void = any_void || (k != 4u && type_or_out(neighbor_at(at, k)) == VOID);
        }
        if (any_void) {
            let j = pick_below(step_bits(cell, STREAM_EXCLUSIVE, 0u).x, 8u);
            let k = select(j + 1u, j, j < 4u);
            if (type_or_out(neighbor_at(at, k)) == VOID) {
                slot = k;
            }
        }
    } else if (t == EARTH) {
        let left = is_intangible(type_or_out(neighbor_at(at, 3u)))
            && is_intangible(type_or_out(neighbor_at(at, 6u)));
        let right = is_intangible(type_or_out(neighbor_at(at, 5u)))
            && is_intangible(type_or_out(neighbor_at(at, 8u)));
        if (!is_intangible(type_or_out(neighbor_at(at, 7u))) && (left || right)) {
            let side = select(5u, 3u, pick_below(step_bits(cell, STREAM_EXCLUSIVE, 0u).x, 2u) == 0u);
            if (select(right, left, side == 3u)) {
                slot = side;
            }
        }
    }
    proposal[cell] = slot;
}
