//! The CPU twin of the world's sub-steps: the same equations in plain loops, in f64, with
//! the same counter-based random draws as the kernels, so GPU and CPU worlds can be
//! compared sub-step by sub-step (types and ids exactly, floats to f32 precision).

mod agents;

pub use agents::{mutate, parallel, reproduction, runs_program, spawn_proposals, Reproductions};

use crate::biome::config::BiomeConfig;
use crate::biome::params::soil_rows;
use crate::biome::program::ProgramTable;
use crate::biome::state::{channel, kind, WorldState};
use crate::biome::step::SubStep;

/// Random streams (the third Philox counter word), as in `shaders/common/biome.wgsl`.
const STREAM_SOIL: u32 = 1;
const STREAM_EXCLUSIVE: u32 = 6;
const STREAM_CHOICE: u32 = 7;

const DIFFUSION_RATE: f64 = 0.1;
const SOIL_CONVERT_PROBABILITY: f32 = 0.05;
const INTEGRITY_PASSES: usize = 5;

/// Four random words for `item` in `stream` of step `step`.
pub(crate) fn step_bits(seed: u64, step: u64, item: usize, stream: u32, block: u32) -> [u32; 4] {
    crate::rng::philox4x32_10(
        [item as u32, step as u32, stream, block],
        crate::rng::seed_key(seed),
    )
}

/// Uniform index in [0, m): the high word of bits · m.
pub(crate) fn pick_below(bits: u32, m: u32) -> u32 {
    ((u64::from(bits) * u64::from(m)) >> 32) as u32
}

/// Flat index of the neighbour of `cell` in slot k, if inside the grid.
pub(crate) fn neighbor(world: &WorldState, cell: usize, k: usize) -> Option<usize> {
    let r = (cell / world.width) as isize + k as isize / 3 - 1;
    let c = (cell % world.width) as isize + k as isize % 3 - 1;
    (r >= 0 && c >= 0 && (r as usize) < world.height && (c as usize) < world.width)
        .then(|| r as usize * world.width + c as usize)
}

fn type_or_out(world: &WorldState, n: Option<usize>) -> u32 {
    n.map_or(kind::OUT_OF_BOUNDS, |i| world.types[i])
}

pub(crate) fn get(world: &WorldState, cell: usize, ch: usize) -> f64 {
    f64::from(world.state[cell * world.channels + ch])
}

pub(crate) fn set(world: &mut WorldState, cell: usize, ch: usize, v: f64) {
    world.state[cell * world.channels + ch] = v as f32;
}

pub(crate) fn reset(world: &mut WorldState, cell: usize, t: u32) {
    world.types[cell] = t;
    world.ids[cell] = 0;
    let s = world.channels;
    world.state[cell * s..(cell + 1) * s].fill(0.0);
}

fn copy_cell(dst: &mut WorldState, cell: usize, src: &WorldState, from: usize) {
    let s = src.channels;
    dst.types[cell] = src.types[from];
    dst.ids[cell] = src.ids[from];
    dst.state[cell * s..(cell + 1) * s].copy_from_slice(&src.state[from * s..(from + 1) * s]);
}

/// Soil balance (no-op when the limit is 0).
pub fn soil_balance(world: &mut WorldState, config: &BiomeConfig, seed: u64, step: u64) {
    if config.soil_unbalance_limit <= 0.0 {
        return;
    }
    let (earth_min_row, air_max_row) = soil_rows(config.height, config.soil_unbalance_limit);
    let (earth_min_row, air_max_row) = (earth_min_row as usize, air_max_row as usize);
    for col in 0..world.width {
        let surface = (0..world.height - 1).find(|&r| {
            let upper = world.type_at(r, col);
            let lower = world.type_at(r + 1, col);
            (upper == kind::AIR || upper == kind::SUN)
                && (lower == kind::EARTH || lower == kind::IMMOVABLE)
        });
        let Some(r) = surface else { continue };
        let bits = step_bits(seed, step, col, STREAM_SOIL, 0);
        let u = bits.map(crate::rng::u01);
        if r + 1 < earth_min_row && u[0] < SOIL_CONVERT_PROBABILITY {
            let i = world.index(r + 1, col);
            reset(world, i, kind::AIR);
        }
        if r > air_max_row && u[1] < SOIL_CONVERT_PROBABILITY {
            let i = world.index(r, col);
            reset(world, i, kind::EARTH);
        }
    }
}

