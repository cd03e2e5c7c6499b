// The census row of one world after one step: CENSUS_COUNTERS counters, [0, CENSUS_TYPES) cells by type
// id, then reproductions, seeds placed, living program slots, agents beyond the program
// table, agents with disabled programs, and reproductions that succeeded in the
// petri-dish mode. biome::metrics mirrors these by name and a
// test checks that the two agree.

const CENSUS_COUNTERS: u32 = 16u;
const CENSUS_TYPES: u32 = 10u;
const CENSUS_REPRODUCTIONS: u32 = 10u;
const CENSUS_SEEDS: u32 = 11u;
const CENSUS_LIVING_IDS: u32 = 12u;
const CENSUS_BEYOND_TABLE: u32 = 13u;
const CENSUS_DISABLED: u32 = 14u;
const CENSUS_INTERCEPTED: u32 = 15u;

