//! The coffee automaton on the GPU: every kernel against its CPU twin (same random
//! numbers), both models, both boundaries; conservation; the rules' exact expected row
//! profiles over replicas; mixing to 1/2; and the shape of the curves.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::coffee::{
    reference, Adjust, Automaton, Boundary, Clock, CoffeeConfig, Model, ReplicaClock, Schedule,
    State,
};

fn twin_interacting(config: &CoffeeConfig, seed: u64, to: u64, on: Clock) -> State {
    let n = config.size;
    let mut cells = Vec::new();
    let mut clocks = Vec::new();
    for r in 0..config.replicas {
        let mut grid = reference::initial_cells(n);
        let mut clock = ReplicaClock::default();
        assert!(reference::advance(
            &mut grid,
            n,
            config.boundary,
            seed,
            r as u32,
            &mut clock,
            to,
            on,
            u64::MAX,
        ));
        cells.extend(grid);
        clocks.push(clock);
    }
    State {
        cells,
        particles: Vec::new(),
        clocks,
        step: to,
    }
}

#[test]
fn interacting_swaps_match_the_twin_on_both_boundaries() {
    let s = seed("interacting_swaps_match_the_twin_on_both_boundaries");
    for boundary in [Boundary::Closed, Boundary::Periodic] {
        let config = CoffeeConfig::default()
            .size(12)
            .replicas(5)
            .boundary(boundary);
        let mut gpu = Automaton::new(ctx(), &config, s).unwrap();
        // Targets in several pieces: the chain must not depend on where dispatches stop.
        for to in [1, 37, 500, 4000] {
            gpu.advance_to(to).unwrap();
        }
        let state = gpu.state().unwrap();
        let twin = twin_interacting(&config, s, 4000, Clock::Swaps);
        assert_eq!(state.clocks, twin.clocks, "{boundary:?}: clocks differ");
        assert_eq!(state.cells, twin.cells, "{boundary:?}: grids differ");
        for grid in state.cells.chunks(144) {
            assert_eq!(grid.iter().sum::<u32>(), 72, "cream is conserved");
        }
        assert!(state
            .clocks
            .iter()
            .all(|c| c.swaps == 4000 && c.attempts > 4000));
    }
}

#[test]
fn interacting_attempt_clock_matches_the_twin() {
    let s = seed("interacting_attempt_clock_matches_the_twin");
    let config = CoffeeConfig::default().size(10).replicas(3);
    let mut gpu = Automaton::new(ctx(), &config, s).unwrap();
    gpu.advance_attempts_to(777).unwrap();
    gpu.advance_attempts_to(3001).unwrap();
    let state = gpu.state().unwrap();
    let twin = twin_interacting(&config, s, 3001, Clock::Attempts);
    assert_eq!(state.clocks, twin.clocks);
    assert_eq!(state.cells, twin.cells);
}

#[test]
fn noninteracting_walks_match_the_twin_on_both_boundaries() {
    let s = seed("noninteracting_walks_match_the_twin_on_both_boundaries");
    for boundary in [Boundary::Closed, Boundary::Periodic] {
        let config = CoffeeConfig::default()
            .model(Model::NonInteracting)
            .size(10)
            .replicas(4)
            .boundary(boundary);
        let n = config.size;
        let mut gpu = Automaton::new(ctx(), &config, s).unwrap();
        for to in [1, 63, 64, 130] {
            gpu.advance_to(to).unwrap();
        }
        let state = gpu.state().unwrap();
        let mut particles = Vec::new();
        for r in 0..config.replicas {
            let mut p = reference::initial_particles(n);
            reference::walk(&mut p, n, boundary, s, r as u32, 0, 7);
            reference::walk(&mut p, n, boundary, s, r as u32, 7, 130);
            particles.extend(p);
        }
        assert_eq!(state.particles, particles, "{boundary:?}");
        // The sampled grid is the particles counted, on the GPU.
        let grids = gpu.grids().unwrap();
        for (r, g) in grids.iter().enumerate() {
            let counts = reference::counts(&particles[r * 50..(r + 1) * 50], n);
            let fine: Vec<u8> = counts.iter().map(|&c| c.min(255) as u8).collect();
            assert_eq!(g.fine, fine);
            assert_eq!(counts.iter().sum::<u32>(), 50);
        }
    }
}

