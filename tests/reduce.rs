//! Reductions (sum, max, log-sum-exp) against the CPU f64 twin, on random inputs with
//! infinities and very large and very small entries.

mod common;

use common::{ctx, seed, TestRng};
use morphogen::gpu::{self, reduce_cpu, GpuBuffer, ReduceOp};

const OPS: [ReduceOp; 3] = [ReduceOp::Sum, ReduceOp::Max, ReduceOp::LogSumExp];

/// Random values: mostly normal, some huge or tiny in magnitude, and optionally infinities.
fn values(rng: &mut TestRng, len: usize, infinities: bool) -> Vec<f32> {
    (0..len)
        .map(|_| {
            let r = rng.uniform();
            let x = rng.normal();
            if infinities && r < 0.01 {
                f32::NEG_INFINITY
            } else if infinities && r < 0.012 {
                f32::INFINITY
            } else if r < 0.05 {
                (x * 1e30) as f32
            } else if r < 0.10 {
                (x * 1e-30) as f32
            } else {
                (x * 10.0) as f32
            }
        })
        .collect()
}

fn check(op: ReduceOp, input: &[f32], got: f32) {
    let want = reduce_cpu(input, op);
    let context = format!("{op:?} of {} values: gpu {got}, cpu {want}", input.len());
    if want.is_nan() {
        assert!(got.is_nan(), "{context}");
        return;
    }
    if want.is_infinite() {
        assert_eq!(f64::from(got), want, "{context}");
        return;
    }
    assert!(got.is_finite(), "{context}");
    let tol = match op {
        ReduceOp::Max => 0.0,
        // Summation error is relative to the sum of magnitudes, not to the result.
        ReduceOp::Sum => 1e-6 * input.iter().map(|&v| f64::from(v).abs()).sum::<f64>(),
        ReduceOp::LogSumExp => 2e-6 * want.abs() + 2e-6,
    };
    assert!(
        (f64::from(got) - want).abs() <= tol,
        "{context}, tolerance {tol}"
    );
}

#[test]
fn single_rows_of_many_lengths_match_the_cpu_twin() {
    let ctx = ctx();
    let mut rng = TestRng::new(seed("single_rows"));
    for len in [
        0usize, 1, 2, 255, 256, 257, 2047, 2048, 2049, 100_000, 4_194_305,
    ] {
        let input = values(&mut rng, len, false);
        let buf = GpuBuffer::from_slice(ctx, &input, "test.reduce").unwrap();
        for op in OPS {
            check(op, &input, gpu::reduce(ctx, &buf, op).unwrap());
        }
    }
}

#[test]
fn infinities_give_the_ieee_answers() {
    let ctx = ctx();
    let mut rng = TestRng::new(seed("infinities"));
    for len in [5usize, 3000, 70_000] {
        let input = values(&mut rng, len, true);
        let buf = GpuBuffer::from_slice(ctx, &input, "test.reduce.inf").unwrap();
        for op in OPS {
            check(op, &input, gpu::reduce(ctx, &buf, op).unwrap());
        }
    }
    let neg = vec![f32::NEG_INFINITY; 5000];
    let buf = GpuBuffer::from_slice(ctx, &neg, "test.reduce.neg").unwrap();
    let lse = gpu::reduce(ctx, &buf, ReduceOp::LogSumExp).unwrap();
    assert_eq!(
        lse,
        f32::NEG_INFINITY,
        "LSE of only -inf is -inf, never NaN"
    );
    let mixed = [f32::NEG_INFINITY, 0.0, f32::NEG_INFINITY, 0.0];
    let buf = GpuBuffer::from_slice(ctx, &mixed, "test.reduce.mixed").unwrap();
    let lse = gpu::reduce(ctx, &buf, ReduceOp::LogSumExp).unwrap();
    assert!((lse - std::f32::consts::LN_2).abs() < 1e-6, "{lse}");
}

#[test]
fn log_sum_exp_does_not_overflow_or_underflow() {
    let ctx = ctx();
    for shift in [-1e4f32, -80.0, 0.0, 80.0, 1e4, 1e30] {
        let input: Vec<f32> = (0..3000).map(|i| shift + (i % 7) as f32).collect();
        let buf = GpuBuffer::from_slice(ctx, &input, "test.reduce.shift").unwrap();
        check(
            ReduceOp::LogSumExp,
            &input,
            gpu::reduce(ctx, &buf, ReduceOp::LogSumExp).unwrap(),
        );
    }
}

#[test]
fn many_rows_reduce_independently() {
    let ctx = ctx();
    let mut rng = TestRng::new(seed("rows"));
    for (rows, len) in [(1usize, 10usize), (7, 3), (300, 2049), (70_000, 1), (3, 0)] {
        let input = values(&mut rng, rows * len, true);
        let buf = GpuBuffer::from_slice(ctx, &input, "test.reduce.rows").unwrap();
        for op in OPS {
            let got = gpu::reduce_rows(ctx, &buf, rows, len, op).unwrap();
            assert_eq!(got.len(), rows);
            for (r, &g) in got.iter().enumerate() {
                check(op, &input[r * len..(r + 1) * len], g);
            }
        }
    }
}

#[test]
fn a_row_shape_that_does_not_match_the_buffer_is_an_error() {
    let ctx = ctx();
    let buf = GpuBuffer::from_slice(ctx, &[1.0f32; 10], "test.reduce.shape").unwrap();
    let err = gpu::reduce_rows(ctx, &buf, 3, 4, ReduceOp::Sum).unwrap_err();
    assert!(err.to_string().contains("3 rows of 4"), "{err}");
}
