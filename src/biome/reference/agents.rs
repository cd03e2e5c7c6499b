//! The CPU twin of the agent sub-steps: reproduction with mutation, the parallel op, and
//! the spawn proposals of the exclusive op.

use crate::biome::agent_logic::{
    parallel_op, spawn_op, wants_to_reproduce, Perception, Spawn, SpawnDraws,
};
use crate::biome::config::BiomeConfig;
pub use crate::biome::metrics::Reproductions;
use crate::biome::program::{Mutator, ProgramTable, ADAPTIVE_SD_RANGE};
use crate::biome::state::{channel, kind, WorldState};

use super::{pick_below, step_bits};

const STREAM_REPRODUCE: u32 = 3;
const STREAM_SPAWN: u32 = 8;
const STREAM_MUTATE: u32 = 9;

/// Whether the agent at `cell` runs its program (an agent with a slot in the table whose
/// values are all finite).
pub fn runs_program(
    world: &WorldState,
    programs: &ProgramTable,
    usable: &[u32],
    cell: usize,
) -> bool {
    let id = world.ids[cell] as usize;
    kind::is_agent(world.types[cell]) && id < programs.slots() && usable[id] != 0
}

fn u01(bits: u32) -> f64 {
    f64::from(crate::rng::u01(bits))
}

fn gumbel(bits: u32) -> f64 {
    -(-u01(bits).ln()).ln()
}

/// The parallel op: every agent decides on the grid as it is, then every cell gathers.
pub fn parallel(world: &mut WorldState, programs: &ProgramTable, config: &BiomeConfig) {
    let usable = programs.usable();
    let ops: Vec<Option<_>> = (0..world.cells())
        .map(|i| {
            runs_program(world, programs, &usable, i).then(|| {
                parallel_op(
                    programs.program(world.ids[i] as usize),
                    &programs.layout,
                    config,
                    config.agents.perceive_ids,
                    &Perception::of(world, i),
                )
            })
        })
        .collect();
    let before = world.clone();
    let cap = |t: u32| {
        let c = if kind::is_agent(t) {
            config.nutrient_cap
        } else {
            config.material_nutrient_cap
        };
        c.map(|v| v as f32 as f64)
    };
    for i in 0..world.cells() {
        let mut received = [0.0f64; 2];
        for k in 0..9 {
            let Some(n) = super::neighbor(&before, i, k) else {
                continue;
            };
            if let Some(op) = &ops[n] {
                received[0] += op.sent[8 - k][0];
                received[1] += op.sent[8 - k][1];
            }
        }
        let c = cap(before.types[i]);
        for m in 0..2 {
            let v = super::get(&before, i, channel::EARTH_NUTRIENT + m) + received[m];
            super::set(world, i, channel::EARTH_NUTRIENT + m, v.clamp(0.0, c[m]));
        }
        if let Some(op) = &ops[i] {
            for (j, d) in op.dstate.iter().enumerate() {
                let ch = channel::AGENT_STATE + j;
                let v = super::get(&before, i, ch) + d;
                super::set(world, i, ch, v);
            }
            world.types[i] = op.new_type;
        }
    }
}

/// The spawn decision of every agent that runs its program.
pub fn spawn_proposals(
    world: &WorldState,
    programs: &ProgramTable,
    config: &BiomeConfig,
    seed: u64,
    step: u64,
) -> Vec<Option<Spawn>> {
    let usable = programs.usable();
    (0..world.cells())
        .map(|i| {
            if !runs_program(world, programs, &usable, i) {
                return None;
            }
            let b: Vec<u32> = (0..3)
                .flat_map(|block| step_bits(seed, step, i, STREAM_SPAWN, block))
                .collect();
            let mut g = [0.0; 9];
            for (k, v) in g.iter_mut().enumerate() {
                *v = gumbel(b[k + 1]);
            }
            let draws = SpawnDraws {
                uniform: u01(b[0]),
                gumbel: g,
            };
            spawn_op(
                programs.program(world.ids[i] as usize),
                &programs.layout,
                config,
                &Perception::of(world, i),
                &draws,
            )
        })
        .collect()
}

fn mutation_bits(seed: u64, step: u64, j: usize, pick: usize, block: u32) -> [u32; 4] {
    crate::rng::philox4x32_10(
        [
            j as u32,
            step as u32,
            STREAM_MUTATE | ((pick as u32) << 8),
            block,
        ],
        crate::rng::seed_key(seed),
    )
}

fn box_muller(bits: [u32; 4]) -> f64 {
    (-2.0 * u01(bits[0]).ln()).sqrt() * (std::f64::consts::TAU * u01(bits[1])).cos()
}

fn truncated_normal(seed: u64, step: u64, j: usize, pick: usize, first: u32) -> f64 {
    (0..32)
        .map(|a| box_muller(mutation_bits(seed, step, j, pick, first + 2 * a)))
        .find(|z| z.abs() <= 3.0)
        .unwrap_or(0.0)
}

