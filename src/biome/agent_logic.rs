//! `BasicAgentLogic` on the CPU, in f64: what an agent perceives, and its parallel,
//! spawn and reproduce decisions after the environment's sanity checks. The twin of
//! `shaders/common/agent.wgsl`.

use crate::biome::config::BiomeConfig;
use crate::biome::program::{Net, ProgramLayout, HIDDEN, SPECS, TYPES};
use crate::biome::state::{channel, kind, WorldState};

/// Internal state values stay within ±this.
pub const STATE_CLIP: f64 = 3.0;

/// A cell's 3×3 window: types, raw states and ids, slot-major (4 = self); outside the
/// grid: OUT_OF_BOUNDS, zero state, id 0.
#[derive(Clone, Debug)]
pub struct Perception {
    /// Type per slot.
    pub types: [u32; 9],
    /// State per slot (`channels` values each).
    pub state: Vec<[f64; 9]>,
    /// Program id per slot.
    pub ids: [u32; 9],
}

impl Perception {
    /// The window around `cell`.
    pub fn of(world: &WorldState, cell: usize) -> Self {
        let mut types = [kind::OUT_OF_BOUNDS; 9];
        let mut ids = [0; 9];
        let mut state = vec![[0.0; 9]; world.channels];
        let (r, c) = ((cell / world.width) as isize, (cell % world.width) as isize);
        for k in 0..9 {
            let (nr, nc) = (r + k as isize / 3 - 1, c + k as isize % 3 - 1);
            if nr < 0 || nc < 0 || nr as usize >= world.height || nc as usize >= world.width {
                continue;
            }
            let n = nr as usize * world.width + nc as usize;
            types[k] = world.types[n];
            ids[k] = world.ids[n];
            for (ch, s) in state.iter_mut().enumerate() {
                s[k] = f64::from(world.state[n * world.channels + ch]);
            }
        }
        Self { types, state, ids }
    }

    fn channels(&self) -> usize {
        self.state.len()
    }

    /// Raw state of slot k.
    pub fn raw(&self, k: usize, ch: usize) -> f64 {
        self.state[ch][k]
    }

    /// Normalised state of slot k: integrity / cap, nutrients / material cap, age and
    /// internal state raw.
    pub fn norm(&self, config: &BiomeConfig, k: usize, ch: usize) -> f64 {
        let v = self.raw(k, ch);
        match ch {
            channel::INTEGRITY => v / f32c(config.struct_integrity_cap),
            channel::EARTH_NUTRIENT => v / f32c(config.material_nutrient_cap[0]),
            channel::AIR_NUTRIENT => v / f32c(config.material_nutrient_cap[1]),
            _ => v,
        }
    }

    /// The mean one-hot type of the 8 neighbours.
    pub fn average_types(&self) -> [f64; TYPES] {
        let mut avg = [0.0; TYPES];
        for k in (0..9).filter(|&k| k != 4) {
            avg[(self.types[k] as usize).min(TYPES - 1)] += 0.125;
        }
        avg
    }

    fn norm_self(&self, config: &BiomeConfig) -> Vec<f64> {
        (0..self.channels())
            .map(|ch| self.norm(config, 4, ch))
            .collect()
    }
}

/// A config value as the GPU sees it (f32).
fn f32c(v: f64) -> f64 {
    v as f32 as f64
}

fn param(program: &[f32], i: usize) -> f64 {
    f64::from(program[i])
}

/// `relu(x W0[s] + b0[s]) W1[s] + b1[s]`.
fn run_net(program: &[f32], net: &Net, spec: usize, x: &[f64]) -> Vec<f64> {
    let mut hidden = [0.0f64; HIDDEN];
    for (j, h) in hidden.iter_mut().enumerate() {
        let mut acc = param(program, net.b0 + spec * HIDDEN + j);
        for (i, xi) in x.iter().enumerate() {
            acc += xi * param(program, net.w0 + (spec * net.inputs + i) * HIDDEN + j);
        }
        *h = acc.max(0.0);
    }
    (0..net.outputs)
        .map(|o| {
            let mut acc = param(program, net.b1 + spec * net.outputs + o);
            for (j, h) in hidden.iter().enumerate() {
                acc += h * param(program, net.w1 + (spec * HIDDEN + j) * net.outputs + o);
            }
            acc
        })
        .collect()
}

/// The change that brings `s + ds` back within ±`clip`.
pub fn clip_residual(s: f64, ds: f64, clip: f64) -> f64 {
    let next = s + ds;
    if next > clip {
        ds - (next - clip)
    } else if next < -clip {
        ds - (next + clip)
    } else {
        ds
    }
}

