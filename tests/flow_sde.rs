//! SDEs, weights and branches: the GPU against closed forms, the CPU f64 twin, strong
//! convergence orders, and reproducibility across chunkings.

mod common;

use common::nets::{particles, random_layers};
use common::{ctx, seed, TestRng};
use morphogen::flow::sde::{
    self, reference, simulate, simulate_cpu, Branch, Diffusion, Growth, SdeConfig, SdeSolver,
};
use morphogen::flow::{Activation, Dense, TimeInput, VelocityField};
use morphogen::gpu::{ContextOptions, GpuContext};

/// v = −θ x in d dimensions.
fn ou_field(theta: f32, d: usize) -> VelocityField {
    let mut a = vec![0.0; d * d];
    for i in 0..d {
        a[i * d + i] = -theta;
    }
    VelocityField::linear(&a, &vec![0.0; d]).unwrap()
}

/// A growth head that ignores x: g(t) = a t + b (a scalar network).
fn growth_of_time(d: usize, a: f32, b: f32) -> VelocityField {
    let mut g = VelocityField::from_layers(
        d,
        TimeInput::Last,
        Activation::Identity,
        vec![Dense {
            inputs: d + 1,
            outputs: d,
            weight: vec![0.0; d * (d + 1)],
            bias: vec![0.0; d],
        }],
    )
    .unwrap();
    let mut weight = vec![0.0; d + 1];
    weight[d] = a;
    g.layers = vec![Dense {
        inputs: d + 1,
        outputs: 1,
        weight,
        bias: vec![b],
    }];
    g.scalar = true;
    g.validate().unwrap();
    g
}

fn mean_var(values: impl Iterator<Item = f64>) -> (f64, f64, usize) {
    let v: Vec<f64> = values.collect();
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (mean, var, n)
}

#[test]
fn ornstein_uhlenbeck_moments_match_the_closed_form() {
    let seed = seed("ou_moments");
    let (theta, sigma, x0, n, d) = (1.5f64, 0.8f64, 1.0f64, 4000, 2);
    let branch = Branch::new(ou_field(theta as f32, d));
    let x = vec![x0 as f32; n * d];
    for solver in [SdeSolver::EulerMaruyama, SdeSolver::Sra1] {
        let config = SdeConfig::default()
            .solver(solver)
            .diffusion(Diffusion::Constant(sigma))
            .steps(200)
            .save_at(&[0.5, 1.0])
            .seed(seed);
        let out = simulate(ctx(), std::slice::from_ref(&branch), &x, &[], &[], &config).unwrap();
        for (k, &t) in out.times.iter().enumerate() {
            let (mean, var, m) =
                mean_var((0..n).flat_map(|p| out.state(k, 0, p).iter().map(|&v| f64::from(v))));
            let want_mean = x0 * (-theta * t).exp();
            let want_var = sigma * sigma * (1.0 - (-2.0 * theta * t).exp()) / (2.0 * theta);
            // Standard errors of the sample mean and variance, plus the scheme's bias
            // (Euler-Maruyama's mean is (1 - θh)^k x0).
            let (se_mean, se_var) = (
                (want_var / m as f64).sqrt(),
                want_var * (2.0 / m as f64).sqrt(),
            );
            let h = 1.0 / 200.0;
            let bias = x0 * ((1.0 - theta * h).powf(t / h) - (-theta * t).exp()).abs();
            eprintln!(
                "{solver:?} t = {t}: mean {mean:.4} (exact {want_mean:.4}, se {se_mean:.1e}), \
                 variance {var:.4} (exact {want_var:.4}, se {se_var:.1e})"
            );
            assert!(
                (mean - want_mean).abs() < 5.0 * se_mean + bias,
                "mean at t = {t}"
            );
            assert!(
                (var - want_var).abs() < 5.0 * se_var + 4.0 * bias,
                "variance at t = {t}"
            );
        }
    }
}

