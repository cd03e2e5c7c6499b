//! Agent programs: the parameter vector of the reference's `BasicAgentLogic` (minimal:
//! 299 parameters, extended: 13,311 at the default state size), its exact layout, its
//! initialisation, the mutators, and `.npy` program files.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::biome::config::BiomeConfig;
use crate::error::{Error, Result};

/// Hidden units of every residual network.
pub const HIDDEN: usize = 32;
/// Specializations (unspecialized, root, leaf, flower): every block has one row each.
pub const SPECS: usize = 4;
/// Cell types an agent perceives as a one-hot average.
pub const TYPES: usize = 10;
/// Internal state channels the agent kernels support at most.
pub const MAX_AGENT_STATE: usize = 4;

/// Which `BasicAgentLogic` the programs are.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AgentModel {
    /// Handcrafted linear rules only.
    Minimal,
    /// The rules plus residual 32-unit ReLU networks (last layers zero at initialisation).
    #[default]
    Extended,
}

/// How reproduction mutates a parent's program into a child's.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Mutator {
    /// No mutation: a child keeps its parent's program and id.
    None,
    /// `p += N(0, 1) · sd` where `U < change_perc`, independently per parameter.
    Basic {
        /// Standard deviation of a change.
        sd: f64,
        /// Probability that a parameter changes.
        change_perc: f64,
    },
    /// Each parameter carries its own sd (the program is `[params | sds]`); both change
    /// together with probability `change_perc`: `p += TN · sd`, `sd += TN · sd ·
    /// meta_sd_perc` clipped to [1e-5, 10], TN a standard normal truncated to [−3, 3].
    Adaptive {
        /// The sd every parameter starts with.
        init_sd: f64,
        /// Probability that a parameter (and its sd) changes.
        change_perc: f64,
        /// Relative size of sd changes.
        meta_sd_perc: f64,
    },
}

impl Default for Mutator {
    fn default() -> Self {
        Self::Basic {
            sd: 1e-3,
            change_perc: 0.2,
        }
    }
}

/// Smallest and largest sd of the adaptive mutator.
pub const ADAPTIVE_SD_RANGE: (f64, f64) = (1e-5, 10.0);

impl Mutator {
    /// Parameters stored per agent parameter (2 for the adaptive mutator's sds).
    pub fn copies(&self) -> usize {
        match self {
            Self::None | Self::Basic { .. } => 1,
            Self::Adaptive { .. } => 2,
        }
    }

    fn validate(&self) -> Result<()> {
        let (sd, change, meta) = match *self {
            Self::None => return Ok(()),
            Self::Basic { sd, change_perc } => (sd, change_perc, 0.0),
            Self::Adaptive {
                init_sd,
                change_perc,
                meta_sd_perc,
            } => (init_sd, change_perc, meta_sd_perc),
        };
        if !(sd.is_finite() && sd >= 0.0 && meta.is_finite() && meta >= 0.0) {
            return Err(Error::invalid(format!(
                "mutator sd {sd} and meta_sd_perc {meta} must be finite and non-negative"
            )));
        }
        if !(0.0..=1.0).contains(&change) {
            return Err(Error::invalid(format!(
                "mutator change_perc {change} must lie in [0, 1]"
            )));
        }
        Ok(())
    }
}

/// The agent side of a biome: program model, table size, mutation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AgentConfig {
    /// Minimal or extended programs.
    pub model: AgentModel,
    /// Program slots (the reference's N_MAX_PROGRAMS).
    pub slots: u32,
    /// Energy goes only to neighbours with the same program id.
    pub perceive_ids: bool,
    /// Mutation at reproduction.
    pub mutator: Mutator,
}

impl Default for AgentConfig {
    fn default() -> Self {
        Self {
            model: AgentModel::Extended,
            slots: 128,
            perceive_ids: true,
            mutator: Mutator::default(),
        }
    }
}

impl AgentConfig {
    /// Checks the table size and the mutator.
    pub fn validate(&self) -> Result<()> {
        if self.slots == 0 || self.slots > 1 << 16 {
            return Err(Error::invalid(format!(
                "agents.slots {} must lie in 1..=65536",
                self.slots
            )));
        }
        self.mutator.validate()
    }

    /// Floats per program slot: the agent parameters, times 2 with the adaptive mutator.
    pub fn stride(&self, layout: &ProgramLayout) -> usize {
        layout.len * self.mutator.copies()
    }
}

/// Offsets of a residual network `relu(x W0 + b0) W1 + b1`, one per specialization.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Net {
    /// `W0[spec, input, hidden]`.
    pub w0: usize,
    /// `b0[spec, hidden]`.
    pub b0: usize,
    /// `W1[spec, hidden, output]`.
    pub w1: usize,
    /// `b1[spec, output]`.
    pub b1: usize,
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
}

