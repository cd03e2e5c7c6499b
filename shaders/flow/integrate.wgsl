// Advances particles through dx/dt = v(x, t, c) by explicit Runge-Kutta steps, the
// network evaluated in place by code generated for its shape (flow/net), SLOTS particles
// per invocation, up to `flow.budget` step attempts per dispatch. The CPU twin is
// flow::reference.
//
// The slots of an invocation advance in lockstep through the network (each weight read
// serves every slot), while each particle keeps its own time, step size, error control
// and status: a slot whose particle is finished, or rejected its step, still rides along
// in the network passes and discards what they give.
//
// Adaptive solvers control each particle's own step: error norm = RMS over its
// components of err / (atol + rtol max(|y0|, |y1|)), step factor
// clamp(0.9 err^(-1/5), 0.2, 10), Hairer's initial step. Fixed-step solvers use the grid
// t0 + k h, the last step ending exactly at t1.
//
// States at save times come from a cubic Hermite interpolant between the step's ends
// (their derivatives are the step's first stage and the next step's, which FSAL methods
// have already and fixed-step methods compute as the next first stage), so saving costs
// no extra evaluation except inside a fixed solver's last step.
//
// With a log-density, the state carries one more component, integrated like the rest:
// d/dt = -div v, exactly (d tangent passes), by Hutchinson (one pass with a fixed
// Rademacher probe per particle, Philox keyed by the seed) or by central differences
// (2d forward evaluations, for any field). A scalar network's field is its gradient, one
// forward tangent per coordinate. Each particle reads the conditioning vector of its
// population.
//
// Particles still running are appended to the next active list; finished ones cost
// nothing in later dispatches.
//
// SHARED: one step size for the whole batch (torchdiffeq's behaviour, for comparison).
// Each dispatch runs one phase for every particle and leaves per-particle sums that the
// host reduces to decide: 0 start (derivative at t0; norms of y and f for the initial
// step), 1 probe step of the initial step, 2 attempt (candidate state and squared scaled
// error), 3 commit (saves and the new state).
//! variants: DIM_4|DIM_16|DIM_64 WEIGHTS_UNIFORM| SHARED| SUBGROUP_WEIGHTS|
#ifdef SUBGROUP_WEIGHTS
diagnostic(off, subgroup_uniformity);
#endif
//! generated: flow/net
//! generated: flow/integrate_state

override WG: u32 = 64u;
// The log-density mode (flow.logp) fixed at pipeline creation, so a kernel without
// tangents compiles no tangent pass of the network.
override LOGP: u32 = 0u;

#import flow/sizes
#import flow/codes
#import grid
#import rng
#import activations
#import flow/net
#import flow/integrate_state
#import flow/slot_field

struct Flow {
    // Particles in this dispatch's active list, and in all.
    count: u32,
    total: u32,
    dim: u32,
    // dim, plus one with a log-density.
    aug: u32,
    cond_dim: u32,
    // TIME_* of flow/codes.
    time_pos: u32,
    // Width of the sinusoidal time embedding (0: raw t).
    emb_dim: u32,
    // LOGP_* of flow/codes.
    logp: u32,
    adaptive: u32,
    stages: u32,
    fixed_steps: u32,
    max_steps: u32,
    budget: u32,
    saves: u32,
    seed_lo: u32,
    seed_hi: u32,
    // Offsets of the active list read and the list written, inside `lists`.
    read_offset: u32,
    write_offset: u32,
    // Offset of the conditioning vector inside `consts` (save times come first).
    cond_offset: u32,
    // Index of this chunk's first particle in the whole set (keys Hutchinson's probes).
    index_offset: u32,
    // Offset of the particles' population indices (as floats) inside `consts`; 0: one
    // population.
    pop_offset: u32,
    // Relative step of central differences.
    fd_step: f32,
    // SLOTS, as a uniform: loops over the slots stay loops (compilers unroll loops of a
    // constant count, which multiplies the code they hold).
    slots: u32,
    _pad1: u32,
    t0: f32,
    t1: f32,
    rtol: f32,
    atol: f32,
    time_scale: f32,
    emb_period: f32,
    // Exponent of Hairer's initial step, 1 / (order + 1).
    init_exponent: f32,
    _pad3: f32,
    c: array<vec4<f32>, 2>,
    b: array<vec4<f32>, 2>,
    e: array<vec4<f32>, 2>,
    a: array<vec4<f32>, 6>,
    // SHARED: the batch's time and step, and the phase.
    shared_t: f32,
    shared_h: f32,
    phase: u32,
    _pad2: u32,
}

