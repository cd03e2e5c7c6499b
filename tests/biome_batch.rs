//! Batches of biome worlds: a world advanced in a batch is bit for bit the world advanced
//! alone (grids, programs with their mutations, census, pictures, checkpoints).

mod common;

use common::biome::{random_programs, random_world, test_config};
use common::{ctx, seed, TestRng};
use morphogen::biome::{
    BiomeConfig, Census, Mutator, Preset, RunOptions, Width, World, WorldParts, Worlds,
};

/// Runs `worlds` for `steps` steps in census batches of `batch`; each world's rows.
fn run_batch(worlds: &mut Worlds, steps: u64, batch: usize) -> Vec<Vec<Census>> {
    let mut rows = vec![Vec::new(); worlds.count()];
    worlds
        .run_with(
            steps,
            &RunOptions::default().batch(batch).census(true),
            |done, census| {
                for (all, new) in rows.iter_mut().zip(census) {
                    assert_eq!(new.last().map(|c| c.step), Some(done));
                    all.extend_from_slice(new);
                }
                Ok(())
            },
        )
        .unwrap();
    rows
}

fn run_alone(world: &mut World, steps: u64, batch: usize) -> Vec<Census> {
    let mut rows = Vec::new();
    world
        .run_with(
            steps,
            &RunOptions::default().batch(batch).census(true),
            |_, census| {
                rows.extend_from_slice(census);
                Ok(())
            },
        )
        .unwrap();
    rows
}

#[test]
fn a_world_in_a_batch_runs_exactly_as_it_runs_alone() {
    let s = seed("a_world_in_a_batch_runs_exactly_as_it_runs_alone");
    let mut rng = TestRng::new(s);
    // 17 x 23 = 391 cells: census workgroups of 64 straddle worlds. Random worlds are
    // full of flowers, so reproduction and mutation happen from the first step.
    let mut config = test_config(17, 23);
    config.agents.mutator = Mutator::Basic {
        sd: 0.05,
        change_perc: 0.5,
    };
    let parts: Vec<WorldParts> = (0..3)
        .map(|_| WorldParts {
            state: random_world(&mut rng, &config),
            programs: random_programs(&mut rng, &config),
            seed: rng.next_u64(),
        })
        .collect();
    let steps = 24;
    let mut batch = Worlds::from_parts(ctx(), &config, &parts, 5).unwrap();
    let rows = run_batch(&mut batch, steps, 7);
    let mut reproductions = 0;
    for (w, part) in parts.iter().enumerate() {
        let mut alone =
            World::from_parts(ctx(), &config, &part.state, &part.programs, part.seed, 5).unwrap();
        let alone_rows = run_alone(&mut alone, steps, 5);
        assert_eq!(rows[w], alone_rows, "world {w}: census");
        assert_eq!(
            batch.download(w).unwrap(),
            alone.download().unwrap(),
            "world {w}: grids"
        );
        assert_eq!(
            batch.programs(w).unwrap(),
            alone.programs().unwrap(),
            "world {w}: programs"
        );
        assert_eq!(
            batch.render(w, 2).unwrap().rgba,
            alone.render(2).unwrap().rgba,
            "world {w}: picture"
        );
        assert_eq!(
            batch.checkpoint(w).unwrap(),
            alone.checkpoint().unwrap(),
            "world {w}: checkpoint"
        );
        assert_ne!(
            batch.programs(w).unwrap(),
            part.programs,
            "world {w}: no program mutated, the test is vacuous"
        );
        reproductions += rows[w].iter().map(|c| c.reproductions).sum::<u32>();
    }
    assert!(
        reproductions > 0,
        "no world reproduced: the test is vacuous"
    );
    assert_ne!(
        batch.download(0).unwrap(),
        batch.download(1).unwrap(),
        "two worlds of the batch ended the same"
    );
}

#[test]
fn a_seed_sweep_in_one_batch_equals_the_worlds_run_one_by_one() {
    let s = seed("a_seed_sweep_in_one_batch_equals_the_worlds_run_one_by_one");
    let config = BiomeConfig::preset(Preset::Persistence)
        .height(16)
        .width(Width::Columns(40))
        .soil_unbalance_limit(1.0 / 3.0);
    let seeds = [s, s.wrapping_add(1), s.wrapping_add(2), s ^ 0xabcd];
    let mut batch = Worlds::new(ctx(), &config, &seeds).unwrap();
    batch.run(90).unwrap();
    for (w, &seed) in seeds.iter().enumerate() {
        let mut alone = World::new(ctx(), &config, seed).unwrap();
        alone.run(90).unwrap();
        assert_eq!(
            batch.download(w).unwrap(),
            alone.download().unwrap(),
            "seed {seed}"
        );
    }
    // Resetting the batch to other seeds runs those seeds, with the same pipelines.
    let others = [s ^ 1, s ^ 2, s ^ 3, s ^ 4];
    let state = morphogen::biome::WorldState::initial(&config).unwrap();
    let parts: Vec<WorldParts> = others
        .iter()
        .map(|&seed| WorldParts {
            state: state.clone(),
            programs: morphogen::biome::ProgramTable::initial(&config, seed),
            seed,
        })
        .collect();
    batch.reset(&parts, 0).unwrap();
    batch.run(30).unwrap();
    let mut alone = World::new(ctx(), &config, others[2]).unwrap();
    alone.run(30).unwrap();
    assert_eq!(batch.download(2).unwrap(), alone.download().unwrap());
}

