// Advances weighted, branching particles through the SDE
//     dx = a(x, t) dt + sigma(t) dW,   a = v + sign(dt) s
// (v a velocity network, s an optional score network: drift v + s forward in time,
// -v + s backward, as SF2M defines it), with a weight per particle integrated beside x:
// d log w/dt = g(x, t) or dw/dt = g(x, t) (g a growth head). A dispatch advances the
// particles of one branch through `steps` fixed steps, SLOTS particles per invocation:
// the branch's networks are generated for their shapes (flow/roles), so every weight
// load serves SLOTS particles and the weights' offsets are uniform. The CPU twin is
// flow::sde::reference.
//
// Schemes (additive noise): Euler-Maruyama, and Rossler's SRA1 (strong order 1.5 for
// additive noise; c0 = (0, 3/4), A21 = 3/4, alpha = (1/3, 2/3), c1 = (1, 0), B21 = 3/2,
// beta1 = (1, 0), beta2 = (-1, 1)), driven by dW = sqrt|h| xi1 and
// I10 / h = sqrt|h| (xi1 + xi2 / sqrt 3) / 2. With sigma = 0 they are Euler's method and
// Ralston's second-order Runge-Kutta method.
//
// Gaussians come from Philox keyed by the seed, counter (global particle, global step,
// branch << 16 | component pair, tag): a run does not depend on how particles are split
// into chunks, slots or dispatches, and both schemes see the same Brownian path.
//! variants: DIM_4|DIM_16|DIM_64 WEIGHTS_UNIFORM|
//! generated: flow/roles
//! generated: flow/sde_state

override WG: u32 = 64u;

#import flow/sizes
#import flow/codes
#import grid
#import rng
#import activations
#import flow/roles
#import flow/sde_state
#import flow/slot_input

const NO_SAVE: u32 = 0xffffffffu;
const NOISE_TAG: u32 = 0x53444531u;

// One network of the branch: velocity, score or growth.
struct Role {
    // Offset of the network's weights in `weights`.
    weight_base: u32,
    present: u32,
    // 1: the network is a scalar potential and its field the gradient.
    gradient: u32,
    time_pos: u32,
    emb_dim: u32,
    time_scale: f32,
    emb_period: f32,
    _pad: u32,
}

struct Sde {
    // Invocations of this dispatch, the chunk's particles per branch, and the rows of the
    // state (branches x particles).
    count: u32,
    particles: u32,
    rows: u32,
    dim: u32,
    // dim, plus one with weights.
    aug: u32,
    // SDE_* of flow/codes.
    solver: u32,
    // GROWTH_* of flow/codes (none: no weights).
    growth: u32,
    // 0: sigma(t) = sigma, 1: sigma sqrt(t (1 - t)).
    bridge: u32,
    steps: u32,
    // Global index of this dispatch's first step.
    step_index: u32,
    // Save slot written after the steps, or NO_SAVE.
    save_slot: u32,
    seed_lo: u32,
    seed_hi: u32,
    // Global index of this chunk's first particle.
    index_offset: u32,
    cond_dim: u32,
    // Offset of the particles' population indices (as floats) in `consts`; 0: one.
    pop_offset: u32,
    branch: u32,
    // Particles per invocation (SLOTS, read from here so slot loops stay loops).
    slots: u32,
    t: f32,
    h: f32,
    sigma: f32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
    roles: array<Role, 3>,
}

@group(0) @binding(0) var<uniform> sde: Sde;
#ifdef WEIGHTS_UNIFORM
@group(0) @binding(1) var<uniform> weights: array<vec4<f32>, 4096>;
#else
@group(0) @binding(1) var<storage, read> weights: array<f32>;
#endif
// The conditioning vectors, then the particles' populations.
@group(0) @binding(2) var<storage, read> consts: array<f32>;
// Per particle of each branch: the state (aug values).
@group(0) @binding(3) var<storage, read_write> ys: array<f32>;
// Saved states: saves x rows x aug.
@group(0) @binding(4) var<storage, read_write> saved: array<f32>;

