// Kernels dispatched over the agent list: how many entries they cover. CONTROL_LISTED counts
// every agent appended, the list holds at most `capacity` of them.

#import biome/control

fn listed() -> u32 {
    return min(control[CONTROL_LISTED], agent.capacity);
}
