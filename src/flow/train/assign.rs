//! Exact minibatch assignment: the GPU auction (`shaders/flow/train/auction.wgsl`), one
//! workgroup per model, and its oracle, a Hungarian solver in f64 on the CPU.

use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, GpuContext, Grid, KernelDesc, Recorder};

/// The largest batch the auction pairs (its workgroup arrays hold this many objects).
pub const MAX_BATCH: usize = 1024;

/// Threads of the auction's workgroup: 32 on a CPU adapter, where every barrier switches
/// between the workgroup's SIMD batches and the rounds' fixed costs dominate (B = 256
/// solves in 28 ms with 32, 32 ms with 64, 76 ms with 256 on lavapipe); 128 on a GPU,
/// where more lanes scan more bidders at once.
fn workgroup_size(ctx: &GpuContext) -> u32 {
    if ctx.adapter().device_type.eq_ignore_ascii_case("cpu") {
        32
    } else {
        128
    }
}

/// Rounds after which the kernel gives up (`ROUND_CAP` in the shader).
const ROUND_CAP: u32 = 4_000_000;

/// Integer levels of the quantised costs for a batch of `b`: the largest with
/// LEVELS · (b + 1) ≤ 2²⁹: benefits below 2²⁹ keep prices and bids (below twice the
/// largest benefit plus two eps, with prices shifted to a minimum of 0 at each phase)
/// within i32.
pub fn levels(b: usize) -> u32 {
    ((1u64 << 29) / (b as u64 + 1)) as u32
}

/// The auction's GPU state for `models` problems of `batch` points in `dim` dimensions.
pub(crate) struct Auction {
    kernel: std::sync::Arc<crate::gpu::Kernel>,
    group: wgpu::BindGroup,
    models: u32,
    /// Rounds each model's last solve took.
    pub status: GpuBuffer<u32>,
    _scratch: (GpuBuffer<i32>, GpuBuffer<i32>, GpuBuffer<u32>),
}

impl Auction {
    /// Binds the auction to the endpoint buffers and its output `matched` (models × batch)
    /// for `models` problems of `batch` points in `dim` dimensions.
    pub fn new(
        ctx: &GpuContext,
        x0: &GpuBuffer<f32>,
        x1: &GpuBuffer<f32>,
        matched: &GpuBuffer<u32>,
        (models, batch, dim): (usize, usize, usize),
        workgroup: Option<u32>,
    ) -> Result<Self> {
        if batch == 0 || batch > MAX_BATCH {
            return Err(Error::invalid(format!(
                "exact assignment takes 1 to {MAX_BATCH} points per side; got {batch}"
            )));
        }
        let kernel = ctx.kernel(&KernelDesc::new("flow/train/auction").overrides(&[
            (
                "WG",
                f64::from(workgroup.unwrap_or_else(|| workgroup_size(ctx))),
            ),
            ("B", batch as f64),
            ("D", dim as f64),
            ("LEVELS", f64::from(levels(batch))),
        ]))?;
        let benefit_bytes = (models * batch * batch * 4) as u64;
        if benefit_bytes > ctx.max_binding_bytes() {
            return Err(Error::LimitExceeded {
                what: format!("the auction's benefits of {models} models x {batch}^2 pairs"),
                requested: benefit_bytes,
                limit: ctx.max_binding_bytes(),
                limit_name: "max_storage_buffer_binding_size",
                hint: "train fewer models side by side or use smaller batches",
            });
        }
        let benefit =
            GpuBuffer::<i32>::scratch(ctx, models * batch * batch, "morphogen.train.benefit")?;
        let scratch = GpuBuffer::<i32>::zeroed(ctx, models * batch * 5, "morphogen.train.auction")?;
        let claims = GpuBuffer::<u32>::zeroed(ctx, models * batch, "morphogen.train.claims")?;
        let status = GpuBuffer::<u32>::zeroed(ctx, models, "morphogen.train.auction_rounds")?;
        let group = kernel.bind_named(
            ctx,
            &[
                ("x0", x0.binding()),
                ("x1", x1.binding()),
                ("benefit", benefit.binding()),
                ("scratch", scratch.binding()),
                ("claims", claims.binding()),
                ("matched", matched.binding()),
                ("status", status.binding()),
            ],
        )?;
        Ok(Self {
            kernel,
            group,
            models: models as u32,
            status,
            _scratch: (benefit, scratch, claims),
        })
    }

