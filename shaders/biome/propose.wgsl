// Exclusive ops, first phase: each cell proposes at most one op on one neighbour slot.
// AIR picks one of its 8 neighbours uniformly and proposes to fill it if it is VOID.
// EARTH that cannot fall picks left or right uniformly and proposes to slide there if
// that cell and the one below it are intangible.
// An invocation walks a strip of BAND rows of one column (`Strip` in common/biome.wgsl)
// with the 3x3 window of types in registers, reading three new cells per row instead of
// nine. With AGENT_ARGS (whole steps) its first invocation also writes the dispatch
// arguments of the agent kernels that follow over the list energy left (instead of
// biome/agent_args: one dispatch fewer).
//! variants: |AGENT_ARGS

override WG: u32 = 64u;
override BAND: u32 = 8u;

#import grid
#import biome/draws

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
@group(0) @binding(2) var<storage, read_write> proposal: array<u32>;
@group(0) @binding(3) var<storage, read> seeds: array<vec2<u32>>;
#ifdef AGENT_ARGS
#import biome/agent_dispatch
// Workgroup size of the kernels over the agent list.
override AGENT_WG: u32 = 64u;
@group(0) @binding(4) var<storage, read> control: array<u32>;
@group(0) @binding(5) var<storage, read_write> args: array<u32>;
@group(0) @binding(6) var<uniform> table: Table;
#endif

// The types of `row` at the strip's column and its two neighbours (left, centre, right),
// OUT_OF_BOUNDS outside the world.
fn row_types(s: Strip, row: i32) -> vec3<u32> {
    let c = strip_row(s, row);
    var r = vec3<u32>(OUT_OF_BOUNDS);
    for (var k = 0u; k < 3u; k = k + 1u) {
        if (c[k] >= 0) {
            r[k] = types[u32(c[k])];
        }
    }
    return r;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
#ifdef AGENT_ARGS
    if (all(wid == vec3<u32>(0u)) && lid == 0u) {
        write_agent_args(AGENT_WG);
    }
#endif
    var s: Strip;
    if (!strip_of(linear_workgroup(wid, nwg) * WG + lid, BAND, &s)) {
        return;
    }
    var above = row_types(s, i32(s.first) - 1);
    var here = row_types(s, i32(s.first));
    for (var r = 0u; r < s.rows; r = r + 1u) {
        let row = i32(s.first + r);
        let below = row_types(s, row + 1);
        let window = array<vec3<u32>, 3>(above, here, below);
        let cell = strip_cell(s, row);
        proposal[cell] = propose(cell, window);
        above = here;
        here = below;
    }
}

// The slot the cell proposes, given its window of types (slot k at window[k / 3][k % 3]).
fn propose(cell: u32, window: array<vec3<u32>, 3>) -> u32 {
    let t = window[1].y;
    var slot = NO_SLOT;
    // The draw is keyed by cell and step: a cell whose draw cannot matter skips it.
    if (t == AIR) {
        var any_void = false;
        for (var k = 0u; k < 9u; k = k + 1u) {
            any_void = any_void || (k != 4u && window[k / 3u][k % 3u] == VOID);
        }
        if (any_void) {
            let j = pick_below(step_bits(cell, STREAM_EXCLUSIVE, 0u).x, 8u);
            let k = select(j + 1u, j, j < 4u);
            if (window[k / 3u][k % 3u] == VOID) {
                slot = k;
            }
        }
    } else if (t == EARTH) {
        let left = is_intangible(window[1].x) && is_intangible(window[2].x);
        let right = is_intangible(window[1].z) && is_intangible(window[2].z);
        if (!is_intangible(window[2].y) && (left || right)) {
            let side = select(5u, 3u, pick_below(step_bits(cell, STREAM_EXCLUSIVE, 0u).x, 2u) == 0u);
            if (select(right, left, side == 3u)) {
                slot = side;
            }
        }
    }
    return slot;
}
