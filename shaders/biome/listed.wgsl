// Kernels dispatched over the agent list: how many entries they cover. control[0] counts
// every agent appended, the list holds at most `capacity` of them.

fn listed() -> u32 {
    return min(control[0], agent.capacity);
}