// Per particle.
struct Meta {
    t: f32,
    h: f32,
    next_save: u32,
    steps: u32,
    evaluations: u32,
    accepted: u32,
    rejected: u32,
    // STATUS_* of flow/codes.
    status: u32,
}

@group(0) @binding(0) var<uniform> flow: Flow;
#ifdef WEIGHTS_UNIFORM
@group(0) @binding(1) var<uniform> weights: array<vec4<f32>, 4096>;
#else
@group(0) @binding(1) var<storage, read> weights: array<f32>;
#endif
// Save times, the conditioning vectors, then the particles' populations.
@group(0) @binding(2) var<storage, read> consts: array<f32>;
// Per particle: the state (aug values), then its derivative at the state (aug values).
@group(0) @binding(3) var<storage, read_write> ys: array<f32>;
@group(0) @binding(4) var<storage, read_write> metas: array<Meta>;
// Saved states: saves x total x aug.
@group(0) @binding(5) var<storage, read_write> saved: array<f32>;
#ifdef SHARED
// Two sums per particle (at p and total + p), reduced by the host.
@group(0) @binding(6) var<storage, read_write> errs: array<f32>;
// Candidate state and its derivative per particle (2 aug values).
@group(0) @binding(7) var<storage, read_write> cand: array<f32>;
#else
// Active particle lists (read at read_offset, appended at write_offset).
@group(0) @binding(6) var<storage, read_write> lists: array<u32>;
@group(0) @binding(7) var<storage, read_write> counter: array<atomic<u32>>;
#endif

fn weight(i: u32) -> f32 {
#ifdef WEIGHTS_UNIFORM
    return weights[i >> 2u][i & 3u];
#else
    return weights[i];
#endif
}

fn tab_c(i: u32) -> f32 {
    return flow.c[i >> 2u][i & 3u];
}

fn tab_b(i: u32) -> f32 {
    return flow.b[i >> 2u][i & 3u];
}

fn tab_e(i: u32) -> f32 {
    return flow.e[i >> 2u][i & 3u];
}

fn tab_a(i: u32, j: u32) -> f32 {
    let k = i * (i - 1u) / 2u + j;
    return flow.a[k >> 2u][k & 3u];
}

// Per slot: the stage time of rhs_all() (its input state y_in, output f_out and
// Hutchinson probe, like the state y, the candidate y_new and the stages k, are rows of
// flow/integrate_state: row s of y_in through y_in_at(s, c), stage j of slot s through
// stage_at(s, j, c)).
var<private> t_in: array<f32, SLOTS>;
// Per slot: whether this evaluation is the particle's own (it counts), and the count.
var<private> live: array<bool, SLOTS>;
var<private> evaluations: array<u32, SLOTS>;
// Where each slot's conditioning vector starts in consts.
var<private> cond_base: array<u32, SLOTS>;

fn slot_count() -> u32 {
    return flow.slots;
}

fn cond_value(s: u32, i: u32) -> f32 {
    return consts[cond_base[s] + i];
}

fn input_layout() -> InputLayout {
    return InputLayout(flow.dim, flow.cond_dim, flow.time_pos, flow.emb_dim, flow.time_scale, flow.emb_period);
}

// Central differences of one coordinate: the perturbed coordinate's value and its two
// rounded arguments, per slot.
var<private> fd_x: array<f32, SLOTS>;
var<private> fd_up: array<f32, SLOTS>;
var<private> fd_down: array<f32, SLOTS>;
var<private> fd_diff: array<f32, SLOTS>;
var<private> div: array<f32, SLOTS>;

