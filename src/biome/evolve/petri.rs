//! A program's fitness in a petri dish, as the reference's `evolving_in_small_worlds`
//! notebook scores it: one program in a small world whose reproductions are intercepted;
//! each step scores `-|target - agent cells| + weight × successful reproductions`, and
//! the fitness is the mean over the steps. Many dishes advance together in one batch.

use crate::biome::config::{BiomeConfig, Preset, Width};
use crate::biome::metrics::Census;
use crate::biome::program::{Mutator, ProgramTable};
use crate::biome::state::WorldState;
use crate::biome::step::{RunOptions, SubStep};
use crate::biome::world::{WorldParts, Worlds};
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// How programs are scored.
#[derive(Clone, Debug, PartialEq)]
pub struct PetriConfig {
    /// The world (its `intercept_reproduction` set, one program slot, no mutation).
    pub world: BiomeConfig,
    /// Steps of one evaluation.
    pub steps: u64,
    /// The agent count the score rewards staying near.
    pub target_agents: f64,
    /// Score of one successful reproduction.
    pub reproduction_weight: f64,
}

impl PetriConfig {
    /// The notebook's dish: `preset` at `height` rows and `width` (persistence, 16 rows,
    /// landscape: 16 × 28), 2000 steps, target 50 agent cells, 200 per reproduction
    /// (target × 4), a reproduction succeeding with dissipation × 4 + specialize cost × 2
    /// left in its flower.
    pub fn new(preset: Preset, height: u32, width: Width) -> Self {
        let mut world = BiomeConfig::preset(preset).height(height).width(width);
        world.agents.slots = 1;
        world.agents.mutator = Mutator::None;
        let min =
            [0, 1].map(|i| world.dissipation_per_step[i] * 4.0 + world.specialize_cost[i] * 2.0);
        world.intercept_reproduction = Some(min);
        Self {
            world,
            steps: 2000,
            target_agents: 50.0,
            reproduction_weight: 200.0,
        }
    }

    /// Checks the dish; the message says what is wrong.
    pub fn validate(&self) -> Result<()> {
        self.world.validate()?;
        if self.world.intercept_reproduction.is_none() {
            return Err(Error::invalid(
                "a petri dish intercepts reproduction: set intercept_reproduction",
            ));
        }
        if self.steps == 0 {
            return Err(Error::invalid("an evaluation needs at least 1 step"));
        }
        if !self.target_agents.is_finite() || !self.reproduction_weight.is_finite() {
            return Err(Error::invalid(
                "the target agent count and the reproduction weight must be finite",
            ));
        }
        Ok(())
    }

    /// The fitness of one evaluation from its census rows.
    pub fn fitness(&self, rows: &[Census]) -> f64 {
        let total: f64 = rows
            .iter()
            .map(|c| {
                -(self.target_agents - c.agents() as f64).abs()
                    + self.reproduction_weight * f64::from(c.intercepted)
            })
            .sum();
        total / self.steps as f64
    }

    /// Scores `program` in a fresh dish whose draws are keyed by `seed`.
    pub fn evaluate(&self, ctx: &GpuContext, program: &[f32], seed: u64) -> Result<f64> {
        let scores = self.evaluate_all(ctx, &[(program, seed)], |_| Ok(()))?;
        Ok(scores[0])
    }

    /// Scores each `(program, seed)` in a fresh dish of its own: the dishes advance
    /// together, as many per batch as the adapter holds, and each scores what it would
    /// alone. `on_batch(done)` is called after each batch with the dishes scored so far
    /// (an error stops the evaluation).
    pub fn evaluate_all(
        &self,
        ctx: &GpuContext,
        dishes: &[(&[f32], u64)],
        mut on_batch: impl FnMut(usize) -> Result<()>,
    ) -> Result<Vec<f64>> {
        let state = WorldState::initial(&self.world)?;
        let fits = Worlds::max_batch(ctx, &self.world).max(1);
        let mut scores = Vec::with_capacity(dishes.len());
        for chunk in dishes.chunks(fits) {
            let parts = chunk
                .iter()
                .map(|&(program, seed)| {
                    Ok(WorldParts {
                        state: state.clone(),
                        programs: ProgramTable::filled(&self.world, program)?,
                        seed,
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let mut dishes = Worlds::from_parts(ctx, &self.world, &parts, 0)?;
            // The notebook settles the initial structure first: 10 integrity passes.
            dishes.run_substep(SubStep::Integrity)?;
            dishes.run_substep(SubStep::Integrity)?;
            let mut rows = vec![Vec::with_capacity(self.steps as usize); chunk.len()];
            dishes.run_with(
                self.steps,
                &RunOptions::default().census(true),
                |_, census| {
                    for (all, new) in rows.iter_mut().zip(census) {
                        all.extend_from_slice(new);
                    }
                    Ok(())
                },
            )?;
            scores.extend(rows.iter().map(|r| self.fitness(r)));
            on_batch(scores.len())?;
        }
        Ok(scores)
    }
}
