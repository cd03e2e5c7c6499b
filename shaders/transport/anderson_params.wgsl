// What the three Anderson acceleration kernels share: their parameters and the packing of
// the symmetric Gram matrix's lower triangle.

const MAX_MEMORY: u32 = 8u;
// Entries of the lower triangle of a MAX_MEMORY x MAX_MEMORY matrix.
const PAIRS: u32 = 36u;
// Floats per problem in the weights buffer: MAX_MEMORY weights, then 1 when they are to
// be applied, 0 when the potential is to be left as it is.
const WEIGHT_STRIDE: u32 = 9u;

struct AndersonParams {
    // Potentials per problem (m).
    len: u32,
    batch: u32,
    // Chunks of the Gram pass and the potentials each covers.
    chunks: u32,
    chunk_len: u32,
    ridge: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

// Index of (k, l), l <= k, in the packed lower triangle.
fn pair_index(k: u32, l: u32) -> u32 {
    return k * (k + 1u) / 2u + l;
}
