//! What the benchmarks share: their command-line flags, and the flow benchmarks' setup,
//! networks and random numbers.

#![allow(dead_code, reason = "each benchmark uses a different subset")]

use std::path::{Path, PathBuf};

use morphogen::flow::{Activation, Dense, TimeInput, VelocityField};
use morphogen::gpu::{measure_peaks, AdapterPeaks, GpuContext};

/// A benchmark's flags after cargo's: `--name value` and bare `--flag`s. Flags a
/// benchmark does not know (cargo passes `--bench`) are ignored.
pub struct Flags(Vec<String>);

impl Flags {
    pub fn from_env() -> Self {
        Self(std::env::args().skip(1).collect())
    }

    /// Whether `--name` was given.
    pub fn has(&self, name: &str) -> bool {
        self.0.iter().any(|a| a == name)
    }

    /// The value after `--name`, if given.
    pub fn value(&self, name: &str) -> Option<&str> {
        let at = self.0.iter().position(|a| a == name)?;
        self.0.get(at + 1).map(String::as_str)
    }

    /// The value after `--name` parsed, or `default` (also when it does not parse).
    pub fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> T {
        self.value(name)
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(default)
    }

    /// A comma-separated list after `--name`, or `default`.
    pub fn list<T: std::str::FromStr>(&self, name: &str, default: Vec<T>) -> Vec<T> {
        self.value(name).map_or(default, |v| {
            v.split(',').filter_map(|s| s.trim().parse().ok()).collect()
        })
    }
}

/// What a flow benchmark starts from: the context, the adapter's measured limits, the
/// peers' Python (when installed and wanted) and a scratch directory.
pub struct Setup {
    pub ctx: GpuContext,
    pub peaks: AdapterPeaks,
    pub python: Option<&'static Path>,
    pub tmp: PathBuf,
}

impl Setup {
    /// Prints the adapter and its FMA rate; `name` names the scratch directory.
    pub fn new(name: &str, peers: bool) -> Result<Self, Box<dyn std::error::Error>> {
        let ctx = GpuContext::new()?;
        let peaks = measure_peaks(&ctx)?;
        println!("adapter: {}", ctx.adapter());
        println!(
            "measured FMA rate ({}): {:.2} G/s",
            peaks.clock,
            peaks.fma_per_s / 1e9
        );
        let venv = Path::new("benches/peers/.venv/bin/python");
        let python = (peers && venv.exists()).then_some(venv);
        if peers && python.is_none() {
            println!("peers: benches/peers/.venv missing (run benches/peers/setup.sh); timing morphogen alone");
        }
        let tmp =
            std::env::temp_dir().join(format!("morphogen-{name}-bench-{}", std::process::id()));
        std::fs::create_dir_all(&tmp)?;
        Ok(Self {
            ctx,
            peaks,
            python,
            tmp,
        })
    }
}

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

/// Runs a peer script and parses the JSON object on the last line of its output; on
/// failure prints the last line of its error output and gives None.
pub fn peer_json(cmd: &mut std::process::Command) -> Option<serde_json::Value> {
    let out = cmd.output().ok()?;
    if !out.status.success() {
        println!(
            "  peer failed: {}",
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
        );
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    serde_json::from_str(text.lines().last()?).ok()
}