fn structure_decay(t: u32) -> f64 {
    match t {
        kind::EARTH => 1.0,
        t if kind::is_agent(t) => 5.0,
        _ => 0.0,
    }
}

/// Five Jacobi passes of structural integrity.
pub fn integrity(world: &mut WorldState, config: &BiomeConfig) {
    let cells = world.cells();
    let mut current: Vec<f64> = (0..cells)
        .map(|i| get(world, i, channel::INTEGRITY))
        .collect();
    for _ in 0..INTEGRITY_PASSES {
        let next: Vec<f64> = (0..cells)
            .map(|i| {
                let t = world.types[i];
                if t == kind::IMMOVABLE {
                    config.struct_integrity_cap as f32 as f64
                } else if t == kind::EARTH || kind::is_agent(t) {
                    let best = (0..9)
                        .filter_map(|k| neighbor(world, i, k))
                        .map(|n| current[n])
                        .fold(current[i], f64::max);
                    (best - structure_decay(t)).max(0.0)
                } else {
                    0.0
                }
            })
            .collect();
        current = next;
    }
    for (i, v) in current.into_iter().enumerate() {
        set(world, i, channel::INTEGRITY, v);
    }
}

/// Gravity, bottom-up per column.
pub fn gravity(world: &mut WorldState) {
    if world.height < 2 {
        return;
    }
    for col in 0..world.width {
        for r in (0..world.height - 1).rev() {
            let upper = world.index(r, col);
            let lower = world.index(r + 1, col);
            let t = world.types[upper];
            let falls = t == kind::EARTH || kind::is_agent(t);
            let unsupported = !kind::is_agent(t) || get(world, upper, channel::INTEGRITY) <= 0.0;
            if falls && kind::is_intangible(world.types[lower]) && unsupported {
                world.types.swap(upper, lower);
                world.ids.swap(upper, lower);
                let s = world.channels;
                for ch in 0..s {
                    world.state.swap(upper * s + ch, lower * s + ch);
                }
            }
        }
    }
}

fn dissipation_rate(t: u32) -> f64 {
    match t {
        kind::UNSPECIALIZED => 0.5,
        kind::FLOWER => 1.2,
        _ => 1.0,
    }
}

/// The (earth, air) nutrient a cell holds as a medium, and whether it diffuses in each.
fn medium(world: &WorldState, config: &BiomeConfig, cell: usize) -> ([f64; 2], [f64; 2]) {
    let cap = config.material_nutrient_cap.map(|v| v as f32 as f64);
    match world.types[cell] {
        kind::EARTH => ([get(world, cell, channel::EARTH_NUTRIENT), 0.0], [1.0, 0.0]),
        kind::IMMOVABLE => ([cap[0], 0.0], [1.0, 0.0]),
        kind::AIR => ([0.0, get(world, cell, channel::AIR_NUTRIENT)], [0.0, 1.0]),
        kind::SUN => ([0.0, cap[1]], [0.0, 1.0]),
        _ => ([0.0; 2], [0.0; 2]),
    }
}

fn f32s(v: [f64; 2]) -> [f64; 2] {
    v.map(|x| x as f32 as f64)
}

/// What each cell offers after diffusion: (fraction per nutrient, kept per nutrient).
pub fn offers(world: &WorldState, config: &BiomeConfig) -> Vec<([f64; 2], [f64; 2])> {
    let absorb = f32s(config.absorption_amounts);
    (0..world.cells())
        .map(|i| {
            let (own, _) = medium(world, config, i);
            let mut flow = [0.0; 2];
            let mut asked = [0.0; 2];
            for n in (0..9).filter_map(|k| neighbor(world, i, k)) {
                let (other, mask) = medium(world, config, n);
                let t = world.types[n];
                for m in 0..2 {
                    flow[m] += mask[m] * (other[m] - own[m]);
                }
                asked[0] += absorb[0] * f64::from(u8::from(t == kind::ROOT));
                asked[1] += absorb[1] * f64::from(u8::from(t == kind::LEAF));
            }
            let t = world.types[i];
            let is_medium = [t == kind::EARTH, t == kind::AIR];
            let mut fraction = [0.0; 2];
            let mut kept = [0.0; 2];
            for m in 0..2 {
                let available = if is_medium[m] {
                    own[m] + DIFFUSION_RATE * flow[m]
                } else {
                    0.0
                };
                fraction[m] = (available / asked[m].max(1e-6)).clamp(0.0, 1.0);
                kept[m] = (available - asked[m]).max(0.0);
            }
            (fraction, kept)
        })
        .collect()
}

