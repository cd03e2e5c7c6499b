// What every coffee kernel shares: the parameter block (`CoffeeParams` in
// src/coffee/params.rs), the named constants both sides agree on, and the random draws
// of the two models (their CPU twins are in src/coffee/reference.rs).

#import rng

// `Params.boundary`.
const BOUNDARY_CLOSED: u32 = 0u;
const BOUNDARY_PERIODIC: u32 = 1u;
// `Params.clock`: which counter `advance` runs up to its target.
const CLOCK_SWAPS: u32 = 0u;
const CLOCK_ATTEMPTS: u32 = 1u;
// `Params.adjust`.
const ADJUST_ROWWISE: u32 = 0u;
const ADJUST_CELLWISE: u32 = 1u;
// The last word of the counter of each model's random stream.
const STREAM_SWAP: u32 = 1u;
const STREAM_WALK: u32 = 2u;
// Words per replica in `clock`: swaps (low, high), attempts (low, high).
const CLOCK_WORDS: u32 = 4u;

struct Params {
    // Cells per side.
    n: u32,
    replicas: u32,
    boundary: u32,
    clock: u32,
    seed_lo: u32,
    seed_hi: u32,
    // `advance`: the value of the chosen clock to reach.
    goal_lo: u32,
    goal_hi: u32,
    // `walk`: the steps [from, to) to take.
    first_step: u32,
    end_step: u32,
    // Coarse-graining: half the window's side, and the 7-bucket scale.
    grain_half: u32,
    max_value: u32,
    adjust: u32,
    // `pack`: which output slot.
    slot: u32,
    // `advance`: attempts one invocation may make in one dispatch before it stops and
    // raises `status`.
    max_attempts: u32,
    // Non-interacting particles per replica.
    particles: u32,
}

// The cell one step from `cell` in direction `dir` (0: left, 1: right, 2: up, 3: down,
// as the authors' code numbers them), or `cell` itself when a closed wall is in the way.
fn neighbour(n: u32, boundary: u32, cell: u32, dir: u32) -> u32 {
    let row = cell / n;
    let col = cell % n;
    let periodic = boundary == BOUNDARY_PERIODIC;
    var r = row;
    var c = col;
    if (dir == 0u) {
        if (col > 0u) { c = col - 1u; } else if (periodic) { c = n - 1u; }
    } else if (dir == 1u) {
        if (col + 1u < n) { c = col + 1u; } else if (periodic) { c = 0u; }
    } else if (dir == 2u) {
        if (row > 0u) { r = row - 1u; } else if (periodic) { r = n - 1u; }
    } else {
        if (row + 1u < n) { r = row + 1u; } else if (periodic) { r = 0u; }
    }
    return r * n + c;
}