// f_out[s] = [v(y_in[s], t_in[s]), -div v] for every slot (the last entry only with a
// log-density). Every pass goes through the one call site of the network in
// network_pass.
fn rhs_all() {
    let dim = flow.dim;
    let shape = input_layout();
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        evaluations[s] = evaluations[s] + select(0u, 1u, live[s]);
        div[s] = 0.0;
        fd_diff[s] = 0.0;
    }
    // Passes of one field value: one forward pass, or one tangent pass per coordinate of
    // a scalar network's gradient.
    let value_passes = select(1u, dim, NET_SCALAR);
    var passes = value_passes;
    if (LOGP == LOGP_EXACT) {
        passes = dim;
    } else if (LOGP == LOGP_HUTCHINSON) {
        passes = 1u;
    } else if (LOGP == LOGP_CENTRAL) {
        passes = value_passes + 2u * dim;
    }
    for (var q = 0u; q < passes; q = q + 1u) {
        // What this pass is: a tangent pass of the divergence (logp 1, 2), a pass of the
        // field's value, or one side of a central difference along coordinate fk.
        let tangent_logp = LOGP == LOGP_EXACT || LOGP == LOGP_HUTCHINSON;
        let value = !tangent_logp && q < value_passes;
        let fd = !tangent_logp && q >= value_passes;
        let fk = (q - value_passes) / 2u;
        let up_side = ((q - value_passes) & 1u) == 0u;
        if (fd) {
            for (var s = 0u; s < slot_count(); s = s + 1u) {
                if (up_side) {
                    let x = y_in_at(s, fk);
                    let delta = flow.fd_step * max(1.0, abs(x));
                    fd_x[s] = x;
                    fd_up[s] = x + delta;
                    fd_down[s] = x - delta;
                }
                y_in_put(s, fk, select(fd_down[s], fd_up[s], up_side));
            }
        }
        var unit = q;
        if (fd) {
            unit = fk;
        }
        network_pass(shape, tangent_logp || NET_SCALAR, unit, LOGP == LOGP_HUTCHINSON);
        for (var s = 0u; s < slot_count(); s = s + 1u) {
            if (tangent_logp) {
                if (LOGP == LOGP_EXACT) {
                    div[s] = div[s] + tan_at(s, q);
                } else {
                    for (var c = 0u; c < dim; c = c + 1u) {
                        div[s] = div[s] + probe_at(s, c) * tan_at(s, c);
                    }
                }
                for (var i = 0u; i < dim; i = i + 1u) {
                    f_out_put(s, i, act_at(s, i));
                }
            } else if (value) {
                if (NET_SCALAR) {
                    f_out_put(s, q, tan_at(s, 0));
                } else {
                    for (var i = 0u; i < dim; i = i + 1u) {
                        f_out_put(s, i, act_at(s, i));
                    }
                }
            } else {
                let component = select(act_at(s, fk), tan_at(s, 0), NET_SCALAR);
                fd_diff[s] = fd_diff[s] + select(-1.0, 1.0, up_side) * component;
                if (!up_side) {
                    y_in_put(s, fk, fd_x[s]);
                    div[s] = div[s] + fd_diff[s] / (fd_up[s] - fd_down[s]);
                    fd_diff[s] = 0.0;
                }
            }
        }
    }
    if (LOGP != LOGP_OFF) {
        for (var s = 0u; s < slot_count(); s = s + 1u) {
            f_out_put(s, dim, -div[s]);
        }
    }
}

// Per slot: the particle, its record, and this step's start, length and participation.
var<private> particle: array<u32, SLOTS>;
var<private> present: array<bool, SLOTS>;
var<private> m: array<Meta, SLOTS>;
var<private> step_t: array<f32, SLOTS>;
var<private> step_h: array<f32, SLOTS>;
var<private> step_last: array<bool, SLOTS>;
// Fixed steps: where the step ends on the grid.
var<private> step_end: array<f32, SLOTS>;
var<private> running: array<bool, SLOTS>;

