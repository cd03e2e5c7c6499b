//! The biome world on the GPU: every sub-step against its CPU twin on random worlds,
//! physical invariants, determinism and checkpoint/resume.

mod common;

use common::biome::{random_programs, random_world, test_config};
use common::{ctx, seed, TestRng};
use morphogen::biome::{
    channel, kind, reference, render_cpu, AgentModel, BiomeConfig, Mutator, Preset, ProgramTable,
    RunOptions, SubStep, Width, World, WorldState,
};

fn gpu_substep(
    config: &BiomeConfig,
    world: &WorldState,
    programs: &ProgramTable,
    seed: u64,
    step: u64,
    sub: SubStep,
) -> (WorldState, ProgramTable) {
    let mut gpu = World::from_parts(ctx(), config, world, programs, seed, step).unwrap();
    gpu.run_substep(sub).unwrap();
    (gpu.download().unwrap(), gpu.programs().unwrap())
}

fn assert_programs_match(what: &str, gpu: &ProgramTable, cpu: &ProgramTable) {
    assert_eq!(gpu.data.len(), cpu.data.len());
    for (i, (g, c)) in gpu.data.iter().zip(&cpu.data).enumerate() {
        assert!(
            (g - c).abs() <= 1e-5 * (1.0 + c.abs()),
            "{what}: program value {i} (slot {}): GPU {g}, CPU {c}",
            i / gpu.stride
        );
    }
}

fn assert_worlds_match(what: &str, gpu: &WorldState, cpu: &WorldState) {
    for i in 0..cpu.cells() {
        let (r, c) = (i / cpu.width, i % cpu.width);
        assert_eq!(gpu.types[i], cpu.types[i], "{what}: type at ({r}, {c})");
        assert_eq!(gpu.ids[i], cpu.ids[i], "{what}: id at ({r}, {c})");
        for ch in 0..cpu.channels {
            let (g, e) = (gpu.state_at(r, c)[ch], cpu.state_at(r, c)[ch]);
            // f32 sums on the GPU: integrity and age are exact-ish, nutrients pass through
            // a few divisions, internal state through a network.
            let tolerance = match ch {
                0 | 1 => 2e-6,
                2 | 3 => 2e-5,
                _ => 1e-4,
            };
            assert!(
                (g - e).abs() <= tolerance * (1.0 + e.abs()),
                "{what}: state channel {ch} at ({r}, {c}): GPU {g}, CPU {e}"
            );
        }
    }
}

#[test]
fn every_substep_matches_its_cpu_twin_on_random_worlds() {
    let s = seed("every_substep_matches_its_cpu_twin_on_random_worlds");
    let mut rng = TestRng::new(s);
    let adaptive = Mutator::Adaptive {
        init_sd: 1e-2,
        change_perc: 0.2,
        meta_sd_perc: 0.1,
    };
    // The last case is the petri-dish mode: reproductions counted, flowers removed.
    let cases = [
        (13u32, 29u32, AgentModel::Extended, Mutator::default(), None),
        (37, 70, AgentModel::Minimal, adaptive, None),
        (
            21,
            40,
            AgentModel::Extended,
            Mutator::default(),
            Some([0.5, 0.3]),
        ),
    ];
    for (h, w, model, mutator, intercept) in cases {
        let mut config = test_config(h, w);
        config.agents.model = model;
        config.agents.mutator = mutator;
        config.intercept_reproduction = intercept;
        for sub in SubStep::ALL {
            let world = random_world(&mut rng, &config);
            let programs = random_programs(&mut rng, &config);
            let step = rng.below(1000) as u64;
            let mut cpu = world.clone();
            let mut cpu_programs = programs.clone();
            reference::substep(&mut cpu, &mut cpu_programs, &config, s, step, sub);
            let (gpu, gpu_programs) = gpu_substep(&config, &world, &programs, s, step, sub);
            let what = format!("{sub:?} on {h}x{w}, {model:?} programs, {mutator:?}");
            assert_worlds_match(&what, &gpu, &cpu);
            assert_programs_match(&what, &gpu_programs, &cpu_programs);
            if sub != SubStep::SoilBalance {
                assert_ne!(cpu, world, "{sub:?} changed nothing: the test is vacuous");
            }
            if sub == SubStep::Reproduction && intercept.is_none() {
                assert_ne!(cpu_programs, programs, "no program was mutated");
            }
            if sub == SubStep::Reproduction && intercept.is_some() {
                assert_eq!(
                    cpu_programs, programs,
                    "the petri-dish mode mutates nothing"
                );
            }
        }
    }
}

