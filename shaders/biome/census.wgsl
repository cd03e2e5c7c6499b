// Metrics after a step, added into row `params.record_slot` of the counts table (its
// layout in biome/census_row): cells by type id, agents whose id is beyond the program
// table, agents whose program is disabled (non-finite parameters). Living agents per
// program slot go to `id_cells` for the distinct-id count.

override WG: u32 = 64u;

#import grid
#import biome
#import biome/census_row

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> table: Table;
@group(0) @binding(2) var<storage, read> types: array<u32>;
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read> slot_ok: array<u32>;
@group(0) @binding(5) var<storage, read_write> counts: array<atomic<u32>>;
@group(0) @binding(6) var<storage, read_write> id_cells: array<atomic<u32>>;

var<workgroup> local_counts: array<atomic<u32>, CENSUS_COUNTERS>;

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
    let cell = linear_workgroup(wid, nwg) * WG + lid;
    if (cell < cell_count()) {
        let t = types[cell];
        atomicAdd(&local_counts[min(t, CENSUS_TYPES - 1u)], 1u);
        if (is_agent(t)) {
            let id = ids[cell];
            if (id >= table.slots) {
                atomicAdd(&local_counts[CENSUS_BEYOND_TABLE], 1u);
            } else {
                atomicAdd(&id_cells[id], 1u);
                if (slot_ok[id] == 0u) {
                    atomicAdd(&local_counts[CENSUS_DISABLED], 1u);
                }
            }
        }
    }
    workgroupBarrier();
    if (lid < CENSUS_COUNTERS) {
        let n = atomicLoad(&local_counts[lid]);
        if (n > 0u) {
            atomicAdd(&counts[params.record_slot * CENSUS_COUNTERS + lid], n);
        }
    }
}
