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
    pub pad1: [u32; 2],
    pub width_div: [u32; 4],
    pub cells_div: [u32; 4],
    pub pad2: [u32; 24],
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
            pad1: [0; 2],
            width_div: divisor(config.columns()),
            cells_div: divisor(config.height * config.columns()),
            pad2: [0; 24],
        }
    }
}

/// The multiplier and shifts that divide any 32-bit number by `d` (at least 1) with a
/// multiply-high: `t = mulhi(n, m)`, `n / d = (t + ((n - t) >> s1)) >> s2`. Mirrors
/// `divide` in `shaders/common/biome.wgsl`; the fourth word pads the vec3.
pub(crate) fn divisor(d: u32) -> [u32; 4] {
    let d = d.max(1);
    let l = 32 - (d - 1).leading_zeros();
    let m = ((1u64 << 32) * ((1u64 << l) - u64::from(d)) / u64::from(d) + 1) as u32;
    [m, l.min(1), l.saturating_sub(1), 0]
}

#[cfg(test)]
mod tests {
    use super::divisor;

    fn divide(n: u32, by: [u32; 4]) -> u32 {
        let t = ((u64::from(n) * u64::from(by[0])) >> 32) as u32;
        (t + ((n - t) >> by[1])) >> by[2]
    }

    #[test]
    fn the_multiply_high_division_is_exact() {
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        };
        let mut divisors: Vec<u32> = (1..=300).collect();
        divisors.extend([
            1 << 10,
            1 << 31,
            3 << 29,
            u32::MAX,
            9216,
            72 * 288,
            2048 * 8192,
        ]);
        divisors.extend((0..200).map(|_| next() >> (next() % 32)).filter(|&d| d > 0));
        for d in divisors {
            let by = divisor(d);
            let mut ns = vec![0, 1, d - 1, d, d.saturating_add(1), u32::MAX, u32::MAX - 1];
            ns.extend((0..500).map(|_| next()));
            ns.extend((0..200).map(|_| next() % d.saturating_mul(64).max(1)));
            for n in ns {
                assert_eq!(divide(n, by), n / d, "{n} / {d}");
            }
        }
    }
}
