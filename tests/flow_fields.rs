//! Gradient fields of scalar networks, central-difference log-densities and conditioned
//! populations: the GPU against closed forms, the CPU f64 twin and separate solves.

mod common;

use common::nets::{particles, random_layers, worst};
use common::{ctx, seed, TestRng};
use morphogen::flow::{self, eval, Activation, FlowConfig, LogDensity, Solver, VelocityField};
use morphogen::flow::{Dense, TimeInput};

fn random_scalar_net(rng: &mut TestRng, d: usize, time: TimeInput) -> VelocityField {
    let input = d + usize::from(time != TimeInput::None);
    let mut field = VelocityField::from_layers(
        d,
        time,
        Activation::Tanh,
        random_layers(rng, &[input, 16, 16, d]),
    )
    .unwrap();
    // Replace the output layer by one unit: s(x, t).
    field.layers.pop();
    field.layers.push(Dense {
        inputs: 16,
        outputs: 1,
        weight: (0..16).map(|_| (rng.normal() * 0.25) as f32).collect(),
        bias: vec![0.0],
    });
    field.scalar = true;
    field.validate().unwrap();
    field
}

#[test]
fn the_gradient_of_a_quadratic_potential_is_its_analytic_gradient() {
    let mut rng = TestRng::new(seed("quadratic_potential"));
    let (m, d) = (4, 3);
    let l: Vec<f32> = (0..m * d).map(|_| rng.normal() as f32 * 0.5).collect();
    let c: Vec<f32> = (0..m).map(|_| rng.normal() as f32 * 0.5).collect();
    let field = VelocityField::quadratic_potential(&l, &c).unwrap();
    // v = Lᵀ(Lx + c) = A x + b with A = LᵀL, b = Lᵀc: a linear ODE.
    let mut a = vec![0.0f64; d * d];
    let mut b = vec![0.0f64; d];
    for i in 0..d {
        for j in 0..d {
            a[i * d + j] = (0..m)
                .map(|r| f64::from(l[r * d + i]) * f64::from(l[r * d + j]))
                .sum();
        }
        b[i] = (0..m)
            .map(|r| f64::from(l[r * d + i]) * f64::from(c[r]))
            .sum();
    }
    let x = particles(&mut rng, 64, d);
    // The CPU twin's gradient against the closed form.
    for p in x.chunks(d) {
        let xp: Vec<f64> = p.iter().map(|&v| f64::from(v)).collect();
        let v = eval::eval(&field, &xp, 0.0, &[]);
        for i in 0..d {
            let want: f64 = b[i] + (0..d).map(|j| a[i * d + j] * xp[j]).sum::<f64>();
            assert!(
                (v[i] - want).abs() < 1e-5,
                "component {i}: {} vs {want}",
                v[i]
            );
        }
    }
    // One Euler step of length h on the GPU gives x + h v(x): the kernel's gradient.
    let h = 0.125;
    let config = FlowConfig::default()
        .solver(Solver::Euler)
        .steps(1)
        .span(0.0, h);
    let out = flow::integrate(ctx(), &field, &x, &[], &config).unwrap();
    let mut worst_err = 0.0f64;
    for (p, x0) in x.chunks(d).enumerate() {
        for i in 0..d {
            let v: f64 = b[i] + (0..d).map(|j| a[i * d + j] * f64::from(x0[j])).sum::<f64>();
            let want = f64::from(x0[i]) + h * v;
            let got = f64::from(out.state(0, p)[i]);
            worst_err = worst_err.max((got - want).abs() / want.abs().max(1.0));
        }
    }
    eprintln!("GPU gradient step vs analytic: {worst_err:.2e}");
    assert!(worst_err < 2e-6, "{worst_err}");
}

#[test]
fn a_scalar_network_flows_as_the_cpu_twin_with_central_log_density() {
    let mut rng = TestRng::new(seed("scalar_network"));
    let d = 3;
    let field = random_scalar_net(&mut rng, d, TimeInput::Last);
    let x = particles(&mut rng, 96, d);
    let config = FlowConfig::default()
        .solver(Solver::Rk4)
        .steps(16)
        .save_at(&[0.5, 1.0])
        .log_density(LogDensity::Central, 0);
    let gpu = flow::integrate(ctx(), &field, &x, &[], &config).unwrap();
    let cpu = flow::integrate_cpu(&field, &x, &[], &config).unwrap();
    let w = worst(&gpu, &cpu);
    eprintln!("scalar network, RK4 + central log-density: GPU vs CPU {w:.2e}");
    // Central differences in f32 carry ~1e-7/δ rounding per coordinate and step.
    assert!(w < 3e-4, "{w}");
    let w_states = worst(
        &flow::FlowResult {
            log_density_change: None,
            ..gpu.clone()
        },
        &cpu,
    );
    assert!(w_states < 1e-4, "states differ by {w_states}");
    // Tangent modes need second derivatives of s and are refused with a reason.
    let err = flow::integrate(
        ctx(),
        &field,
        &x,
        &[],
        &config.clone().log_density(LogDensity::Exact, 0),
    )
    .unwrap_err();
    assert!(err.to_string().contains("central"), "{err}");
}

