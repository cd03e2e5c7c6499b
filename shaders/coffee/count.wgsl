// The non-interacting grid from its particles: each particle adds one to its cell
// (`cells` cleared first). Integer atomics make the counts independent of the order.
// CPU twin: `reference::counts`.

override WG: u32 = 64u;

#import grid
#import coffee

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> particles: array<u32>;
@group(0) @binding(2) var<storage, read_write> cells: array<atomic<u32>>;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    if (i >= params.replicas * params.particles) {
        return;
    }
    let replica = i / params.particles;
    atomicAdd(&cells[replica * params.n * params.n + particles[i]], 1u);
}
