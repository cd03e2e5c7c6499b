//! What runs report: the census after each step (gathered on the GPU, read back only when
//! asked for) and totals over a run.

use crate::biome::state::kind;

/// Counters per census row: [0..10) cells by type id, [10] reproductions, [11] seeds,
/// [12] living program slots, [13] agents beyond the table, [14] agents with disabled
/// programs.
pub(crate) const CENSUS_COUNTERS: usize = 16;

/// What a step left behind: cells of each type, reproductions, living programs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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
}

impl Census {
    pub(crate) fn from_row(step: u64, row: &[u32]) -> Self {
        Self {
            step,
            counts: row[..kind::COUNT]
                .try_into()
                .expect("row of COUNT counters"),
            reproductions: row[10],
            seeds: row[11],
            living_ids: row[12],
            beyond_table: row[13],
            disabled: row[14],
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
        self.final_agents = census.agents();
        self.peak_living_ids = self.peak_living_ids.max(census.living_ids);
    }

    /// Whether no agent was left after the last step counted.
    pub fn extinct(&self) -> bool {
        self.steps > 0 && self.final_agents == 0
    }
}