// Stage i of a step of length step_h from (step_t, y), for the slots that run: its input.
fn prepare_stage(i: u32) {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        live[s] = running[s];
        if (!running[s]) {
            continue;
        }
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            var acc = 0.0;
            for (var j = 0u; j < i; j = j + 1u) {
                acc = fma(tab_a(i, j), stage_at(s, j, c), acc);
            }
            y_in_put(s, c, fma(step_h[s], acc, y_at(s, c)));
        }
        t_in[s] = step_t[s] + tab_c(i) * step_h[s];
    }
}

// Stage i's derivative, from f_out.
fn consume_stage(i: u32) {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (running[s]) {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                stage_put(s, i, c, f_out_at(s, c));
            }
        }
    }
}

// The step's end state from all its stages.
fn combine_stages() {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (running[s]) {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                var acc = 0.0;
                for (var j = 0u; j < flow.stages; j = j + 1u) {
                    acc = fma(tab_b(j), stage_at(s, j, c), acc);
                }
                y_new_put(s, c, fma(step_h[s], acc, y_at(s, c)));
            }
        }
    }
}

// Writes slot s's save times that fall in the step (t, t + h]: y_new at its end, else
// the Hermite interpolant with end derivatives k[0] and f_out.
fn save_step(s: u32, t: f32, h: f32, t_end: f32, with_end_slope: bool) {
    let dir = sign(h);
    let p = particle[s];
    loop {
        if (m[s].next_save >= flow.saves) {
            break;
        }
        let ts = consts[m[s].next_save];
        if (dir * (ts - t_end) > 0.0) {
            break;
        }
        let theta = (ts - t) / h;
        let base = (m[s].next_save * flow.total + p) * flow.aug;
        if (theta >= 1.0 || !with_end_slope) {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                saved[base + c] = y_new_at(s, c);
            }
        } else {
            let t2 = theta * theta;
            let t3 = t2 * theta;
            let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
            let h10 = t3 - 2.0 * t2 + theta;
            let h01 = -2.0 * t3 + 3.0 * t2;
            let h11 = t3 - t2;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                saved[base + c] = h00 * y_at(s, c) + h10 * h * stage_at(s, 0u, c) + h01 * y_new_at(s, c) + h11 * h * f_out_at(s, c);
            }
        }
        m[s].next_save = m[s].next_save + 1u;
    }
}

// RMS of the weighted error of slot s's step just taken.
fn error_norm(s: u32, h: f32) -> f32 {
    var sum = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        var acc = 0.0;
        for (var j = 0u; j < flow.stages; j = j + 1u) {
            acc = fma(tab_e(j), stage_at(s, j, c), acc);
        }
        let scale = flow.atol + flow.rtol * max(abs(y_at(s, c)), abs(y_new_at(s, c)));
        let r = h * acc / scale;
        sum = fma(r, r, sum);
    }
    return sqrt(sum / f32(flow.aug));
}

// Hairer's initial step, first half: d0, d1 and the probe step h0 from (t0, y) with
// k[0] = f(t0, y); sets the probe's input.
var<private> init_h0: array<f32, SLOTS>;
var<private> init_d1: array<f32, SLOTS>;

fn initial_probe(s: u32, t0: f32, dir: f32) {
    var d0 = 0.0;
    var d1 = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        let sc = flow.atol + abs(y_at(s, c)) * flow.rtol;
        d0 = d0 + (y_at(s, c) / sc) * (y_at(s, c) / sc);
        d1 = d1 + (stage_at(s, 0u, c) / sc) * (stage_at(s, 0u, c) / sc);
    }
    d0 = sqrt(d0 / f32(flow.aug));
    d1 = sqrt(d1 / f32(flow.aug));
    var h0 = 0.01 * d0 / d1;
    if (d0 < 1e-5 || d1 < 1e-5) {
        h0 = 1e-6;
    }
    init_h0[s] = h0;
    init_d1[s] = d1;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        y_in_put(s, c, y_at(s, c) + dir * h0 * stage_at(s, 0u, c));
    }
    t_in[s] = t0 + dir * h0;
}

