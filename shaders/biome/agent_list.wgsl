// Lists the agent cells whose program slot exists, so the agent kernels run on agents
// only (dispatched indirectly over the list), and records each listed cell's position.
// Agents with an id beyond the table, or beyond the list's capacity, are counted and
// skipped.
// control: see biome/control.

override WG: u32 = 64u;

#import grid
#import biome
#import biome/enlist

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
@group(0) @binding(2) var<storage, read> ids: array<u32>;
@group(0) @binding(3) var<storage, read_write> list: array<u32>;
@group(0) @binding(4) var<storage, read_write> list_pos: array<u32>;
@group(0) @binding(5) var<storage, read_write> control: array<atomic<u32>>;

@group(0) @binding(6) var<uniform> table: Table;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let cell = linear_workgroup(wid, nwg) * WG + lid;
    if (cell >= cell_count() || !is_agent(types[cell])) {
        return;
    }
    enlist(cell);
}
