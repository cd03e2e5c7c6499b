// Metrics: the number of cells of each type, added into row `params.record_slot` of the
// counts table (16 counters per row, the first 10 by type id).

override WG: u32 = 64u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
@group(0) @binding(2) var<storage, read_write> counts: array<atomic<u32>>;

const COUNTERS: u32 = 16u;

var<workgroup> local_counts: array<atomic<u32>, 16>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    if (lid < COUNTERS) {
        atomicStore(&local_counts[lid], 0u);
    }
    workgroupBarrier();
    let cell = linear_workgroup(wid, nwg) * WG + lid;
    if (cell < cell_count()) {
        atomicAdd(&local_counts[min(types[cell], COUNTERS - 1u)], 1u);
    }
    workgroupBarrier();
    if (lid < COUNTERS) {
        let n = atomicLoad(&local_counts[lid]);
        if (n > 0u) {
            atomicAdd(&counts[params.record_slot * COUNTERS + lid], n);
        }
    }
}
