// Exact minibatch assignment by Bertsekas' auction with epsilon scaling, one workgroup per
// model. Costs |x0_i - x1_j|^2 are quantised to integers Q_ij = round(C_ij / C_max * LEVELS)
// and the auction maximises the integer benefits a_ij = (LEVELS - Q_ij) (B + 1): with a
// final epsilon of 1 < (B + 1) / B the assignment is optimal for Q exactly (Bertsekas 1988),
// and within B C_max / (2 LEVELS) of the optimum of C. The benefits are computed once per
// solve; each round lists the unassigned persons, and LANES invocations scan each one's
// row together (then one merges their best two), so the scan's work is spread over whole
// SIMD groups. Bids are settled with integer atomics (max, then min index), so the result
// does not depend on thread timing. Writes matched[model * B + i] = the target row of
// source row i; status[model] = rounds taken, or ROUND_CAP when the cap stopped it.

override WG: u32 = 256u;
override B: u32 = 256u;
override D: u32 = 2u;
override LEVELS: u32 = 1000000u;

const LANES: u32 = 8u;
const MAX_B: u32 = 1024u;
const MAX_WG: u32 = 256u;
const ROUND_CAP: u32 = 4000000u;
const NONE: i32 = -1;
const NO_CLAIM: u32 = 0xffffffffu;
const LOWEST: i32 = -2147483647;

#import flow/train/pair_cost

@group(0) @binding(0) var<storage, read> x0: array<f32>;
@group(0) @binding(1) var<storage, read> x1: array<f32>;
// Per model: B x B benefits.
@group(0) @binding(2) var<storage, read_write> benefit: array<i32>;
// Per model: assigned (person -> object), owner (object -> person), bid object, bid value,
// the round's bidders; 5 B entries.
@group(0) @binding(3) var<storage, read_write> scratch: array<i32>;
// Per model: the lowest bidder index at the best bid of each object.
@group(0) @binding(4) var<storage, read_write> claims: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> matched: array<u32>;
@group(0) @binding(6) var<storage, read_write> status: array<u32>;

var<workgroup> price: array<i32, MAX_B>;
var<workgroup> best_bid: array<atomic<i32>, MAX_B>;
var<workgroup> part_v1: array<i32, MAX_WG>;
var<workgroup> part_v2: array<i32, MAX_WG>;
var<workgroup> part_j1: array<u32, MAX_WG>;
var<workgroup> reduce_max: array<f32, MAX_WG>;
var<workgroup> open_count: atomic<u32>;
var<workgroup> open_flag: u32;
var<workgroup> price_floor: atomic<i32>;


