// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11), the generator of
// cuRAND, JAX and PyTorch. A draw is a pure function of (key, counter), so any thread can
// produce any element of a stream with no state, and results do not depend on how work is
// split across threads or dispatches. The CPU twin is `morphogen::rng`.
//
// Convention: key = the 64-bit seed as (low, high) words; counter = (element index or
// block, stream, sub-stream, draw) as the caller lays it out.

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;
const PHILOX_W1: u32 = 0xBB67AE85u;

// Full 32x32 -> 64-bit product as (high, low) words; WGSL has no mulhi.
fn mul_hi_lo(a: u32, b: u32) -> vec2<u32> {
    let a_lo = a & 0xffffu;
    let a_hi = a >> 16u;
    let b_lo = b & 0xffffu;
    let b_hi = b >> 16u;
    let ll = a_lo * b_lo;
    let lh = a_lo * b_hi;
    let hl = a_hi * b_lo;
    let mid = (ll >> 16u) + (lh & 0xffffu) + (hl & 0xffffu);
    let hi = a_hi * b_hi + (lh >> 16u) + (hl >> 16u) + (mid >> 16u);
    return vec2<u32>(hi, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
    var c = counter;
    var k = key;
    for (var round = 0u; round < 10u; round = round + 1u) {
        let p0 = mul_hi_lo(PHILOX_M0, c.x);
        let p1 = mul_hi_lo(PHILOX_M1, c.z);
        c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
        k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
    }
    return c;
}

// A uniform float in the open interval (0, 1) from the top 23 bits: never 0, never 1
// (with 24 bits the largest value would round up to 1.0), so log(u) and log(1 - u) are
// finite.
fn rng_u01(bits: u32) -> f32 {
    return (f32(bits >> 9u) + 0.5) * 1.1920928955078125e-7;
}

fn rng_uniform4(key: vec2<u32>, counter: vec4<u32>) -> vec4<f32> {
    let r = philox4x32_10(counter, key);
    return vec4<f32>(rng_u01(r.x), rng_u01(r.y), rng_u01(r.z), rng_u01(r.w));
}

// Four independent standard normal draws (Box-Muller on two pairs of uniforms).
fn rng_normal4(key: vec2<u32>, counter: vec4<u32>) -> vec4<f32> {
    let u = rng_uniform4(key, counter);
    let two_pi = 6.283185307179586;
    let r0 = sqrt(-2.0 * log(u.x));
    let r1 = sqrt(-2.0 * log(u.z));
    return vec4<f32>(
        r0 * cos(two_pi * u.y),
        r0 * sin(two_pi * u.y),
        r1 * cos(two_pi * u.w),
        r1 * sin(two_pi * u.w),
    );
}