fn weight_at(i: u32) -> f32 {
#ifdef WEIGHTS_UNIFORM
    return weights[i >> 2u][i & 3u];
#else
    return weights[i];
#endif
}

fn weight_0(i: u32) -> f32 {
    return weight_at(sde.roles[0].weight_base + i);
}

fn weight_1(i: u32) -> f32 {
    return weight_at(sde.roles[1].weight_base + i);
}

fn weight_2(i: u32) -> f32 {
    return weight_at(sde.roles[2].weight_base + i);
}

var<private> cond_base: array<u32, SLOTS>;

fn slot_count() -> u32 {
    return sde.slots;
}

fn cond_value(s: u32, i: u32) -> f32 {
    return consts[cond_base[s] + i];
}

// Each slot's time, and growth rate at its network input (the input y_in, its drift
// drift_out, the state y, the noise xi1 and xi2 and the first stage's drift a1 are rows
// of flow/sde_state, one per slot).
var<private> t_in: array<f32, SLOTS>;
var<private> rate: array<f32, SLOTS>;

fn layout_of(r: u32) -> InputLayout {
    let role = sde.roles[r];
    return InputLayout(sde.dim, sde.cond_dim, role.time_pos, role.emb_dim, role.time_scale, role.emb_period);
}

// One pass of role r's network over every slot; with `tangent`, also the derivative
// along coordinate `unit` of x (into tan). Each generated network has this one call site.
fn role_pass(r: u32, tangent: bool, unit: u32) {
    let x_off = load_inputs(layout_of(r));
    if (tangent) {
        for (var s = 0u; s < slot_count(); s = s + 1u) {
            tan_put(s, x_off + unit, 1.0);
        }
    }
    switch r {
        case 0u: {
            if (tangent) {
                net_tangent_0();
            } else {
                net_forward_0();
            }
        }
        case 1u: {
            if (tangent) {
                net_tangent_1();
            } else {
                net_forward_1();
            }
        }
        default: {
            net_forward_2();
        }
    }
}

// drift_out = v + dir s at (y_in, t); rate = g.
fn drift(t: f32, dir: f32) {
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        rate[s] = 0.0;
        t_in[s] = t;
    }
    for (var r = 0u; r < 3u; r = r + 1u) {
        if (sde.roles[r].present == 0u || (r == 2u && sde.growth == GROWTH_NONE)) {
            continue;
        }
        // A growth head's value is its output, not a gradient.
        let gradient = sde.roles[r].gradient != 0u && r != 2u;
        let passes = select(1u, sde.dim, gradient);
        for (var k = 0u; k < passes; k = k + 1u) {
            role_pass(r, gradient, k);
            let first = select(0u, k, gradient);
            let last = select(sde.dim, k + 1u, gradient);
            for (var s = 0u; s < slot_count(); s = s + 1u) {
                if (r == 2u) {
                    rate[s] = act_at(s, 0);
                    continue;
                }
                for (var c = first; c < last; c = c + 1u) {
                    let value = select(act_at(s, c), tan_at(s, 0), gradient);
                    if (r == 0u) {
                        drift_out_put(s, c, value);
                    } else {
                        drift_out_put(s, c, fma(dir, value, drift_out_at(s, c)));
                    }
                }
            }
        }
    }
}

fn sigma_at(t: f32) -> f32 {
    if (sde.bridge == 1u) {
        return sde.sigma * sqrt(max(t * (1.0 - t), 0.0));
    }
    return sde.sigma;
}

var<private> rate1: array<f32, SLOTS>;
// Chunk index of each slot's particle.
var<private> particle: array<u32, SLOTS>;

fn draw_noise(step: u32) {
    let key = vec2<u32>(sde.seed_lo, sde.seed_hi);
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        let global = sde.index_offset + particle[s];
        for (var c = 0u; c < sde.dim; c = c + 2u) {
            let counter = vec4<u32>(global, step, (sde.branch << 16u) | (c >> 1u), NOISE_TAG);
            let z = rng_normal4(key, counter);
            xi1_put(s, c, z.x);
            xi2_put(s, c, z.y);
            if (c + 1u < sde.dim) {
                xi1_put(s, c + 1u, z.z);
                xi2_put(s, c + 1u, z.w);
            }
        }
    }
}