// Second half, with f_out = f(t0 + dir h0, y + dir h0 k[0]).
fn initial_step(s: u32) -> f32 {
    let h0 = init_h0[s];
    let d1 = init_d1[s];
    var d2 = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        let sc = flow.atol + abs(y_at(s, c)) * flow.rtol;
        let r = (f_out_at(s, c) - stage_at(s, 0u, c)) / sc;
        d2 = d2 + r * r;
    }
    d2 = sqrt(d2 / f32(flow.aug)) / h0;
    var h1 = max(1e-6, h0 * 1e-3);
    if (max(d1, d2) > 1e-15) {
        h1 = pow(0.01 / max(d1, d2), flow.init_exponent);
    }
    return min(100.0 * h0, h1);
}

#ifdef SHARED
// Squared norm of v scaled by atol + rtol |y|, summed over the components of slot s:
// v = y (what = 0), f_out (1) or f_out - k[0] (2).
fn scaled_square(s: u32, what: u32) -> f32 {
    var sum = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        var v = y_at(s, c);
        if (what == 1u) {
            v = f_out_at(s, c);
        } else if (what == 2u) {
            v = f_out_at(s, c) - stage_at(s, 0u, c);
        }
        let r = v / (flow.atol + abs(y_at(s, c)) * flow.rtol);
        sum = fma(r, r, sum);
    }
    return sum;
}

// Prepares this phase's evaluation; returns what the main loop does next.
fn shared_begin(dir: f32) -> u32 {
    let phase = flow.phase;
    if (phase == PHASE_ATTEMPT) {
        for (var s = 0u; s < slot_count(); s = s + 1u) {
            running[s] = present[s];
            step_t[s] = flow.shared_t;
            step_h[s] = flow.shared_h;
        }
        return NEXT_STAGE;
    }
    if (phase == PHASE_COMMIT) {
        return NEXT_DONE;
    }
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        live[s] = present[s];
        if (!present[s]) {
            continue;
        }
        if (phase == PHASE_START) {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_in_put(s, c, y_at(s, c));
                y_new_put(s, c, y_at(s, c));
            }
            save_step(s, flow.t0, dir, flow.t0, false);
            t_in[s] = flow.t0;
        } else {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_in_put(s, c, y_at(s, c) + flow.shared_h * stage_at(s, 0u, c));
            }
            t_in[s] = flow.t0 + flow.shared_h;
        }
    }
    return NEXT_SINGLE;
}

// Writes this phase's sums (and, committing, the saves and the new state).
fn shared_end(dir: f32) {
    let phase = flow.phase;
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (!present[s]) {
            continue;
        }
        let p = particle[s];
        let base = p * 2u * flow.aug;
        switch phase {
            case PHASE_START: {
                for (var c = 0u; c < flow.aug; c = c + 1u) {
                    ys[base + flow.aug + c] = f_out_at(s, c);
                }
                errs[p] = scaled_square(s, 0u);
                errs[flow.total + p] = scaled_square(s, 1u);
            }
            case PHASE_PROBE: {
                errs[p] = scaled_square(s, 2u);
                errs[flow.total + p] = 0.0;
            }
            case PHASE_ATTEMPT: {
                let h = flow.shared_h;
                var sum = 0.0;
                for (var c = 0u; c < flow.aug; c = c + 1u) {
                    var acc = 0.0;
                    for (var j = 0u; j < flow.stages; j = j + 1u) {
                        acc = fma(tab_e(j), stage_at(s, j, c), acc);
                    }
                    let r = h * acc / (flow.atol + flow.rtol * max(abs(y_at(s, c)), abs(y_new_at(s, c))));
                    sum = fma(r, r, sum);
                    cand[p * 2u * flow.aug + c] = y_new_at(s, c);
                    cand[p * 2u * flow.aug + flow.aug + c] = stage_at(s, flow.stages - 1u, c);
                }
                errs[p] = sum;
                errs[flow.total + p] = 0.0;
            }
            default: {
                let t = flow.shared_t;
                let h = flow.shared_h;
                for (var c = 0u; c < flow.aug; c = c + 1u) {
                    y_new_put(s, c, cand[p * 2u * flow.aug + c]);
                    f_out_put(s, c, cand[p * 2u * flow.aug + flow.aug + c]);
                }
                let last = dir * (flow.t1 - (t + h)) <= 0.01 * abs(h);
                save_step(s, t, h, select(t + h, flow.t1, last), true);
                for (var c = 0u; c < flow.aug; c = c + 1u) {
                    ys[base + c] = y_new_at(s, c);
                    ys[base + flow.aug + c] = f_out_at(s, c);
                }
            }
        }
    }
}
#endif

