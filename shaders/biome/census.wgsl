// Metrics after a step, added into each world's row for `params.record_slot` of the
// counts table (its layout in biome/census_row, the rows' order in biome/census_at):
// cells by type id, agents whose id is beyond the program table, agents whose program is
// disabled (non-finite parameters). Living agents per program slot go to `id_cells` (per
// world, as the program table) for the distinct-id count. A workgroup inside one world
// tallies in workgroup memory first; one that straddles two worlds adds to the table
// directly.

override WG: u32 = 64u;

#import grid
#import biome
#import biome/census_at

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> table: Table;
@group(0) @binding(2) var<storage, read> types: array<u32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read> slot_ok: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> id_cells: array<atomic<u32>>;

var<workgroup> local_counts: array<atomic<u32>, CENSUS_COUNTERS>;

fn tally(world: u32, k: u32, inside: bool) {
    if (inside) {
        atomicAdd(&local_counts[k], 1u);
    } else {
        atomicAdd(&counts[census_index(world, k)], 1u);
    }
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    if (lid < CENSUS_COUNTERS) {
        atomicStore(&local_counts[lid], 0u);
    }
    workgroupBarrier();
    let first = linear_workgroup(wid, nwg) * WG;
    let last = min(first + WG, cell_count()) - 1u;
    let inside = first < cell_count() && world_of(first) == world_of(last);
    let cell = first + lid;
    if (cell < cell_count()) {
        let world = world_of(cell);
        let t = types[cell];
        tally(world, min(t, CENSUS_TYPES - 1u), inside);
        if (is_agent(t)) {
            let id = ids[cell];
            if (id >= table.slots) {
                tally(world, CENSUS_BEYOND_TABLE, inside);
            } else {
                let slot = world * table.slots + id;
                atomicAdd(&id_cells[slot], 1u);
                if (slot_ok[slot] == 0u) {
                    tally(world, CENSUS_DISABLED, inside);
                }
            }
        }
    }
    workgroupBarrier();
    if (inside && lid < CENSUS_COUNTERS) {
        let n = atomicLoad(&local_counts[lid]);
        if (n > 0u) {
            atomicAdd(&counts[census_index(world_of(first), lid)], n);
        }
    }
}
