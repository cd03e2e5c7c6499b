//! Training on the GPU: the twin's backpropagation against finite differences, the GPU's
//! draws, gradients and Adam steps against the twin, the auction against the Hungarian
//! method, reproducibility (models side by side, resumed runs) and OT-CFM's advantage.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::flow::train::reference::{self, Adam, Regression};
use morphogen::flow::train::w2_squared_gpu;
use morphogen::flow::train::{
    assign, hungarian, ExactPairing, Layout, Method, NetworkShape, Sampler, TrainCheckpoint,
    TrainConfig, Trainer,
};
use morphogen::flow::{self, Activation, FlowConfig, Solver, TimeInput};

fn random_params(layout: &Layout, rng: &mut TestRng) -> Vec<f32> {
    let mut p = layout.initial_parameters(rng.next_u64());
    // Larger biases than PyTorch's start, so activations see both signs of z.
    for v in &mut p {
        *v += 0.1 * rng.normal() as f32;
    }
    p
}

fn to_f64(v: &[f32]) -> Vec<f64> {
    v.iter().map(|&x| f64::from(x)).collect()
}

fn normwise(a: &[f32], b: &[f64]) -> f64 {
    let diff: f64 = a
        .iter()
        .zip(b)
        .map(|(&x, y)| (f64::from(x) - y).powi(2))
        .sum();
    let norm: f64 = b.iter().map(|y| y * y).sum();
    (diff / norm).sqrt()
}

fn shapes() -> Vec<NetworkShape> {
    let mut out = Vec::new();
    for (activation, time, residual) in [
        (Activation::Selu, TimeInput::Last, false),
        (Activation::Silu, TimeInput::First, true),
        (Activation::Gelu, TimeInput::Last, true),
        (Activation::Tanh, TimeInput::None, false),
        (Activation::Relu, TimeInput::Last, false),
        (Activation::Elu, TimeInput::First, false),
        (Activation::Softplus, TimeInput::Last, true),
    ] {
        out.push(NetworkShape {
            width: 12,
            hidden: 3,
            activation,
            time,
            residual,
        });
    }
    out
}

#[test]
fn twin_backpropagation_matches_finite_differences() {
    let s = seed("twin_backpropagation_matches_finite_differences");
    let mut rng = TestRng::new(s);
    for shape in shapes() {
        let d = 3;
        let layout = Layout::new(d, &shape);
        let params = to_f64(&random_params(&layout, &mut rng));
        let rows = 5;
        let width = layout.input_width();
        // Row factors other than 1, as a score network's λ(t).
        let batch = Regression {
            inputs: (0..rows * width).map(|_| rng.normal()).collect(),
            targets: (0..rows * d).map(|_| rng.normal()).collect(),
            weights: (0..rows).map(|_| 0.5 + 2.0 * rng.uniform()).collect(),
        };
        let (_, grad) = reference::loss_and_gradient(&layout, &params, &batch);
        let h = 1e-6;
        for k in (0..layout.params).step_by(7) {
            let mut plus = params.clone();
            plus[k] += h;
            let mut minus = params.clone();
            minus[k] -= h;
            let fd = (reference::loss_and_gradient(&layout, &plus, &batch).0
                - reference::loss_and_gradient(&layout, &minus, &batch).0)
                / (2.0 * h);
            // ReLU's kink: skip parameters whose difference straddles it.
            assert!(
                (fd - grad[k]).abs() <= 1e-6 * (1.0 + grad[k].abs())
                    || shape.activation == Activation::Relu && (fd - grad[k]).abs() < 1e-3,
                "{shape:?} parameter {k}: backprop {} vs finite difference {fd}",
                grad[k]
            );
        }
    }
}

