//! Networks and random numbers shared by the flow benchmarks.

#![allow(dead_code, reason = "each benchmark uses a different subset")]

use morphogen::flow::{Activation, Dense, TimeInput, VelocityField};

/// SplitMix64 uniforms and normals.
pub struct Rng(pub u64);

impl Rng {
    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let (u, v) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// Layers of the given sizes with PyTorch's default initialisation scale.
pub fn layers(sizes: &[usize], rng: &mut Rng) -> Vec<Dense> {
    sizes
        .windows(2)
        .map(|w| {
            let bound = 1.0 / (w[0] as f64).sqrt();
            Dense {
                inputs: w[0],
                outputs: w[1],
                weight: (0..w[0] * w[1])
                    .map(|_| ((2.0 * rng.uniform() - 1.0) * bound) as f32)
                    .collect(),
                bias: (0..w[1])
                    .map(|_| ((2.0 * rng.uniform() - 1.0) * bound) as f32)
                    .collect(),
            }
        })
        .collect()
}

/// TorchCFM's MLP(2, w=64) with SELU ("small"), or a d = 64 net of four 256-wide SiLU
/// layers ("large").
pub fn network(name: &str, rng: &mut Rng) -> VelocityField {
    let (sizes, activation): (Vec<usize>, Activation) = match name {
        "small" => (vec![3, 64, 64, 64, 2], Activation::Selu),
        _ => (vec![65, 256, 256, 256, 256, 64], Activation::Silu),
    };
    VelocityField::from_layers(
        *sizes.last().unwrap_or(&2),
        TimeInput::Last,
        activation,
        layers(&sizes, rng),
    )
    .expect("well-formed network")
}

/// A growth head for d-dimensional states: d + 1 -> 64 -> 64 -> 1, SELU, a scalar network.
pub fn growth_head(d: usize, rng: &mut Rng) -> VelocityField {
    let mut g = network("small", rng);
    g.layers = layers(&[d + 1, 64, 64, 1], rng);
    g.dim = d;
    g.scalar = true;
    g.validate().expect("well-formed growth head");
    g
}
