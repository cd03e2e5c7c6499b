// Advances particles through dx/dt = v(x, t, c) by explicit Runge-Kutta steps, the
// network evaluated in place (flow/mlp.wgsl), one particle per invocation, up to
// `flow.budget` step attempts per dispatch. The CPU twin is flow::reference.
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
// (2d forward evaluations, for any field). A scalar network's field is its gradient
// (flow/field.wgsl). Each particle reads the conditioning vector of its population.
//
// Particles still running are appended to the next active list; finished ones cost
// nothing in later dispatches.
//
// SHARED: one step size for the whole batch (torchdiffeq's behaviour, for comparison).
// Each dispatch runs one phase for every particle and leaves per-particle sums that the
// host reduces to decide: 0 start (derivative at t0; norms of y and f for the initial
// step), 1 probe step of the initial step, 2 attempt (candidate state and squared scaled
// error), 3 commit (saves and the new state).
//! variants: WIDTH_16|WIDTH_64|WIDTH_256|WIDTH_1024 DIM_4|DIM_64 WEIGHTS_UNIFORM| SHARED|

override WG: u32 = 64u;

const MAX_STAGES: u32 = 7u;

#import flow/sizes
#import grid
#import rng
#import activations
#import flow/mlp
#import flow/input
#import flow/field

struct Flow {
    // Particles in this dispatch's active list, and in all.
    count: u32,
    total: u32,
    dim: u32,
    // dim, plus one with a log-density.
    aug: u32,
    cond_dim: u32,
    // 0: t last, 1: t first, 2: no t.
    time_pos: u32,
    // Width of the sinusoidal time embedding (0: raw t).
    emb_dim: u32,
    // 0: off, 1: exact divergence, 2: Hutchinson, 3: central differences.
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
    _pad0: u32,
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
    // 0: not started, 1: running, 2: done, 3: hit the step cap.
    status: u32,
}

@group(0) @binding(0) var<uniform> flow: Flow;
@group(0) @binding(1) var<uniform> net: Network;
#ifdef WEIGHTS_UNIFORM
@group(0) @binding(2) var<uniform> weights: array<vec4<f32>, 4096>;
#else
@group(0) @binding(2) var<storage, read> weights: array<f32>;
#endif
// Save times, the conditioning vectors, then the particles' populations.
@group(0) @binding(3) var<storage, read> consts: array<f32>;
// Per particle: the state (aug values), then its derivative at the state (aug values).
@group(0) @binding(4) var<storage, read_write> ys: array<f32>;
@group(0) @binding(5) var<storage, read_write> metas: array<Meta>;
// Saved states: saves x total x aug.
@group(0) @binding(6) var<storage, read_write> saved: array<f32>;
#ifdef SHARED
// Two sums per particle (at p and total + p), reduced by the host.
@group(0) @binding(7) var<storage, read_write> errs: array<f32>;
// Candidate state and its derivative per particle (2 aug values).
@group(0) @binding(8) var<storage, read_write> cand: array<f32>;
#else
// Active particle lists (read at read_offset, appended at write_offset).
@group(0) @binding(7) var<storage, read_write> lists: array<u32>;
@group(0) @binding(8) var<storage, read_write> counter: array<atomic<u32>>;
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

// Stage input and output of rhs().
var<private> y_in: array<f32, MAX_A>;
var<private> f_out: array<f32, MAX_A>;
var<private> probe: array<f32, MAX_A>;
var<private> evaluations: u32;

// Where this particle's conditioning vector starts in consts.
var<private> cond_base: u32;

fn cond_value(i: u32) -> f32 {
    return consts[cond_base + i];
}

fn field_ref() -> FieldRef {
    let shape = InputLayout(flow.dim, flow.cond_dim, flow.time_pos, flow.emb_dim, flow.time_scale, flow.emb_period);
    return FieldRef(shape, 0u, net.layer_count, net.scalar != 0u);
}

// Writes the network input for state y_in at time t into act (tan zeroed), and returns
// the offset of x inside it.
fn load_input(t: f32) -> u32 {
    return load_input_with(field_ref().shape, t);
}