// One step of length h from (t, y): one drift (Euler-Maruyama) or two (SRA1), through
// one call site.
fn step(t: f32, h: f32) {
    let dir = sign(h);
    let root = sqrt(abs(h));
    let s_start = sigma_at(t);
    let s_end = sigma_at(t + h);
    let stages = select(1u, 2u, sde.solver == SDE_SRA1);
    for (var stage = 0u; stage < stages; stage = stage + 1u) {
        for (var s = 0u; s < slot_count(); s = s + 1u) {
            for (var c = 0u; c < sde.dim; c = c + 1u) {
                let chi = 0.5 * root * (xi1_at(s, c) + xi2_at(s, c) * 0.5773502691896258);
                let later = y_at(s, c) + 0.75 * h * a1_at(s, c) + 1.5 * s_end * chi;
                y_in_put(s, c, select(y_at(s, c), later, stage == 1u));
            }
        }
        drift(t + select(0.0, 0.75 * h, stage == 1u), dir);
        if (stage == 0u) {
            for (var s = 0u; s < slot_count(); s = s + 1u) {
                for (var c = 0u; c < sde.dim; c = c + 1u) {
                    a1_put(s, c, drift_out_at(s, c));
                }
                rate1[s] = rate[s];
            }
        }
    }
    let wc = sde.dim;
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (sde.solver == SDE_EULER_MARUYAMA) {
            for (var c = 0u; c < sde.dim; c = c + 1u) {
                y_put(s, c, y_at(s, c) + h * a1_at(s, c) + s_start * root * xi1_at(s, c));
            }
            if (sde.growth != GROWTH_NONE) {
                y_put(s, wc, fma(h, rate1[s], y_at(s, wc)));
            }
            continue;
        }
        for (var c = 0u; c < sde.dim; c = c + 1u) {
            let chi = 0.5 * root * (xi1_at(s, c) + xi2_at(s, c) * 0.5773502691896258);
            let dw = root * xi1_at(s, c);
            let deterministic = h * (a1_at(s, c) / 3.0 + 2.0 * drift_out_at(s, c) / 3.0);
            y_put(s, c, y_at(s, c) + deterministic + s_end * (dw - chi) + s_start * chi);
        }
        if (sde.growth != GROWTH_NONE) {
            y_put(s, wc, y_at(s, wc) + h * (rate1[s] / 3.0 + 2.0 * rate[s] / 3.0));
        }
    }
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    if (i >= sde.count) {
        return;
    }
    let row0 = sde.branch * sde.particles;
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        // Slots past the last particle repeat it and write nothing.
        let p = min(i * sde.slots + s, sde.particles - 1u);
        particle[s] = p;
        cond_base[s] = 0u;
        if (sde.pop_offset != 0u) {
            cond_base[s] = u32(consts[sde.pop_offset + p]) * sde.cond_dim;
        }
        let base = (row0 + p) * sde.aug;
        for (var c = 0u; c < sde.aug; c = c + 1u) {
            y_put(s, c, ys[base + c]);
        }
    }
    for (var k = 0u; k < sde.steps; k = k + 1u) {
        draw_noise(sde.step_index + k);
        step(sde.t + f32(k) * sde.h, sde.h);
    }
    for (var s = 0u; s < slot_count(); s = s + 1u) {
        if (i * sde.slots + s >= sde.particles) {
            break;
        }
        let row = row0 + particle[s];
        for (var c = 0u; c < sde.aug; c = c + 1u) {
            ys[row * sde.aug + c] = y_at(s, c);
        }
        if (sde.save_slot != NO_SAVE) {
            let at = (sde.save_slot * sde.rows + row) * sde.aug;
            for (var c = 0u; c < sde.aug; c = c + 1u) {
                saved[at + c] = y_at(s, c);
            }
        }
    }
}
