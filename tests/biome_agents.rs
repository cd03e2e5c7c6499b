//! Agent programs end to end: layouts and program files, default and evolved programs
//! growing plants, conservation in the agent ops, mutation statistics, and robustness to
//! bad ids and bad programs.

mod common;

use std::path::Path;

use common::{ctx, seed, TestRng};
use morphogen::biome::{
    channel, kind, load_program, reference, save_program, AgentModel, BiomeConfig, Census, Mutator,
    Preset, ProgramLayout, ProgramTable, RunOptions, SubStep, Width, World, WorldState,
};

const DNA: &str = "assets/biomaker/persistence_1697720583799231923.npy";

#[test]
fn layouts_have_the_reference_sizes_and_offsets() {
    let min = ProgramLayout::new(AgentModel::Minimal, 2);
    let ext = ProgramLayout::new(AgentModel::Extended, 2);
    assert_eq!((min.len, ext.len), (299, 13_311));
    assert_eq!(
        (min.nsl_w, min.denm_b, min.excl_b, min.repr_threshold),
        (0, 176, 256, 297)
    );
    assert_eq!((ext.nsl_w, ext.denm_b, ext.excl_b), (2440, 5320, 7840));
    assert_eq!(ext.excl_net.unwrap().w0, 7881);
    assert_eq!(ext.repr_threshold, 13_309);
    assert_eq!(
        ProgramLayout::model_of_len(13_311, 2),
        Some(AgentModel::Extended)
    );
    assert_eq!(
        ProgramLayout::model_of_len(299, 2),
        Some(AgentModel::Minimal)
    );
    assert_eq!(ProgramLayout::model_of_len(300, 2), None);
}