/// Diffusion, absorption, dissipation, aging leak and death.
pub fn energy(world: &mut WorldState, config: &BiomeConfig) {
    let offer = offers(world, config);
    let absorb = f32s(config.absorption_amounts);
    let dissipation = f32s(config.dissipation_per_step);
    let cap = f32s(config.nutrient_cap);
    let half_life = f64::from(config.max_lifetime as f32) * 0.5;
    for i in 0..world.cells() {
        let t = world.types[i];
        let mut nutrients = offer[i].1;
        if kind::is_agent(t) {
            let mut fractions = [0.0; 2];
            for n in (0..9).filter_map(|k| neighbor(world, i, k)) {
                fractions[0] += offer[n].0[0];
                fractions[1] += offer[n].0[1];
            }
            let ask = [
                absorb[0] * f64::from(u8::from(t == kind::ROOT)),
                absorb[1] * f64::from(u8::from(t == kind::LEAF)),
            ];
            for m in 0..2 {
                let own = get(world, i, channel::EARTH_NUTRIENT + m);
                let lost = dissipation[m] * dissipation_rate(t);
                nutrients[m] = (own + ask[m] * fractions[m] - lost).clamp(0.0, cap[m]);
            }
        }
        let age = get(world, i, channel::AGE);
        if age >= half_life {
            let keep = (1.0 - (age - half_life) / half_life).max(0.0);
            nutrients = nutrients.map(|v| v * keep);
        }
        if kind::is_agent(t) && (nutrients[0] == 0.0 || nutrients[1] == 0.0) {
            let earth = if nutrients[0] != 0.0 { kind::EARTH } else { 0 };
            let air = if nutrients[1] != 0.0 { kind::AIR } else { 0 };
            reset(world, i, earth + air);
        }
        set(world, i, channel::EARTH_NUTRIENT, nutrients[0]);
        set(world, i, channel::AIR_NUTRIENT, nutrients[1]);
    }
}

/// The slot each material cell proposes an exclusive op on (`None`: no op).
pub fn proposals(world: &WorldState, seed: u64, step: u64) -> Vec<Option<usize>> {
    (0..world.cells())
        .map(|i| {
            let t = world.types[i];
            let bits = || step_bits(seed, step, i, STREAM_EXCLUSIVE, 0)[0];
            if t == kind::AIR {
                let j = pick_below(bits(), 8) as usize;
                let k = if j < 4 { j } else { j + 1 };
                (type_or_out(world, neighbor(world, i, k)) == kind::VOID).then_some(k)
            } else if t == kind::EARTH {
                if kind::is_intangible(type_or_out(world, neighbor(world, i, 7))) {
                    return None;
                }
                let side = if pick_below(bits(), 2) == 0 { 3 } else { 5 };
                let open = |k| kind::is_intangible(type_or_out(world, neighbor(world, i, k)));
                (open(side) && open(side + 3)).then_some(side)
            } else {
                None
            }
        })
        .collect()
}

/// The neighbour slot each target accepts (`None`: no proposal aims at it).
pub fn choices(
    world: &WorldState,
    proposal: &[Option<usize>],
    seed: u64,
    step: u64,
) -> Vec<Option<usize>> {
    (0..world.cells())
        .map(|i| {
            let aiming: Vec<usize> = (0..9)
                .filter(|&j| j != 4)
                .filter(|&j| neighbor(world, i, j).is_some_and(|n| proposal[n] == Some(8 - j)))
                .collect();
            if aiming.is_empty() {
                return None;
            }
            let bits = step_bits(seed, step, i, STREAM_CHOICE, 0)[0];
            Some(aiming[pick_below(bits, aiming.len() as u32) as usize])
        })
        .collect()
}