/// Every network's gradient on the first batch against the twin's: the flows', and with
/// `config.score` the score networks' on the same draws. The pairs are the independent
/// coupling's, or those the GPU drew from its entropic plan.
fn gpu_gradient_case(config: &TrainConfig, source: &Sampler, target: &Sampler, rng: &mut TestRng) {
    let layout = Layout::new(target.dim(), &config.network);
    let params: Vec<Vec<f32>> = (0..config.nets())
        .map(|_| random_params(&layout, rng))
        .collect();
    let trainer = Trainer::with_parameters(ctx(), config, source, target, &params).unwrap();
    let gpu = trainer.gradients().unwrap();
    assert_eq!(gpu.len(), config.nets());
    let drawn = trainer.plan_pairs().unwrap().map(|(p, _)| p);
    let b = config.batch;
    for m in 0..config.models {
        let seed = config.seed + m as u64;
        let ends = reference::draw_endpoints(config, source, target, seed, 0);
        let pairs = match &drawn {
            Some(p) => (0..b)
                .map(|k| (p[2 * (m * b + k)] as usize, p[2 * (m * b + k) + 1] as usize))
                .collect(),
            None => reference::pairs(seed, 0, None, b),
        };
        let (times, noise) = reference::path_draws(config, layout.dim, b, seed, 0);
        let flow = reference::regression_with(config, &layout, &ends, &pairs, &times, &noise);
        let mut cases = vec![(m, "flow", flow.clone())];
        if config.score {
            let score = reference::score_regression(config, &flow, &times, &noise);
            cases.push((config.models + m, "score", score));
        }
        for (net, what, batch) in cases {
            let (_, twin) = reference::loss_and_gradient(&layout, &to_f64(&params[net]), &batch);
            let err = normwise(&gpu[net], &twin);
            assert!(
                err < 1e-4,
                "{:?} {:?} model {m} ({what}): GPU gradient off the twin's by {err:.2e} (normwise)",
                config.method,
                config.network
            );
        }
    }
}

#[test]
fn gpu_gradients_match_the_twin() {
    let s = seed("gpu_gradients_match_the_twin");
    let mut rng = TestRng::new(s);
    let points = Sampler::Points {
        points: (0..40 * 3).map(|_| rng.normal() as f32).collect(),
        dim: 3,
    };
    let points_2d = Sampler::Points {
        points: (0..33 * 2).map(|_| rng.normal() as f32).collect(),
        dim: 2,
    };
    for (n, shape) in shapes().into_iter().enumerate() {
        let config = TrainConfig::default()
            .batch(24)
            .network(shape)
            .seed(s.wrapping_add(n as u64))
            .models(2)
            .sigma(0.1);
        gpu_gradient_case(&config, &Sampler::EightGaussians, &Sampler::Moons, &mut rng);
        gpu_gradient_case(&config, &Sampler::Checkerboard, &points_2d, &mut rng);
        gpu_gradient_case(
            &config.clone().method(Method::Fm),
            &Sampler::Normal { dim: 3 },
            &points,
            &mut rng,
        );
    }
    // Score networks (SF2M) beside the flows, on each method's path.
    for method in [Method::Icfm, Method::Sbcfm, Method::Fm] {
        let config = TrainConfig::default()
            .batch(24)
            .network(shapes()[n_score(method)])
            .seed(s ^ 0x5c0e)
            .models(2)
            .sigma(0.3)
            .method(method)
            .score(true);
        let source = if method == Method::Fm {
            Sampler::Normal { dim: 2 }
        } else {
            Sampler::EightGaussians
        };
        gpu_gradient_case(&config, &source, &Sampler::Moons, &mut rng);
    }
}

/// A network shape per method for the score cases (time first, last, and residual).
fn n_score(method: Method) -> usize {
    match method {
        Method::Sbcfm => 1,
        Method::Fm => 2,
        _ => 0,
    }
}