/// A random state of `config`: random 0/1 cells (interacting) or particles dropped
/// anywhere, so some cells hold several (non-interacting).
fn random_state(rng: &mut TestRng, config: &CoffeeConfig) -> State {
    let n = config.size;
    let nn = n * n;
    let r = config.replicas;
    match config.model {
        Model::Interacting => State {
            cells: (0..r * nn)
                .map(|_| u32::from(rng.uniform() < 0.5))
                .collect(),
            particles: Vec::new(),
            clocks: vec![ReplicaClock::default(); r],
            step: 0,
        },
        Model::NonInteracting => {
            // Clumped: most particles in a few cells, so counts reach past max_value.
            let particles: Vec<u32> = (0..r * nn / 2)
                .map(|_| {
                    let cell = if rng.uniform() < 0.5 {
                        rng.below(nn / 8)
                    } else {
                        rng.below(nn)
                    };
                    cell as u32
                })
                .collect();
            let cells = particles
                .chunks(nn / 2)
                .flat_map(|p| reference::counts(p, n))
                .collect();
            State {
                cells,
                particles,
                clocks: vec![ReplicaClock::default(); r],
                step: 0,
            }
        }
    }
}

#[test]
fn coarse_graining_on_the_gpu_matches_the_twin() {
    let s = seed("coarse_graining_on_the_gpu_matches_the_twin");
    let mut rng = TestRng::new(s);
    for (model, n, grain, adjust) in [
        (Model::Interacting, 12, None, Adjust::Rowwise),
        (Model::Interacting, 14, Some(5), Adjust::Cellwise),
        (Model::NonInteracting, 16, Some(9), Adjust::Rowwise),
        (Model::NonInteracting, 10, None, Adjust::Cellwise),
    ] {
        let mut config = CoffeeConfig::default()
            .model(model)
            .size(n)
            .replicas(3)
            .adjust(adjust);
        config.grain = grain;
        let state = random_state(&mut rng, &config);
        let mut gpu = Automaton::from_state(ctx(), &config, s, &state).unwrap();
        let grids = gpu.grids().unwrap();
        for (r, g) in grids.iter().enumerate() {
            let cells = &state.cells[r * n * n..(r + 1) * n * n];
            let twin = morphogen::coffee::coarse_grain(cells, &config);
            assert_eq!(g.coarse, twin.coarse, "{model:?} n={n}: coarse differs");
            assert_eq!(
                g.adjusted, twin.adjusted,
                "{model:?} n={n}: adjusted differs"
            );
            assert_eq!(g.fine, twin.fine);
        }
    }
}

/// The expected row counts after `steps` steps of the recurrence both models obey:
/// `c_r += rate · Σ (c_m − c_r)` over the rows m next to r (wrapping when `periodic`,
/// a missing row dropped at a closed wall), from the top half full. The non-interacting
/// model has rate 1/4 per step (a particle moves up or down with probability 1/4 each;
/// at a closed wall it stays), the interacting one 1/(2 n²) per attempt.
fn expected_profile(n: usize, steps: u64, periodic: bool, rate: f64) -> Vec<f64> {
    let mut c: Vec<f64> = (0..n)
        .map(|r| if r < n / 2 { n as f64 } else { 0.0 })
        .collect();
    for _ in 0..steps {
        c = (0..n)
            .map(|r| {
                let up = if r > 0 {
                    Some(r - 1)
                } else {
                    periodic.then_some(n - 1)
                };
                let down = if r + 1 < n {
                    Some(r + 1)
                } else {
                    periodic.then_some(0)
                };
                let flow: f64 = [up, down].into_iter().flatten().map(|m| c[m] - c[r]).sum();
                c[r] + rate * flow
            })
            .collect();
    }
    c
}

/// Each row's replica mean within `k` standard errors of its expectation.
fn assert_profile(rows: &[Vec<f64>], expected: &[f64], k: f64, what: &str) {
    let reps = rows.len() as f64;
    for (r, &e) in expected.iter().enumerate() {
        let values: Vec<f64> = rows.iter().map(|row| row[r]).collect();
        let mean = values.iter().sum::<f64>() / reps;
        let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (reps - 1.0);
        let se = (var / reps).sqrt().max(0.05);
        assert!(
            (mean - e).abs() <= k * se,
            "{what}: row {r} mean {mean:.3}, expected {e:.3} (se {se:.3})"
        );
    }
}

fn row_counts(cells: &[u32], n: usize) -> Vec<Vec<f64>> {
    cells
        .chunks(n * n)
        .map(|g| {
            g.chunks(n)
                .map(|row| row.iter().map(|&v| f64::from(v)).sum())
                .collect()
        })
        .collect()
}

#[test]
fn noninteracting_rows_follow_the_exact_recurrence() {
    seed("noninteracting_rows_follow_the_exact_recurrence");
    let n = 12;
    for (boundary, steps) in [(Boundary::Closed, 9), (Boundary::Periodic, 14)] {
        let config = CoffeeConfig::default()
            .model(Model::NonInteracting)
            .size(n)
            .replicas(256)
            .boundary(boundary);
        let s = seed("noninteracting replicas");
        let mut gpu = Automaton::new(ctx(), &config, s).unwrap();
        gpu.advance_to(steps).unwrap();
        let state = gpu.state().unwrap();
        let expected = expected_profile(n, steps, boundary == Boundary::Periodic, 0.25);
        assert_profile(
            &row_counts(&state.cells, n),
            &expected,
            4.5,
            &format!("{boundary:?}"),
        );
    }
}

