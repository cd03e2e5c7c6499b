//! Evolution in petri dishes: a short PGPE run from fresh programs scores better than the
//! fresh program on dishes neither has seen, compared pair by pair on the same seeds.

mod common;

use common::ctx;
use morphogen::biome::evolve::{Evolution, PetriConfig, PgpeConfig};
use morphogen::biome::{Preset, Width};

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn a_short_evolution_scores_above_the_fresh_program_on_unseen_dishes() {
    // Fixed seeds: the search is deterministic on a given adapter, and the comparison is
    // a paired test over dishes the search never scored. EVOLVE_SEED, _GENERATIONS,
    // _STEPS, _POPULATION, _LR and _STDEV replay it with other settings. These gave
    // t = 23, 45 and 27 for seeds 7, 11 and 13; a population of 16 was a gamble (one
    // seed better, another worse), a stdev of 0.05 wrecks the fresh program's
    // candidates, and the notebooks' 0.001 needs hundreds of generations to show.
    let seed: u64 = env_or("EVOLVE_SEED", 7);
    let generations: u64 = env_or("EVOLVE_GENERATIONS", 12);
    let mut dish = PetriConfig::new(Preset::Persistence, 16, Width::Landscape);
    dish.steps = env_or("EVOLVE_STEPS", 300);
    let pgpe = PgpeConfig {
        population: env_or("EVOLVE_POPULATION", 32),
        center_learning_rate: env_or("EVOLVE_LR", 0.002),
        init_stdev: env_or("EVOLVE_STDEV", 0.002),
        ..PgpeConfig::default()
    };
    let mut evolution = Evolution::new(dish.clone(), pgpe, seed).unwrap();
    let fresh = evolution.program();
    evolution.run(ctx(), generations, |_, _| Ok(())).unwrap();
    let evolved = evolution.program();
    for g in &evolution.history {
        eprintln!(
            "generation {}: best {:.2}, mean {:.2}",
            g.generation, g.best, g.mean
        );
    }
    let seeds: Vec<u64> = (0..32).map(|i| 0xD15C_0000 + i).collect();
    let score = |program: &[f32]| {
        let dishes: Vec<(&[f32], u64)> = seeds.iter().map(|&s| (program, s)).collect();
        dish.evaluate_all(ctx(), &dishes, |_| Ok(())).unwrap()
    };
    let before = score(&fresh);
    let after = score(&evolved);
    let diffs: Vec<f64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let n = diffs.len() as f64;
    let mean = diffs.iter().sum::<f64>() / n;
    let sd = (diffs.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    let t = mean / (sd / n.sqrt()).max(1e-12);
    eprintln!(
        "fresh {:.2}, evolved {:.2} (mean of {} dishes); paired difference {mean:.2} +- {:.2}, t = {t:.1}",
        before.iter().sum::<f64>() / n,
        after.iter().sum::<f64>() / n,
        seeds.len(),
        sd / n.sqrt()
    );
    assert!(t > 3.0, "the evolved program is not better: t = {t:.2}");
}