impl Net {
    fn at(offset: &mut usize, inputs: usize, outputs: usize) -> Self {
        let mut take = |n: usize| {
            let at = *offset;
            *offset += n;
            at
        };
        Self {
            w0: take(SPECS * inputs * HIDDEN),
            b0: take(SPECS * HIDDEN),
            w1: take(SPECS * HIDDEN * outputs),
            b1: take(SPECS * outputs),
            inputs,
            outputs,
        }
    }
}

/// Where every parameter of a program lives: the reference's pytree leaves
/// `dsm | nsl | denm | excl | repr`, each flattened row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProgramLayout {
    /// Minimal or extended.
    pub model: AgentModel,
    /// Agent internal state channels.
    pub agent_state_size: usize,
    /// dstate network (extended only).
    pub dsm: Option<Net>,
    /// `nsl.w[spec, type, new spec]`.
    pub nsl_w: usize,
    /// `nsl.b[spec, new spec]`.
    pub nsl_b: usize,
    /// Specialization residual network (extended only).
    pub nsl_net: Option<Net>,
    /// `denm.b[spec, slot · 2 + nutrient]`.
    pub denm_b: usize,
    /// `denm.keep_en[spec, nutrient]`.
    pub denm_keep: usize,
    /// Energy-sharing residual network, run per neighbour (extended only).
    pub denm_net: Option<Net>,
    /// `excl.b[spec, slot]`: spawn target logits.
    pub excl_b: usize,
    /// `excl.min_en_for_spawn[nutrient]` (normalised by the material cap).
    pub excl_min_en: usize,
    /// `excl.max_neigh_agent_avg`.
    pub excl_max_neigh: usize,
    /// `excl.spawn_prob_sensitivity`.
    pub excl_sensitivity: usize,
    /// `excl.spawn_en_perc`.
    pub excl_en_perc: usize,
    /// Spawn residual network (extended only).
    pub excl_net: Option<Net>,
    /// `repr.threshold[nutrient]` (normalised).
    pub repr_threshold: usize,
    /// Parameters in all.
    pub len: usize,
}

impl ProgramLayout {
    /// The layout of `model` programs for agents with `agent_state_size` channels.
    pub fn new(model: AgentModel, agent_state_size: usize) -> Self {
        let a = agent_state_size;
        let s = 4 + a;
        let ext = model == AgentModel::Extended;
        let mut at = 0usize;
        let take = |at: &mut usize, n: usize| {
            let here = *at;
            *at += n;
            here
        };
        let dsm = ext.then(|| Net::at(&mut at, TYPES + s, a));
        let nsl_w = take(&mut at, SPECS * TYPES * SPECS);
        let nsl_b = take(&mut at, SPECS * SPECS);
        let nsl_net = ext.then(|| Net::at(&mut at, TYPES + s, SPECS));
        let denm_b = take(&mut at, SPECS * 18);
        let denm_keep = take(&mut at, SPECS * 2);
        let denm_net = ext.then(|| Net::at(&mut at, 2 * s + SPECS, 2));
        let excl_b = take(&mut at, SPECS * 9);
        let excl_min_en = take(&mut at, 2);
        let excl_max_neigh = take(&mut at, 1);
        let excl_sensitivity = take(&mut at, 1);
        let excl_en_perc = take(&mut at, 1);
        let excl_net = ext.then(|| Net::at(&mut at, TYPES + 3 * s, 9 + 2 * a));
        let repr_threshold = take(&mut at, 2);
        Self {
            model,
            agent_state_size,
            dsm,
            nsl_w,
            nsl_b,
            nsl_net,
            denm_b,
            denm_keep,
            denm_net,
            excl_b,
            excl_min_en,
            excl_max_neigh,
            excl_sensitivity,
            excl_en_perc,
            excl_net,
            repr_threshold,
            len: at,
        }
    }

    /// The model whose programs have `len` parameters, if any.
    pub fn model_of_len(len: usize, agent_state_size: usize) -> Option<AgentModel> {
        [AgentModel::Minimal, AgentModel::Extended]
            .into_iter()
            .find(|&m| Self::new(m, agent_state_size).len == len)
    }