@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
    let model = wid.x;
    let base = model * B * 5u;
    let assigned = base;
    let owner = base + B;
    let bid_object = base + 2u * B;
    let bid_value = base + 3u * B;
    let bidders = base + 4u * B;
    let rows = model * B * B;

    // The largest cost, for the quantisation, then the benefits.
    var local_max = 0.0;
    for (var p = lid; p < B * B; p = p + WG) {
        local_max = max(local_max, pair_cost(model, p / B, p % B));
    }
    reduce_max[lid] = local_max;
    workgroupBarrier();
    for (var half = WG / 2u; half > 0u; half = half / 2u) {
        if (lid < half) {
            reduce_max[lid] = max(reduce_max[lid], reduce_max[lid + half]);
        }
        workgroupBarrier();
    }
    let c_max = workgroupUniformLoad(&reduce_max[0]);
    let scale = select(0.0, f32(LEVELS) / c_max, c_max > 0.0);
    let unit = i32(B + 1u);
    for (var p = lid; p < B * B; p = p + WG) {
        let q = i32(round(pair_cost(model, p / B, p % B) * scale));
        benefit[rows + p] = (i32(LEVELS) - q) * unit;
    }
    for (var j = lid; j < B; j = j + WG) {
        price[j] = 0;
    }
    storageBarrier();
    workgroupBarrier();

    let group = lid / LANES;
    let lane = lid % LANES;
    let groups = WG / LANES;
    var eps = max(i32(LEVELS) * unit / 8, 1);
    var rounds = 0u;
    loop {
        // A phase: everyone unassigned, prices kept but shifted to a minimum of 0 (the
        // auction is blind to a common shift). At the end of a phase no two prices differ
        // by more than the benefits' range plus eps, and during one some object keeps its
        // price, so bids stay below 2 max(a) + 2 eps < 2^31; unshifted, the prices of
        // competing objects would ratchet up by up to the range in every phase.
        if (lid == 0u) {
            atomicStore(&price_floor, 2147483647);
        }
        workgroupBarrier();
        for (var j = lid; j < B; j = j + WG) {
            atomicMin(&price_floor, price[j]);
        }
        workgroupBarrier();
        let floor = atomicLoad(&price_floor);
        for (var j = lid; j < B; j = j + WG) {
            price[j] = price[j] - floor;
        }
        for (var i = lid; i < B; i = i + WG) {
            scratch[assigned + i] = NONE;
            scratch[owner + i] = NONE;
        }
        storageBarrier();
        workgroupBarrier();
        loop {
            if (lid == 0u) {
                atomicStore(&open_count, 0u);
            }
            for (var j = lid; j < B; j = j + WG) {
                atomicStore(&best_bid[j], LOWEST);
                atomicStore(&claims[model * B + j], NO_CLAIM);
            }
            workgroupBarrier();
            for (var i = lid; i < B; i = i + WG) {
                if (scratch[assigned + i] == NONE) {
                    let slot = atomicAdd(&open_count, 1u);
                    scratch[bidders + slot] = i32(i);
                }
            }
            storageBarrier();
            workgroupBarrier();
            if (lid == 0u) {
                open_flag = atomicLoad(&open_count);
            }
            let open = workgroupUniformLoad(&open_flag);
            if (open == 0u) {
                break;
            }
            // Bids: `groups` bidders per pass, LANES invocations per bidder.
            for (var first = 0u; first < open; first = first + groups) {
                let n = first + group;
                var v1 = LOWEST;
                var v2 = LOWEST;
                var j1 = 0u;
                if (n < open) {
                    let row = rows + u32(scratch[bidders + n]) * B;
                    for (var j = lane; j < B; j = j + LANES) {
                        let v = benefit[row + j] - price[j];
                        if (v > v1) {
                            v2 = v1;
                            v1 = v;
                            j1 = j;
                        } else if (v > v2) {
                            v2 = v;
                        }
                    }
                }
                part_v1[lid] = v1;
                part_v2[lid] = v2;
                part_j1[lid] = j1;
                workgroupBarrier();
                if (lane == 0u && n < open) {
                    // Merge the lanes' best two.
                    for (var l = 1u; l < LANES; l = l + 1u) {
                        let a1 = part_v1[lid + l];
                        let a2 = part_v2[lid + l];
                        if (a1 > v1) {
                            v2 = max(v1, a2);
                            v1 = a1;
                            j1 = part_j1[lid + l];
                        } else {
                            v2 = max(v2, a1);
                        }
                    }
                    // The bid leaves the bidder indifferent between j1 and its second
                    // best, plus eps: price + v1 - v2 + eps = a_ij1 - v2 + eps (no
                    // intermediate overflows). With one object there is no second best.
                    let i = u32(scratch[bidders + n]);
                    let a1 = v1 + price[j1];
                    let bid = select(a1 - v2, price[j1], B == 1u) + eps;
                    scratch[bid_object + i] = i32(j1);
                    scratch[bid_value + i] = bid;
                    atomicMax(&best_bid[j1], bid);
                }
                workgroupBarrier();
            }
            storageBarrier();
            workgroupBarrier();
            for (var n = lid; n < open; n = n + WG) {
                let i = u32(scratch[bidders + n]);
                let j = u32(scratch[bid_object + i]);
                if (scratch[bid_value + i] == atomicLoad(&best_bid[j])) {
                    atomicMin(&claims[model * B + j], i);
                }
            }
            storageBarrier();
            workgroupBarrier();
            // Each object that drew bids goes to its highest (lowest index on ties).
            for (var j = lid; j < B; j = j + WG) {
                let w = atomicLoad(&claims[model * B + j]);
                if (w != NO_CLAIM) {
                    let previous = scratch[owner + j];
                    if (previous != NONE) {
                        scratch[assigned + u32(previous)] = NONE;
                    }
                    scratch[owner + j] = i32(w);
                    scratch[assigned + w] = i32(j);
                    price[j] = atomicLoad(&best_bid[j]);
                }
            }
            storageBarrier();
            workgroupBarrier();
            rounds = rounds + 1u;
            if (rounds >= ROUND_CAP) {
                break;
            }
        }
        if (eps == 1 || rounds >= ROUND_CAP) {
            break;
        }
        eps = max(eps / 8, 1);
    }
    for (var i = lid; i < B; i = i + WG) {
        matched[model * B + i] = u32(max(scratch[assigned + i], 0));
    }
    if (lid == 0u) {
        status[model] = min(rounds, ROUND_CAP);
    }
}