#[test]
fn central_differences_agree_with_the_exact_divergence() {
    let mut rng = TestRng::new(seed("central_divergence"));
    let d = 4;
    let field = common::nets::random_net(
        &mut rng,
        &[d + 1, 32, 32, d],
        Activation::Silu,
        TimeInput::Last,
    );
    let x = particles(&mut rng, 128, d);
    let config = FlowConfig::default()
        .solver(Solver::Dopri5)
        .tolerances(1e-6, 1e-6);
    let exact = flow::integrate(
        ctx(),
        &field,
        &x,
        &[],
        &config.clone().log_density(LogDensity::Exact, 0),
    )
    .unwrap();
    let central = flow::integrate(
        ctx(),
        &field,
        &x,
        &[],
        &config.clone().log_density(LogDensity::Central, 0),
    )
    .unwrap();
    let dir = std::env::temp_dir().join(format!("morphogen-flow-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    exact.save_npy(&dir).unwrap();
    let logp = morphogen::io::npy::read(&dir.join("logp.npy")).unwrap();
    assert_eq!(logp.shape, [1, 128]);
    assert_eq!(&logp.data, exact.log_density_change.as_ref().unwrap());
    let _ = std::fs::remove_dir_all(&dir);
    let (a, b) = (
        exact.log_density_change.unwrap(),
        central.log_density_change.unwrap(),
    );
    let spread = a.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    let err = a
        .iter()
        .zip(&b)
        .map(|(p, q)| (p - q).abs())
        .fold(0.0f32, f32::max);
    eprintln!("log-density change: exact vs central {err:.2e} (values up to {spread:.2})");
    assert!(
        spread > 0.05,
        "the test field must change densities ({spread})"
    );
    assert!(err < 5e-4 * spread.max(1.0), "{err}");
}

#[test]
fn each_population_matches_a_separate_solve_with_its_own_vector() {
    let mut rng = TestRng::new(seed("populations"));
    let (d, c, pops, n) = (2, 3, 3, 150);
    let field = VelocityField {
        dim: d,
        time: TimeInput::Last,
        time_scale: 1.0,
        cond_dim: c,
        time_embedding: None,
        residual: false,
        // Smooth: the exact divergence of a SELU network jumps where a
        // pre-activation crosses zero, and f32 and f64 may cross at
        // different stages, which is not the behaviour under test.
        activation: Activation::Silu,
        output_activation: Activation::Identity,
        scalar: false,
        layers: random_layers(&mut rng, &[d + c + 1, 32, 32, d]),
    };
    field.validate().unwrap();
    let vectors: Vec<f32> = (0..pops * c).map(|_| rng.normal() as f32).collect();
    let population: Vec<u32> = (0..n).map(|_| rng.below(pops) as u32).collect();
    let x = particles(&mut rng, n, d);
    let config = FlowConfig::default()
        .solver(Solver::Rk4)
        .steps(20)
        .save_at(&[0.5, 1.0])
        .log_density(LogDensity::Exact, 0);
    let batch =
        flow::integrate_populations(ctx(), &field, &x, &vectors, &population, &config).unwrap();
    let twin = flow::integrate_cpu_populations(&field, &x, &vectors, &population, &config).unwrap();
    assert!(
        worst(&batch, &twin) < 1e-4,
        "GPU vs CPU {}",
        worst(&batch, &twin)
    );
    let mut worst_diff = 0.0f32;
    for k in 0..pops {
        let members: Vec<usize> = (0..n).filter(|&p| population[p] == k as u32).collect();
        let xs: Vec<f32> = members
            .iter()
            .flat_map(|&p| x[p * d..(p + 1) * d].to_vec())
            .collect();
        let own = &vectors[k * c..(k + 1) * c];
        let alone = flow::integrate(ctx(), &field, &xs, own, &config).unwrap();
        for (j, &p) in members.iter().enumerate() {
            for s in 0..2 {
                for (a, b) in batch.state(s, p).iter().zip(alone.state(s, j)) {
                    worst_diff = worst_diff.max((a - b).abs());
                }
            }
        }
    }
    eprintln!("populations in one batch vs separate solves: {worst_diff:.2e}");
    assert!(worst_diff < 1e-6, "{worst_diff}");
    // Bad indices are refused.
    let mut bad = population.clone();
    bad[7] = pops as u32;
    let err = flow::integrate_populations(ctx(), &field, &x, &vectors, &bad, &config).unwrap_err();
    assert!(err.to_string().contains("particle 7"), "{err}");
}

#[test]
fn populations_follow_their_vectors_in_shared_step_mode_too() {
    let mut rng = TestRng::new(seed("populations_shared"));
    let (d, c, pops, n) = (2, 2, 4, 120);
    let field = VelocityField {
        dim: d,
        time: TimeInput::Last,
        time_scale: 1.0,
        cond_dim: c,
        time_embedding: None,
        residual: false,
        // Smooth, so that adaptive step control behaves the same in f32 and f64.
        activation: Activation::Tanh,
        output_activation: Activation::Identity,
        scalar: false,
        layers: random_layers(&mut rng, &[d + c + 1, 32, 32, d]),
    };
    field.validate().unwrap();
    let vectors: Vec<f32> = (0..pops * c).map(|_| rng.normal() as f32 * 2.0).collect();
    let population: Vec<u32> = (0..n).map(|_| rng.below(pops) as u32).collect();
    let x = particles(&mut rng, n, d);
    // Tight tolerances: with a handful of long steps the save at t = 0.5 would come from
    // interpolants whose own error (~1e-3) differs between f32 and f64 step sequences.
    let config = FlowConfig::default()
        .solver(Solver::Dopri5)
        .tolerances(1e-7, 1e-7)
        .shared_step(true)
        .save_at(&[0.5, 1.0]);
    let gpu =
        flow::integrate_populations(ctx(), &field, &x, &vectors, &population, &config).unwrap();
    let cpu = flow::integrate_cpu_populations(&field, &x, &vectors, &population, &config).unwrap();
    let w = worst(&gpu, &cpu);
    eprintln!("shared-step populations: GPU vs CPU {w:.2e}");

    assert!(w < 1e-4, "{w}");
    // The vectors matter: one population for all moves the particles elsewhere.
    let alone = flow::integrate(ctx(), &field, &x, &vectors[..c], &config).unwrap();
    let moved = (0..n)
        .filter(|&p| population[p] != 0)
        .filter(|&p| {
            gpu.state(1, p)
                .iter()
                .zip(alone.state(1, p))
                .any(|(a, b)| (a - b).abs() > 1e-3)
        })
        .count();
    let others = population.iter().filter(|&&k| k != 0).count();
    assert!(
        moved * 10 >= others * 9,
        "only {moved} of {others} particles moved"
    );
}

#[test]
fn progress_counts_finished_particles_and_can_stop_a_run() {
    let field = VelocityField::linear(&[-1.0, 0.0, 0.0, -0.5], &[0.0, 0.0]).unwrap();
    let x: Vec<f32> = (0..2 * 300).map(|k| (k as f32 * 0.37).sin()).collect();
    let config = FlowConfig::default()
        .solver(Solver::Dopri5)
        .tolerances(1e-6, 1e-6);
    let mut reports = Vec::new();
    let watched = flow::integrate_with_progress(
        ctx(),
        &field,
        &x,
        (&[], &[]),
        &config,
        &mut |done, total| {
            reports.push((done, total));
            Ok(())
        },
    )
    .unwrap();
    assert_eq!(reports.last(), Some(&(300, 300)), "{reports:?}");
    assert!(reports.windows(2).all(|w| w[0].0 <= w[1].0), "{reports:?}");
    let plain = flow::integrate(ctx(), &field, &x, &[], &config).unwrap();
    assert_eq!(watched.states, plain.states, "watching changes nothing");
    let mut calls = 0;
    let stopped =
        flow::integrate_with_progress(ctx(), &field, &x, (&[], &[]), &config, &mut |_, _| {
            calls += 1;
            Err(morphogen::Error::invalid("stopped by the caller"))
        });
    assert_eq!(calls, 1);
    assert!(stopped
        .unwrap_err()
        .to_string()
        .contains("stopped by the caller"));
}
