// BasicAgentLogic on the GPU: the program table's layout, what an agent perceives (its
// 3x3 window, loaded into private memory) and the inputs of its networks (the networks
// themselves are generated for the state size: `biome::nets`). Kernels that import this
// declare `agent: AgentLayout`, `programs: array<f32>` and the grids
// `types`, `state`, `ids` besides `params`. The CPU twin is `biome::agent_logic`.

#import biome

const HIDDEN: u32 = 32u;
const SPECS: u32 = 4u;
const TYPES: u32 = 10u;
const MAX_CHANNELS: u32 = 8u;
// Largest network input (10 + 3 * 8) and output (9 + 2 * 4).
const MAX_IN: u32 = 34u;
const MAX_OUT: u32 = 17u;
const STATE_CLIP: f32 = 3.0;

struct NetAt {
    w0: u32,
    b0: u32,
    w1: u32,
    b1: u32,
    inputs: u32,
    outputs: u32,
    pad0: u32,
    pad1: u32,
}

struct AgentLayout {
    stride: u32,
    slots: u32,
    state_size: u32,
    extended: u32,
    perceive_ids: u32,
    mutator: u32,
    params_len: u32,
    picks: u32,
    nsl_w: u32,
    nsl_b: u32,
    denm_b: u32,
    denm_keep: u32,
    excl_b: u32,
    excl_min_en: u32,
    excl_max_neigh: u32,
    excl_sensitivity: u32,
    excl_en_perc: u32,
    repr_threshold: u32,
    min_dist: u32,
    max_dist: u32,
    mutate_sd: f32,
    change_perc: f32,
    meta_sd_perc: f32,
    capacity: u32,
    dsm: NetAt,
    nsl_net: NetAt,
    denm_net: NetAt,
    excl_net: NetAt,
}

// The window of the agent this invocation runs.
var<private> win_types: array<u32, 9>;
var<private> win_ids: array<u32, 9>;
var<private> win_state: array<f32, 72>;
var<private> win_norm: array<f32, 72>;
// Where this agent's program starts in `programs`.
var<private> prog: u32;

// A cell's program slot in the batch's table: its world's slots come one after another.
fn table_slot(cell: u32) -> u32 {
    return world_of(cell) * agent.slots + ids[cell];
}

fn load_window(cell: u32) {
    let s = params.channels;
    let at = place_of(cell);
    for (var k = 0u; k < 9u; k = k + 1u) {
        let n = neighbor_at(at, k);
        if (n < 0) {
            win_types[k] = OUT_OF_BOUNDS;
            win_ids[k] = 0u;
            for (var ch = 0u; ch < s; ch = ch + 1u) {
                win_state[k * MAX_CHANNELS + ch] = 0.0;
                win_norm[k * MAX_CHANNELS + ch] = 0.0;
            }
        } else {
            win_types[k] = types[u32(n)];
            win_ids[k] = ids[u32(n)];
            for (var ch = 0u; ch < s; ch = ch + 1u) {
                let v = state_at(u32(n) * s + ch);
                win_state[k * MAX_CHANNELS + ch] = v;
                win_norm[k * MAX_CHANNELS + ch] = normalise(ch, v);
            }
        }
    }
    prog = (world_of(cell) * agent.slots + win_ids[4]) * agent.stride;
}

fn raw(k: u32, ch: u32) -> f32 {
    return win_state[k * MAX_CHANNELS + ch];
}

// Integrity over its cap, nutrients over the material cap; age and internal state raw
// (computed once per window by load_window).
fn norm(k: u32, ch: u32) -> f32 {
    return win_norm[k * MAX_CHANNELS + ch];
}

fn normalise(ch: u32, v: f32) -> f32 {
    if (ch == INTEGRITY) {
        return v / params.struct_cap;
    }
    if (ch == EARTH_NUTRIENT) {
        return v / params.material_cap.x;
    }
    if (ch == AIR_NUTRIENT) {
        return v / params.material_cap.y;
    }
    return v;
}

fn p(i: u32) -> f32 {
    return programs[prog + i];
}

fn own_spec() -> u32 {
    return win_types[4] - UNSPECIALIZED;
}

// Fraction of the 8 neighbours of type t.
fn average_type(t: u32) -> f32 {
    var n = 0.0;
    for (var k = 0u; k < 9u; k = k + 1u) {
        if (k != 4u && win_types[k] == t) {
            n = n + 0.125;
        }
    }
    return n;
}

// Fills x[0..10 + channels) with the neighbour type averages and the normalised own state;
// returns the count.
fn fill_avg_and_self(x: ptr<function, array<f32, 34>>) -> u32 {
    for (var t = 0u; t < TYPES; t = t + 1u) {
        (*x)[t] = average_type(t);
    }
    for (var ch = 0u; ch < params.channels; ch = ch + 1u) {
        (*x)[TYPES + ch] = norm(4u, ch);
    }
    return TYPES + params.channels;
}

// The change that brings s + ds back within +-STATE_CLIP.
fn clip_residual(s: f32, ds: f32) -> f32 {
    let next = s + ds;
    if (next > STATE_CLIP) {
        return ds - (next - STATE_CLIP);
    }
    if (next < -STATE_CLIP) {
        return ds - (next + STATE_CLIP);
    }
    return ds;
}