    /// A freshly initialised program for `slot`: the reference's handcrafted rules, and
    /// glorot-normal first layers (truncated at ±2σ, drawn from `seed` and the slot) with
    /// zero biases and zero last layers for the residual networks.
    pub fn initialize(&self, config: &BiomeConfig, seed: u64, slot: u32) -> Vec<f32> {
        let mut p = vec![0.0f32; self.len];
        let pair = |v: [f64; 2]| v;
        let diss = pair(config.dissipation_per_step);
        let spawn = pair(config.spawn_cost);
        let spec = pair(config.specialize_cost);
        let repr = pair(config.reproduce_cost);
        let cap = config.material_nutrient_cap;
        // nsl.w[s, type, out]: the same rules in every block, then the flower block
        // always votes FLOWER.
        const EARTH: usize = 2;
        const AIR: usize = 1;
        const LEAF_TYPE: usize = 8;
        let (unspec, root, leaf, flower) = (0usize, 1usize, 2usize, 3usize);
        for s in 0..SPECS {
            let w = |t: usize, out: usize| self.nsl_w + (s * TYPES + t) * SPECS + out;
            p[w(EARTH, root)] = 1.0;
            p[w(AIR, leaf)] = 1.0;
            p[w(EARTH, unspec)] = -1.0 / 8.0;
            p[w(AIR, unspec)] = -1.0 / 8.0;
            for t in 6..10 {
                p[w(t, unspec)] = 1.0 / 8.0;
            }
            p[w(LEAF_TYPE, flower)] = 0.25;
            p[w(AIR, flower)] = 0.5;
        }
        for t in 0..TYPES {
            p[self.nsl_w + (flower * TYPES + t) * SPECS + flower] = 1.0;
        }
        // denm: earth nutrient flows up and sideways, air nutrient down and sideways.
        for s in 0..SPECS {
            for k in [0, 1, 2, 3, 5] {
                p[self.denm_b + s * 18 + k * 2] = 0.1;
            }
            for k in [3, 5, 6, 7, 8] {
                p[self.denm_b + s * 18 + k * 2 + 1] = 0.1;
            }
            for n in 0..2 {
                let keep = if s == flower {
                    7.0 * diss[n] + repr[n] + 2.0 * spec[n]
                } else {
                    6.0 * diss[n] + spawn[n] + 2.0 * spec[n]
                };
                p[self.denm_keep + s * 2 + n] = keep as f32;
            }
        }
        // excl.b: where each specialization spawns; never on itself.
        for s in 0..SPECS {
            let slots: &[usize] = match s {
                1 => &[3, 5, 6, 7, 8],
                2 => &[0, 1, 2, 3, 5],
                _ => &[0, 1, 2, 3, 5, 6, 7, 8],
            };
            for &k in slots {
                p[self.excl_b + s * 9 + k] = 0.5;
            }
            p[self.excl_b + s * 9 + 4] = -1.0;
        }
        for n in 0..2 {
            p[self.excl_min_en + n] = ((4.0 * diss[n] + spawn[n] + 2.0 * spec[n]) / cap[n]) as f32;
            p[self.repr_threshold + n] =
                ((repr[n] + 4.0 * diss[n] + 2.0 * spec[n]) / cap[n]) as f32;
        }
        p[self.excl_max_neigh] = (3.0 / 8.0 - 0.1) as f32;
        p[self.excl_sensitivity] = 30.0;
        p[self.excl_en_perc] = 0.5;
        // Residual networks: glorot-normal first layers.
        let nets = [self.dsm, self.nsl_net, self.denm_net, self.excl_net];
        for (which, net) in nets.into_iter().enumerate() {
            let Some(net) = net else { continue };
            let scale = (2.0 / (net.inputs + HIDDEN) as f64).sqrt() / 0.879_625_661_034_239_8;
            for i in 0..SPECS * net.inputs * HIDDEN {
                let z = truncated_normal(seed, [i as u32, slot, 0x5EED_0000 + which as u32], 2.0);
                p[net.w0 + i] = (z * scale) as f32;
            }
        }
        p
    }
}

/// A standard normal truncated to [−bound, bound] by rejection, from the Philox stream
/// `(counter[0], counter[1], counter[2], attempt)` under `seed`.
fn truncated_normal(seed: u64, counter: [u32; 3], bound: f64) -> f64 {
    let key = crate::rng::seed_key(seed);
    for attempt in 0.. {
        let z = crate::rng::normal4(key, [counter[0], counter[1], counter[2], attempt]);
        if let Some(v) = z.into_iter().find(|v| v.abs() <= bound) {
            return v;
        }
    }
    unreachable!("a normal draw lands within the bound eventually")
}

/// Reads a program from a `.npy` file of float32 (a 1-D vector, as the reference saves
/// them) and checks its length against the known layouts.
pub fn load_program(path: &Path, agent_state_size: usize) -> Result<(AgentModel, Vec<f32>)> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    program_from_npy(&bytes, &path.display().to_string(), agent_state_size)
}