// f_out = [v(y_in, t), -div v] (the last entry only with a log-density).
fn rhs(t: f32) {
    evaluations = evaluations + 1u;
    if (flow.logp == 0u || flow.logp == 3u) {
        field_value(field_ref(), t, &f_out);
        if (flow.logp == 3u) {
            f_out[flow.dim] = -central_divergence(field_ref(), t, flow.fd_step);
        }
        return;
    }
    // Tangent passes through one call site: d unit vectors (exact) or the probe.
    var div = 0.0;
    let passes = select(1u, flow.dim, flow.logp == 1u);
    for (var k = 0u; k < passes; k = k + 1u) {
        let x_off = load_input(t);
        for (var c = 0u; c < flow.dim; c = c + 1u) {
            tan[x_off + c] = select(probe[c], select(0.0, 1.0, c == k), flow.logp == 1u);
        }
        mlp_run(true);
        if (flow.logp == 1u) {
            div = div + tan[k];
        } else {
            for (var c = 0u; c < flow.dim; c = c + 1u) {
                div = div + probe[c] * tan[c];
            }
        }
    }
    for (var i = 0u; i < flow.dim; i = i + 1u) {
        f_out[i] = act[i];
    }
    f_out[flow.dim] = -div;
}

var<private> y: array<f32, MAX_A>;
var<private> k: array<array<f32, MAX_A>, MAX_STAGES>;
var<private> y_new: array<f32, MAX_A>;

// Stages 1.. of a step of length h from (t, y) with k[0] set.
fn stages(t: f32, h: f32) {
    for (var i = 1u; i < flow.stages; i = i + 1u) {
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            var acc = 0.0;
            for (var j = 0u; j < i; j = j + 1u) {
                acc = fma(tab_a(i, j), k[j][c], acc);
            }
            y_in[c] = fma(h, acc, y[c]);
        }
        rhs(t + tab_c(i) * h);
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            k[i][c] = f_out[c];
        }
    }
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        var acc = 0.0;
        for (var j = 0u; j < flow.stages; j = j + 1u) {
            acc = fma(tab_b(j), k[j][c], acc);
        }
        y_new[c] = fma(h, acc, y[c]);
    }
}

// Writes the save times that fall in the step (t, t + h]: y_new at its end, else the
// Hermite interpolant with end derivatives k[0] and f_out.
fn save_step(p: u32, m: ptr<function, Meta>, t: f32, h: f32, t_end: f32, with_end_slope: bool) {
    let dir = sign(h);
    loop {
        if ((*m).next_save >= flow.saves) {
            break;
        }
        let ts = consts[(*m).next_save];
        if (dir * (ts - t_end) > 0.0) {
            break;
        }
        let theta = (ts - t) / h;
        let base = ((*m).next_save * flow.total + p) * flow.aug;
        if (theta >= 1.0 || !with_end_slope) {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                saved[base + c] = y_new[c];
            }
        } else {
            let t2 = theta * theta;
            let t3 = t2 * theta;
            let h00 = 2.0 * t3 - 3.0 * t2 + 1.0;
            let h10 = t3 - 2.0 * t2 + theta;
            let h01 = -2.0 * t3 + 3.0 * t2;
            let h11 = t3 - t2;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                saved[base + c] = h00 * y[c] + h10 * h * k[0][c] + h01 * y_new[c] + h11 * h * f_out[c];
            }
        }
        (*m).next_save = (*m).next_save + 1u;
    }
}

// RMS of the weighted error of the step just taken.
fn error_norm(h: f32) -> f32 {
    var sum = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        var acc = 0.0;
        for (var j = 0u; j < flow.stages; j = j + 1u) {
            acc = fma(tab_e(j), k[j][c], acc);
        }
        let scale = flow.atol + flow.rtol * max(abs(y[c]), abs(y_new[c]));
        let r = h * acc / scale;
        sum = fma(r, r, sum);
    }
    return sqrt(sum / f32(flow.aug));
}

