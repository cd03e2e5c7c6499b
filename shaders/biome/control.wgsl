// Slots of the agents' `control` counters, cleared before each step (biome::agents
// mirrors CONTROL_SLOTS by name and a test checks that the two agree): CONTROL_SLOTS
// counters of the batch, then one candidate count per world.

const CONTROL_SLOTS: u32 = 2u;
// Agents appended to the agent list (it holds the first `capacity`).
const CONTROL_LISTED: u32 = 0u;
// Agents whose id is beyond the program table.
const CONTROL_BEYOND_TABLE: u32 = 1u;
// Flowers of world w entered as reproduction candidates: control[CONTROL_CANDIDATES + w].
const CONTROL_CANDIDATES: u32 = 2u;
