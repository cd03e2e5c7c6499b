//! Accuracy of per-particle adaptive Dopri5 against a tight float64 solution, for a
//! TorchCFM-shaped field (3-64-64-64-2, PyTorch's initialisation scale) with a chosen
//! activation: the GPU kernel in float32 and the CPU twin in float64 at the same
//! tolerance, on particles from eight Gaussians. Prints the worst, 99th-percentile and
//! median distance at t = 1, and the worst particles with their evaluations.
//!
//! `cargo run --release --example flow_accuracy [-- N [TOL [ACTIVATION [SEED]]]]`
//! (defaults 1000, 1e-7, selu, a fresh seed; activations selu, silu, tanh, gelu, relu).
//!
//! SELU and ReLU have a kink at 0 (their slope jumps there), so a step that crosses one
//! makes a local error far above the embedded estimate's view of it: with SELU the
//! float64 twin's worst particle ends as far off as the float32 kernel's, while with SiLU
//! the kernel's worst error is float32 rounding.

use morphogen::flow::VelocityField;
use morphogen::flow::{self, Activation, Dense, FlowConfig, FlowResult, Solver, TimeInput};
use morphogen::gpu::GpuContext;

/// SplitMix64 uniforms in [0, 1).
struct Uniform(u64);

impl Uniform {
    fn next(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Distance of each particle's state at the last save time from the same in `truth`.
fn distances(run: &FlowResult, truth: &FlowResult) -> Vec<f64> {
    let (n, d) = (run.particles, run.dim);
    let off = run.states.len() - n * d;
    (0..n)
        .map(|p| {
            (0..d)
                .map(|c| f64::from(run.states[off + p * d + c] - truth.states[off + p * d + c]))
                .map(|e| e * e)
                .sum::<f64>()
                .sqrt()
        })
        .collect()
}

fn quantile(v: &[f64], q: f64) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s[((s.len() - 1) as f64 * q).round() as usize]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = args.first().map_or(Ok(1000), |s| s.parse())?;
    let tol: f64 = args.get(1).map_or(Ok(1e-7), |s| s.parse())?;
    let activation = match args.get(2).map_or("selu", String::as_str) {
        "selu" => Activation::Selu,
        "silu" => Activation::Silu,
        "tanh" => Activation::Tanh,
        "gelu" => Activation::Gelu,
        "relu" => Activation::Relu,
        other => {
            return Err(
                format!("unknown activation {other:?}: selu, silu, tanh, gelu or relu").into(),
            )
        }
    };
    let seed: u64 = match args.get(3) {
        Some(s) => s.parse()?,
        None => std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)?
            .as_nanos() as u64,
    };
    println!("seed {seed}");
    let mut rng = Uniform(seed);
    let layers: Vec<Dense> = [3usize, 64, 64, 64, 2]
        .windows(2)
        .map(|w| {
            let bound = 1.0 / (w[0] as f64).sqrt();
            let mut draw = |k: usize| -> Vec<f32> {
                (0..k)
                    .map(|_| ((2.0 * rng.next() - 1.0) * bound) as f32)
                    .collect()
            };
            Dense {
                inputs: w[0],
                outputs: w[1],
                weight: draw(w[0] * w[1]),
                bias: draw(w[1]),
            }
        })
        .collect();
    let field = VelocityField::from_layers(2, TimeInput::Last, activation, layers)?;
    let x0 = flow::eight_gaussians(n, 4.0, 0.5, seed);
    let ctx = GpuContext::new()?;
    let config = FlowConfig::default()
        .solver(Solver::Dopri5)
        .tolerances(tol, tol);
    let gpu = flow::integrate(&ctx, &field, &x0, &[], &config)?;
    let twin = flow::integrate_cpu(&field, &x0, &[], &config)?;
    let truth = flow::integrate_cpu(&field, &x0, &[], &config.clone().tolerances(1e-12, 1e-12))?;
    // The reference's own error: the same at a tolerance ten times looser.
    let check = flow::integrate_cpu(&field, &x0, &[], &config.clone().tolerances(1e-11, 1e-11))?;
    let (g, c) = (distances(&gpu, &truth), distances(&twin, &truth));
    println!(
        "{activation:?}, N = {n}, rtol = atol = {tol:e}: distance at t = 1 from the f64 solution at 1e-12"
    );
    for (name, e) in [("GPU, f32", &g), ("CPU twin, f64", &c)] {
        println!(
            "  {name:<14} worst {:.2e}  p99 {:.2e}  median {:.2e}",
            quantile(e, 1.0),
            quantile(e, 0.99),
            quantile(e, 0.5)
        );
    }
    let r = distances(&check, &truth);
    println!(
        "  (the f64 solution at 1e-11 is at most {:.2e} from it)",
        quantile(&r, 1.0)
    );
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| g[b].total_cmp(&g[a]));
    println!("  worst particles on the GPU (distance, evaluations, rejected steps):");
    for &p in order.iter().take(5) {
        println!(
            "    {p:>6}: GPU {:.2e} ({} evals, {} rejected)  twin {:.2e} ({} evals, {} rejected)",
            g[p], gpu.evaluations[p], gpu.rejected[p], c[p], twin.evaluations[p], twin.rejected[p]
        );
    }
    Ok(())
}