#[test]
fn the_shipped_program_loads_as_extended_and_saves_byte_for_byte() {
    let (model, program) = load_program(Path::new(DNA), 2).unwrap();
    assert_eq!(model, AgentModel::Extended);
    let l = ProgramLayout::new(model, 2);
    // Values the evolved program is known to hold at these offsets.
    let at = |i: usize| f64::from(program[i]);
    assert!(
        (at(l.excl_b + 4) + 1.0).abs() < 0.05,
        "excl.b self slot {}",
        at(l.excl_b + 4)
    );
    assert!((at(l.excl_max_neigh) - 0.2935).abs() < 1e-3);
    assert!((at(l.excl_sensitivity) - 29.99).abs() < 0.05);
    assert!((at(l.excl_en_perc) - 0.510).abs() < 5e-3);
    assert!((at(l.repr_threshold) - 0.1091).abs() < 1e-3);
    assert!(
        (at(l.denm_keep + 3 * 2) - 1.11).abs() < 0.02,
        "flower keep_en"
    );
    let dir = std::env::temp_dir().join(format!("morphogen-dna-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let copy = dir.join("copy.npy");
    save_program(&copy, &program).unwrap();
    assert_eq!(std::fs::read(&copy).unwrap(), std::fs::read(DNA).unwrap());
    // A wrong length is a clear error.
    save_program(&copy, &program[..1000]).unwrap();
    let err = load_program(&copy, 2).unwrap_err().to_string();
    assert!(
        err.contains("1000 parameters") && err.contains("13311"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn persistence(model: AgentModel) -> BiomeConfig {
    let mut config = BiomeConfig::preset(Preset::Persistence)
        .height(72)
        .width(Width::Landscape);
    config.agents.model = model;
    config
}

/// Runs until `done` says so or `steps` have passed; returns the censuses.
fn run_until(world: &mut World, steps: u64, done: impl Fn(&[Census]) -> bool) -> Vec<Census> {
    let mut all = Vec::new();
    while world.steps_done() < steps && !done(&all) {
        world
            .run_with(25, &RunOptions::default().census(true), |_, c| {
                all.extend_from_slice(c);
                Ok(())
            })
            .unwrap();
    }
    all
}

#[test]
fn default_programs_grow_a_seed_into_a_plant_with_roots_leaves_and_a_flower() {
    let s = seed("default_programs_grow_a_seed_into_a_plant_with_roots_leaves_and_a_flower");
    for model in [AgentModel::Minimal, AgentModel::Extended] {
        let mut world = World::new(ctx(), &persistence(model), s).unwrap();
        let grown = |c: &Census| {
            let [_, roots, leaves, flowers] = c.by_specialization();
            roots > 0 && leaves > 0 && flowers > 0
        };
        let census = run_until(&mut world, 400, |all| all.iter().any(grown));
        let first = census.iter().find(|c| grown(c));
        assert!(
            first.is_some(),
            "{model:?}: no plant with roots, leaves and a flower in 400 steps; last census {:?}",
            census.last()
        );
        eprintln!("{model:?}: a plant by step {}", first.unwrap().step);
    }
}

#[test]
fn the_shipped_program_grows_and_reproduces_in_persistence() {
    let s = seed("the_shipped_program_grows_and_reproduces_in_persistence");
    let mut world = World::new(ctx(), &persistence(AgentModel::Extended), s).unwrap();
    world.load_program(Path::new(DNA)).unwrap();
    let census = run_until(&mut world, 2000, |all| all.iter().any(|c| c.seeds > 0));
    let first = census.iter().find(|c| c.seeds > 0);
    assert!(first.is_some(), "no seed placed in 2000 steps");
    eprintln!("first seed placed at step {}", first.unwrap().step);
    // A program loaded for the other model is a clear error.
    let minimal = World::new(ctx(), &persistence(AgentModel::Minimal), s).unwrap();
    let err = minimal
        .load_program(Path::new(DNA))
        .unwrap_err()
        .to_string();
    assert!(err.contains("agents.model"), "{err}");
}

/// A world of AIR with agents of one id scattered on it, all holding plenty.
fn agent_world(rng: &mut TestRng, config: &BiomeConfig) -> WorldState {
    let (h, w) = (config.height as usize, config.columns() as usize);
    let mut world = WorldState::air(h, w, config.state_channels());
    for i in 0..world.cells() {
        let s = &mut world.state[i * world.channels..(i + 1) * world.channels];
        if rng.uniform() < 0.4 {
            world.types[i] = kind::UNSPECIALIZED + rng.below(4) as u32;
            s[channel::EARTH_NUTRIENT] = (0.5 + 4.0 * rng.uniform()) as f32;
            s[channel::AIR_NUTRIENT] = (0.5 + 4.0 * rng.uniform()) as f32;
        } else {
            s[channel::AIR_NUTRIENT] = (2.0 * rng.uniform()) as f32;
        }
    }
    world
}

fn totals(world: &WorldState) -> [f64; 2] {
    let mut t = [0.0; 2];
    for i in 0..world.cells() {
        for (m, v) in t.iter_mut().enumerate() {
            *v += f64::from(world.state[i * world.channels + channel::EARTH_NUTRIENT + m]);
        }
    }
    t
}

#[test]
fn the_parallel_op_moves_nutrients_without_creating_or_losing_any() {
    let s = seed("the_parallel_op_moves_nutrients_without_creating_or_losing_any");
    let mut rng = TestRng::new(s);
    let mut config = persistence(AgentModel::Extended)
        .height(24)
        .width(Width::Columns(40));
    config.specialize_cost = [0.0, 0.0];
    config.nutrient_cap = [1e6, 1e6];
    let world = agent_world(&mut rng, &config);
    let mut gpu = World::from_state(ctx(), &config, &world, s, 0).unwrap();
    gpu.run_substep(SubStep::Parallel).unwrap();
    let after = gpu.download().unwrap();
    let (a, b) = (totals(&world), totals(&after));
    let moved: f64 = (0..world.state.len())
        .map(|i| f64::from((after.state[i] - world.state[i]).abs()))
        .sum();
    assert!(moved > 1.0, "nothing moved");
    for m in 0..2 {
        assert!(
            (a[m] - b[m]).abs() < 1e-4 * a[m],
            "nutrient {m}: {} -> {}",
            a[m],
            b[m]
        );
    }
}

#[test]
fn spawning_splits_what_the_parent_can_spend_between_parent_and_child() {
    let s = seed("spawning_splits_what_the_parent_can_spend_between_parent_and_child");
    let config = persistence(AgentModel::Extended)
        .height(12)
        .width(Width::Columns(12));
    let mut world = WorldState::air(12, 12, config.state_channels());
    let parent = world.index(6, 6);
    world.types[parent] = kind::UNSPECIALIZED;
    world.ids[parent] = 3;
    world.state_at_mut(6, 6)[channel::EARTH_NUTRIENT] = 4.0;
    world.state_at_mut(6, 6)[channel::AIR_NUTRIENT] = 3.0;
    world.state_at_mut(6, 6)[channel::AGE] = 17.0;
    let cost = config.spawn_cost;
    // The decision is random: try successive steps until the spawn happens.
    for step in 0..50 {
        let mut gpu = World::from_state(ctx(), &config, &world, s, step).unwrap();
        gpu.run_substep(SubStep::Exclusive).unwrap();
        let after = gpu.download().unwrap();
        let children: Vec<usize> = (0..after.cells())
            .filter(|&i| i != parent && kind::is_agent(after.types[i]))
            .collect();
        if children.is_empty() {
            continue;
        }
        assert_eq!(children.len(), 1);
        let child = children[0];
        assert_eq!(after.types[child], kind::UNSPECIALIZED);
        assert_eq!(after.ids[child], 3);
        let cs = &after.state[child * after.channels..(child + 1) * after.channels];
        let ps = after.state_at(6, 6);
        assert_eq!(cs[channel::AGE], 17.0, "the child shares the parent's age");
        assert_eq!(cs[channel::INTEGRITY], 0.0);
        for (m, before) in [4.0, 3.0].into_iter().enumerate() {
            let ch = channel::EARTH_NUTRIENT + m;
            let sum = f64::from(cs[ch]) + f64::from(ps[ch]);
            assert!(
                (sum - (before - cost[m])).abs() < 1e-5,
                "nutrient {m}: {sum}"
            );
            assert!((f64::from(cs[ch]) - 0.5 * (before - cost[m])).abs() < 1e-5);
        }
        return;
    }
    panic!("no spawn in 50 tries");
}

/// A world with one flower ready to reproduce next to fertile soil.
fn flower_world(config: &BiomeConfig) -> (WorldState, usize) {
    let mut world = WorldState::initial(config).unwrap();
    let w = world.width;
    let (r, c) = (world.height / 2 - 1, w / 2);
    for i in 0..world.cells() {
        if kind::is_agent(world.types[i]) {
            world.types[i] = kind::AIR;
            world.ids[i] = 0;
        }
    }
    let i = world.index(r, c);
    world.types[i] = kind::FLOWER;
    world.ids[i] = 5;
    let s = world.state_at_mut(r, c);
    s.fill(0.0);
    s[channel::EARTH_NUTRIENT] = 5.0;
    s[channel::AIR_NUTRIENT] = 4.0;
    (world, i)
}

#[test]
fn reproduction_places_a_seed_with_the_flowers_nutrients_and_a_mutated_program() {
    let s = seed("reproduction_places_a_seed_with_the_flowers_nutrients_and_a_mutated_program");
    let config = persistence(AgentModel::Extended)
        .height(32)
        .width(Width::Columns(96));
    let (world, flower) = flower_world(&config);
    let mut programs = ProgramTable::initial(&config, s);
    let parent: Vec<f32> = programs.slot(5).to_vec();
    for slot in 0..programs.slots() {
        let range = slot * programs.stride..(slot + 1) * programs.stride;
        programs.data[range].copy_from_slice(&parent);
    }
    let mut gpu = World::from_parts(ctx(), &config, &world, &programs, s, 0).unwrap();
    gpu.run_substep(SubStep::Reproduction).unwrap();
    let after = gpu.download().unwrap();
    assert_eq!(after.types[flower], kind::VOID, "the flower is consumed");
    let seeds: Vec<usize> = (0..after.cells())
        .filter(|&i| kind::is_agent(after.types[i]))
        .collect();
    assert_eq!(seeds.len(), 2, "one seed of two cells");
    // Slot 0 is the least populated (tie with every other empty slot, lowest index).
    assert!(seeds.iter().all(|&i| after.ids[i] == 0));
    let col = seeds[0] % after.width;
    let d = col.abs_diff(flower % after.width) as u32;
    assert!((config.reproduce_min_dist..=config.reproduce_max_dist).contains(&d));
    for (m, before) in [5.0, 4.0].into_iter().enumerate() {
        let got: f64 = seeds
            .iter()
            .map(|&i| f64::from(after.state[i * after.channels + channel::EARTH_NUTRIENT + m]))
            .sum();
        assert!((got - (before - config.reproduce_cost[m])).abs() < 1e-5);
    }
    // Basic mutation: about change_perc of the parameters moved, by about sd.
    let child = gpu.programs().unwrap();
    let diffs: Vec<f64> = child
        .program(0)
        .iter()
        .zip(&parent)
        .map(|(a, b)| f64::from(a - b))
        .filter(|d| *d != 0.0)
        .collect();
    let n = parent.len() as f64;
    let Mutator::Basic { sd, change_perc } = config.agents.mutator else {
        panic!("the default mutator is basic");
    };
    let frac = diffs.len() as f64 / n;
    assert!(
        (frac - change_perc).abs() < 6.0 * (change_perc * (1.0 - change_perc) / n).sqrt(),
        "{frac}"
    );
    let rms = (diffs.iter().map(|d| d * d).sum::<f64>() / diffs.len() as f64).sqrt();
    assert!((rms / sd - 1.0).abs() < 0.05, "rms change {rms}, sd {sd}");
    assert_eq!(child.program(1), &parent[..], "other slots are untouched");
}

#[test]
fn the_petri_dish_counts_reproductions_that_hold_enough_energy_and_places_no_seed() {
    let s = seed("the_petri_dish_counts_reproductions_that_hold_enough_energy_and_places_no_seed");
    // The flower holds 5 (earth) and 4 (air); the reproduce cost is 1 of each, so 4 and 3
    // remain: enough for (4, 3), not for (4, 3.5) or (4.5, 3).
    for (min, succeeds) in [
        ([4.0, 3.0], 1),
        ([4.0, 3.5], 0),
        ([4.5, 3.0], 0),
        ([0.0, 0.0], 1),
    ] {
        let mut config = persistence(AgentModel::Extended)
            .height(32)
            .width(Width::Columns(96));
        config.intercept_reproduction = Some(min);
        let (world, flower) = flower_world(&config);
        let programs = ProgramTable::initial(&config, s);
        let mut gpu = World::from_parts(ctx(), &config, &world, &programs, s, 0).unwrap();
        let done = gpu.run_substep(SubStep::Reproduction).unwrap().unwrap();
        assert_eq!(done.executed, 1, "{min:?}: the flower is picked");
        assert_eq!(done.intercepted, succeeds, "{min:?}");
        assert_eq!(done.placed, 0, "{min:?}: no seed in a petri dish");
        let after = gpu.download().unwrap();
        assert_eq!(
            after.types[flower],
            kind::VOID,
            "{min:?}: the flower is removed"
        );
        assert_eq!(after.ids[flower], 0);
        assert!((0..after.cells()).all(|i| !kind::is_agent(after.types[i])));
        assert_eq!(
            gpu.programs().unwrap(),
            programs,
            "{min:?}: nothing is mutated"
        );
        // The twin agrees.
        let mut cpu = world.clone();
        let mut cpu_programs = programs.clone();
        let twin = reference::reproduction(&mut cpu, &mut cpu_programs, &config, s, 0);
        assert_eq!(twin, done, "{min:?}");
        assert_eq!(cpu, after);
    }
}

#[test]
fn adaptive_mutation_moves_parameters_and_their_sds_together() {
    let s = seed("adaptive_mutation_moves_parameters_and_their_sds_together");
    let mut config = persistence(AgentModel::Minimal)
        .height(32)
        .width(Width::Columns(96));
    config.agents.mutator = Mutator::Adaptive {
        init_sd: 1e-2,
        change_perc: 0.5,
        meta_sd_perc: 0.1,
    };
    let (world, _) = flower_world(&config);
    let programs = ProgramTable::initial(&config, s);
    assert_eq!(programs.stride, 2 * 299);
    let mut gpu = World::from_parts(ctx(), &config, &world, &programs, s, 0).unwrap();
    gpu.run_substep(SubStep::Reproduction).unwrap();
    let child = gpu.programs().unwrap();
    let (before, after) = (programs.slot(5), child.slot(0));
    let mut changed = 0;
    for j in 0..299 {
        let moved_mu = before[j] != after[j];
        let moved_sd = before[299 + j] != after[299 + j];
        assert_eq!(
            moved_mu, moved_sd,
            "parameter {j} and its sd change together"
        );
        changed += usize::from(moved_mu);
        let sd = f64::from(after[299 + j]);
        assert!((1e-5..=10.0).contains(&sd));
        assert!((f64::from(after[j]) - f64::from(before[j])).abs() <= 3.0 * 1e-2 + 1e-6);
    }
    assert!(
        (100..200).contains(&changed),
        "{changed} of 299 changed at change_perc 0.5"
    );
    // The CPU twin writes the same program.
    let mut cpu_world = world.clone();
    let mut cpu_programs = programs.clone();
    reference::reproduction(&mut cpu_world, &mut cpu_programs, &config, s, 0);
    for (g, c) in after.iter().zip(cpu_programs.slot(0)) {
        assert!((g - c).abs() <= 1e-6 * (1.0 + c.abs()), "GPU {g}, CPU {c}");
    }
}

#[test]
fn bad_ids_and_bad_programs_are_skipped_and_reported() {
    let s = seed("bad_ids_and_bad_programs_are_skipped_and_reported");
    let mut rng = TestRng::new(s);
    let mut config = persistence(AgentModel::Minimal)
        .height(20)
        .width(Width::Columns(30));
    config.agents.slots = 8;
    let mut world = agent_world(&mut rng, &config);
    for i in 0..world.cells() {
        if kind::is_agent(world.types[i]) {
            world.ids[i] = rng.below(12) as u32;
        }
    }
    let mut programs = ProgramTable::initial(&config, s);
    let stride = programs.stride;
    programs.data[3 * stride + 7] = f32::NAN;
    let mut gpu = World::from_parts(ctx(), &config, &world, &programs, s, 0).unwrap();
    let mut seen = (0, 0);
    gpu.run_with(10, &RunOptions::default().census(true), |_, census| {
        for c in census {
            seen.0 += c.beyond_table;
            seen.1 += c.disabled;
        }
        Ok(())
    })
    .unwrap();
    assert!(seen.0 > 0 && seen.1 > 0, "reported {seen:?}");
    let after = gpu.download().unwrap();
    assert!(
        after.state.iter().all(|v| v.is_finite()),
        "a bad program leaked NaN"
    );
}
