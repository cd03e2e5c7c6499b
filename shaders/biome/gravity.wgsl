// Gravity, one thread per column of each world walking up from the second row from the bottom: a cell
// that falls (EARTH, or an agent with no structural integrity left) swaps type, state and
// id with an intangible cell below. Rows are visited in order, so a falling stack moves
// down by exactly one cell per step.
//! generated: biome/state_write

override WG: u32 = 64u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read_write> types: array<u32>;
#import biome/state_write
@group(0) @binding(3) var<storage, read_write> ids: array<u32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let column = linear_workgroup(wid, nwg) * WG + lid;
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