#[test]
fn gpu_adam_steps_follow_the_twin() {
    let s = seed("gpu_adam_steps_follow_the_twin");
    let mut rng = TestRng::new(s);
    let config = TrainConfig::default()
        .batch(32)
        .network(NetworkShape {
            width: 16,
            ..NetworkShape::default()
        })
        .weight_decay(0.01)
        .seed(s);
    let layout = Layout::new(2, &config.network);
    let start = random_params(&layout, &mut rng);
    let mut trainer = Trainer::with_parameters(
        ctx(),
        &config,
        &Sampler::EightGaussians,
        &Sampler::Moons,
        std::slice::from_ref(&start),
    )
    .unwrap();
    let steps = 3;
    let losses = trainer.train(steps, &mut |_| {}).unwrap();
    let mut params = to_f64(&start);
    let mut adam = Adam::new(layout.params);
    for k in 0..steps as u32 {
        let ends =
            reference::draw_endpoints(&config, &Sampler::EightGaussians, &Sampler::Moons, s, k);
        let pairs = reference::pairs(s, k, None, config.batch);
        let batch = reference::regression(&config, &layout, &ends, &pairs, s, k);
        let (loss, grad) = reference::loss_and_gradient(&layout, &params, &batch);
        assert!(
            (f64::from(losses[k as usize]) - loss).abs() < 1e-5 * loss,
            "step {k}: GPU loss {} vs twin {loss}",
            losses[k as usize]
        );
        adam.step(&config, &mut params, &grad);
    }
    let gpu = &trainer.parameters().unwrap()[0];
    let worst = gpu
        .iter()
        .zip(&params)
        .map(|(&g, p)| (f64::from(g) - p).abs())
        .fold(0.0, f64::max);
    // Three steps of size ~lr: f32 rounding of the updates, and sign(m)/sqrt(v) for a
    // gradient component near zero, stay far below one step.
    assert!(
        worst < 2e-5,
        "parameters after {steps} Adam steps differ by {worst:.2e}"
    );
    let (m, v) = trainer.moments().unwrap();
    assert!(normwise(&m[0], &adam.m) < 1e-4 && normwise(&v[0], &adam.v) < 1e-4);
}

#[test]
fn the_auction_finds_the_hungarian_optimum() {
    let s = seed("the_auction_finds_the_hungarian_optimum");
    let mut rng = TestRng::new(s);
    let mut cases = vec![
        (1, 2, false),
        (2, 1, false),
        (7, 3, false),
        (64, 2, false),
        (200, 5, false),
        (256, 2, false),
        (96, 2, true),
        (300, 1, true),
    ];
    // Many small problems: benefits spread over the whole quantised range.
    cases.extend((0..24).map(|k| (2 + k % 6, 1 + k % 3, false)));
    for (case, (b, d, grid)) in cases.into_iter().enumerate() {
        // On a grid of small integers the costs are integers with many ties.
        let point = |rng: &mut TestRng| {
            if grid {
                rng.below(5) as f32
            } else {
                rng.normal() as f32
            }
        };
        let x0: Vec<f32> = (0..b * d).map(|_| point(&mut rng)).collect();
        let x1: Vec<f32> = (0..b * d).map(|_| point(&mut rng)).collect();
        // Both workgroup sizes the adapters get (and one more), on alternate cases.
        let workgroup = [None, Some(128), Some(8)][case % 3];
        let matched = assign::assign_gpu_with(ctx(), &x0, &x1, d, workgroup).unwrap();
        let mut seen = matched.clone();
        seen.sort_unstable();
        assert_eq!(
            seen,
            (0..b as u32).collect::<Vec<_>>(),
            "B {b}: not a permutation"
        );
        let cost = assign::cost_matrix(&x0, &x1, d);
        let gpu = assign::assignment_cost(&cost, &matched);
        let best = assign::assignment_cost(&cost, &hungarian(&cost, b));
        let c_max = cost.iter().copied().fold(0.0, f64::max);
        // Optimal for the quantised costs: within B C_max / (2 LEVELS) (+ f32 costs).
        let bound = b as f64 * c_max / f64::from(assign::levels(b)) + 1e-5 * best;
        if grid {
            assert_eq!(
                gpu, best,
                "B {b} on a grid: auction {gpu} vs Hungarian {best}"
            );
        } else {
            assert!(
                gpu - best <= bound,
                "B {b} d {d}: auction {gpu} vs Hungarian {best} (bound {bound:.2e})"
            );
        }
    }
}