/// A parallel op after the environment's checks.
#[derive(Clone, Debug, PartialEq)]
pub struct ParallelOp {
    /// Nutrients sent to each slot, `[slot][nutrient]`; slot 4 holds minus what leaves
    /// (and the specialization cost, when paid).
    pub sent: [[f64; 2]; 9],
    /// Change of the internal state.
    pub dstate: Vec<f64>,
    /// The type after the op.
    pub new_type: u32,
}

/// What an agent does in the parallel op: share nutrients, change its state, maybe
/// change specialization.
pub fn parallel_op(
    program: &[f32],
    layout: &ProgramLayout,
    config: &BiomeConfig,
    perceive_ids: bool,
    perc: &Perception,
) -> ParallelOp {
    let own_type = perc.types[4];
    let spec = (own_type - kind::UNSPECIALIZED) as usize;
    let avg = perc.average_types();
    let own = perc.norm_self(config);
    let a = layout.agent_state_size;
    let mut x16: Vec<f64> = avg.to_vec();
    x16.extend_from_slice(&own);
    // dstate
    let dstate: Vec<f64> = match &layout.dsm {
        Some(net) => {
            let out = run_net(program, net, spec, &x16);
            (0..a)
                .map(|i| clip_residual(own[channel::AGENT_STATE + i], out[i], STATE_CLIP))
                .collect()
        }
        None => vec![0.0; a],
    };
    // specialization logits
    let mut logits = [0.0f64; SPECS];
    for (o, l) in logits.iter_mut().enumerate() {
        *l = param(program, layout.nsl_b + spec * SPECS + o);
        for (t, f) in avg.iter().enumerate() {
            *l += f * param(program, layout.nsl_w + (spec * TYPES + t) * SPECS + o);
        }
    }
    if let Some(net) = &layout.nsl_net {
        let out = run_net(program, net, spec, &x16);
        for (l, o) in logits.iter_mut().zip(out) {
            *l += o;
        }
    }
    // energy shares
    let mut shares = [[0.0f64; 2]; 9];
    for (k, share) in shares.iter_mut().enumerate() {
        for (n, v) in share.iter_mut().enumerate() {
            *v = param(program, layout.denm_b + spec * 18 + k * 2 + n);
        }
        if let Some(net) = &layout.denm_net {
            let mut x = own.clone();
            x.extend((0..perc.channels()).map(|ch| perc.norm(config, k, ch)));
            let t = perc.types[k];
            x.extend((0..SPECS).map(|s| {
                f64::from(u8::from(
                    kind::is_agent(t) && (t - kind::UNSPECIALIZED) as usize == s,
                ))
            }));
            let out = run_net(program, net, spec, &x);
            share[0] += out[0];
            share[1] += out[1];
        }
        for v in share.iter_mut() {
            *v = v.max(0.0) * f64::from(u8::from(kind::is_agent(perc.types[k])));
        }
    }
    let mut sent = [[0.0f64; 2]; 9];
    for n in 0..2 {
        let total: f64 = shares.iter().map(|s| s[n]).sum::<f64>().max(1e-6);
        let raw = perc.raw(4, channel::EARTH_NUTRIENT + n);
        let keep = param(program, layout.denm_keep + spec * 2 + n);
        let available = (raw - keep).max(0.0);
        for k in 0..9 {
            let same = !perceive_ids || perc.ids[k] == perc.ids[4];
            sent[k][n] = if k == 4 || !same {
                0.0
            } else {
                shares[k][n] / total * available
            };
        }
    }
    // The environment's checks: only agents receive, nothing negative, no more than
    // the agent has.
    let mut given = [0.0f64; 2];
    for n in 0..2 {
        for (k, s) in sent.iter_mut().enumerate() {
            s[n] = if kind::is_agent(perc.types[k]) {
                s[n].max(0.0)
            } else {
                0.0
            };
        }
        let asked: f64 = (0..9).filter(|&k| k != 4).map(|k| sent[k][n]).sum();
        let own_n = perc.raw(4, channel::EARTH_NUTRIENT + n);
        given[n] = asked.min(own_n);
        let divider = (asked / given[n].max(1e-6)).max(1.0);
        for s in sent.iter_mut() {
            s[n] /= divider;
        }
        sent[4][n] = -given[n];
    }
    let best = (0..SPECS).fold(0, |b, s| if logits[s] > logits[b] { s } else { b });
    let mut new_type = kind::UNSPECIALIZED + best as u32;
    let spec_cost = config.specialize_cost.map(f32c);
    let affordable =
        (0..2).all(|n| perc.raw(4, channel::EARTH_NUTRIENT + n) - given[n] - spec_cost[n] >= 0.0);
    if new_type != own_type && affordable {
        sent[4][0] -= spec_cost[0];
        sent[4][1] -= spec_cost[1];
    } else {
        new_type = own_type;
    }
    ParallelOp {
        sent,
        dstate,
        new_type,
    }
}