#[test]
fn the_bridge_schedule_gives_the_brownian_bridge_variance() {
    let seed = seed("bridge_variance");
    let (sigma, n) = (1.2f64, 4000);
    let zero = VelocityField::linear(&[0.0], &[0.0]).unwrap();
    let config = SdeConfig::default()
        .diffusion(Diffusion::Bridge(sigma))
        .steps(100)
        .save_at(&[0.5, 1.0])
        .seed(seed);
    let out = simulate(
        ctx(),
        &[Branch::new(zero)],
        &vec![0.0; n],
        &[],
        &[],
        &config,
    )
    .unwrap();
    // Var x(t) = σ² ∫₀ᵗ s (1 − s) ds = σ² (t²/2 − t³/3).
    for (k, &t) in out.times.iter().enumerate() {
        let (_, var, m) = mean_var((0..n).map(|p| f64::from(out.state(k, 0, p)[0])));
        let want = sigma * sigma * (t * t / 2.0 - t * t * t / 3.0);
        let se = want * (2.0 / m as f64).sqrt();
        eprintln!("bridge t = {t}: variance {var:.4} (exact {want:.4}, se {se:.1e})");
        assert!((var - want).abs() < 5.0 * se, "t = {t}");
    }
}

/// Strong errors E|X_h(T) − X(T)| of the twin's schemes on dx = −θx dt + σ dW, whose
/// pathwise solution is X(T) = e^{−θT} x0 + σ (W(T) − θ ∫ e^{−θ(T−s)} W(s) ds).
fn strong_errors(solver: SdeSolver, rng: &mut TestRng) -> Vec<f64> {
    let (theta, sigma, x0) = (2.0f64, 1.0f64, 1.0f64);
    let fine = 1 << 13;
    let paths = 60;
    let coarse = [8usize, 16, 32, 64];
    let branch = Branch::new(ou_field(theta as f32, 1));
    let config = SdeConfig::default()
        .solver(solver)
        .diffusion(Diffusion::Constant(sigma));
    let mut errors = vec![0.0; coarse.len()];
    for _ in 0..paths {
        let df = 1.0 / fine as f64;
        let mut w = vec![0.0f64; fine + 1];
        for i in 0..fine {
            w[i + 1] = w[i] + df.sqrt() * rng.normal();
        }
        // ∫ e^{−θ(1−s)} W(s) ds by the trapezoid rule on the fine path.
        let integral: f64 = (0..fine)
            .map(|i| {
                let f = |j: usize| (-theta * (1.0 - j as f64 * df)).exp() * w[j];
                0.5 * df * (f(i) + f(i + 1))
            })
            .sum();
        let exact = (-theta).exp() * x0 + sigma * (w[fine] - theta * integral);
        for (e, &steps) in errors.iter_mut().zip(&coarse) {
            let ratio = fine / steps;
            let h = 1.0 / steps as f64;
            let mut y = vec![x0];
            for s in 0..steps {
                let (a, b) = (s * ratio, (s + 1) * ratio);
                let dw = w[b] - w[a];
                // I₁₀ / h = (1/h) ∫ (W(s) − W(t_n)) ds.
                let i10: f64 = (a..b)
                    .map(|j| 0.5 * df * (w[j] + w[j + 1]) - df * w[a])
                    .sum();
                reference::step(
                    &branch,
                    &[],
                    &config,
                    false,
                    &mut y,
                    (s as f64 * h, h),
                    &[dw],
                    &[i10 / h],
                );
            }
            *e += (y[0] - exact).abs() / paths as f64;
        }
    }
    errors
}