#[test]
fn interacting_rows_follow_the_exact_recurrence_on_the_attempt_clock() {
    seed("interacting_rows_follow_the_exact_recurrence_on_the_attempt_clock");
    let n = 10;
    let attempts = 3000u64;
    for boundary in [Boundary::Closed, Boundary::Periodic] {
        let config = CoffeeConfig::default()
            .size(n)
            .replicas(256)
            .boundary(boundary);
        let s = seed("interacting replicas");
        let mut gpu = Automaton::new(ctx(), &config, s).unwrap();
        gpu.advance_attempts_to(attempts).unwrap();
        let state = gpu.state().unwrap();
        assert!(state.clocks.iter().all(|c| c.attempts == attempts));
        let rate = 1.0 / (2.0 * (n * n) as f64);
        let expected = expected_profile(n, attempts, boundary == Boundary::Periodic, rate);
        assert_profile(
            &row_counts(&state.cells, n),
            &expected,
            4.5,
            &format!("{boundary:?}"),
        );
    }
}

#[test]
fn a_replica_with_nothing_to_swap_is_refused() {
    seed("a_replica_with_nothing_to_swap_is_refused");
    let config = CoffeeConfig::default().size(8).replicas(2);
    let mut cells = reference::initial_cells(8);
    cells.extend(vec![1u32; 64]);
    let state = State {
        cells,
        particles: Vec::new(),
        clocks: vec![ReplicaClock::default(); 2],
        step: 0,
    };
    let err = Automaton::from_state(ctx(), &config, 1, &state)
        .err()
        .expect("refused")
        .to_string();
    assert!(err.contains("replica 1 is all cream"), "{err}");
}

#[test]
fn every_cell_tends_to_one_half() {
    seed("every_cell_tends_to_one_half");
    let n = 6;
    for model in [Model::Interacting, Model::NonInteracting] {
        let config = CoffeeConfig::default().model(model).size(n).replicas(512);
        let s = seed("mixing replicas");
        let mut gpu = Automaton::new(ctx(), &config, s).unwrap();
        gpu.advance_to(if model == Model::Interacting {
            3000
        } else {
            400
        })
        .unwrap();
        let cells = gpu.state().unwrap().cells;
        for c in 0..n * n {
            let v: Vec<f64> = cells.chunks(n * n).map(|g| f64::from(g[c])).collect();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64;
            let se = (var / v.len() as f64).sqrt();
            assert!(
                (mean - 0.5).abs() <= 4.5 * se,
                "{model:?}: cell {c} mean {mean:.3} (se {se:.3})"
            );
        }
    }
}

fn spearman(values: &[f64]) -> f64 {
    let ranks = |v: &[f64]| -> Vec<f64> {
        let mut idx: Vec<usize> = (0..v.len()).collect();
        idx.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut r = vec![0.0; v.len()];
        let mut i = 0;
        while i < idx.len() {
            let mut j = i;
            while j + 1 < idx.len() && v[idx[j + 1]] == v[idx[i]] {
                j += 1;
            }
            for k in i..=j {
                r[idx[k]] = (i + j) as f64 / 2.0;
            }
            i = j + 1;
        }
        r
    };
    let x: Vec<f64> = (0..values.len()).map(|i| i as f64).collect();
    let (rx, ry) = (ranks(&x), ranks(values));
    let mean = (values.len() - 1) as f64 / 2.0;
    let cov: f64 = rx
        .iter()
        .zip(&ry)
        .map(|(a, b)| (a - mean) * (b - mean))
        .sum();
    let vx: f64 = rx.iter().map(|a| (a - mean).powi(2)).sum();
    let vy: f64 = ry.iter().map(|b| (b - mean).powi(2)).sum();
    cov / (vx * vy).sqrt()
}

