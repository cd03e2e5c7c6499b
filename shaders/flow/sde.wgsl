// Advances weighted, branching particles through the SDE
//     dx = a(x, t) dt + sigma(t) dW,   a = v + sign(dt) s
// (v a velocity network, s an optional score network: drift v + s forward in time,
// -v + s backward, as SF2M defines it), with a weight per particle integrated beside x:
// d log w/dt = g(x, t) or dw/dt = g(x, t) (g a growth head). One invocation advances one
// particle of one branch through `steps` fixed steps; branch k uses its own networks.
// The CPU twin is flow::sde::reference.
//
// Schemes (additive noise): Euler-Maruyama, and Rossler's SRA1 (strong order 1.5 for
// additive noise; c0 = (0, 3/4), A21 = 3/4, alpha = (1/3, 2/3), c1 = (1, 0), B21 = 3/2,
// beta1 = (1, 0), beta2 = (-1, 1)), driven by dW = sqrt|h| xi1 and
// I10 / h = sqrt|h| (xi1 + xi2 / sqrt 3) / 2. With sigma = 0 they are Euler's method and
// Ralston's second-order Runge-Kutta method.
//
// Gaussians come from Philox keyed by the seed, counter (global particle, global step,
// branch << 16 | component pair, tag): a run does not depend on how particles are split
// into chunks or steps into dispatches, and both schemes see the same Brownian path.
//! variants: WIDTH_16|WIDTH_64|WIDTH_256|WIDTH_1024 DIM_4|DIM_64 WEIGHTS_UNIFORM|

override WG: u32 = 64u;

#import flow/sizes
#import grid
#import rng
#import activations
#import flow/mlp
#import flow/input
#import flow/field

const NO_SAVE: u32 = 0xffffffffu;
const NOISE_TAG: u32 = 0x53444531u;

struct Sde {
    // Invocations (branches x particles of this chunk), and particles of this chunk.
    count: u32,
    particles: u32,
    dim: u32,
    // dim, plus one with weights.
    aug: u32,
    // 0: Euler-Maruyama, 1: SRA1.
    solver: u32,
    // 0: no weights, 1: log-weight ODE, 2: additive weight ODE.
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
    _pad0: u32,
    t: f32,
    h: f32,
    sigma: f32,
    _pad1: f32,
}

