// Numerically stable log-sum-exp.
//
// A running log-sum-exp is kept as a pair (m, s) meaning m + log(s): m is the largest value
// seen, s = sum exp(x - m) >= 1. The empty set is (-inf, 0), so a zero weight (log weight
// -inf) contributes nothing and the LSE of only -inf entries is -inf, never NaN.
//
// Infinities are built at run time from bit patterns: WGSL forbids infinite constants.

var<private> F32_NEG_INF_BITS: u32 = 0xff800000u;
var<private> F32_POS_INF_BITS: u32 = 0x7f800000u;

fn f32_neg_inf() -> f32 {
    return bitcast<f32>(F32_NEG_INF_BITS);
}

fn f32_pos_inf() -> f32 {
    return bitcast<f32>(F32_POS_INF_BITS);
}

// True for finite values (false for +-inf and NaN).
fn f32_is_finite(x: f32) -> bool {
    return abs(x) <= 3.40282347e38;
}

fn lse_empty() -> vec2<f32> {
    return vec2<f32>(f32_neg_inf(), 0.0);
}

fn lse_of(x: f32) -> vec2<f32> {
    return vec2<f32>(x, select(0.0, 1.0, x > f32_neg_inf()));
}

fn lse_merge(a: vec2<f32>, b: vec2<f32>) -> vec2<f32> {
    let m = max(a.x, b.x);
    if (!f32_is_finite(m)) {
        // -inf: both empty; +inf: the result is +inf whatever else was seen.
        return vec2<f32>(m, select(0.0, 1.0, m > 0.0));
    }
    return vec2<f32>(m, a.y * exp(a.x - m) + b.y * exp(b.x - m));
}

// Adds one value to a running pair.
fn lse_push(acc: vec2<f32>, x: f32) -> vec2<f32> {
    return lse_merge(acc, lse_of(x));
}

fn lse_value(p: vec2<f32>) -> f32 {
    if (!f32_is_finite(p.x)) {
        return p.x;
    }
    return p.x + log(p.y);
}

// log(exp(a) + exp(b)) without overflow.
fn log_add_exp(a: f32, b: f32) -> f32 {
    let m = max(a, b);
    if (!f32_is_finite(m)) {
        return m;
    }
    return m + log(1.0 + exp(-abs(a - b)));
}
