// Metrics after a step, second half: the number of program slots with living cells into
// counter CENSUS_LIVING_IDS of row `params.record_slot`; clears the per-slot tally for the
// next step.

override WG: u32 = 256u;

#import biome
#import biome/census_row

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> table: Table;
@group(0) @binding(2) var<storage, read_write> id_cells: array<u32>;
@group(0) @binding(3) var<storage, read_write> counts: array<atomic<u32>>;

var<workgroup> living: atomic<u32>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32) {
    if (lid == 0u) {
        atomicStore(&living, 0u);
    }
    workgroupBarrier();
    var mine = 0u;
    for (var s = lid; s < table.slots; s = s + WG) {
        if (id_cells[s] > 0u) {
            mine = mine + 1u;
        }
        id_cells[s] = 0u;
    }
    atomicAdd(&living, mine);
    workgroupBarrier();
    if (lid == 0u) {
        atomicStore(&counts[params.record_slot * CENSUS_COUNTERS + CENSUS_LIVING_IDS], atomicLoad(&living));
    }
}