#[test]
fn entropy_rises_and_complexity_rises_then_falls() {
    let s = seed("entropy_rises_and_complexity_rises_then_falls");
    let n = 48;
    for model in [Model::Interacting, Model::NonInteracting] {
        let mut config = CoffeeConfig::default().model(model).size(n).replicas(8);
        if model == Model::NonInteracting {
            // Particle counts fluctuate more than 0/1 cells: a wider window keeps the
            // mixed state's window averages inside the middle bucket, as g = 9 does at
            // the paper's n = 100.
            config = config.grain(11);
        }
        let mut gpu = Automaton::new(ctx(), &config, s).unwrap();
        // The authors' run length (four times their fitted mixing time), 41 samples.
        let schedule = Schedule::spread(Schedule::reference(model, n).end, 41);
        let mut entropy = Vec::new();
        let mut entropy_se = Vec::new();
        let mut complexity = Vec::new();
        gpu.run_with(&schedule, |sample| {
            assert!(sample.cream.iter().all(|&c| c == (n * n / 2) as u64));
            entropy.push(sample.entropy().mean);
            entropy_se.push(sample.entropy().se);
            complexity.push(sample.complexity().mean);
            Ok(())
        })
        .unwrap();
        assert_eq!(entropy.len(), schedule.len());
        eprintln!("{model:?}: entropy {entropy:.0?}\ncomplexity {complexity:.0?}");
        // Rising until it comes within 2% of its plateau (the mean of the last quarter),
        // with Spearman's rank correlation against time above 0.9. After that ranks are
        // noise, so no sample may fall below an earlier one by more than six standard
        // errors of their difference (the standard error pooled over those samples).
        let tail = &entropy[3 * entropy.len() / 4..];
        let plateau = tail.iter().sum::<f64>() / tail.len() as f64;
        let rise = entropy.iter().position(|&e| e >= 0.98 * plateau).unwrap() + 1;
        assert!(
            rise >= 4,
            "{model:?}: the rise is resolved by {rise} samples"
        );
        let rho = spearman(&entropy[..rise]);
        assert!(
            rho > 0.9,
            "{model:?}: entropy Spearman {rho:.3} over the rise"
        );
        let mut se: Vec<f64> = entropy_se[rise..].to_vec();
        se.sort_by(f64::total_cmp);
        let pooled = se[se.len() / 2].max(0.5);
        let mut high = 0.0f64;
        for (k, &e) in entropy.iter().enumerate() {
            let bound = high - 6.0 * pooled * 2f64.sqrt();
            assert!(
                e >= bound,
                "{model:?}: entropy fell to {e} at sample {k} (high {high}, se {pooled:.2})"
            );
            high = high.max(e);
        }
        let (peak_at, peak) = complexity
            .iter()
            .copied()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .unwrap();
        let (start, end) = (complexity[0], *complexity.last().unwrap());
        eprintln!("{model:?}: complexity start {start:.1}, peak {peak:.1} at sample {peak_at}, end {end:.1}");
        assert!(
            peak_at > 0 && peak_at + 1 < complexity.len(),
            "{model:?}: the peak is interior"
        );
        assert!(
            peak > 1.5 * start && peak > 1.5 * end,
            "{model:?}: a clear rise and fall"
        );
    }
}

#[test]
fn a_checkpoint_resumes_both_models_exactly() {
    let s = seed("a_checkpoint_resumes_both_models_exactly");
    for model in [Model::Interacting, Model::NonInteracting] {
        let config = CoffeeConfig::default()
            .model(model)
            .size(12)
            .replicas(3)
            .boundary(Boundary::Periodic)
            .adjust(Adjust::Cellwise);
        let schedule = Schedule::spread(600, 7);
        let mut whole = Automaton::new(ctx(), &config, s).unwrap();
        let mut all = Vec::new();
        whole
            .run_with(&schedule, |sample| {
                all.push(sample.curve());
                Ok(())
            })
            .unwrap();
        let mut first = Automaton::new(ctx(), &config, s).unwrap();
        let times: Vec<(usize, u64)> = schedule.times().enumerate().collect();
        let mut curves = Vec::new();
        let mut profile = Vec::new();
        first
            .run_at(&times[..3], |sample| {
                curves.push(sample.curve());
                profile.extend_from_slice(&sample.profile);
                Ok(())
            })
            .unwrap();
        let checkpoint = morphogen::coffee::Checkpoint {
            config: config.clone(),
            seed: s,
            state: first.state().unwrap(),
            schedule,
            curves,
            profile,
        };
        let path = std::env::temp_dir().join(format!(
            "coffee-{}-{model:?}.safetensors",
            std::process::id()
        ));
        checkpoint.save(&path).unwrap();
        let loaded = morphogen::coffee::Checkpoint::load(&path).unwrap();
        std::fs::remove_file(&path).unwrap();
        assert_eq!(loaded.state, checkpoint.state);
        assert_eq!(loaded.curves, checkpoint.curves);
        assert_eq!(loaded.config.grain_size(), config.grain_size());
        let mut resumed = loaded.resume(ctx()).unwrap();
        let mut rest = loaded.curves.clone();
        resumed
            .run_at(&times[3..], |sample| {
                rest.push(sample.curve());
                Ok(())
            })
            .unwrap();
        assert_eq!(rest, all, "{model:?}");
        assert_eq!(
            resumed.state().unwrap(),
            whole.state().unwrap(),
            "{model:?}"
        );
    }
}