#[test]
fn a_model_trains_alike_alone_and_beside_others_and_resumes_exactly() {
    let s = seed("a_model_trains_alike_alone_and_beside_others_and_resumes_exactly");
    // Exact pairs from the GPU auction (inside the recorded steps) and from the host's.
    for pairing in [ExactPairing::Device, ExactPairing::Host] {
        let config = TrainConfig::default()
            .method(Method::Otcfm)
            .batch(32)
            .network(NetworkShape {
                width: 16,
                ..NetworkShape::default()
            })
            .seed(s)
            .exact_pairing(pairing);
        alike_alone_beside_and_resumed(&config, s);
    }
}

fn alike_alone_beside_and_resumed(config: &TrainConfig, s: u64) {
    let config = config.clone();
    let (src, dst) = (Sampler::EightGaussians, Sampler::Moons);
    let mut together = Trainer::new(ctx(), &config.clone().models(3), &src, &dst).unwrap();
    together.train(6, &mut |_| {}).unwrap();
    let all = together.parameters().unwrap();
    let mut alone = Trainer::new(ctx(), &config.clone().seed(s + 2), &src, &dst).unwrap();
    alone.train(6, &mut |_| {}).unwrap();
    assert_eq!(
        alone.parameters().unwrap()[0],
        all[2],
        "{:?}: model 2 of 3 vs alone",
        config.exact_pairing
    );

    // Resume: 3 steps, checkpoint, a fresh trainer restored, 3 more.
    let mut first = Trainer::new(ctx(), &config, &src, &dst).unwrap();
    first.train(3, &mut |_| {}).unwrap();
    let bytes = first.checkpoint(&[]).unwrap().encode().unwrap();
    let saved = TrainCheckpoint::decode(&bytes, std::path::Path::new("memory")).unwrap();
    let mut second = Trainer::resume(ctx(), &saved).unwrap();
    second.train(3, &mut |_| {}).unwrap();
    assert_eq!(
        second.parameters().unwrap()[0],
        all[0],
        "{:?}: resumed vs uninterrupted",
        config.exact_pairing
    );
}

#[test]
fn otcfm_reaches_a_far_lower_loss_than_icfm() {
    let s = seed("otcfm_reaches_a_far_lower_loss_than_icfm");
    let config = TrainConfig::default()
        .batch(128)
        .network(NetworkShape {
            width: 32,
            ..NetworkShape::default()
        })
        .seed(s);
    let (src, dst) = (Sampler::EightGaussians, Sampler::Moons);
    let steps = 400;
    let tail = |losses: &[f32]| {
        losses[steps - 100..]
            .iter()
            .map(|&l| f64::from(l))
            .sum::<f64>()
            / 100.0
    };
    let mut icfm = Trainer::new(ctx(), &config, &src, &dst).unwrap();
    let i = tail(&icfm.train(steps, &mut |_| {}).unwrap());
    let mut ot = Trainer::new(ctx(), &config.clone().method(Method::Otcfm), &src, &dst).unwrap();
    let o = tail(&ot.train(steps, &mut |_| {}).unwrap());
    eprintln!("mean loss over steps 300-400: I-CFM {i:.3}, OT-CFM {o:.3}");
    // I-CFM's loss keeps the variance of x1 - x0 given x_t (~8 at convergence).
    assert!(i > 4.0, "I-CFM loss {i}");
    assert!(o < 0.4 * i, "OT-CFM {o} vs I-CFM {i}");
    // One Euler step: OT pairs give nearly straight paths, independent ones average
    // crossing paths toward the middle.
    let x0 = reference::sample(&src, 500, s ^ 1);
    let x1 = reference::sample(&dst, 500, s ^ 2);
    let euler1 = |t: &Trainer| {
        let flow_config = FlowConfig::default().solver(Solver::Euler).steps(1);
        let out = flow::integrate(ctx(), &t.field(0).unwrap(), &x0, &[], &flow_config).unwrap();
        w2_squared_gpu(ctx(), &out.states, &x1, 2).unwrap()
    };
    let (wi, wo) = (euler1(&icfm), euler1(&ot));
    eprintln!("Euler-1 squared W2 to held-out moons: I-CFM {wi:.3}, OT-CFM {wo:.3}");
    assert!(wo < 0.5 * wi, "Euler-1 W2²: OT-CFM {wo} vs I-CFM {wi}");
}