#[test]
fn strong_orders_are_one_for_euler_maruyama_and_above_for_sra1() {
    let mut rng = TestRng::new(seed("strong_order"));
    for (solver, low, high) in [
        (SdeSolver::EulerMaruyama, 0.8, 1.25),
        (SdeSolver::Sra1, 1.35, 2.4),
    ] {
        let e = strong_errors(solver, &mut rng);
        // Least-squares slope of log error against log h.
        let xs: Vec<f64> = (0..e.len()).map(|i| -(i as f64) * 2f64.ln()).collect();
        let ys: Vec<f64> = e.iter().map(|v| v.ln()).collect();
        let (mx, my) = (xs.iter().sum::<f64>() / 4.0, ys.iter().sum::<f64>() / 4.0);
        let slope = xs
            .iter()
            .zip(&ys)
            .map(|(x, y)| (x - mx) * (y - my))
            .sum::<f64>()
            / xs.iter().map(|x| (x - mx).powi(2)).sum::<f64>();
        eprintln!("{solver:?}: strong errors {e:?}, order {slope:.2}");
        assert!((low..high).contains(&slope), "{solver:?} order {slope}");
    }
}

#[test]
fn the_gpu_follows_the_cpu_twin_path_for_path() {
    let mut rng = TestRng::new(seed("sde_twin"));
    // 47 particles: the last invocation of four slots holds three.
    let (d, c, n) = (3, 2, 47);
    let net = |rng: &mut TestRng, outputs: usize, scalar: bool| {
        let f = VelocityField {
            dim: d,
            time: TimeInput::Last,
            time_scale: 1.0,
            cond_dim: c,
            time_embedding: None,
            residual: false,
            activation: Activation::Tanh,
            output_activation: Activation::Identity,
            scalar,
            layers: random_layers(rng, &[d + c + 1, 16, outputs]),
        };
        f.validate().unwrap();
        f
    };
    let branches = [
        Branch::new(net(&mut rng, d, false))
            .score(net(&mut rng, d, false))
            .growth(net(&mut rng, 1, true)),
        Branch::new(net(&mut rng, 1, true)).growth(net(&mut rng, 1, true)),
    ];
    let vectors: Vec<f32> = (0..2 * c).map(|_| rng.normal() as f32).collect();
    let population: Vec<u32> = (0..n).map(|_| rng.below(2) as u32).collect();
    let x = particles(&mut rng, n, d);
    for (solver, diffusion, growth, span) in [
        (
            SdeSolver::Sra1,
            Diffusion::Bridge(0.7),
            Growth::LogWeight,
            (0.0, 1.0),
        ),
        (
            SdeSolver::EulerMaruyama,
            Diffusion::Constant(0.3),
            Growth::Additive,
            (1.0, 0.2),
        ),
    ] {
        let config = SdeConfig::default()
            .solver(solver)
            .diffusion(diffusion)
            .growth(growth)
            .span(span.0, span.1)
            .steps(40)
            .save_at(&[span.0, 0.5, span.1])
            .initial_weights(&[0.6, 0.4])
            .seed(rng.next_u64());
        let gpu = simulate(ctx(), &branches, &x, &vectors, &population, &config).unwrap();
        let cpu = simulate_cpu(&branches, &x, &vectors, &population, &config).unwrap();
        let worst = gpu
            .states
            .iter()
            .zip(&cpu.states)
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0f32, f32::max);
        let worst_w = gpu
            .weights
            .as_ref()
            .unwrap()
            .iter()
            .zip(cpu.weights.as_ref().unwrap())
            .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
            .fold(0.0f32, f32::max);
        eprintln!("{solver:?} {diffusion:?} {growth:?}: GPU vs CPU states {worst:.2e}, weights {worst_w:.2e}");
        assert!(worst < 5e-4 && worst_w < 5e-4, "{worst} {worst_w}");
        for (a, b) in gpu.mass.iter().zip(&cpu.mass) {
            assert!((a - b).abs() < 1e-3 * b.abs().max(1.0), "mass {a} vs {b}");
        }
        // Arrays a user can keep: written as .npy with their shapes.
        let dir = std::env::temp_dir().join(format!("morphogen-sde-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        gpu.save_npy(&dir).unwrap();
        let states = morphogen::io::npy::read(&dir.join("states.npy")).unwrap();
        assert_eq!(states.shape, [3, 2, n, d]);
        assert_eq!(states.data, gpu.states);
        let w = morphogen::io::npy::read(&dir.join("weights.npy")).unwrap();
        assert_eq!(w.shape, [3, 2, n]);
        let _ = std::fs::remove_dir_all(&dir);
        // The saves at t0 are the start, with the initial weights.
        assert_eq!(gpu.state(0, 1, 5), &x[5 * d..6 * d]);
        assert!((gpu.weight(0, 1, 5) - 0.4).abs() < 1e-6);
    }
}

#[test]
fn runs_are_reproducible_whatever_the_chunking_and_differ_between_seeds() {
    let mut rng = TestRng::new(seed("sde_chunks"));
    let (d, n) = (2, 300);
    let branches = vec![Branch::new(ou_field(0.7, d)).growth(growth_of_time(d, 0.5, -0.2)); 2];
    let x = particles(&mut rng, n, d);
    let config = SdeConfig::default()
        .diffusion(Diffusion::Constant(0.5))
        .steps(150)
        .save_at(&[0.3, 1.0])
        .seed(rng.next_u64());
    let whole = simulate(ctx(), &branches, &x, &[], &[], &config).unwrap();
    // Chunks of 4 KiB bindings (85 particles: four chunks) and 2-step dispatches.
    let small =
        GpuContext::with_options(&ContextOptions::default().binding_cap(4 << 10).loop_cap(800))
            .unwrap();
    let split = simulate(&small, &branches, &x, &[], &[], &config).unwrap();
    assert_eq!(whole.states, split.states, "chunked runs differ");
    // Slots per invocation change only which invocation carries a particle.
    for slots in [1, 3] {
        let other = simulate(ctx(), &branches, &x, &[], &[], &config.clone().slots(slots)).unwrap();
        assert_eq!(whole.states, other.states, "{slots} slots per invocation");
    }
    // Progress in particle-steps, every branch counted, ending at the total; the same run.
    let mut reports = Vec::new();
    let watched = sde::simulate_with_progress(
        &small,
        &branches,
        &x,
        (&[], &[]),
        &config,
        &mut |done, total| {
            reports.push((done, total));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(watched.states, whole.states);
    let total = (150 * n * 2) as u64;
    assert!(
        reports.len() > 2,
        "one report per save time and chunk: {reports:?}"
    );
    assert!(reports.windows(2).all(|w| w[0].0 < w[1].0), "{reports:?}");
    assert_eq!(reports.last(), Some(&(total, total)));
    // A callback that says stop (an interrupt) ends the run with its error.
    let mut calls = 0;
    let stopped =
        sde::simulate_with_progress(&small, &branches, &x, (&[], &[]), &config, &mut |_, _| {
            calls += 1;
            Err(morphogen::Error::invalid("stopped by the caller"))
        });
    assert_eq!(calls, 1, "no report after the first says stop");
    assert!(stopped
        .unwrap_err()
        .to_string()
        .contains("stopped by the caller"));
    // The two branches share their networks, which are packed once: still the twin's run.
    let twin = simulate_cpu(&branches, &x, &[], &[], &config).unwrap();
    let worst = whole
        .states
        .iter()
        .zip(&twin.states)
        .map(|(a, b)| (a - b).abs() / b.abs().max(1.0))
        .fold(0.0f32, f32::max);
    assert!(worst < 5e-4, "shared networks: GPU vs CPU {worst}");
    assert_eq!(whole.weights, split.weights);
    let other = simulate(
        ctx(),
        &branches,
        &x,
        &[],
        &[],
        &config.clone().seed(config.seed ^ 1),
    )
    .unwrap();
    let moved = whole
        .states
        .iter()
        .zip(&other.states)
        .filter(|(a, b)| a != b)
        .count();
    assert!(
        moved > whole.states.len() * 9 / 10,
        "another seed changed only {moved} values"
    );
}

#[test]
fn growth_heads_give_exponential_and_additive_weights_and_conserve_mass() {
    let d = 2;
    let x = vec![0.25f32; 64 * d];
    let c = 0.8f64;
    // Log-weight: d log w/dt = c gives w = w0 e^{ct}, exactly for any step.
    let branch = Branch::new(ou_field(1.0, d)).growth(growth_of_time(d, 0.0, c as f32));
    let config = SdeConfig::default()
        .diffusion(Diffusion::Constant(0.3))
        .steps(10)
        .save_at(&[0.5, 1.0])
        .seed(3);
    let out = simulate(ctx(), &[branch], &x, &[], &[], &config).unwrap();
    for (k, &t) in out.times.iter().enumerate() {
        let want = (c * t).exp();
        for p in 0..64 {
            assert!((f64::from(out.weight(k, 0, p)) - want).abs() < 1e-5 * want);
        }
        assert!((out.mass[k] - 64.0 * want).abs() < 1e-3 * want);
        assert!((out.ess[k] - 64.0).abs() < 1e-6, "equal weights: ESS = n");
    }
    // Additive, two branches whose growth heads cancel (g and −g, with g = t − 0.25):
    // mass moves between branches, their sum stays.
    let branches = [
        Branch::new(ou_field(1.0, d)).growth(growth_of_time(d, 1.0, -0.25)),
        Branch::new(VelocityField::rotation(1.0)).growth(growth_of_time(d, -1.0, 0.25)),
    ];
    let config = config
        .growth(Growth::Additive)
        .initial_weights(&[0.7, 0.3])
        .solver(SdeSolver::EulerMaruyama)
        .steps(50);
    let out = simulate(ctx(), &branches, &x, &[], &[], &config).unwrap();
    for (k, &t) in out.times.iter().enumerate() {
        // Euler on the grid moves Σ h (t_i − 0.25) per particle (∫ = t²/2 − t/4).
        let h = 1.0 / 50.0;
        let steps = (t / h).round() as usize;
        let moved: f64 = (0..steps).map(|i| h * (i as f64 * h - 0.25)).sum();
        let (m0, m1) = (out.mass[2 * k], out.mass[2 * k + 1]);
        eprintln!("t = {t}: branch masses {m0:.4} + {m1:.4}");
        assert!((m0 + m1 - 64.0).abs() < 1e-3, "total mass {}", m0 + m1);
        assert!(
            (m0 / 64.0 - (0.7 + moved)).abs() < 1e-4,
            "branch 0 {}",
            m0 / 64.0
        );
    }
}

#[test]
fn resampling_restores_the_effective_sample_size() {
    let mut rng = TestRng::new(seed("resampling"));
    let d = 1;
    let n = 400;
    // g(x) = 3x: weights follow position, and the noise spreads positions apart.
    let mut g = growth_of_time(d, 0.0, 0.0);
    g.layers[0].weight = vec![3.0, 0.0];
    let zero = VelocityField::linear(&[0.0], &[0.0]).unwrap();
    let branch = Branch::new(zero).growth(g);
    let x = particles(&mut rng, n, d);
    let config = SdeConfig::default()
        .diffusion(Diffusion::Constant(1.0))
        .steps(60)
        .save_at(&[0.25, 0.5, 0.75, 1.0])
        .seed(rng.next_u64());
    let free = simulate(ctx(), std::slice::from_ref(&branch), &x, &[], &[], &config).unwrap();
    let kept = simulate(
        ctx(),
        std::slice::from_ref(&branch),
        &x,
        &[],
        &[],
        &config.clone().resample_below(0.5),
    )
    .unwrap();
    eprintln!(
        "ESS without resampling {:.0?}, with {:.0?} (resampled after saves {:?})",
        free.ess, kept.ess, kept.resampled
    );
    assert!(
        free.ess[3] < 0.3 * n as f64,
        "the test must degenerate ({:?})",
        free.ess
    );
    assert!(!kept.resampled.is_empty());
    // Before the first resampling both runs are the same run.
    let first = kept.resampled[0].0;
    assert_eq!(free.ess[first], kept.ess[first]);
    assert!(kept.ess[first] < 0.5 * n as f64);
    assert!(
        kept.ess[3] > free.ess[3],
        "resampling must leave a larger ESS"
    );
}
