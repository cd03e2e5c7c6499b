// Aging: an agent cell grows one step older. Kernels that import this declare `params`,
// `types` and the state's accessors (`biome/state_write`).

fn grow_older(cell: u32) {
    if (is_agent(types[cell])) {
        let i = cell * params.channels + AGE;
        state_put(i, state_at(i) + 1.0);
    }
}