/// Writes the mutation of slot `from` into slot `to`, as reproduction pick `pick`.
pub fn mutate(
    programs: &mut ProgramTable,
    mutator: &Mutator,
    from: usize,
    to: usize,
    pick: usize,
    seed: u64,
    step: u64,
) {
    let n = programs.layout.len;
    let src = programs.slot(from).to_vec();
    let stride = programs.stride;
    let dst = &mut programs.data[to * stride..(to + 1) * stride];
    for j in 0..n {
        let b0 = mutation_bits(seed, step, j, pick, 0);
        match *mutator {
            Mutator::None => dst[j] = src[j],
            Mutator::Basic { sd, change_perc } => {
                let change = crate::rng::u01(b0[0]) < change_perc as f32;
                let mut v = f64::from(src[j]);
                if change {
                    v += box_muller([b0[1], b0[2], 0, 0]) * f64::from(sd as f32);
                }
                dst[j] = v as f32;
            }
            Mutator::Adaptive {
                change_perc,
                meta_sd_perc,
                ..
            } => {
                let change = crate::rng::u01(b0[0]) < change_perc as f32;
                let (mut mu, mut sd) = (f64::from(src[j]), f64::from(src[n + j]));
                if change {
                    let dmu = truncated_normal(seed, step, j, pick, 1) * sd;
                    let dsd = truncated_normal(seed, step, j, pick, 2)
                        * sd
                        * f64::from(meta_sd_perc as f32);
                    mu += dmu;
                    sd = (sd + dsd).clamp(ADAPTIVE_SD_RANGE.0, ADAPTIVE_SD_RANGE.1);
                }
                dst[j] = mu as f32;
                dst[n + j] = sd as f32;
            }
        }
    }
}

/// Reproduction: flowers picked by their keys, programs mutated into free slots, seeds
/// placed in order, flowers removed. In the petri-dish mode
/// (`config.intercept_reproduction`) the picks are counted instead, and their flowers
/// removed.
pub fn reproduction(
    world: &mut WorldState,
    programs: &mut ProgramTable,
    config: &BiomeConfig,
    seed: u64,
    step: u64,
) -> Reproductions {
    let usable = programs.usable();
    let slots = programs.slots();
    let mut counts = vec![0u32; slots];
    let mut candidates: Vec<(f64, usize)> = Vec::new();
    for i in 0..world.cells() {
        if !kind::is_agent(world.types[i]) || world.ids[i] as usize >= slots {
            continue;
        }
        let id = world.ids[i] as usize;
        counts[id] += 1;
        if world.types[i] != kind::FLOWER || usable[id] == 0 {
            continue;
        }
        let perc = Perception::of(world, i);
        let air = perc.average_types()[kind::AIR as usize] * 8.0;
        if air == 0.0 || !wants_to_reproduce(programs.program(id), &programs.layout, config, &perc)
        {
            continue;
        }
        let u = u01(step_bits(seed, step, i, STREAM_REPRODUCE, 0)[0]);
        candidates.push((air.ln() - (-u.ln()).ln(), i));
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let picks = config.n_reproduce_per_step as usize;
    let intercept = config.intercept_reproduction;
    let mutating = config.agents.mutator != Mutator::None && intercept.is_none();
    let mut order: Vec<usize> = (0..slots).collect();
    order.sort_by_key(|&s| (counts[s], s));
    let mut done = Reproductions::default();
    let mut executed = Vec::new();
    for i in 0..picks {
        let Some(&(_, flower)) = candidates.get(i) else {
            continue;
        };
        let slot = order.get(i).copied();
        if mutating && slot.is_none_or(|s| counts[s] != 0) {
            continue;
        }
        done.executed += 1;
        executed.push(flower);
        if let Some(min) = intercept {
            let held = world.state_at(flower / world.width, flower % world.width);
            let cost = config.reproduce_cost.map(|v| v as f32);
            let stored = [
                held[channel::EARTH_NUTRIENT] - cost[0],
                held[channel::AIR_NUTRIENT] - cost[1],
            ];
            if stored[0] >= min[0] as f32 && stored[1] >= min[1] as f32 {
                done.intercepted += 1;
            }
            continue;
        }
        let parent = world.ids[flower] as usize;
        let child = match slot {
            Some(s) if mutating => {
                mutate(programs, &config.agents.mutator, parent, s, i, seed, step);
                s
            }
            _ => parent,
        };
        let center = (flower % world.width) as i64;
        let valid: Vec<(usize, usize)> = (0..world.width)
            .filter(|&c| {
                let d = (c as i64 - center).unsigned_abs();
                d >= u64::from(config.reproduce_min_dist)
                    && d <= u64::from(config.reproduce_max_dist)
            })
            .filter_map(|c| world.fertile_row(c).map(|r| (c, r)))
            .collect();
        if valid.is_empty() {
            continue;
        }
        let rank = pick_below(
            step_bits(seed, step, i, STREAM_REPRODUCE, 1)[0],
            valid.len() as u32,
        ) as usize;
        let (col, row) = valid[rank];
        let cost = config.reproduce_cost.map(|v| v as f32);
        let stored = [
            (world.state_at(flower / world.width, flower % world.width)[channel::EARTH_NUTRIENT]
                - cost[0])
                * 0.5,
            (world.state_at(flower / world.width, flower % world.width)[channel::AIR_NUTRIENT]
                - cost[1])
                * 0.5,
        ];
        world
            .place_seed(col, Some(row), child as u32, stored.map(f64::from))
            .expect("a fertile row leaves room for two cells");
        done.placed += 1;
    }
    for flower in executed {
        super::reset(world, flower, kind::VOID);
    }
    done
}
