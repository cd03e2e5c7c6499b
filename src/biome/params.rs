//! The per-step parameter block every biome kernel reads (`Params` in
//! `shaders/common/biome.wgsl`): one 256-byte block per step, bound with a dynamic offset,
//! so many steps record into one submission.

use bytemuck::{Pod, Zeroable};

use crate::biome::config::BiomeConfig;

/// Mirrors `Params` in `shaders/common/biome.wgsl`, padded to a 256-byte block.
#[repr(C)]
#[derive(Clone, Copy, Debug, Pod, Zeroable)]
pub(crate) struct StepParams {
    pub height: u32,
    pub width: u32,
    pub channels: u32,
    pub step: u32,
    pub earth_min_row: u32,
    pub air_max_row: u32,
    pub soil_on: u32,
    pub zoom: u32,
    pub record_slot: u32,
    pub intercept: u32,
    pub struct_cap: f32,
    pub max_lifetime: f32,
    pub repr_min_energy: [f32; 2],
    pub absorption: [f32; 2],
    pub dissipation: [f32; 2],
    pub nutrient_cap: [f32; 2],
    pub material_cap: [f32; 2],
    pub spawn_cost: [f32; 2],
    pub reproduce_cost: [f32; 2],
    pub specialize_cost: [f32; 2],
    pub worlds: u32,
    pub world: u32,
    pub pad2: [u32; 34],
}

const _: () = assert!(std::mem::size_of::<StepParams>() == 256);

/// Rows above which earth turns to air, and below which air turns to earth, under soil
/// balancing: `int(h · limit)` and `int(h · (1 − limit))`, as the reference truncates them.
pub(crate) fn soil_rows(height: u32, limit: f64) -> (u32, u32) {
    let h = f64::from(height);
    ((h * limit) as u32, (h * (1.0 - limit)) as u32)
}

impl StepParams {
    /// The block for step `step` of a batch of `worlds` worlds of `config` (their seeds
    /// are in a table of their own).
    pub fn new(config: &BiomeConfig, worlds: usize, step: u64) -> Self {
        let pair = |v: [f64; 2]| [v[0] as f32, v[1] as f32];
        let (earth_min_row, air_max_row) = soil_rows(config.height, config.soil_unbalance_limit);
        Self {
            height: config.height,
            width: config.columns(),
            channels: config.state_channels() as u32,
            step: step as u32,
            earth_min_row,
            air_max_row,
            soil_on: u32::from(config.soil_unbalance_limit > 0.0),
            zoom: 1,
            record_slot: 0,
            intercept: u32::from(config.intercept_reproduction.is_some()),
            struct_cap: config.struct_integrity_cap as f32,
            max_lifetime: config.max_lifetime as f32,
            repr_min_energy: pair(config.intercept_reproduction.unwrap_or_default()),
            absorption: pair(config.absorption_amounts),
            dissipation: pair(config.dissipation_per_step),
            nutrient_cap: pair(config.nutrient_cap),
            material_cap: pair(config.material_nutrient_cap),
            spawn_cost: pair(config.spawn_cost),
            reproduce_cost: pair(config.reproduce_cost),
            specialize_cost: pair(config.specialize_cost),
            worlds: worlds as u32,
            world: 0,
            pad2: [0; 34],
        }
    }
}
