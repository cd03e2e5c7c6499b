// Metrics after a step, second half, one workgroup per world: the number of the world's
// program slots with living cells into counter CENSUS_LIVING_IDS of its row for
// `params.record_slot`; clears the per-slot tally for the next step.

override WG: u32 = 256u;

#import biome
#import biome/census_at

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> table: Table;
@group(0) @binding(2) var<storage, read_write> id_cells: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> living: atomic<u32>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let world = wid.x;
    if (lid == 0u) {
        atomicStore(&living, 0u);
    }
    workgroupBarrier();
    var mine = 0u;
    let first = world * table.slots;
    for (var s = lid; s < table.slots; s = s + WG) {
        if (id_cells[first + s] > 0u) {
            mine = mine + 1u;
        }
        id_cells[first + s] = 0u;
    }
    atomicAdd(&living, mine);
    workgroupBarrier();
    if (lid == 0u) {
        atomicStore(&counts[census_index(world, CENSUS_LIVING_IDS)], atomicLoad(&living));
    }
}
