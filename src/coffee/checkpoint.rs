//! Checkpoints: every replica's state with the configuration, seed, the schedule being run
//! and what the run recorded so far (its curves and row profiles), in one safetensors
//! file (tensors `cells` [replicas, n, n] u32, `particles` [replicas, n²/2] u32 for the
//! non-interacting model, `clocks` [replicas, 2] u64 (swaps, attempts), `profile`
//! [samples, n] f64, `curves` [samples, 8] f64 (step, mean attempts, then the mean and
//! standard error of entropy, complexity and adjusted complexity); the configuration and
//! schedule as JSON in the metadata), readable from Python.

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::Dtype;
use serde_json::{json, Value};

use crate::coffee::automaton::{Automaton, State};
use crate::coffee::config::{Adjust, Boundary, CoffeeConfig, Model, Schedule};
use crate::coffee::measures::Estimate;
use crate::coffee::reference::ReplicaClock;
use crate::coffee::run::Curve;
use crate::error::{Error, Result};
use crate::gpu::GpuContext;
use crate::io::tensors::{serialize, view, TensorFile};

const FORMAT: &str = "morphogen.coffee.checkpoint/1";

/// Everything needed to continue a sampled run exactly where it stopped.
#[derive(Clone, Debug, PartialEq)]
pub struct Checkpoint {
    /// The automaton's configuration.
    pub config: CoffeeConfig,
    /// The seed of its random draws.
    pub seed: u64,
    /// Every replica's state.
    pub state: State,
    /// The schedule the run follows.
    pub schedule: Schedule,
    /// The curves recorded so far, one row per sample taken.
    pub curves: Vec<Curve>,
    /// The row profiles recorded so far: `n` values per sample taken.
    pub profile: Vec<f64>,
}

fn config_json(c: &CoffeeConfig) -> Value {
    json!({
        "model": c.model.name(),
        "size": c.size,
        "replicas": c.replicas,
        "grain": c.grain_size(),
        "adjust": c.adjust.name(),
        "boundary": c.boundary.name(),
    })
}

impl Checkpoint {
    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let (n, r) = (self.config.size, self.config.replicas);
        let clocks: Vec<u64> = self
            .state
            .clocks
            .iter()
            .flat_map(|c| [c.swaps, c.attempts])
            .collect();
        let samples = self.profile.len() / n.max(1);
        let mut views = vec![
            (
                "cells",
                view(
                    Dtype::U32,
                    vec![r, n, n],
                    bytemuck::cast_slice(&self.state.cells),
                )?,
            ),
            (
                "clocks",
                view(Dtype::U64, vec![r, 2], bytemuck::cast_slice(&clocks))?,
            ),
            (
                "profile",
                view(
                    Dtype::F64,
                    vec![samples, n],
                    bytemuck::cast_slice(&self.profile),
                )?,
            ),
        ];
        let curves: Vec<f64> = self
            .curves
            .iter()
            .flat_map(|c| {
                [
                    c.step as f64,
                    c.attempts,
                    c.entropy.mean,
                    c.entropy.se,
                    c.complexity.mean,
                    c.complexity.se,
                    c.adjusted_complexity.mean,
                    c.adjusted_complexity.se,
                ]
            })
            .collect();
        views.push((
            "curves",
            view(
                Dtype::F64,
                vec![self.curves.len(), 8],
                bytemuck::cast_slice(&curves),
            )?,
        ));
        if !self.state.particles.is_empty() {
            views.push((
                "particles",
                view(
                    Dtype::U32,
                    vec![r, self.config.cream()],
                    bytemuck::cast_slice(&self.state.particles),
                )?,
            ));
        }
        let metadata = BTreeMap::from([
            ("format", FORMAT.to_string()),
            ("config", config_json(&self.config).to_string()),
            ("seed", self.seed.to_string()),
            ("step", self.state.step.to_string()),
            (
                "schedule",
                json!({"interval": self.schedule.interval, "end": self.schedule.end}).to_string(),
            ),
        ]);
        serialize(views, &metadata)
    }

    /// Parses a file's bytes; `source` names the file in errors.
    pub fn decode(bytes: &[u8], source: &Path) -> Result<Self> {
        let file = TensorFile::parse(bytes, source, "coffee", FORMAT)?;
        let json = |key: &str| file.json(key);
        let c = json("config")?;
        let text = |v: &Value, key: &str| v[key].as_str().map(str::to_string);
        let whole = |v: &Value, key: &str| v[key].as_u64();
        let config = (|| {
            Some(CoffeeConfig {
                model: Model::parse(&text(&c, "model")?)?,
                size: whole(&c, "size")? as usize,
                replicas: whole(&c, "replicas")? as usize,
                grain: Some(whole(&c, "grain")? as usize),
                adjust: Adjust::parse(&text(&c, "adjust")?)?,
                boundary: Boundary::parse(&text(&c, "boundary")?)?,
            })
        })()
        .ok_or_else(|| file.bad(format!("the configuration {c} is incomplete")))?;
        config.validate().map_err(|e| file.bad(e))?;
        let s = json("schedule")?;
        let schedule = match (whole(&s, "interval"), whole(&s, "end")) {
            (Some(interval), Some(end)) if interval > 0 => Schedule { interval, end },
            _ => return Err(file.bad(format!("the schedule {s} is incomplete"))),
        };
        let (_, rows) = file.words::<f64>("curves", Dtype::F64)?;
        let curves: Vec<Curve> = rows
            .chunks_exact(8)
            .map(|r| Curve {
                step: r[0] as u64,
                attempts: r[1],
                entropy: Estimate {
                    mean: r[2],
                    se: r[3],
                },
                complexity: Estimate {
                    mean: r[4],
                    se: r[5],
                },
                adjusted_complexity: Estimate {
                    mean: r[6],
                    se: r[7],
                },
            })
            .collect();
        let (_, cells) = file.words::<u32>("cells", Dtype::U32)?;
        let (_, clock_words) = file.words::<u64>("clocks", Dtype::U64)?;
        let (_, profile) = file.words::<f64>("profile", Dtype::F64)?;
        let particles = match config.model {
            Model::NonInteracting => file.words::<u32>("particles", Dtype::U32)?.1,
            Model::Interacting => Vec::new(),
        };
        if profile.len() != curves.len() * config.size {
            return Err(file.bad(format!(
                "{} profile values for {} samples of {} rows",
                profile.len(),
                curves.len(),
                config.size
            )));
        }
        let state = State {
            cells,
            particles,
            clocks: clock_words
                .chunks_exact(2)
                .map(|w| ReplicaClock {
                    swaps: w[0],
                    attempts: w[1],
                })
                .collect(),
            step: file.number("step")?,
        };
        Ok(Self {
            config,
            seed: file.number("seed")?,
            state,
            schedule,
            curves,
            profile,
        })
    }

    /// Writes the checkpoint, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.encode()?)
    }

    /// Reads a checkpoint file.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::decode(&bytes, path)
    }

    /// The automaton continuing from this checkpoint (the state is checked against the
    /// configuration).
    pub fn resume(&self, ctx: &GpuContext) -> Result<Automaton> {
        Automaton::from_state(ctx, &self.config, self.seed, &self.state)
    }
}