/// TorchCFM's own steps (`tests/fixtures/train.json`, from `make_train_fixtures.py`: a
/// float64 MLP, ten Adam or AdamW steps on fresh batches) against the twin: the path, the
/// loss, the gradients and the parameters after every step.
#[test]
fn the_twin_takes_torchcfms_training_steps() {
    let fixtures: serde_json::Value =
        serde_json::from_str(include_str!("fixtures/train.json")).unwrap();
    let floats = |v: &serde_json::Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let batch = fixtures["batch"].as_u64().unwrap() as usize;
    for case in fixtures["cases"].as_array().unwrap() {
        let name = case["name"].as_str().unwrap();
        let config = TrainConfig::default()
            .method(Method::from_name(case["method"].as_str().unwrap()).unwrap())
            .sigma(case["sigma"].as_f64().unwrap())
            .lr(case["lr"].as_f64().unwrap())
            .weight_decay(case["weight_decay"].as_f64().unwrap())
            .batch(batch)
            .network(NetworkShape {
                width: case["width"].as_u64().unwrap() as usize,
                ..NetworkShape::default()
            });
        let layout = Layout::new(2, &config.network);
        let mut params = floats(&case["initial"]);
        assert_eq!(params.len(), layout.params, "{name}");
        let mut adam = Adam::new(layout.params);
        let pairs: Vec<(usize, usize)> = (0..batch).map(|k| (k, k)).collect();
        for (k, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let ends = reference::Endpoints {
                x0: floats(&step["x0"]),
                x1: floats(&step["x1"]),
            };
            let batch_k = reference::regression_with(
                &config,
                &layout,
                &ends,
                &pairs,
                &floats(&step["t"]),
                &floats(&step["eps"]),
            );
            let (xt, ut) = (floats(&step["xt"]), floats(&step["ut"]));
            for r in 0..batch {
                for c in 0..2 {
                    let ours = batch_k.inputs[r * 3 + c];
                    assert!((ours - xt[r * 2 + c]).abs() < 1e-12, "{name} step {k}: x_t");
                    let ours = batch_k.targets[r * 2 + c];
                    assert!(
                        (ours - ut[r * 2 + c]).abs() < 1e-9 * (1.0 + ours.abs()),
                        "{name} step {k}: u_t {ours} vs {}",
                        ut[r * 2 + c]
                    );
                }
            }
            let (loss, grad) = reference::loss_and_gradient(&layout, &params, &batch_k);
            let want = step["loss"].as_f64().unwrap();
            assert!(
                (loss - want).abs() < 1e-10 * want,
                "{name} step {k}: loss {loss} vs {want}"
            );
            let torch_grad = floats(&step["grads"]);
            let err: f64 = grad
                .iter()
                .zip(&torch_grad)
                .map(|(a, b)| (a - b).powi(2))
                .sum::<f64>()
                .sqrt()
                / torch_grad.iter().map(|b| b * b).sum::<f64>().sqrt();
            assert!(
                err < 1e-10,
                "{name} step {k}: gradients off PyTorch's by {err:.2e}"
            );
            adam.step(&config, &mut params, &grad);
            let torch_params = floats(&step["params"]);
            let worst = params
                .iter()
                .zip(&torch_params)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f64::max);
            assert!(
                worst < 1e-10,
                "{name} step {k}: parameters off PyTorch's by {worst:.2e}"
            );
        }
    }
    // TorchCFM's exact plan (POT's network simplex) and the GPU auction: the same cost.
    let plan = &fixtures["ot_plan"];
    let x0: Vec<f32> = floats(&plan["x0"]).iter().map(|&v| v as f32).collect();
    let x1: Vec<f32> = floats(&plan["x1"]).iter().map(|&v| v as f32).collect();
    let pot: Vec<u32> = floats(&plan["matched"]).iter().map(|&v| v as u32).collect();
    let cost = assign::cost_matrix(&x0, &x1, 2);
    let theirs = assign::assignment_cost(&cost, &pot);
    let ours = assign::assignment_cost(&cost, &assign::assign_gpu(ctx(), &x0, &x1, 2).unwrap());
    let c_max = cost.iter().copied().fold(0.0, f64::max);
    let bound = batch as f64 * c_max / f64::from(assign::levels(batch));
    assert!(
        (ours - theirs).abs() <= bound,
        "auction {ours} vs POT {theirs} (bound {bound:.2e})"
    );
    assert!(
        (assign::assignment_cost(&cost, &hungarian(&cost, batch)) - theirs).abs() < 1e-9 * theirs
    );
}