    /// Records one solve of every model.
    pub fn record(&self, rec: &mut Recorder<'_>) {
        rec.dispatch(&self.kernel, &self.group, Grid::new(self.models, 1, 1));
    }

    /// Checks the rounds a solve took: an error if the cap stopped one.
    pub fn check(rounds: &[u32]) -> Result<()> {
        match rounds.iter().position(|&r| r >= ROUND_CAP) {
            Some(m) => Err(Error::invalid(format!(
                "the assignment of model {m} did not finish within {ROUND_CAP} auction rounds \
                 (non-finite points?)"
            ))),
            None => Ok(()),
        }
    }
}

/// The optimal assignment of `x0`'s rows to `x1`'s (B × d each, row-major) under squared
/// Euclidean cost, solved on the GPU: `matched[i]` is the target row of source row i.
pub fn assign_gpu(ctx: &GpuContext, x0: &[f32], x1: &[f32], dim: usize) -> Result<Vec<u32>> {
    assign_gpu_with(ctx, x0, x1, dim, None)
}

/// [`assign_gpu`] with the auction's workgroup size chosen (a power of two from 8 to 256;
/// `None`: the adapter's default), for tests and tuning.
pub fn assign_gpu_with(
    ctx: &GpuContext,
    x0: &[f32],
    x1: &[f32],
    dim: usize,
    workgroup: Option<u32>,
) -> Result<Vec<u32>> {
    if let Some(w) = workgroup {
        if !(8..=256).contains(&w) || !w.is_power_of_two() {
            return Err(Error::invalid(format!(
                "the auction's workgroup must be a power of two from 8 to 256; got {w}"
            )));
        }
    }
    if dim == 0 || x0.len() != x1.len() || !x0.len().is_multiple_of(dim) {
        return Err(Error::invalid(format!(
            "assignment takes two B x d arrays of one shape; got {} and {} values for d = {dim}",
            x0.len(),
            x1.len()
        )));
    }
    if let Some(bad) = x0.iter().chain(x1).position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "the points hold a non-finite value (element {bad})"
        )));
    }
    let batch = x0.len() / dim;
    let a = GpuBuffer::from_slice(ctx, x0, "morphogen.assign.x0")?;
    let b = GpuBuffer::from_slice(ctx, x1, "morphogen.assign.x1")?;
    let matched = GpuBuffer::<u32>::zeroed(ctx, batch, "morphogen.assign.matched")?;
    let auction = Auction::new(ctx, &a, &b, &matched, (1, batch, dim), workgroup)?;
    let mut rec = ctx.recorder("morphogen.assign");
    auction.record(&mut rec);
    let result = rec.read(&matched)?;
    let rounds = rec.read(&auction.status)?;
    rec.submit()?.wait(ctx)?;
    Auction::check(&rounds.wait(ctx)?)?;
    result.wait(ctx)
}

/// The squared 2-Wasserstein distance between two equal-size samples (n ≤
/// [`MAX_BATCH`] points each, row-major): the mean squared distance of their optimal
/// matching, solved on the GPU and summed in f64.
pub fn w2_squared_gpu(ctx: &GpuContext, a: &[f32], b: &[f32], dim: usize) -> Result<f64> {
    let matched = assign_gpu(ctx, a, b, dim)?;
    let n = matched.len();
    let total: f64 = matched
        .iter()
        .enumerate()
        .map(|(i, &j)| {
            (0..dim)
                .map(|k| (f64::from(a[i * dim + k]) - f64::from(b[j as usize * dim + k])).powi(2))
                .sum::<f64>()
        })
        .sum();
    Ok(total / n as f64)
}

