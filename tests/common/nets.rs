//! Random networks and particles for the flow tests.

use morphogen::flow::{self, Activation, Dense, TimeInput, VelocityField};

use super::TestRng;

pub fn random_net(
    rng: &mut TestRng,
    sizes: &[usize],
    activation: Activation,
    time: TimeInput,
) -> VelocityField {
    VelocityField::from_layers(
        *sizes.last().unwrap(),
        time,
        activation,
        random_layers(rng, sizes),
    )
    .unwrap()
}

pub fn random_layers(rng: &mut TestRng, sizes: &[usize]) -> Vec<Dense> {
    sizes
        .windows(2)
        .map(|w| {
            let scale = (1.0 / w[0] as f64).sqrt();
            Dense {
                inputs: w[0],
                outputs: w[1],
                weight: (0..w[0] * w[1])
                    .map(|_| (rng.normal() * scale) as f32)
                    .collect(),
                bias: (0..w[1]).map(|_| (rng.normal() * 0.1) as f32).collect(),
            }
        })
        .collect()
}

pub fn particles(rng: &mut TestRng, n: usize, d: usize) -> Vec<f32> {
    (0..n * d).map(|_| rng.normal() as f32).collect()
}

/// Largest |gpu − cpu| relative to max(1, |cpu|) over states (and log-densities).
pub fn worst(gpu: &flow::FlowResult, cpu: &flow::FlowResult) -> f64 {
    let rel = |a: &[f32], b: &[f32]| {
        a.iter()
            .zip(b)
            .map(|(&x, &y)| (f64::from(x) - f64::from(y)).abs() / f64::from(y).abs().max(1.0))
            .fold(0.0, f64::max)
    };
    let mut w = rel(&gpu.states, &cpu.states);
    if let (Some(a), Some(b)) = (&gpu.log_density_change, &cpu.log_density_change) {
        w = w.max(rel(a, b));
    }
    w
}
