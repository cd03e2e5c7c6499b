// Appending an agent cell to the agent list, as biome/agent_list does for every agent:
// agents whose id is beyond the program table are counted and skipped, and the list keeps
// the first `table.capacity`. Kernels that import this declare `ids`, `list`, `list_pos`,
// `control` (atomic) and `table`.

#import biome
#import biome/control

fn enlist(cell: u32) {
    if (ids[cell] >= table.slots) {
        atomicAdd(&control[CONTROL_BEYOND_TABLE], 1u);
        return;
    }
    let pos = atomicAdd(&control[CONTROL_LISTED], 1u);
    if (pos < table.capacity) {
        list[pos] = cell;
        list_pos[cell] = pos;
    }
}