#[test]
fn whole_steps_match_the_cpu_twin_on_a_preset_world() {
    let s = seed("whole_steps_match_the_cpu_twin_on_a_preset_world");
    let config = BiomeConfig::preset(Preset::Persistence)
        .height(24)
        .width(Width::Columns(40))
        .soil_unbalance_limit(1.0 / 3.0);
    let mut cpu = WorldState::initial(&config).unwrap();
    let mut programs = ProgramTable::initial(&config, s);
    let mut gpu = World::new(ctx(), &config, s).unwrap();
    gpu.run(12).unwrap();
    for step in 0..12 {
        reference::step(&mut cpu, &mut programs, &config, s, step);
    }
    assert_worlds_match("12 steps", &gpu.download().unwrap(), &cpu);
}

#[test]
fn whole_steps_with_reproduction_match_the_cpu_twin_on_random_worlds() {
    // Random worlds are full of flowers, agents that die and agents that spawn, so one
    // step carries the agent list from the last integrity pass into reproduction, and
    // from energy into the exclusive ops (for falling agents, see
    // a_falling_flower_reproduces_where_it_lands).
    let s = seed("whole_steps_with_reproduction_match_the_cpu_twin_on_random_worlds");
    let mut rng = TestRng::new(s);
    let mut reproduced = 0;
    for (h, w, intercept) in [
        (19u32, 31u32, None),
        (23, 40, None),
        (17, 29, Some([0.5, 0.3])),
    ] {
        let mut config = test_config(h, w);
        config.intercept_reproduction = intercept;
        config.n_reproduce_per_step = 4;
        let world = random_world(&mut rng, &config);
        let mut programs = random_programs(&mut rng, &config);
        let step = rng.below(1000) as u64;
        let mut gpu = World::from_parts(ctx(), &config, &world, &programs, s, step).unwrap();
        let mut census = Vec::new();
        gpu.run_with(1, &RunOptions::default().census(true), |_, c| {
            census.extend_from_slice(c);
            Ok(())
        })
        .unwrap();
        reproduced += census[0].reproductions;
        let mut cpu = world.clone();
        reference::step(&mut cpu, &mut programs, &config, s, step);
        let what = format!("a whole step on {h}x{w}, intercept {intercept:?}");
        assert_worlds_match(&what, &gpu.download().unwrap(), &cpu);
        assert_programs_match(&what, &gpu.programs().unwrap(), &programs);
    }
    assert!(reproduced > 0, "no world reproduced: the test is vacuous");
}

fn empty_world(config: &BiomeConfig) -> WorldState {
    let (h, w) = (config.height as usize, config.columns() as usize);
    WorldState::air(h, w, config.state_channels())
}

#[test]
fn a_detached_block_falls_one_cell_per_step_as_a_unit() {
    let config = test_config(16, 12);
    let mut world = empty_world(&config);
    for c in 0..world.width {
        let i = world.index(world.height - 1, c);
        world.types[i] = kind::IMMOVABLE;
    }
    let mut id = 1;
    for r in 2..5 {
        for c in 4..7 {
            let i = world.index(r, c);
            world.types[i] = kind::ROOT;
            world.ids[i] = id;
            world.state_at_mut(r, c)[channel::EARTH_NUTRIENT] = id as f32;
            id += 1;
        }
    }
    let mut gpu = World::from_state(ctx(), &config, &world, 1, 0).unwrap();
    for fallen in 1..=6 {
        gpu.run_substep(SubStep::Integrity).unwrap();
        gpu.run_substep(SubStep::Gravity).unwrap();
        let now = gpu.download().unwrap();
        let mut id = 1;
        for r in 0..now.height - 1 {
            for c in 0..now.width {
                let inside = (2 + fallen..5 + fallen).contains(&r) && (4..7).contains(&c);
                let i = now.index(r, c);
                if inside {
                    assert_eq!(now.types[i], kind::ROOT, "after {fallen}: ({r}, {c})");
                    assert_eq!(now.ids[i], id);
                    assert_eq!(now.state_at(r, c)[channel::EARTH_NUTRIENT], id as f32);
                    id += 1;
                } else {
                    assert_eq!(now.types[i], kind::AIR, "after {fallen}: ({r}, {c})");
                }
            }
        }
    }
}