/// A program from the bytes of a `.npy` file (e.g. one a web page was given); `source`
/// names it in errors.
pub fn program_from_npy(
    bytes: &[u8],
    source: &str,
    agent_state_size: usize,
) -> Result<(AgentModel, Vec<f32>)> {
    let array =
        crate::io::npy::decode(bytes).map_err(|e| Error::invalid(format!("{source}: {e}")))?;
    if array.shape.len() != 1 {
        return Err(Error::invalid(format!(
            "{source}: a program is a 1-D vector, this array has shape {:?}",
            array.shape
        )));
    }
    let model =
        ProgramLayout::model_of_len(array.data.len(), agent_state_size).ok_or_else(|| {
            let min = ProgramLayout::new(AgentModel::Minimal, agent_state_size).len;
            let ext = ProgramLayout::new(AgentModel::Extended, agent_state_size).len;
            Error::invalid(format!(
                "{source}: {} parameters is neither a minimal program ({min}) nor an extended \
                 one ({ext}) for agent_state_size {agent_state_size}",
                array.data.len()
            ))
        })?;
    if let Some(i) = array.data.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "{source}: parameter {i} is not finite"
        )));
    }
    Ok((model, array.data))
}

/// Writes a program as a 1-D float32 `.npy` file, whole or not at all.
pub fn save_program(path: &Path, program: &[f32]) -> Result<()> {
    crate::io::npy::write(path, program, &[program.len()])
}

/// The program table on the host: `slots` programs of `stride` floats (the agent
/// parameters, then their sds with the adaptive mutator).
#[derive(Clone, Debug, PartialEq)]
pub struct ProgramTable {
    /// Where each parameter lives.
    pub layout: ProgramLayout,
    /// Floats per slot.
    pub stride: usize,
    /// `slots · stride` floats.
    pub data: Vec<f32>,
}

impl ProgramTable {
    /// Fresh programs: every slot initialised on its own (its own random first layers),
    /// with the adaptive mutator's sds at `init_sd`.
    pub fn initial(config: &BiomeConfig, seed: u64) -> Self {
        let layout = ProgramLayout::new(config.agents.model, config.agent_state_size as usize);
        let stride = config.agents.stride(&layout);
        let mut data = Vec::with_capacity(config.agents.slots as usize * stride);
        for slot in 0..config.agents.slots {
            data.extend(layout.initialize(config, seed, slot));
            if let Mutator::Adaptive { init_sd, .. } = config.agents.mutator {
                data.extend(std::iter::repeat_n(init_sd as f32, layout.len));
            }
        }
        Self {
            layout,
            stride,
            data,
        }
    }

    /// Every slot holding `program`: the agent parameters alone (the adaptive mutator's
    /// sds are then set to `init_sd`), or a whole slot.
    pub fn filled(config: &BiomeConfig, program: &[f32]) -> Result<Self> {
        let layout = ProgramLayout::new(config.agents.model, config.agent_state_size as usize);
        let stride = config.agents.stride(&layout);
        let mut slot = program.to_vec();
        if program.len() == layout.len && stride == 2 * layout.len {
            if let Mutator::Adaptive { init_sd, .. } = config.agents.mutator {
                slot.extend(std::iter::repeat_n(init_sd as f32, layout.len));
            }
        }
        if slot.len() != stride {
            return Err(Error::invalid(format!(
                "a program of {} values does not fit {:?} programs of {} parameters{}",
                program.len(),
                config.agents.model,
                layout.len,
                if stride > layout.len {
                    " (plus their sds for the adaptive mutator)"
                } else {
                    ""
                }
            )));
        }
        Ok(Self {
            layout,
            data: slot.repeat(config.agents.slots as usize),
            stride,
        })
    }

    /// Program slots.
    pub fn slots(&self) -> usize {
        self.data.len() / self.stride.max(1)
    }

    /// The whole slot (parameters and, with the adaptive mutator, sds).
    pub fn slot(&self, slot: usize) -> &[f32] {
        &self.data[slot * self.stride..(slot + 1) * self.stride]
    }

    /// The agent parameters of a slot.
    pub fn program(&self, slot: usize) -> &[f32] {
        &self.slot(slot)[..self.layout.len]
    }

    /// 1 where a slot's values are all finite, 0 where its agents must be skipped.
    pub fn usable(&self) -> Vec<u32> {
        (0..self.slots())
            .map(|s| u32::from(self.slot(s).iter().all(|v| v.is_finite())))
            .collect()
    }
}
