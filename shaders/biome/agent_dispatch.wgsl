// Indirect dispatch arguments for the kernels over the agent list: enough workgroups of
// `wg` invocations for the listed agents, folded into x and y beyond 65535. Kernels that
// import this declare `control` (the counters, read), `table` and `args`.

#import biome/control

const MAX_PER_DIM: u32 = 65535u;

fn write_agent_args(wg: u32) {
    let groups = (min(control[CONTROL_LISTED], table.capacity) + wg - 1u) / wg;
    let y = max((groups + MAX_PER_DIM - 1u) / MAX_PER_DIM, 1u);
    args[0] = (groups + y - 1u) / y;
    args[1] = y;
    args[2] = 1u;
}
