//! Philox4x32-10, the counter-based generator of `shaders/common/rng.wgsl`, on the CPU.
//!
//! Bit-identical to the shader for raw words and uniforms; normals are computed in f64
//! from the same uniforms (the shader's `log`/`cos` are f32, so they agree to ~1e-6).

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

/// The key of a 64-bit seed: (low word, high word).
pub fn seed_key(seed: u64) -> [u32; 2] {
    [seed as u32, (seed >> 32) as u32]
}

/// Ten rounds of Philox4x32 on `counter` under `key`.
pub fn philox4x32_10(counter: [u32; 4], key: [u32; 2]) -> [u32; 4] {
    let mut c = counter;
    let mut k = key;
    for _ in 0..10 {
        let p0 = u64::from(M0) * u64::from(c[0]);
        let p1 = u64::from(M1) * u64::from(c[2]);
        c = [
            (p1 >> 32) as u32 ^ c[1] ^ k[0],
            p1 as u32,
            (p0 >> 32) as u32 ^ c[3] ^ k[1],
            p0 as u32,
        ];
        k = [k[0].wrapping_add(W0), k[1].wrapping_add(W1)];
    }
    c
}

/// A uniform in (0, 1) from the top 23 bits of a word, as `rng_u01` in the shader.
pub fn u01(bits: u32) -> f32 {
    ((bits >> 9) as f32 + 0.5) * 1.192_092_9e-7
}

/// Four uniforms in (0, 1), as `rng_uniform4`.
pub fn uniform4(key: [u32; 2], counter: [u32; 4]) -> [f32; 4] {
    philox4x32_10(counter, key).map(u01)
}

/// Four standard normals (Box–Muller), as `rng_normal4`, computed in f64.
pub fn normal4(key: [u32; 2], counter: [u32; 4]) -> [f64; 4] {
    let u = uniform4(key, counter).map(f64::from);
    let tau = std::f64::consts::TAU;
    let r0 = (-2.0 * u[0].ln()).sqrt();
    let r1 = (-2.0 * u[2].ln()).sqrt();
    [
        r0 * (tau * u[1]).cos(),
        r0 * (tau * u[1]).sin(),
        r1 * (tau * u[3]).cos(),
        r1 * (tau * u[3]).sin(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Known-answer vectors of Random123 (kat_vectors, philox4x32 10).
    #[test]
    fn philox_matches_the_published_known_answers() {
        assert_eq!(
            philox4x32_10([0; 4], [0; 2]),
            [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]
        );
        assert_eq!(
            philox4x32_10([u32::MAX; 4], [u32::MAX; 2]),
            [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd]
        );
        assert_eq!(
            philox4x32_10(
                [0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344],
                [0xa4093822, 0x299f31d0]
            ),
            [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1]
        );
    }

    #[test]
    fn uniforms_stay_strictly_inside_the_unit_interval() {
        assert!(u01(0) > 0.0);
        assert!(u01(u32::MAX) < 1.0);
    }
}