#[test]
fn entropic_pairs_follow_the_twins_plan_and_gradients_match() {
    let s = seed("entropic_pairs_follow_the_twins_plan_and_gradients_match");
    let mut rng = TestRng::new(s);
    let (src, dst) = (Sampler::EightGaussians, Sampler::Moons);
    for config in [
        TrainConfig::default().method(Method::Sbcfm).sigma(0.5),
        TrainConfig::default()
            .method(Method::Uotfm)
            .sigma(0.1)
            .tau(0.9),
        TrainConfig::default()
            .method(Method::Uotfm)
            .tau(1.0)
            .coupling_eps(0.05),
    ] {
        let mut config = config.batch(48).models(2).seed(s).network(NetworkShape {
            width: 16,
            ..NetworkShape::default()
        });
        config.sinkhorn_iterations = 300;
        let pairing = config.entropic().unwrap();
        let layout = Layout::new(2, &config.network);
        let params: Vec<Vec<f32>> = (0..2).map(|_| random_params(&layout, &mut rng)).collect();
        let trainer = Trainer::with_parameters(ctx(), &config, &src, &dst, &params).unwrap();
        let gpu = trainer.gradients().unwrap();
        let (gpu_pairs, errors) = trainer.plan_pairs().unwrap().unwrap();
        for m in 0..2 {
            let seed = s + m as u64;
            let ends = reference::draw_endpoints(&config, &src, &dst, seed, 0);
            let potentials = reference::sinkhorn(&pairing, &ends, 2);
            let twin_pairs = reference::plan_pairs(&pairing, &ends, 2, &potentials, seed, 0);
            let gpu_m: Vec<(usize, usize)> = (0..48)
                .map(|k| {
                    let at = (m * 48 + k) * 2;
                    (gpu_pairs[at] as usize, gpu_pairs[at + 1] as usize)
                })
                .collect();
            // f32 against f64 plans: a draw may fall on the other side of a boundary.
            let same = gpu_m
                .iter()
                .zip(&twin_pairs)
                .filter(|(a, b)| a == b)
                .count();
            assert!(
                same >= 45,
                "{:?} model {m}: {same} of 48 pairs agree with the twin's",
                config.method
            );
            if pairing.tau >= 1.0 {
                assert!(
                    errors[m] < 1e-3,
                    "{:?}: plan marginal error {}",
                    config.method,
                    errors[m]
                );
            }
            // The gradient of the GPU's own pairs.
            let batch = reference::regression(&config, &layout, &ends, &gpu_m, seed, 0);
            let (_, twin) = reference::loss_and_gradient(&layout, &to_f64(&params[m]), &batch);
            let err = normwise(&gpu[m], &twin);
            assert!(
                err < 1e-4,
                "{:?} model {m}: gradient off the twin's by {err:.2e}",
                config.method
            );
        }
    }
}