// What the main loop does next. Each pass of the loop makes at most one evaluation of
// the field for every slot, through the one call of rhs_all: shader compilers inline a
// function at each call site, and the network is most of the code.
const NEXT_START: u32 = 0u;
const NEXT_PROBE: u32 = 1u;
const NEXT_ATTEMPT: u32 = 2u;
const NEXT_STAGE: u32 = 3u;
const NEXT_FIXED_END: u32 = 4u;
const NEXT_SINGLE: u32 = 5u;
const NEXT_DONE: u32 = 6u;

// The slots whose particles have not started: their saves at t0 and the input of the
// derivative there. False when there are none.
fn prepare_start(dir: f32) -> bool {
    var starting = false;
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        running[s] = present[s] && m[s].status == STATUS_NEW;
        live[s] = running[s];
        if (running[s]) {
            starting = true;
            m[s].t = flow.t0;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_in_put(s, c, y_at(s, c));
                y_new_put(s, c, y_at(s, c));
            }
            // Saves at t0 are the initial state.
            save_step(s, flow.t0, dir, flow.t0, false);
            t_in[s] = flow.t0;
        }
    }
    return starting;
}

// The derivative at t0; for adaptive solvers, the input of Hairer's probe.
fn consume_start(dir: f32) {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (running[s]) {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                stage_put(s, 0u, c, f_out_at(s, c));
            }
            if (flow.adaptive == 1u) {
                initial_probe(s, flow.t0, dir);
            } else {
                m[s].status = STATUS_RUNNING;
            }
        }
    }
}

// Hairer's initial step from the probe's derivative.
fn consume_probe(dir: f32) {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (running[s]) {
            m[s].h = dir * initial_step(s);
            m[s].status = STATUS_RUNNING;
        }
    }
}

// Starts a step attempt of every running slot (its start, length and whether it is the
// last); false when no slot runs.
fn begin_attempt(dir: f32) -> bool {
    var any = false;
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        running[s] = present[s] && m[s].status == STATUS_RUNNING;
        if (running[s] && m[s].steps >= flow.max_steps) {
            m[s].status = STATUS_CAPPED;
            running[s] = false;
        }
        if (!running[s]) {
            continue;
        }
        any = true;
        m[s].steps = m[s].steps + 1u;
        let t = m[s].t;
        step_t[s] = t;
        if (flow.adaptive == 1u) {
            // A step that would leave less than 1% of itself before t1 is stretched to t1:
            // rounding must not leave a sliver of a step at the end.
            step_last[s] = dir * (flow.t1 - (t + m[s].h)) <= 0.01 * abs(m[s].h);
            step_h[s] = select(m[s].h, flow.t1 - t, step_last[s]);
        } else {
            let h_grid = (flow.t1 - flow.t0) / f32(flow.fixed_steps);
            step_last[s] = m[s].accepted + 1u == flow.fixed_steps;
            let t_next = select(flow.t0 + f32(m[s].accepted + 1u) * h_grid, flow.t1, step_last[s]);
            step_h[s] = t_next - t;
            step_end[s] = t_next;
        }
    }
    return any;
}

