//! Random biome worlds and programs for the biome tests.

use morphogen::biome::{channel, kind, BiomeConfig, Preset, ProgramTable, Width, WorldState};

use super::TestRng;

/// A random world: every cell type, random integrity, ages (some past half-life),
/// nutrients (some exactly zero), agent state and ids.
pub fn random_world(rng: &mut TestRng, config: &BiomeConfig) -> WorldState {
    let (h, w) = (config.height as usize, config.columns() as usize);
    let mut world = WorldState::air(h, w, config.state_channels());
    let weights = [
        (kind::VOID, 0.12),
        (kind::AIR, 0.25),
        (kind::EARTH, 0.28),
        (kind::IMMOVABLE, 0.04),
        (kind::SUN, 0.04),
        (kind::UNSPECIALIZED, 0.06),
        (kind::ROOT, 0.07),
        (kind::LEAF, 0.07),
        (kind::FLOWER, 0.07),
    ];
    for i in 0..world.cells() {
        let mut u = rng.uniform();
        let t = weights
            .iter()
            .find(|(_, p)| {
                u -= p;
                u < 0.0
            })
            .map_or(kind::AIR, |(t, _)| *t);
        world.types[i] = t;
        let agent = kind::is_agent(t);
        let s = &mut world.state[i * world.channels..(i + 1) * world.channels];
        if agent || t == kind::EARTH {
            s[channel::INTEGRITY] = if rng.uniform() < 0.5 {
                0.0
            } else {
                rng.below(200) as f32
            };
        }
        for m in 0..2 {
            s[channel::EARTH_NUTRIENT + m] = if rng.uniform() < 0.1 {
                0.0
            } else {
                (rng.uniform() * 10.0) as f32
            };
        }
        if agent {
            s[channel::AGE] = rng.below(config.max_lifetime as usize) as f32;
            for v in &mut s[channel::AGENT_STATE..] {
                *v = rng.normal() as f32;
            }
            world.ids[i] = rng.below(6) as u32;
        }
    }
    world
}

pub fn test_config(h: u32, w: u32) -> BiomeConfig {
    let mut config = BiomeConfig::preset(Preset::Pestilence)
        .height(h)
        .width(Width::Columns(w))
        .soil_unbalance_limit(1.0 / 3.0);
    config.max_lifetime = 60;
    config
}

/// Fresh programs with every parameter perturbed, so that the networks' last layers
/// matter too.
pub fn random_programs(rng: &mut TestRng, config: &BiomeConfig) -> ProgramTable {
    let mut table = ProgramTable::initial(config, rng.next_u64());
    for v in &mut table.data {
        *v += (0.3 * rng.normal()) as f32;
    }
    table
}
