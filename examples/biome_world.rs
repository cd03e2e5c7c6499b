//! Visual check of the biome world (its physics, without agent programs): the initial
//! world of each preset as a PNG, and a time-lapse (animated PNG) of a landslide: a
//! persistence world with soil balancing on, a slab of earth hanging in the air, a
//! hole of VOID in the ground and a stack of unsupported agent cells. The slab and the
//! agents fall, the earth slides into slopes, AIR fills the hole, nutrients diffuse.
//!
//! `cargo run --release --example biome_world [-- OUT_DIR]`

use std::path::PathBuf;

use morphogen::biome::{channel, kind, BiomeConfig, Preset, TimeLapse, Width, World, WorldState};
use morphogen::gpu::GpuContext;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "biome_world".into()),
    );
    std::fs::create_dir_all(&out)?;
    let ctx = GpuContext::new()?;
    for preset in Preset::ALL {
        let config = BiomeConfig::preset(preset).width(Width::Landscape);
        let world = World::new(&ctx, &config, 0)?;
        let path = out.join(format!("{}.png", preset.name()));
        world.render(4)?.save(&path)?;
        println!("wrote {}", path.display());
    }

    let config = BiomeConfig::preset(Preset::Persistence)
        .height(72)
        .width(Width::Landscape)
        .soil_unbalance_limit(1.0 / 3.0);
    let mut state = WorldState::initial(&config)?;
    let w = state.width;
    for r in 8..18 {
        for c in 20..50 {
            let i = state.index(r, c);
            state.types[i] = kind::EARTH;
            state.state_at_mut(r, c)[channel::EARTH_NUTRIENT] = 6.0;
        }
    }
    for r in 40..52 {
        for c in w - 40..w - 20 {
            let i = state.index(r, c);
            state.types[i] = kind::VOID;
            state.state_at_mut(r, c).fill(0.0);
        }
    }
    for r in 10..20 {
        let i = state.index(r, 90);
        state.types[i] = kind::LEAF;
        state.ids[i] = 5;
        let s = state.state_at_mut(r, 90);
        s[channel::EARTH_NUTRIENT] = 3.0;
        s[channel::AIR_NUTRIENT] = 3.0;
    }
    let mut world = World::from_state(&ctx, &config, &state, 11, 0)?;
    let mut lapse = TimeLapse::new();
    lapse.push(world.render(3)?)?;
    for _ in 0..120 {
        world.run(5)?;
        lapse.push(world.render(3)?)?;
    }
    let path = out.join("landslide.png");
    lapse.save(&path, 12)?;
    world.render(4)?.save(&out.join("landslide_end.png"))?;
    println!(
        "wrote {} ({} frames) and landslide_end.png",
        path.display(),
        lapse.len()
    );
    Ok(())
}