#[test]
fn a_batch_refuses_what_it_does_not_hold() {
    let config = test_config(8, 12);
    assert!(Worlds::new(ctx(), &config, &[]).is_err());
    let mut batch = Worlds::new(ctx(), &config, &[1, 2]).unwrap();
    let err = batch.download(2).unwrap_err().to_string();
    assert!(err.contains("world 2 is not in a batch of 2"), "{err}");
    assert!(batch.render(5, 1).is_err());
    assert!(batch.programs(9).is_err());
    assert!(batch.reset(&[], 0).is_err());
    let fits = Worlds::max_batch(ctx(), &config);
    assert!(fits >= 2, "{fits}");
    // Beyond what any grid of 4 bytes a cell can bind (on lavapipe; GPUs may bind more).
    let huge = config.clone().height(8192).width(Width::Columns(16384));
    let err = Worlds::new(ctx(), &huge, &[1]).err().map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains("max_storage_buffer_binding_size")),
        "{err:?}"
    );
    let big = config.clone().height(600).width(Width::Columns(1000));
    let fits = Worlds::max_batch(ctx(), &big);
    assert!(fits >= 1, "{fits}");
    let seeds: Vec<u64> = (0..fits as u64 + 1).collect();
    let err = Worlds::new(ctx(), &big, &seeds)
        .err()
        .map(|e| e.to_string());
    assert!(
        err.as_deref()
            .is_some_and(|e| e.contains(&format!("at most {fits}"))),
        "{err:?}"
    );
}

/// A context whose storage bindings hold `bytes` at most (the device's own limit stays).
fn capped_ctx(bytes: u64) -> morphogen::gpu::GpuContext {
    use morphogen::gpu::{ContextOptions, GpuContext};
    GpuContext::with_options(&ContextOptions::default().binding_cap(bytes)).unwrap()
}

#[test]
fn a_world_beyond_one_binding_runs_exactly_as_within_one() {
    let s = seed("a_world_beyond_one_binding_runs_exactly_as_within_one");
    let mut rng = TestRng::new(s);
    // Bindings of 6 bytes a cell: the state (24 bytes a cell) and the previous state are
    // bound in 4 windows, the offers in 3, the reproduction candidates in 2; the 4-byte
    // grids, the programs and the per-agent scratch (for 1 agent in 16 cells) in one.
    // The world starts with about 2% agents and runs 12 steps.
    let (h, w) = (128u32, 144u32);
    let cells = (h * w) as usize;
    let mut config = test_config(h, w);
    config.agents.slots = 2;
    config.agents.mutator = Mutator::Basic {
        sd: 0.05,
        change_perc: 0.5,
    };
    let mut state = random_world(&mut rng, &config);
    // A sparse world: most agents of the random world become AIR, so the agents stay
    // within the capped scratch (checked below).
    for i in 0..cells {
        if morphogen::biome::kind::is_agent(state.types[i]) && rng.uniform() < 0.93 {
            state.types[i] = morphogen::biome::kind::AIR;
            state.ids[i] = 0;
            for v in &mut state.state[i * state.channels..(i + 1) * state.channels] {
                *v = 0.0;
            }
        }
        if state.ids[i] >= config.agents.slots {
            state.ids[i] = 0;
        }
    }
    let programs = random_programs(&mut rng, &config);
    let cap = (cells * 6) as u64;
    assert!(
        programs.data.len() as u64 * 4 <= cap,
        "the programs ({} bytes) must fit one capped binding ({cap})",
        programs.data.len() * 4
    );
    let parts = [WorldParts {
        state,
        programs,
        seed: s,
    }];
    let capped = capped_ctx(cap);
    let mut banked = Worlds::from_parts(&capped, &config, &parts, 0).unwrap();
    let mut plain = Worlds::from_parts(ctx(), &config, &parts, 0).unwrap();
    assert_eq!(banked.state_windows(), 4);
    assert_eq!(plain.state_windows(), 1);
    let steps = 12;
    let banked_rows = run_batch(&mut banked, steps, 8);
    let plain_rows = run_batch(&mut plain, steps, 8);
    let capacity = cap / 96;
    let most = plain_rows[0].iter().map(Census::agents).max().unwrap();
    eprintln!("at most {most} agents; the capped scratch holds {capacity}");
    assert!(
        most < capacity,
        "{most} agents outgrew the capped scratch ({capacity}); the test needs a sparser world"
    );
    let flowers = plain_rows[0]
        .iter()
        .map(|c| c.by_specialization()[3])
        .max()
        .unwrap();
    assert!(flowers > 0, "no flowers: reproduction was not exercised");
    assert_eq!(banked_rows, plain_rows);
    assert_eq!(banked.download(0).unwrap(), plain.download(0).unwrap());
    assert_eq!(
        banked.render(0, 1).unwrap().rgba,
        plain.render(0, 1).unwrap().rgba
    );
}