// Accepts or rejects each running slot's adaptive step and sets its next step size.
fn finish_adaptive() {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (!running[s]) {
            continue;
        }
        let t = step_t[s];
        let h = step_h[s];
        let last = step_last[s];
        let norm = error_norm(s, h);
        if (norm <= 1.0) {
            // FSAL: the last stage is the derivative at the new state.
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                f_out_put(s, c, stage_at(s, flow.stages - 1u, c));
            }
            let t_end = select(t + h, flow.t1, last);
            save_step(s, t, h, t_end, true);
            m[s].t = t_end;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_put(s, c, y_new_at(s, c));
                stage_put(s, 0u, c, f_out_at(s, c));
            }
            m[s].accepted = m[s].accepted + 1u;
            if (last) {
                m[s].status = STATUS_DONE;
            }
        } else {
            m[s].rejected = m[s].rejected + 1u;
        }
        var factor = 10.0;
        if (norm > 0.0) {
            factor = clamp(0.9 * pow(norm, -0.2), 0.2, 10.0);
        }
        m[s].h = h * factor;
    }
}

// Fixed steps: the derivative at the new state is the next step's first stage; it is
// computed unless this is the last step and no save time lies strictly inside it. Sets
// the input and `live` (whether each slot needs it); false when none does.
fn prepare_fixed_end(dir: f32) -> bool {
    var any_need = false;
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        var need = false;
        if (running[s]) {
            let t_next = step_end[s];
            var inside = false;
            if (m[s].next_save < flow.saves) {
                inside = dir * (consts[m[s].next_save] - t_next) < 0.0;
            }
            need = inside || !step_last[s];
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_in_put(s, c, y_new_at(s, c));
            }
            t_in[s] = t_next;
        }
        live[s] = need;
        any_need = any_need || need;
    }
    return any_need;
}

// Commits each running slot's fixed step (f_out holds the derivative where `live`).
fn finish_fixed() {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (!running[s]) {
            continue;
        }
        let need = live[s];
        let t = step_t[s];
        let h = step_h[s];
        let t_next = step_end[s];
        save_step(s, t, h, t_next, need);
        m[s].t = t_next;
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            y_put(s, c, y_new_at(s, c));
            if (need) {
                stage_put(s, 0u, c, f_out_at(s, c));
            }
        }
        m[s].accepted = m[s].accepted + 1u;
        if (step_last[s]) {
            m[s].status = STATUS_DONE;
        }
    }
}

