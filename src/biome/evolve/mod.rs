//! Evolving agent programs in petri dishes, as the reference's notebooks do: PGPE
//! ([`Pgpe`]) proposes programs, each is scored in its own dish ([`PetriConfig`]), and
//! the distribution's centre is the evolved program. Checkpoints hold the search state
//! and the fitness history, and resume exactly.
//!
//! The dishes of a generation advance together in batches ([`crate::biome::Worlds`]), so
//! a generation costs about as many dispatches as one dish.
//!
//! ```no_run
//! use morphogen::biome::evolve::{Evolution, PetriConfig, PgpeConfig};
//! use morphogen::biome::{Preset, Width};
//! use morphogen::gpu::GpuContext;
//!
//! let ctx = GpuContext::new()?;
//! let dish = PetriConfig::new(Preset::Persistence, 16, Width::Landscape);
//! let mut evolution = Evolution::new(dish, PgpeConfig::default(), 137)?;
//! evolution.run(&ctx, 30, |g, _| {
//!     if let Some(g) = g {
//!         println!("generation {}: best {:.2}, mean {:.2}", g.generation, g.best, g.mean);
//!     }
//!     Ok(())
//! })?;
//! morphogen::biome::save_program("evolved.npy".as_ref(), &evolution.program())?;
//! # Ok::<(), morphogen::Error>(())
//! ```

mod checkpoint;
mod petri;
mod pgpe;

pub use petri::PetriConfig;
pub use pgpe::{centred_ranks, Pgpe, PgpeConfig};

use crate::biome::program::ProgramTable;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;

/// One generation's fitness.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Generation {
    /// 0 for the first generation scored.
    pub generation: u64,
    /// The best candidate's fitness.
    pub best: f64,
    /// The mean over the population.
    pub mean: f64,
}

/// An evolution in progress: the dish, the search state, and the fitness so far.
#[derive(Clone, Debug, PartialEq)]
pub struct Evolution {
    /// How programs are scored.
    pub petri: PetriConfig,
    /// The search distribution and optimiser.
    pub pgpe: Pgpe,
    /// Every generation scored so far.
    pub history: Vec<Generation>,
}

/// Stream word of the dishes' seeds.
const STREAM_DISH: u32 = 0xD15;

impl Evolution {
    /// A fresh evolution from the dish's freshly initialised program (the reference's
    /// `agent_logic.initialize`), keyed by `seed`.
    pub fn new(petri: PetriConfig, pgpe: PgpeConfig, seed: u64) -> Result<Self> {
        petri.validate()?;
        let initial = ProgramTable::initial(&petri.world, seed);
        let center = initial.program(0).iter().map(|&v| f64::from(v)).collect();
        let pgpe = Pgpe::new(pgpe, center, seed).map_err(Error::invalid)?;
        Ok(Self {
            petri,
            pgpe,
            history: Vec::new(),
        })
    }

    /// The evolved program: the distribution's centre (what evojax's `best_params` gives).
    pub fn program(&self) -> Vec<f32> {
        self.pgpe.center.iter().map(|&v| v as f32).collect()
    }

    /// The seed of candidate `index`'s dish in the current generation.
    pub fn dish_seed(&self, index: usize) -> u64 {
        let key = crate::rng::seed_key(self.pgpe.seed);
        let g = self.pgpe.generation;
        let w =
            crate::rng::philox4x32_10([index as u32, g as u32, (g >> 32) as u32, STREAM_DISH], key);
        u64::from(w[0]) | (u64::from(w[1]) << 32)
    }

    /// Scores every candidate of the current generation and updates the distribution.
    /// The dishes run in batches; `on_dish(done)` is called after each batch with the
    /// dishes scored so far (an error stops the generation).
    pub fn step(
        &mut self,
        ctx: &GpuContext,
        on_dish: impl FnMut(usize) -> Result<()>,
    ) -> Result<Generation> {
        let candidates = self.pgpe.ask();
        let programs: Vec<Vec<f32>> = candidates
            .iter()
            .map(|c| c.iter().map(|&v| v as f32).collect())
            .collect();
        let dishes: Vec<(&[f32], u64)> = programs
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_slice(), self.dish_seed(i)))
            .collect();
        let fitness = self.petri.evaluate_all(ctx, &dishes, on_dish)?;
        let generation = Generation {
            generation: self.pgpe.generation,
            best: fitness.iter().copied().fold(f64::NEG_INFINITY, f64::max),
            mean: fitness.iter().sum::<f64>() / fitness.len() as f64,
        };
        self.pgpe.tell(&fitness).map_err(Error::invalid)?;
        self.history.push(generation);
        Ok(generation)
    }

    /// Runs `generations` more generations; `on_progress(Some(g), _)` after each, and
    /// `on_progress(None, dishes done)` after each batch of dishes.
    pub fn run(
        &mut self,
        ctx: &GpuContext,
        generations: u64,
        mut on_progress: impl FnMut(Option<&Generation>, usize) -> Result<()>,
    ) -> Result<()> {
        for _ in 0..generations {
            let g = self.step(ctx, |done| on_progress(None, done))?;
            on_progress(Some(&g), self.pgpe.config.population)?;
        }
        Ok(())
    }
}
