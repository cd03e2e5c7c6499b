//! What runs report: the census after each step (gathered on the GPU, read back only when
//! asked for) and totals over a run.

use crate::biome::state::kind;

/// Counters per census row, and where each count sits in it, named as in
/// `shaders/biome/census_row.wgsl` (a test checks that the two agree): cells by type id
/// first, then reproductions, seeds, living program slots, agents beyond the table and
/// agents with disabled programs.
pub(crate) const CENSUS_COUNTERS: usize = 16;
const CENSUS_TYPES: usize = 10;
const CENSUS_REPRODUCTIONS: usize = 10;
const CENSUS_SEEDS: usize = 11;
const CENSUS_LIVING_IDS: usize = 12;
const CENSUS_BEYOND_TABLE: usize = 13;
const CENSUS_DISABLED: usize = 14;
const CENSUS_INTERCEPTED: usize = 15;

/// What a step left behind: cells of each type, reproductions, living programs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Census {
    /// The step this census follows (1 after the first step).
    pub step: u64,
    /// Cells per type id.
    pub counts: [u32; kind::COUNT],
    /// Reproductions carried out in the step (flowers consumed).
    pub reproductions: u32,
    /// Seeds placed by them (a reproduction finds no fertile soil in range sometimes).
    pub seeds: u32,
    /// Program slots with living cells.
    pub living_ids: u32,
    /// Agent cells whose id is beyond the program table (they take no decisions).
    pub beyond_table: u32,
    /// Agent cells whose program has non-finite values (they take no decisions).
    pub disabled: u32,
    /// Petri-dish mode: intercepted reproductions whose flower held enough energy (the
    /// reference's `n_successful_repr`).
    pub intercepted: u32,
}

impl Census {
    pub(crate) fn from_row(step: u64, row: &[u32]) -> Self {
        Self {
            step,
            counts: row[..CENSUS_TYPES]
                .try_into()
                .expect("row of COUNT counters"),
            reproductions: row[CENSUS_REPRODUCTIONS],
            seeds: row[CENSUS_SEEDS],
            living_ids: row[CENSUS_LIVING_IDS],
            beyond_table: row[CENSUS_BEYOND_TABLE],
            disabled: row[CENSUS_DISABLED],
            intercepted: row[CENSUS_INTERCEPTED],
        }
    }

    /// Agent cells of all specializations.
    pub fn agents(&self) -> u64 {
        self.by_specialization().iter().map(|&n| u64::from(n)).sum()
    }

    /// Agent cells per specialization: unspecialized, root, leaf, flower.
    pub fn by_specialization(&self) -> [u32; 4] {
        let c = &self.counts;
        [
            c[kind::UNSPECIALIZED as usize],
            c[kind::ROOT as usize],
            c[kind::LEAF as usize],
            c[kind::FLOWER as usize],
        ]
    }
}

/// What a reproduction sub-step did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Reproductions {
    /// Picks carried out (flowers consumed).
    pub executed: u32,
    /// Seeds placed.
    pub placed: u32,
    /// Petri-dish mode: picks whose flower held enough energy.
    pub intercepted: u32,
}

/// Totals over a run, accumulated from the census of every step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RunTotals {
    /// Steps counted.
    pub steps: u64,
    /// Agent cells summed over the steps (the reference's `tot_agents_n`).
    pub agent_steps: u64,
    /// Reproductions carried out.
    pub reproductions: u64,
    /// Seeds placed.
    pub seeds: u64,
    /// Petri-dish mode: successful intercepted reproductions.
    pub intercepted: u64,
    /// Agent cells after the last step counted.
    pub final_agents: u64,
    /// Most program slots alive at once.
    pub peak_living_ids: u32,
}

impl RunTotals {
    /// Adds one step's census.
    pub fn add(&mut self, census: &Census) {
        self.steps += 1;
        self.agent_steps += census.agents();
        self.reproductions += u64::from(census.reproductions);
        self.seeds += u64::from(census.seeds);
        self.intercepted += u64::from(census.intercepted);
        self.final_agents = census.agents();
        self.peak_living_ids = self.peak_living_ids.max(census.living_ids);
    }

    /// Whether no agent was left after the last step counted.
    pub fn extinct(&self) -> bool {
        self.steps > 0 && self.final_agents == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::preprocess::u32_constants;

    #[test]
    fn the_census_row_agrees_with_its_wgsl_layout() {
        let wgsl = u32_constants("biome/census_row").unwrap();
        for (name, value) in [
            ("CENSUS_COUNTERS", CENSUS_COUNTERS),
            ("CENSUS_TYPES", CENSUS_TYPES),
            ("CENSUS_REPRODUCTIONS", CENSUS_REPRODUCTIONS),
            ("CENSUS_SEEDS", CENSUS_SEEDS),
            ("CENSUS_LIVING_IDS", CENSUS_LIVING_IDS),
            ("CENSUS_BEYOND_TABLE", CENSUS_BEYOND_TABLE),
            ("CENSUS_DISABLED", CENSUS_DISABLED),
            ("CENSUS_INTERCEPTED", CENSUS_INTERCEPTED),
        ] {
            assert_eq!(wgsl.get(name).map(|&v| v as usize), Some(value), "{name}");
        }
        assert_eq!(CENSUS_TYPES, kind::COUNT, "a counter per cell type");
    }
}