/// The random draws of one agent's spawn decision: the crowding uniform and the target
/// slot's Gumbel noise.
#[derive(Clone, Copy, Debug)]
pub struct SpawnDraws {
    /// U(0, 1) compared with the crowding sigmoid.
    pub uniform: f64,
    /// Standard Gumbel noise per slot.
    pub gumbel: [f64; 9],
}

/// A spawn proposal that passed the agent's and the environment's checks.
#[derive(Clone, Debug, PartialEq)]
pub struct Spawn {
    /// Target slot.
    pub slot: usize,
    /// Share of the spendable nutrients the child gets, in [0, 1].
    pub en_perc: f64,
    /// The child's internal state.
    pub child_state: Vec<f64>,
    /// Change of the parent's internal state.
    pub dstate: Vec<f64>,
}

/// What an agent proposes in the exclusive op, if anything.
pub fn spawn_op(
    program: &[f32],
    layout: &ProgramLayout,
    config: &BiomeConfig,
    perc: &Perception,
    draws: &SpawnDraws,
) -> Option<Spawn> {
    let spec = (perc.types[4] - kind::UNSPECIALIZED) as usize;
    let avg = perc.average_types();
    let own = perc.norm_self(config);
    let a = layout.agent_state_size;
    let mut wants = (0..2)
        .all(|n| own[channel::EARTH_NUTRIENT + n] - param(program, layout.excl_min_en + n) >= 0.0);
    let agents_around: f64 = avg[6..10].iter().sum();
    let crowding = (param(program, layout.excl_max_neigh) - agents_around)
        * param(program, layout.excl_sensitivity);
    let probability = 1.0 / (1.0 + (-crowding).exp());
    wants &= draws.uniform < probability;
    let mut logits: Vec<f64> = (0..9)
        .map(|k| param(program, layout.excl_b + spec * 9 + k))
        .collect();
    let internal: Vec<f64> = (0..a)
        .map(|i| perc.raw(4, channel::AGENT_STATE + i))
        .collect();
    let (child_state, dstate) = match &layout.excl_net {
        Some(net) => {
            let channels = perc.channels();
            let mut x: Vec<f64> = avg.to_vec();
            x.extend_from_slice(&own);
            let dx = [-1.0, 0.0, 1.0, -1.0, 0.0, 1.0, -1.0, 0.0, 1.0];
            let dy = [1.0, 1.0, 1.0, 0.0, 0.0, 0.0, -1.0, -1.0, -1.0];
            for weights in [dx, dy] {
                x.extend((0..channels).map(|ch| {
                    (0..9)
                        .map(|k| perc.norm(config, k, ch) * weights[k])
                        .sum::<f64>()
                }));
            }
            let out = run_net(program, net, spec, &x);
            for (l, o) in logits.iter_mut().zip(&out[..9]) {
                *l += o;
            }
            let child = (0..a)
                .map(|i| (internal[i] + out[9 + a + i]).clamp(-STATE_CLIP, STATE_CLIP))
                .collect();
            let d = (0..a)
                .map(|i| clip_residual(internal[i], out[9 + i], STATE_CLIP))
                .collect();
            (child, d)
        }
        None => (vec![0.0; a], vec![0.0; a]),
    };
    let noisy: Vec<f64> = (0..9).map(|k| logits[k] + draws.gumbel[k]).collect();
    let slot = (0..9).fold(0, |b, k| if noisy[k] > noisy[b] { k } else { b });
    let target = perc.types[slot];
    let spawn_cost = config.spawn_cost.map(f32c);
    let affordable = (0..2).all(|n| perc.raw(4, channel::EARTH_NUTRIENT + n) >= spawn_cost[n]);
    let spawnable = target == kind::VOID || target == kind::AIR || target == kind::EARTH;
    (wants && affordable && spawnable).then(|| Spawn {
        slot,
        en_perc: param(program, layout.excl_en_perc).clamp(0.0, 1.0),
        child_state,
        dstate,
    })
}

/// Whether a flower's program asks to reproduce (every nutrient above its threshold) and
/// the environment allows it (it is a flower holding at least the reproduce cost).
pub fn wants_to_reproduce(
    program: &[f32],
    layout: &ProgramLayout,
    config: &BiomeConfig,
    perc: &Perception,
) -> bool {
    let cost = config.reproduce_cost.map(f32c);
    perc.types[4] == kind::FLOWER
        && (0..2).all(|n| {
            let raw = perc.raw(4, channel::EARTH_NUTRIENT + n);
            perc.norm(config, 4, channel::EARTH_NUTRIENT + n)
                > param(program, layout.repr_threshold + n)
                && raw >= cost[n]
        })
}