/// The exclusive ops: proposals (materials, and agents' spawns), one accepted per
/// target, actor updates then target updates.
pub fn exclusive(
    world: &mut WorldState,
    programs: &ProgramTable,
    config: &BiomeConfig,
    seed: u64,
    step: u64,
) {
    let prev = world.clone();
    let mut proposal = proposals(&prev, seed, step);
    let spawns = spawn_proposals(&prev, programs, config, seed, step);
    for (p, s) in proposal.iter_mut().zip(&spawns) {
        if let Some(s) = s {
            *p = Some(s.slot);
        }
    }
    let choice = choices(&prev, &proposal, seed, step);
    let cost = config.spawn_cost.map(|v| f64::from(v as f32));
    let spendable = |cell: usize| {
        [0, 1].map(|m| (get(&prev, cell, channel::EARTH_NUTRIENT + m) - cost[m]).max(0.0))
    };
    for i in 0..prev.cells() {
        if let Some(k) = proposal[i] {
            let Some(target) = neighbor(&prev, i, k) else {
                continue;
            };
            if choice[target] == Some(8 - k) {
                match (prev.types[i], &spawns[i]) {
                    (kind::EARTH, _) => copy_cell(world, i, &prev, target),
                    (_, Some(s)) => {
                        for (m, keep) in spendable(i).into_iter().enumerate() {
                            let ch = channel::EARTH_NUTRIENT + m;
                            set(world, i, ch, keep * (1.0 - s.en_perc));
                        }
                        for (j, d) in s.dstate.iter().enumerate() {
                            let ch = channel::AGENT_STATE + j;
                            set(world, i, ch, get(&prev, i, ch) + d);
                        }
                    }
                    _ => {}
                }
            }
        }
        if let Some(j) = choice[i] {
            let Some(actor) = neighbor(&prev, i, j) else {
                continue;
            };
            match (prev.types[actor], &spawns[actor]) {
                (kind::AIR, _) => reset(world, i, kind::AIR),
                (kind::EARTH, _) => copy_cell(world, i, &prev, actor),
                (_, Some(s)) => {
                    reset(world, i, kind::UNSPECIALIZED);
                    world.ids[i] = prev.ids[actor];
                    set(world, i, channel::AGE, get(&prev, actor, channel::AGE));
                    for (m, child) in spendable(actor).into_iter().enumerate() {
                        set(world, i, channel::EARTH_NUTRIENT + m, child * s.en_perc);
                    }
                    for (j, v) in s.child_state.iter().enumerate() {
                        set(world, i, channel::AGENT_STATE + j, *v);
                    }
                }
                _ => {}
            }
        }
    }
}

/// Agents grow one step older.
pub fn aging(world: &mut WorldState) {
    for i in 0..world.cells() {
        if kind::is_agent(world.types[i]) {
            let age = get(world, i, channel::AGE);
            set(world, i, channel::AGE, age + 1.0);
        }
    }
}

/// Runs one sub-step of step `step`.
pub fn substep(
    world: &mut WorldState,
    programs: &mut ProgramTable,
    config: &BiomeConfig,
    seed: u64,
    step: u64,
    sub: SubStep,
) {
    match sub {
        SubStep::SoilBalance => soil_balance(world, config, seed, step),
        SubStep::Integrity => integrity(world, config),
        SubStep::Gravity => gravity(world),
        SubStep::Reproduction => {
            reproduction(world, programs, config, seed, step);
        }
        SubStep::Parallel => parallel(world, programs, config),
        SubStep::Energy => energy(world, config),
        SubStep::Exclusive => exclusive(world, programs, config, seed, step),
        SubStep::Aging => aging(world),
    }
}

/// Runs whole step `step` (every sub-step in order).
pub fn step(
    world: &mut WorldState,
    programs: &mut ProgramTable,
    config: &BiomeConfig,
    seed: u64,
    step: u64,
) {
    for sub in SubStep::ALL {
        substep(world, programs, config, seed, step, sub);
    }
}
