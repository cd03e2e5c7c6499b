// Gravity, one thread per column of each world walking up from the second row from the bottom: a cell
// that falls (EARTH, or an agent with no structural integrity left) swaps type, state and
// id with an intangible cell below. Rows are visited in order, so a falling stack moves
// down by exactly one cell per step.
// With LIST_MOVES (whole steps, after biome/integrity with ENLIST listed the agents) a
// falling agent takes its list entry along, and the first invocation writes the dispatch
// arguments of the agent kernels over that list (biome/agent_dispatch).
//! variants: |LIST_MOVES
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> types: array<u32>;
#import biome/state_write
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;
#ifdef LIST_MOVES
#import biome/agent_dispatch
// Workgroup size of the kernels over the agent list.
override AGENT_WG: u32 = 64u;
@group(0) @binding(4) var<storage, read_write> list: array<u32>;
@group(0) @binding(5) var<storage, read_write> list_pos: array<u32>;
@group(0) @binding(6) var<storage, read> control: array<u32>;
@group(0) @binding(7) var<storage, read_write> args: array<u32>;
@group(0) @binding(8) var<uniform> table: Table;

// The agent that fell from `source` to `to` keeps its place in the list.
fn follow(source: u32, to: u32) {
    let pos = list_pos[source];
    if (pos < min(control[CONTROL_LISTED], table.capacity) && list[pos] == source) {
        list[pos] = to;
        list_pos[to] = pos;
    }
}
#endif

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let column = linear_workgroup(wid, nwg) * WG + lid;
#ifdef LIST_MOVES
    if (column == 0u) {
        write_agent_args(AGENT_WG);
    }
#endif
    if (column >= params.width * params.worlds || params.height < 2u) {
        return;
    }
    let w = params.width;
    let s = params.channels;
    let top = world_base(column / w) + column % w;
    // Type below the current row, carried up the column.
    var below_type = types[top + (params.height - 1u) * w];
    for (var r = i32(params.height) - 2; r >= 0; r = r - 1) {
        let upper = top + u32(r) * w;
        let lower = upper + w;
        let t = types[upper];
        let unsupported = !is_structural(t) || state_at(upper * s + INTEGRITY) <= 0.0;
        if (falls(t) && is_intangible(below_type) && unsupported) {
            types[upper] = below_type;
            types[lower] = t;
#ifdef LIST_MOVES
            if (is_agent(t)) {
                follow(upper, lower);
            }
#endif
            let id = ids[upper];
            ids[upper] = ids[lower];
            ids[lower] = id;
            for (var ch = 0u; ch < s; ch = ch + 1u) {
                let v = state_at(upper * s + ch);
                state_put(upper * s + ch, state_at(lower * s + ch));
                state_put(lower * s + ch, v);
            }
            // The intangible cell moved up into row r.
        } else {
            below_type = t;
        }
    }
}