/// Squared Euclidean cost matrix (B × B) in f64.
pub fn cost_matrix(x0: &[f32], x1: &[f32], dim: usize) -> Vec<f64> {
    let b = x0.len() / dim;
    let mut c = vec![0.0; b * b];
    for i in 0..b {
        for j in 0..b {
            c[i * b + j] = (0..dim)
                .map(|k| (f64::from(x0[i * dim + k]) - f64::from(x1[j * dim + k])).powi(2))
                .sum();
        }
    }
    c
}

/// The minimum-cost assignment of an n × n cost matrix by the Hungarian method with
/// potentials (O(n³)): `result[i]` is the column of row i.
pub fn hungarian(cost: &[f64], n: usize) -> Vec<u32> {
    // 1-based arrays; column 0 is the virtual start of each augmenting path.
    let inf = f64::INFINITY;
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut row_of = vec![0usize; n + 1];
    let mut way = vec![0usize; n + 1];
    for i in 1..=n {
        row_of[0] = i;
        let mut j0 = 0;
        let mut min_to = vec![inf; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[j0] = true;
            let i0 = row_of[j0];
            let mut delta = inf;
            let mut j1 = 0;
            for j in 1..=n {
                if !used[j] {
                    let reduced = cost[(i0 - 1) * n + (j - 1)] - u[i0] - v[j];
                    if reduced < min_to[j] {
                        min_to[j] = reduced;
                        way[j] = j0;
                    }
                    if min_to[j] < delta {
                        delta = min_to[j];
                        j1 = j;
                    }
                }
            }
            for j in 0..=n {
                if used[j] {
                    u[row_of[j]] += delta;
                    v[j] -= delta;
                } else {
                    min_to[j] -= delta;
                }
            }
            j0 = j1;
            if row_of[j0] == 0 {
                break;
            }
        }
        loop {
            let j1 = way[j0];
            row_of[j0] = row_of[j1];
            j0 = j1;
            if j0 == 0 {
                break;
            }
        }
    }
    let mut result = vec![0u32; n];
    for j in 1..=n {
        if row_of[j] > 0 {
            result[row_of[j] - 1] = (j - 1) as u32;
        }
    }
    result
}

/// The total cost of an assignment.
pub fn assignment_cost(cost: &[f64], matched: &[u32]) -> f64 {
    let n = matched.len();
    matched
        .iter()
        .enumerate()
        .map(|(i, &j)| cost[i * n + j as usize])
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn brute_force(cost: &[f64], n: usize) -> f64 {
        fn go(cost: &[f64], n: usize, row: usize, used: &mut Vec<bool>) -> f64 {
            if row == n {
                return 0.0;
            }
            let mut best = f64::INFINITY;
            for j in 0..n {
                if !used[j] {
                    used[j] = true;
                    best = best.min(cost[row * n + j] + go(cost, n, row + 1, used));
                    used[j] = false;
                }
            }
            best
        }
        go(cost, n, 0, &mut vec![false; n])
    }

    #[test]
    fn hungarian_finds_the_brute_force_optimum() {
        for seed in 0..40u64 {
            let n = 1 + (seed % 7) as usize;
            let key = crate::rng::seed_key(seed);
            let cost: Vec<f64> = (0..n * n)
                .map(|k| {
                    let u = crate::rng::uniform4(key, [k as u32, 0, 0, 0])[0];
                    // Small integers: many ties.
                    (f64::from(u) * 4.0).floor()
                })
                .collect();
            let m = hungarian(&cost, n);
            let mut seen = m.clone();
            seen.sort_unstable();
            assert_eq!(seen, (0..n as u32).collect::<Vec<_>>(), "seed {seed}");
            assert_eq!(
                assignment_cost(&cost, &m),
                brute_force(&cost, n),
                "seed {seed}"
            );
        }
    }

    #[test]
    fn levels_keep_benefits_within_i32() {
        for b in [1, 2, 256, 1024] {
            assert!(u64::from(levels(b)) * (b as u64 + 1) <= 1 << 29);
            assert!(levels(b) >= 1 << 18);
        }
    }
}