#[test]
fn a_falling_flower_reproduces_where_it_lands() {
    // Whole steps list the agents in the last integrity pass, before gravity, and gravity
    // moves the list entries of the agents that fall: a flower that falls must still be
    // a reproduction candidate, from the cell it lands on.
    let s = seed("a_falling_flower_reproduces_where_it_lands");
    let mut config = test_config(16, 24);
    config.n_reproduce_per_step = 4;
    config.intercept_reproduction = None;
    let mut world = empty_world(&config);
    let (h, w) = (world.height, world.width);
    for c in 0..w {
        for r in h - 4..h {
            let i = world.index(r, c);
            world.types[i] = if r == h - 1 {
                kind::IMMOVABLE
            } else {
                kind::EARTH
            };
            world.state_at_mut(r, c)[channel::EARTH_NUTRIENT] = 5.0;
        }
    }
    // Flowers in mid-air, with no integrity: they fall one cell this step.
    for (k, c) in [3, 9, 15, 21].into_iter().enumerate() {
        let i = world.index(4, c);
        world.types[i] = kind::FLOWER;
        world.ids[i] = k as u32 + 1;
        let cell = world.state_at_mut(4, c);
        cell[channel::EARTH_NUTRIENT] = 3.0;
        cell[channel::AIR_NUTRIENT] = 3.0;
    }
    // Every program asks to reproduce whatever it holds.
    let mut programs = ProgramTable::initial(&config, s);
    let (stride, at) = (programs.stride, programs.layout.repr_threshold);
    for slot in 0..programs.slots() {
        programs.data[slot * stride + at] = -1.0;
        programs.data[slot * stride + at + 1] = -1.0;
    }
    let mut gpu = World::from_parts(ctx(), &config, &world, &programs, s, 0).unwrap();
    let mut census = Vec::new();
    gpu.run_with(1, &RunOptions::default().census(true), |_, c| {
        census.extend_from_slice(c);
        Ok(())
    })
    .unwrap();
    let mut cpu = world.clone();
    reference::step(&mut cpu, &mut programs, &config, s, 0);
    assert_worlds_match(
        "a step with falling flowers",
        &gpu.download().unwrap(),
        &cpu,
    );
    assert_programs_match(
        "a step with falling flowers",
        &gpu.programs().unwrap(),
        &programs,
    );
    assert!(census[0].reproductions > 0, "{:?}", census[0]);
}

#[test]
fn a_column_on_bedrock_holds_integrity_decreasing_by_five_per_cell() {
    let config = test_config(12, 5);
    let mut world = empty_world(&config);
    let h = world.height;
    for c in 0..world.width {
        let i = world.index(h - 1, c);
        world.types[i] = kind::IMMOVABLE;
    }
    for k in 1..=8 {
        let i = world.index(h - 1 - k, 2);
        world.types[i] = kind::LEAF;
    }
    let mut gpu = World::from_state(ctx(), &config, &world, 1, 0).unwrap();
    gpu.run_substep(SubStep::Integrity).unwrap();
    gpu.run_substep(SubStep::Integrity).unwrap();
    let now = gpu.download().unwrap();
    let cap = config.struct_integrity_cap as f32;
    for k in 1..=8 {
        let v = now.state_at(h - 1 - k, 2)[channel::INTEGRITY];
        assert_eq!(v, cap - 5.0 * k as f32, "{k} cells above the rock");
    }
    // Gravity leaves a supported column where it is.
    gpu.run_substep(SubStep::Gravity).unwrap();
    assert_eq!(gpu.download().unwrap().types, now.types);
}

/// A world with no SUN or IMMOVABLE: materials and agents only.
fn sourceless_world(rng: &mut TestRng, config: &BiomeConfig) -> WorldState {
    let mut world = random_world(rng, config);
    for i in 0..world.cells() {
        let t = world.types[i];
        if t == kind::SUN || t == kind::IMMOVABLE {
            world.types[i] = kind::VOID;
        }
        let s = &mut world.state[i * world.channels..(i + 1) * world.channels];
        match world.types[i] {
            kind::EARTH => s[channel::AIR_NUTRIENT] = 0.0,
            kind::AIR => s[channel::EARTH_NUTRIENT] = 0.0,
            t if kind::is_agent(t) => {
                s[channel::AGE] = 0.0;
                s[channel::EARTH_NUTRIENT] += 1.0;
                s[channel::AIR_NUTRIENT] += 1.0;
            }
            _ => {
                s[channel::EARTH_NUTRIENT] = 0.0;
                s[channel::AIR_NUTRIENT] = 0.0;
            }
        }
    }
    world
}

