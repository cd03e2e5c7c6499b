// Exclusive ops, second phase: every cell that is the target of proposals accepts one of
// them, uniformly at random. A neighbour in slot j proposing its slot 8 - j aims at this
// cell. Output: the accepted neighbour's slot, or NO_SLOT.

override WG: u32 = 64u;

#import grid
#import biome/draws

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> proposal: array<u32>;
@group(0) @binding(2) var<storage, read_write> choice: array<u32>;
@group(0) @binding(3) var<storage, read> seeds: array<vec2<u32>>;

fn aims_here(at: Place, j: u32) -> bool {
    let n = neighbor_at(at, j);
    return n >= 0 && proposal[u32(n)] == 8u - j;
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
    var candidates = 0u;
    let at = place_of(cell);
    for (var j = 0u; j < 9u; j = j + 1u) {
        if (j != 4u && aims_here(at, j)) {
            candidates = candidates + 1u;
        }
    }
    var chosen = NO_SLOT;
    if (candidates > 0u) {
        var rank = pick_below(step_bits(cell, STREAM_CHOICE, 0u).x, candidates);
        for (var j = 0u; j < 9u; j = j + 1u) {
            if (j != 4u && aims_here(at, j)) {
                if (rank == 0u) {
                    chosen = j;
                    break;
                }
                rank = rank - 1u;
            }
        }
    }
    choice[cell] = chosen;
}