// Hairer's initial step from (t0, y) with k[0] = f(t0, y).
fn initial_step(t0: f32, dir: f32) -> f32 {
    var d0 = 0.0;
    var d1 = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        let s = flow.atol + abs(y[c]) * flow.rtol;
        d0 = d0 + (y[c] / s) * (y[c] / s);
        d1 = d1 + (k[0][c] / s) * (k[0][c] / s);
    }
    d0 = sqrt(d0 / f32(flow.aug));
    d1 = sqrt(d1 / f32(flow.aug));
    var h0 = 0.01 * d0 / d1;
    if (d0 < 1e-5 || d1 < 1e-5) {
        h0 = 1e-6;
    }
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        y_in[c] = y[c] + dir * h0 * k[0][c];
    }
    rhs(t0 + dir * h0);
    var d2 = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        let s = flow.atol + abs(y[c]) * flow.rtol;
        let r = (f_out[c] - k[0][c]) / s;
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
// Squared norm of v scaled by atol + rtol |y|, summed over the components.
fn scaled_square(v: ptr<private, array<f32, MAX_A>>) -> f32 {
    var sum = 0.0;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        let r = (*v)[c] / (flow.atol + abs(y[c]) * flow.rtol);
        sum = fma(r, r, sum);
    }
    return sum;
}

fn shared_phase(p: u32, m: ptr<function, Meta>, base: u32, dir: f32) {
    switch flow.phase {
        case 0u: {
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_in[c] = y[c];
                y_new[c] = y[c];
            }
            save_step(p, m, flow.t0, dir, flow.t0, false);
            rhs(flow.t0);
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                ys[base + flow.aug + c] = f_out[c];
            }
            errs[p] = scaled_square(&y);
            errs[flow.total + p] = scaled_square(&f_out);
        }
        case 1u: {
            let h0 = flow.shared_h;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_in[c] = y[c] + h0 * k[0][c];
            }
            rhs(flow.t0 + h0);
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                f_out[c] = f_out[c] - k[0][c];
            }
            errs[p] = scaled_square(&f_out);
            errs[flow.total + p] = 0.0;
        }
        case 2u: {
            let h = flow.shared_h;
            stages(flow.shared_t, h);
            var sum = 0.0;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                var acc = 0.0;
                for (var j = 0u; j < flow.stages; j = j + 1u) {
                    acc = fma(tab_e(j), k[j][c], acc);
                }
                let r = h * acc / (flow.atol + flow.rtol * max(abs(y[c]), abs(y_new[c])));
                sum = fma(r, r, sum);
                cand[p * 2u * flow.aug + c] = y_new[c];
                cand[p * 2u * flow.aug + flow.aug + c] = k[flow.stages - 1u][c];
            }
            errs[p] = sum;
            errs[flow.total + p] = 0.0;
        }
        default: {
            let t = flow.shared_t;
            let h = flow.shared_h;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y_new[c] = cand[p * 2u * flow.aug + c];
                f_out[c] = cand[p * 2u * flow.aug + flow.aug + c];
            }
            let last = dir * (flow.t1 - (t + h)) <= 0.01 * abs(h);
            save_step(p, m, t, h, select(t + h, flow.t1, last), true);
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                ys[base + c] = y_new[c];
                ys[base + flow.aug + c] = f_out[c];
            }
        }
    }
}
#endif

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let slot = linear_workgroup(wid, nwg) * WG + lid;
    if (slot >= flow.count) {
        return;
    }
#ifdef SHARED
    let p = slot;
#else
    let p = lists[flow.read_offset + slot];
#endif
    var m = metas[p];
    evaluations = m.evaluations;
    cond_base = flow.cond_offset;
    if (flow.pop_offset != 0u) {
        cond_base = cond_base + u32(consts[flow.pop_offset + p]) * flow.cond_dim;
    }
    let base = p * 2u * flow.aug;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        y[c] = ys[base + c];
        k[0][c] = ys[base + flow.aug + c];
    }
    if (flow.logp == 2u) {
        let key = vec2<u32>(flow.seed_lo, flow.seed_hi);
        for (var c = 0u; c < flow.dim; c = c + 1u) {
            let words = philox4x32_10(vec4<u32>(p + flow.index_offset, c / 4u, 0x68757463u, 0u), key);
            probe[c] = select(-1.0, 1.0, (words[c % 4u] & 1u) == 0u);
        }
    }
    let dir = sign(flow.t1 - flow.t0);