fn nutrient_totals(world: &WorldState, pick: impl Fn(u32) -> bool) -> [f64; 2] {
    let mut total = [0.0; 2];
    for i in 0..world.cells() {
        if pick(world.types[i]) {
            for (m, t) in total.iter_mut().enumerate() {
                *t += f64::from(world.state[i * world.channels + channel::EARTH_NUTRIENT + m]);
            }
        }
    }
    total
}

#[test]
fn diffusion_conserves_nutrient_within_each_medium() {
    let s = seed("diffusion_conserves_nutrient_within_each_medium");
    let mut rng = TestRng::new(s);
    let config = test_config(30, 41);
    let mut world = sourceless_world(&mut rng, &config);
    for t in &mut world.types {
        if kind::is_agent(*t) {
            *t = kind::VOID;
        }
    }
    let before = nutrient_totals(&world, |t| t == kind::EARTH || t == kind::AIR);
    let programs = ProgramTable::initial(&config, s);
    let (after, _) = gpu_substep(&config, &world, &programs, s, 0, SubStep::Energy);
    assert_eq!(after.types, world.types);
    let after_totals = nutrient_totals(&after, |t| t == kind::EARTH || t == kind::AIR);
    for m in 0..2 {
        assert!(
            (after_totals[m] - before[m]).abs() < 1e-5 * before[m],
            "nutrient {m}: {} before, {} after",
            before[m],
            after_totals[m]
        );
    }
    assert_ne!(after.state, world.state, "nothing diffused");
}

#[test]
fn absorption_moves_nutrient_from_materials_to_agents_exactly() {
    let s = seed("absorption_moves_nutrient_from_materials_to_agents_exactly");
    let mut rng = TestRng::new(s);
    let mut config = test_config(30, 41);
    config.dissipation_per_step = [0.0, 0.0];
    config.nutrient_cap = [1e6, 1e6];
    let world = sourceless_world(&mut rng, &config);
    let before = nutrient_totals(&world, |t| t != kind::VOID);
    let agents_before = nutrient_totals(&world, kind::is_agent);
    let programs = ProgramTable::initial(&config, s);
    let (after, _) = gpu_substep(&config, &world, &programs, s, 0, SubStep::Energy);
    let totals = nutrient_totals(&after, |t| t != kind::VOID);
    let agents_after = nutrient_totals(&after, kind::is_agent);
    for m in 0..2 {
        assert!(
            (totals[m] - before[m]).abs() < 1e-5 * before[m],
            "nutrient {m}: {} before, {} after",
            before[m],
            totals[m]
        );
        assert!(
            agents_after[m] > agents_before[m] + 1.0,
            "agents gained nothing"
        );
    }
}

#[test]
fn the_same_seed_gives_a_bit_identical_world_and_another_seed_does_not() {
    let s = seed("the_same_seed_gives_a_bit_identical_world_and_another_seed_does_not");
    let mut rng = TestRng::new(s);
    let config = test_config(20, 33);
    let world = random_world(&mut rng, &config);
    let run = |seed: u64| {
        let mut w = World::from_state(ctx(), &config, &world, seed, 0).unwrap();
        w.run_with(200, &RunOptions::default().batch(37), |_, _| Ok(()))
            .unwrap();
        w.download().unwrap()
    };
    let a = run(s);
    let b = run(s);
    assert_eq!(a, b);
    assert_ne!(a, run(s ^ 0x5555), "the seed has no effect");
}