// Runs the invocation's evaluations: the start, then up to flow.budget step attempts (or,
// SHARED, this phase's evaluations). Each pass of the outer loop settles the phases that
// need no evaluation, then makes one. With SUBGROUP_WEIGHTS the network's weights are
// broadcast across the subgroup, so its invocations evaluate in step: one that has
// finished rides along (its slots not live) until every invocation of the subgroup has.
fn advance(dir: f32) {
#ifdef SHARED
    var next = shared_begin(dir);
#else
    var next = NEXT_START;
#endif
    var attempts = 0u;
    var stage = 1u;
    loop {
        // Phases without an evaluation, until one needs it (or the work is done).
        loop {
            if (next == NEXT_DONE) {
                break;
            }
            if (next == NEXT_START) {
                if (!prepare_start(dir)) {
                    next = NEXT_ATTEMPT;
                    continue;
                }
            } else if (next == NEXT_ATTEMPT) {
                if (attempts == flow.budget || !begin_attempt(dir)) {
                    next = NEXT_DONE;
                    break;
                }
                attempts = attempts + 1u;
                stage = 1u;
                next = NEXT_STAGE;
                continue;
            } else if (next == NEXT_STAGE) {
                if (stage == flow.stages) {
                    combine_stages();
#ifdef SHARED
                    next = NEXT_DONE;
#else
                    if (flow.adaptive == 1u) {
                        finish_adaptive();
                        next = NEXT_ATTEMPT;
                    } else if (prepare_fixed_end(dir)) {
                        next = NEXT_FIXED_END;
                    } else {
                        finish_fixed();
                        next = NEXT_ATTEMPT;
                    }
#endif
                    if (next != NEXT_FIXED_END) {
                        continue;
                    }
                } else {
                    prepare_stage(stage);
                }
            }
            break;
        }
        let done = next == NEXT_DONE;
#ifdef SUBGROUP_WEIGHTS
        if (subgroupAll(done)) {
            break;
        }
        if (done) {
            for (var s = 0u; s < slot_count(); s = s + 1u) {
                live[s] = false;
            }
        }
#else
        if (done) {
            break;
        }
#endif
        rhs_all();
        if (next == NEXT_START) {
            consume_start(dir);
            next = select(NEXT_ATTEMPT, NEXT_PROBE, flow.adaptive == 1u);
        } else if (next == NEXT_PROBE) {
            consume_probe(dir);
            next = NEXT_ATTEMPT;
        } else if (next == NEXT_STAGE) {
            consume_stage(stage);
            stage = stage + 1u;
        } else if (next == NEXT_FIXED_END) {
            finish_fixed();
            next = NEXT_ATTEMPT;
        } else if (next != NEXT_DONE) {
            next = NEXT_DONE;
        }
    }
#ifdef SHARED
    shared_end(dir);
#endif
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
#ifdef SUBGROUP_WEIGHTS
    @builtin(subgroup_invocation_id) lane: u32,
#endif
) {
    let first = (linear_workgroup(wid, nwg) * WG + lid) * SLOTS;
#ifdef SUBGROUP_WEIGHTS
    // Invocations past the particles ride along with no slot present (the subgroup's
    // network passes need every lane).
    net_lane = lane;
#else
    if (first >= flow.count) {
        return;
    }
#endif
    let key = vec2<u32>(flow.seed_lo, flow.seed_hi);
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        present[s] = first + s < flow.count;
        live[s] = false;
        if (!present[s]) {
            // Rides along in the network passes on a copy of the first slot's input.
            particle[s] = particle[0];
            continue;
        }
#ifdef SHARED
        let p = first + s;
#else
        let p = lists[flow.read_offset + first + s];
#endif
        particle[s] = p;
        m[s] = metas[p];
        evaluations[s] = m[s].evaluations;
        cond_base[s] = flow.cond_offset;
        if (flow.pop_offset != 0u) {
            cond_base[s] = cond_base[s] + u32(consts[flow.pop_offset + p]) * flow.cond_dim;
        }
        let base = p * 2u * flow.aug;
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            y_put(s, c, ys[base + c]);
            stage_put(s, 0u, c, ys[base + flow.aug + c]);
        }
        if (flow.logp == LOGP_HUTCHINSON) {
            for (var c = 0u; c < flow.dim; c = c + 1u) {
                let words = philox4x32_10(vec4<u32>(p + flow.index_offset, c / 4u, 0x68757463u, 0u), key);
                probe_put(s, c, select(-1.0, 1.0, (words[c % 4u] & 1u) == 0u));
            }
        }
    }
    for (var s = 1u; s < slot_count(); s = s + 1u) {
        if (!present[s]) {
            cond_base[s] = cond_base[0];
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_put(s, c, y_at(0u, c));
                stage_put(s, 0u, c, stage_at(0u, 0u, c));
                y_in_put(s, c, y_at(0u, c));
            }
            t_in[s] = flow.t0;
        }
    }
    advance(sign(flow.t1 - flow.t0));
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (!present[s]) {
            continue;
        }
        let p = particle[s];
        m[s].evaluations = evaluations[s];
        metas[p] = m[s];
#ifndef SHARED
        let base = p * 2u * flow.aug;
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            ys[base + c] = y_at(s, c);
            ys[base + flow.aug + c] = stage_at(s, 0u, c);
        }
        if (m[s].status == STATUS_RUNNING) {
            let at = atomicAdd(&counter[0], 1u);
            lists[flow.write_offset + at] = p;
        }
#endif
    }
}
