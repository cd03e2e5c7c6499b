//! Shared test helpers: one GPU context per test binary, and seeded random inputs whose
//! seed is printed (set `MORPHOGEN_TEST_SEED` to replay a run).

#![allow(dead_code, reason = "each test binary uses a different subset")]

pub mod biome;
pub mod nets;

use std::sync::OnceLock;

use morphogen::gpu::GpuContext;

/// The context every test in this binary shares.
pub fn ctx() -> &'static GpuContext {
    static CTX: OnceLock<GpuContext> = OnceLock::new();
    CTX.get_or_init(|| match GpuContext::new() {
        Ok(ctx) => {
            eprintln!("GPU tests on {}", ctx.adapter());
            ctx
        }
        Err(e) => panic!("GPU tests need an adapter: {e}"),
    })
}

/// A fresh seed per run unless `MORPHOGEN_TEST_SEED` fixes it; printed with the test name.
pub fn seed(test: &str) -> u64 {
    let seed = std::env::var("MORPHOGEN_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(0)
        });
    eprintln!("{test}: seed {seed} (replay with MORPHOGEN_TEST_SEED={seed})");
    seed
}

/// A small deterministic generator for test inputs (SplitMix64).
pub struct TestRng(u64);

impl TestRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.uniform() * n as f64) as usize % n.max(1)
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform();
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
