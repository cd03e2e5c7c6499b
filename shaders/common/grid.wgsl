// Dispatch geometry shared by kernels launched with `Grid::linear` / `Grid::folded`:
// more than 65535 workgroups are folded into x and y, so the linear workgroup index is
// rebuilt here and kernels bounds-check against their item count.

fn linear_workgroup(wid: vec3<u32>, nwg: vec3<u32>) -> u32 {
    return wid.x + wid.y * nwg.x;
}