#ifdef SHARED
    shared_phase(p, &m, base, dir);
    m.evaluations = evaluations;
    metas[p] = m;
    return;
#endif
    if (m.status == 0u) {
        m.t = flow.t0;
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            y_in[c] = y[c];
            y_new[c] = y[c];
        }
        // Saves at t0 are the initial state.
        save_step(p, &m, flow.t0, dir, flow.t0, false);
        rhs(flow.t0);
        for (var c = 0u; c < flow.aug; c = c + 1u) {
            k[0][c] = f_out[c];
        }
        if (flow.adaptive == 1u) {
            m.h = dir * initial_step(flow.t0, dir);
        }
        m.status = 1u;
    }
    var budget = flow.budget;
    loop {
        if (m.status != 1u || budget == 0u) {
            break;
        }
        budget = budget - 1u;
        if (m.steps >= flow.max_steps) {
            m.status = 3u;
            break;
        }
        m.steps = m.steps + 1u;
        let t = m.t;
        if (flow.adaptive == 1u) {
            // A step that would leave less than 1% of itself before t1 is stretched to t1:
            // rounding must not leave a sliver of a step at the end.
            let last = dir * (flow.t1 - (t + m.h)) <= 0.01 * abs(m.h);
            let h = select(m.h, flow.t1 - t, last);
            stages(t, h);
            let norm = error_norm(h);
            if (norm <= 1.0) {
                // FSAL: the last stage is the derivative at the new state.
                for (var c = 0u; c < flow.aug; c = c + 1u) {
                    f_out[c] = k[flow.stages - 1u][c];
                }
                let t_end = select(t + h, flow.t1, last);
                save_step(p, &m, t, h, t_end, true);
                m.t = t_end;
                for (var c = 0u; c < flow.aug; c = c + 1u) {
                    y[c] = y_new[c];
                    k[0][c] = f_out[c];
                }
                m.accepted = m.accepted + 1u;
                if (last) {
                    m.status = 2u;
                }
            } else {
                m.rejected = m.rejected + 1u;
            }
            var factor = 10.0;
            if (norm > 0.0) {
                factor = clamp(0.9 * pow(norm, -0.2), 0.2, 10.0);
            }
            m.h = h * factor;
        } else {
            let s = m.accepted;
            let h_grid = (flow.t1 - flow.t0) / f32(flow.fixed_steps);
            let last = s + 1u == flow.fixed_steps;
            let t_next = select(flow.t0 + f32(s + 1u) * h_grid, flow.t1, last);
            let h = t_next - t;
            stages(t, h);
            // The derivative at the new state is the next step's first stage; compute it
            // now unless this is the last step and no save time lies strictly inside it.
            var inside = false;
            if (m.next_save < flow.saves) {
                inside = dir * (consts[m.next_save] - t_next) < 0.0;
            }
            let need = inside || !last;
            if (need) {
                for (var c = 0u; c < flow.aug; c = c + 1u) {
                    y_in[c] = y_new[c];
                }
                rhs(t_next);
            }
            save_step(p, &m, t, h, t_next, need);
            m.t = t_next;
            for (var c = 0u; c < flow.aug; c = c + 1u) {
                y[c] = y_new[c];
                if (need) {
                    k[0][c] = f_out[c];
                }
            }
            m.accepted = m.accepted + 1u;
            if (last) {
                m.status = 2u;
            }
        }
    }
    m.evaluations = evaluations;
    metas[p] = m;
    for (var c = 0u; c < flow.aug; c = c + 1u) {
        ys[base + c] = y[c];
        ys[base + flow.aug + c] = k[0][c];
    }
#ifndef SHARED
    if (m.status == 1u) {
        let at = atomicAdd(&counter[0], 1u);
        lists[flow.write_offset + at] = p;
    }
#endif
}