#[test]
fn resuming_a_checkpoint_continues_the_run_exactly() {
    let s = seed("resuming_a_checkpoint_continues_the_run_exactly");
    let config = BiomeConfig::preset(Preset::Persistence)
        .height(20)
        .width(Width::Columns(36))
        .soil_unbalance_limit(1.0 / 3.0);
    let dir = std::env::temp_dir().join(format!("morphogen-biome-{s}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("world.safetensors");
    let mut straight = World::new(ctx(), &config, s).unwrap();
    straight.run(40).unwrap();
    straight.save_checkpoint(&path).unwrap();
    straight.run(45).unwrap();
    let mut resumed = World::resume(ctx(), &path).unwrap();
    assert_eq!(resumed.steps_done(), 40);
    resumed.run(45).unwrap();
    assert_eq!(resumed.download().unwrap(), straight.download().unwrap());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_census_counts_cells_by_type_after_each_step() {
    // Checked against the same world stepped once per submission and downloaded, not
    // against the CPU twin's trajectory: over whole steps a nutrient one ulp either side
    // of a spawn cost legitimately decides differently in f32 and f64 (the sub-steps are
    // checked against the twin from common states above).
    let s = seed("the_census_counts_cells_by_type_after_each_step");
    let mut rng = TestRng::new(s);
    let config = test_config(17, 23);
    let world = random_world(&mut rng, &config);
    let slots = ProgramTable::initial(&config, s).slots();
    let mut batched = World::from_state(ctx(), &config, &world, s, 0).unwrap();
    let mut rows = Vec::new();
    batched
        .run_with(
            6,
            &RunOptions::default().batch(4).census(true),
            |done, census| {
                assert_eq!(census.last().map(|c| c.step), Some(done));
                rows.extend_from_slice(census);
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(rows.len(), 6);
    let mut single = World::from_state(ctx(), &config, &world, s, 0).unwrap();
    for (k, row) in rows.iter().enumerate() {
        let mut one = Vec::new();
        single
            .run_with(1, &RunOptions::default().census(true), |_, c| {
                one.extend_from_slice(c);
                Ok(())
            })
            .unwrap();
        assert_eq!(one, [*row], "census after step {} batched vs alone", k + 1);
        let state = single.download().unwrap();
        let want = state.census().map(|n| n as u32);
        assert_eq!(row.counts, want, "census after step {}", row.step);
        let mut living: Vec<u32> = (0..state.cells())
            .filter(|&i| kind::is_agent(state.types[i]) && (state.ids[i] as usize) < slots)
            .map(|i| state.ids[i])
            .collect();
        living.sort_unstable();
        living.dedup();
        assert_eq!(
            row.living_ids as usize,
            living.len(),
            "living programs after step {}",
            row.step
        );
    }
    assert_ne!(
        rows[0].counts,
        world.census().map(|n| n as u32),
        "the first step changed no cell type: the test is vacuous"
    );
}

#[test]
fn rendering_matches_the_cpu_palette() {
    let s = seed("rendering_matches_the_cpu_palette");
    let mut rng = TestRng::new(s);
    let config = test_config(11, 19);
    let world = random_world(&mut rng, &config);
    let gpu = World::from_state(ctx(), &config, &world, s, 0).unwrap();
    let image = gpu.render(3).unwrap();
    let want = render_cpu(&config, &world, 3);
    assert_eq!((image.width, image.height), (57, 33));
    for (i, (g, c)) in image.rgba.iter().zip(&want.rgba).enumerate() {
        assert!(
            g.abs_diff(*c) <= 1,
            "byte {i} (pixel {}): GPU {g}, CPU {c}",
            i / 4
        );
    }
    // Known colours: the bottom-left pixel's type decides it; SUN is (255, 255, 127).
    let sun = morphogen::biome::cell_colour(&config, kind::SUN, &[0.0; 6], 0);
    assert_eq!(sun.map(|v| (v * 255.0) as u8), [255, 255, 127]);
}

#[test]
fn profiled_steps_are_the_same_steps_and_count_their_dispatches() {
    let s = seed("profiled_steps_are_the_same_steps_and_count_their_dispatches");
    let config = BiomeConfig::preset(Preset::Persistence)
        .height(16)
        .width(Width::Landscape);
    let mut profiled = World::new(ctx(), &config, s).unwrap();
    let mut plain = World::new(ctx(), &config, s).unwrap();
    let profile = profiled.profile_steps(4).unwrap();
    plain.run(4).unwrap();
    assert_eq!(profiled.steps_done(), 4);
    assert_eq!(profiled.download().unwrap(), plain.download().unwrap());
    // Five integrity passes (the last listing the agents), gravity (keeping the list and
    // writing its dispatch arguments), flowers, reproduction, the list again and its
    // arguments, the parallel op and its application, diffusion, energy, proposals (with
    // the arguments for energy's list), spawn, choice, and application with aging.
    assert_eq!(profile.dispatches_per_step, 18.0, "{profile:?}");
    if let Some(f) = profile.overhead_fraction() {
        assert!((0.0..1.0).contains(&f), "{profile:?}");
    }
}