/// SF2M's score network learns (σ²/2) ∇ log p_t. From N(0, I) to N(0, I) with the
/// independent coupling, x_t = t x1 + (1 − t) x0 + σ ε is N(0, v(t) I) with
/// v(t) = t² + (1 − t)² + σ², so the minimiser of mean((λ s + ε)²), λ = 2/σ, is
/// s(x, t) = −E[ε | x_t = x] / λ = −σ² x / (2 v(t)).
#[test]
fn a_trained_score_network_learns_the_path_score() {
    let s = seed("a_trained_score_network_learns_the_path_score");
    let sigma = 0.5;
    let config = TrainConfig::default()
        .method(Method::Icfm)
        .sigma(sigma)
        .batch(512)
        .network(NetworkShape {
            width: 32,
            hidden: 2,
            ..NetworkShape::default()
        })
        .seed(s)
        .score(true);
    let normal = Sampler::Normal { dim: 2 };
    let mut trainer = Trainer::new(ctx(), &config, &normal, &normal).unwrap();
    let steps = 2000;
    let losses = trainer.train(steps, &mut |_| {}).unwrap();
    assert_eq!(losses.len(), 2 * steps);
    let params = trainer.parameters().unwrap();
    let layout = trainer.layout().clone();
    let score = to_f64(&params[1]);
    let (mut err, mut norm) = (0.0f64, 0.0f64);
    for t in [0.2, 0.5, 0.8] {
        let v = t * t + (1.0 - t) * (1.0 - t) + sigma * sigma;
        for i in 0..7 {
            for j in 0..7 {
                let x = [-1.5 + 0.5 * f64::from(i), -1.5 + 0.5 * f64::from(j)];
                let tape = reference::forward(&layout, &score, &[x[0], x[1], t]);
                let out = &tape[layout.output()..layout.output() + 2];
                for c in 0..2 {
                    let exact = -sigma * sigma * x[c] / (2.0 * v);
                    err += (out[c] - exact).powi(2);
                    norm += exact * exact;
                }
            }
        }
    }
    let relative = (err / norm).sqrt();
    eprintln!("score network vs the exact path score: relative RMS error {relative:.3}");
    assert!(
        relative < 0.2,
        "the score network is off the exact score by {relative:.3} (relative RMS)"
    );
    // The field the trainer hands out is the same network.
    let field = trainer.score_field(0).unwrap();
    assert_eq!(field.dim, 2);
    assert!(trainer.score_field(1).is_err());
}

/// A σ sweep trains model m as a run of its own with σ = sigmas[m] would, bit for bit:
/// the flows and their score networks, on the I-CFM and Lipman paths.
#[test]
fn a_sigma_sweep_trains_each_model_as_alone() {
    let s = seed("a_sigma_sweep_trains_each_model_as_alone");
    for method in [Method::Icfm, Method::Fm] {
        let sigmas = [0.05, 0.3, 0.7];
        let config = TrainConfig::default()
            .method(method)
            .batch(32)
            .network(NetworkShape {
                width: 16,
                ..NetworkShape::default()
            })
            .seed(s)
            .score(true)
            .sigma_sweep(&sigmas);
        let source = if method == Method::Fm {
            Sampler::Normal { dim: 2 }
        } else {
            Sampler::EightGaussians
        };
        let mut sweep = Trainer::new(ctx(), &config, &source, &Sampler::Moons).unwrap();
        sweep.train(4, &mut |_| {}).unwrap();
        let all = sweep.parameters().unwrap();
        for m in 0..sigmas.len() {
            let mut alone =
                Trainer::new(ctx(), &config.for_model(m), &source, &Sampler::Moons).unwrap();
            alone.train(4, &mut |_| {}).unwrap();
            let one = alone.parameters().unwrap();
            assert_eq!(
                one[0], all[m],
                "{method:?}: flow of model {m} (sigma {})",
                sigmas[m]
            );
            assert_eq!(one[1], all[3 + m], "{method:?}: score of model {m}");
        }
        // The sigmas differ enough to give different networks.
        assert_ne!(all[0], all[1]);
    }
    let bad = TrainConfig::default()
        .models(2)
        .sigma_sweep(&[0.1])
        .models(2);
    assert!(bad
        .validate(&Sampler::EightGaussians, &Sampler::Moons)
        .unwrap_err()
        .to_string()
        .contains("one sigma per model"));
    let sb = TrainConfig::default()
        .method(Method::Sbcfm)
        .sigma_sweep(&[0.1, 0.2]);
    assert!(sb
        .validate(&Sampler::EightGaussians, &Sampler::Moons)
        .unwrap_err()
        .to_string()
        .contains("--eps"));
}