// One network of a branch (3 per branch: velocity, score, growth); layer_count 0: absent.
struct NetRef {
    first_layer: u32,
    layer_count: u32,
    scalar: u32,
    time_pos: u32,
    emb_dim: u32,
    time_scale: f32,
    emb_period: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> sde: Sde;
@group(0) @binding(1) var<uniform> net: Network;
#ifdef WEIGHTS_UNIFORM
@group(0) @binding(2) var<uniform> weights: array<vec4<f32>, 4096>;
#else
@group(0) @binding(2) var<storage, read> weights: array<f32>;
#endif
@group(0) @binding(3) var<storage, read> nets: array<NetRef>;
// The conditioning vectors, then the particles' populations.
@group(0) @binding(4) var<storage, read> consts: array<f32>;
// Per invocation: the state (aug values).
@group(0) @binding(5) var<storage, read_write> ys: array<f32>;
// Saved states: saves x count x aug.
@group(0) @binding(6) var<storage, read_write> saved: array<f32>;

fn weight(i: u32) -> f32 {
#ifdef WEIGHTS_UNIFORM
    return weights[i >> 2u][i & 3u];
#else
    return weights[i];
#endif
}

var<private> cond_base: u32;

fn cond_value(i: u32) -> f32 {
    return consts[cond_base + i];
}

var<private> y_in: array<f32, MAX_A>;
// Drift and growth rate at y_in.
var<private> drift_out: array<f32, MAX_A>;
var<private> net_out: array<f32, MAX_A>;
var<private> rate: f32;

fn field_of(i: u32) -> FieldRef {
    let r = nets[i];
    let shape = InputLayout(sde.dim, sde.cond_dim, r.time_pos, r.emb_dim, r.time_scale, r.emb_period);
    return FieldRef(shape, r.first_layer, r.layer_count, r.scalar != 0u);
}

// drift_out = v + dir s at (y_in, t); rate = g. One network call site serves the three
// roles (velocity, score, growth), since shader compilers inline every call.
fn drift(branch: u32, t: f32, dir: f32) {
    rate = 0.0;
    for (var role = 0u; role < 3u; role = role + 1u) {
        let at = 3u * branch + role;
        if (nets[at].layer_count == 0u || (role == 2u && sde.growth == 0u)) {
            continue;
        }
        var f = field_of(at);
        // A growth head's value is its output, not a gradient.
        f.scalar = f.scalar && role != 2u;
        field_value(f, t, &net_out);
        for (var c = 0u; c < sde.dim; c = c + 1u) {
            if (role == 0u) {
                drift_out[c] = net_out[c];
            } else if (role == 1u) {
                drift_out[c] = fma(dir, net_out[c], drift_out[c]);
            }
        }
        if (role == 2u) {
            rate = net_out[0];
        }
    }
}

fn sigma_at(t: f32) -> f32 {
    if (sde.bridge == 1u) {
        return sde.sigma * sqrt(max(t * (1.0 - t), 0.0));
    }
    return sde.sigma;
}

var<private> y: array<f32, MAX_A>;
var<private> xi1: array<f32, MAX_A>;
var<private> xi2: array<f32, MAX_A>;
var<private> a1: array<f32, MAX_A>;

fn draw_noise(particle: u32, step: u32, branch: u32) {
    let key = vec2<u32>(sde.seed_lo, sde.seed_hi);
    for (var c = 0u; c < sde.dim; c = c + 2u) {
        let z = rng_normal4(key, vec4<u32>(particle, step, (branch << 16u) | (c >> 1u), NOISE_TAG));
        xi1[c] = z.x;
        xi2[c] = z.y;
        if (c + 1u < sde.dim) {
            xi1[c + 1u] = z.z;
            xi2[c + 1u] = z.w;
        }
    }
}

// One step of length h from (t, y): one drift (Euler-Maruyama) or two (SRA1), through
// one call site.
fn step(branch: u32, t: f32, h: f32) {
    let dir = sign(h);
    let root = sqrt(abs(h));
    let s_start = sigma_at(t);
    let s_end = sigma_at(t + h);
    let stages = select(1u, 2u, sde.solver == 1u);
    var rate1 = 0.0;
    for (var stage = 0u; stage < stages; stage = stage + 1u) {
        for (var c = 0u; c < sde.dim; c = c + 1u) {
            let chi = 0.5 * root * (xi1[c] + xi2[c] * 0.5773502691896258);
            y_in[c] = select(y[c], y[c] + 0.75 * h * a1[c] + 1.5 * s_end * chi, stage == 1u);
        }
        drift(branch, t + select(0.0, 0.75 * h, stage == 1u), dir);
        if (stage == 0u) {
            for (var c = 0u; c < sde.dim; c = c + 1u) {
                a1[c] = drift_out[c];
            }
            rate1 = rate;
        }
    }
    let wc = sde.dim;
    if (sde.solver == 0u) {
        for (var c = 0u; c < sde.dim; c = c + 1u) {
            y[c] = y[c] + h * a1[c] + s_start * root * xi1[c];
        }
        if (sde.growth != 0u) {
            y[wc] = fma(h, rate1, y[wc]);
        }
        return;
    }
    for (var c = 0u; c < sde.dim; c = c + 1u) {
        let chi = 0.5 * root * (xi1[c] + xi2[c] * 0.5773502691896258);
        let dw = root * xi1[c];
        let deterministic = h * (a1[c] / 3.0 + 2.0 * drift_out[c] / 3.0);
        y[c] = y[c] + deterministic + s_end * (dw - chi) + s_start * chi;
    }
    if (sde.growth != 0u) {
        y[wc] = y[wc] + h * (rate1 / 3.0 + 2.0 * rate / 3.0);
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
    let branch = i / sde.particles;
    let p = i % sde.particles;
    cond_base = 0u;
    if (sde.pop_offset != 0u) {
        cond_base = u32(consts[sde.pop_offset + p]) * sde.cond_dim;
    }
    let base = i * sde.aug;
    for (var c = 0u; c < sde.aug; c = c + 1u) {
        y[c] = ys[base + c];
    }
    for (var s = 0u; s < sde.steps; s = s + 1u) {
        draw_noise(sde.index_offset + p, sde.step_index + s, branch);
        step(branch, sde.t + f32(s) * sde.h, sde.h);
    }
    for (var c = 0u; c < sde.aug; c = c + 1u) {
        ys[base + c] = y[c];
    }
    if (sde.save_slot != NO_SAVE) {
        let at = (sde.save_slot * sde.count + i) * sde.aug;
        for (var c = 0u; c < sde.aug; c = c + 1u) {
            saved[at + c] = y[c];
        }
    }
}
