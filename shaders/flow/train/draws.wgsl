// What the trainer's drawing kernels share (twin: flow::train::shared): the purposes of
// the Philox counters (row, step, purpose, block), the built-in samplers and index draws.

#import rng

const PURPOSE_SOURCE: u32 = 0u;
const PURPOSE_TARGET: u32 = 1u;
const PURPOSE_TIME: u32 = 2u;
const PURPOSE_NOISE: u32 = 3u;
const PURPOSE_PAIR: u32 = 4u;

const SAMPLER_EIGHT_GAUSSIANS: u32 = 0u;
const SAMPLER_MOONS: u32 = 1u;
const SAMPLER_NORMAL: u32 = 2u;
const SAMPLER_POINTS: u32 = 3u;
const SAMPLER_CHECKERBOARD: u32 = 4u;

// Standard deviation of TorchCFM's eight Gaussians (covariance sqrt(0.1) I).
const EIGHT_GAUSSIANS_STD: f32 = 0.5623413251903491;
const PI: f32 = 3.141592653589793;

// floor(word * n / 2^32): an index below n.
fn index_below(word: u32, n: u32) -> u32 {
    return mul_hi_lo(word, n).x;
}

// Coordinate c of a built-in sampler's point for `row` of a batch of `batch`.
fn builtin_coord(code: u32, key: vec2<u32>, row: u32, step: u32, purpose: u32, batch: u32, c: u32) -> f32 {
    switch code {
        case SAMPLER_EIGHT_GAUSSIANS: {
            let u = rng_uniform4(key, vec4<u32>(row, step, purpose, 0u)).x;
            let k = min(u32(u * 8.0), 7u);
            let angle = 0.7853981633974483 * f32(k);
            let z = rng_normal4(key, vec4<u32>(row, step, purpose, 1u));
            return select(5.0 * sin(angle) + EIGHT_GAUSSIANS_STD * z.y, 5.0 * cos(angle) + EIGHT_GAUSSIANS_STD * z.x, c == 0u);
        }
        case SAMPLER_MOONS: {
            let u = rng_uniform4(key, vec4<u32>(row, step, purpose, 0u)).x;
            let upper = batch / 2u;
            let lower = row >= upper;
            let k = select(row, row - upper, lower);
            let n = select(upper, batch - upper, lower);
            let angle = select(0.0, PI * f32(k) / f32(max(n, 2u) - 1u), n > 1u);
            var p = vec2<f32>(cos(angle), sin(angle));
            if (lower) {
                p = vec2<f32>(1.0 - p.x, 0.5 - p.y);
            }
            let v = select(p.y, p.x, c == 0u) + 0.2 * u;
            return 3.0 * v - 1.0;
        }
        case SAMPLER_CHECKERBOARD: {
            // FFJORD's toy checkerboard: x1 ~ U[-2, 2); x2 ~ U[0, 1) - 2 k (k a fair coin)
            // + (floor(x1) mod 2); both times 2.
            let u = rng_uniform4(key, vec4<u32>(row, step, purpose, 0u));
            let a = 4.0 * u.x - 2.0;
            let parity = f32(((i32(floor(a)) % 2) + 2) % 2);
            let b = u.y - select(0.0, 2.0, u.z >= 0.5) + parity;
            return 2.0 * select(b, a, c == 0u);
        }
        default: {
            return rng_normal4(key, vec4<u32>(row, step, purpose, c / 4u))[c % 4u];
        }
    }
}

// The row of a point cloud of n rows drawn for `row`.
fn point_row(key: vec2<u32>, row: u32, step: u32, purpose: u32, n: u32) -> u32 {
    return index_below(philox4x32_10(vec4<u32>(row, step, purpose, 0u), key).x, n);
}
