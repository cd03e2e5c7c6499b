// One Jacobi pass of structural integrity: IMMOVABLE holds the cap, EARTH and agents take
// the largest integrity of their 3x3 window (self included) minus their decay, floored at
// 0, everything else 0. Five passes run per step, ping-ponging between two scratch arrays;
// the first reads the state's integrity channel (SRC_STATE), the last writes it back
// (DST_STATE).
// An invocation walks a strip of BAND rows of one column (`Strip` in common/biome.wgsl),
// keeping the largest value of the row above and of its own row (over the column and its
// two neighbours) from the row before, so each cell costs three reads of the previous
// pass instead of nine.
// With ENLIST (the last pass of a whole step) the strip's agent cells are also appended
// to the agent list for reproduction (biome/enlist, as biome/agent_list would list them;
// `control` cleared before the pass), and gravity then follows the agents it moves
// (biome/gravity with LIST_MOVES): two dispatches fewer a step.
//! variants: SRC_STATE|DST_STATE| ENLIST|
//! generated: biome/state_read
//! generated: biome/state_write

override WG: u32 = 64u;
override BAND: u32 = 8u;

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
#ifdef ENLIST
#import biome/enlist
@group(0) @binding(4) var<storage, read> ids: array<u32>;
@group(0) @binding(5) var<storage, read_write> list: array<u32>;
@group(0) @binding(6) var<storage, read_write> list_pos: array<u32>;
@group(0) @binding(7) var<storage, read_write> control: array<atomic<u32>>;
@group(0) @binding(8) var<uniform> table: Table;
#endif

fn integrity_at(cell: u32) -> f32 {
#ifdef SRC_STATE
    return state_at(cell * params.channels + INTEGRITY);
#else
    return src[cell];
#endif
}

// A row outside the world. Any value of at most 0 leaves the result exact: a window whose
// largest value is at most 0 gives max(best - decay, 0) = 0 either way.
const OUTSIDE: f32 = 0.0;

// The largest integrity in `row` at the strip's column and its neighbours within the
// world; OUTSIDE for a row beyond it.
fn row_max(s: Strip, row: i32) -> f32 {
    let c = strip_row(s, row);
    if (c.y < 0) {
        return OUTSIDE;
    }
    var m = integrity_at(u32(c.y));
    if (c.x >= 0) {
        m = max(m, integrity_at(u32(c.x)));
    }
    if (c.z >= 0) {
        m = max(m, integrity_at(u32(c.z)));
    }
    return m;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var s: Strip;
    if (!strip_of(linear_workgroup(wid, nwg) * WG + lid, BAND, &s)) {
        return;
    }
    var above = row_max(s, i32(s.first) - 1);
    var here = row_max(s, i32(s.first));
    for (var r = 0u; r < s.rows; r = r + 1u) {
        let row = i32(s.first + r);
        let below = row_max(s, row + 1);
        let cell = strip_cell(s, row);
        let t = types[cell];
#ifdef ENLIST
        if (is_agent(t)) {
            enlist(cell);
        }
#endif
        var value = 0.0;
        if (t == IMMOVABLE) {
            value = params.struct_cap;
        } else if (t == EARTH || is_agent(t)) {
            let best = max(max(above, here), below);
            value = max(best - structure_decay(t), 0.0);
        }
#ifdef DST_STATE
        state_put(cell * params.channels + INTEGRITY, value);
#else
        dst[cell] = value;
#endif
        above = here;
        here = below;
    }
}
