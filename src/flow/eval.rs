//! The network in f64 on the CPU: forward pass, forward-mode tangents, divergence. The
//! twin of the network code the flow kernels are generated with (`flow::network_kernel`).

use crate::flow::model::{TimeInput, VelocityField};

/// The network's input for state x at time t with conditioning c: [x, c, τ(t)] or
/// [τ(t), x, c], where τ(t) is t · time_scale or its sinusoidal embedding
/// [cos(s f_k), sin(s f_k)], f_k = P^(−k/(K/2)), s = t · time_scale.
pub fn network_input(field: &VelocityField, x: &[f64], t: f64, c: &[f64]) -> Vec<f64> {
    let s = t * f64::from(field.time_scale);
    let time: Vec<f64> = match (field.time, field.time_embedding) {
        (TimeInput::None, _) => Vec::new(),
        (_, None) => vec![s],
        (_, Some((k, period))) => {
            let half = k / 2;
            let freq = |i: usize| (-(f64::from(period)).ln() * i as f64 / half as f64).exp();
            (0..half)
                .map(|i| (s * freq(i)).cos())
                .chain((0..half).map(|i| (s * freq(i)).sin()))
                .collect()
        }
    };
    let mut input = Vec::with_capacity(field.input_width());
    if field.time == TimeInput::First {
        input.extend(&time);
    }
    input.extend_from_slice(x);
    input.extend_from_slice(c);
    if field.time == TimeInput::Last {
        input.extend(&time);
    }
    input
}

/// The network's output at (x, t, c), and with `tangent` (a direction in x) also its
/// directional derivative J_x · tangent.
pub fn eval_with_tangent(
    field: &VelocityField,
    x: &[f64],
    t: f64,
    c: &[f64],
    tangent: Option<&[f64]>,
) -> (Vec<f64>, Vec<f64>) {
    let mut h = network_input(field, x, t, c);
    // The tangent of the input: zero on time and conditioning.
    let offset = if field.time == TimeInput::First {
        h.len() - x.len() - c.len()
    } else {
        0
    };
    let mut dh = vec![0.0; h.len()];
    if let Some(v) = tangent {
        dh[offset..offset + x.len()].copy_from_slice(v);
    }
    let last = field.layers.len() - 1;
    for (l, layer) in field.layers.iter().enumerate() {
        let activation = if l == last {
            field.output_activation
        } else {
            field.activation
        };
        let residual = field.residual && l > 0 && l < last && layer.inputs == layer.outputs;
        let mut out = Vec::with_capacity(layer.outputs);
        let mut dout = Vec::with_capacity(layer.outputs);
        for o in 0..layer.outputs {
            let row = &layer.weight[o * layer.inputs..(o + 1) * layer.inputs];
            let z = f64::from(layer.bias[o])
                + row
                    .iter()
                    .zip(&h)
                    .map(|(&w, &v)| f64::from(w) * v)
                    .sum::<f64>();
            let dz: f64 = row.iter().zip(&dh).map(|(&w, &v)| f64::from(w) * v).sum();
            let (mut y, mut dy) = (activation.apply(z), activation.derivative(z) * dz);
            if residual {
                y += h[o];
                dy += dh[o];
            }
            out.push(y);
            dout.push(dy);
        }
        h = out;
        dh = dout;
    }
    (h, dh)
}

/// v(x, t, c): the network's output, or for a scalar network the gradient ∇ₓ s from d
/// forward tangents (as the kernels compute it).
pub fn eval(field: &VelocityField, x: &[f64], t: f64, c: &[f64]) -> Vec<f64> {
    if !field.scalar {
        return eval_with_tangent(field, x, t, c, None).0;
    }
    let mut e = vec![0.0; x.len()];
    (0..x.len())
        .map(|k| {
            e[k] = 1.0;
            let ds = eval_with_tangent(field, x, t, c, Some(&e)).1[0];
            e[k] = 0.0;
            ds
        })
        .collect()
}

/// The step of the central difference along coordinate k: `step` · max(1, |x_k|).
pub fn central_step(step: f64, x: f64) -> f64 {
    step * x.abs().max(1.0)
}

/// v and the divergence by central differences of v along each coordinate,
/// Σ_k (v_k(x + δ_k e_k) − v_k(x − δ_k e_k)) / 2δ_k: forward evaluations only (2d + 1),
/// for any field, scalar ones included.
pub fn eval_divergence_central(
    field: &VelocityField,
    x: &[f64],
    t: f64,
    c: &[f64],
    step: f64,
) -> (Vec<f64>, f64) {
    let v = eval(field, x, t, c);
    let mut shifted = x.to_vec();
    let mut div = 0.0;
    for k in 0..x.len() {
        let delta = central_step(step, x[k]);
        shifted[k] = x[k] + delta;
        let up = eval(field, &shifted, t, c)[k];
        shifted[k] = x[k] - delta;
        let down = eval(field, &shifted, t, c)[k];
        shifted[k] = x[k];
        div += (up - down) / (2.0 * delta);
    }
    (v, div)
}

/// v and its exact divergence Σ_k ∂v_k/∂x_k (d tangents).
pub fn eval_divergence_exact(
    field: &VelocityField,
    x: &[f64],
    t: f64,
    c: &[f64],
) -> (Vec<f64>, f64) {
    let v = eval(field, x, t, c);
    let mut e = vec![0.0; x.len()];
    let mut div = 0.0;
    for k in 0..x.len() {
        e[k] = 1.0;
        div += eval_with_tangent(field, x, t, c, Some(&e)).1[k];
        e[k] = 0.0;
    }
    (v, div)
}

/// v and Hutchinson's estimate εᵀ J ε of the divergence with probe ε.
pub fn eval_divergence_hutchinson(
    field: &VelocityField,
    x: &[f64],
    t: f64,
    c: &[f64],
    probe: &[f64],
) -> (Vec<f64>, f64) {
    let (v, jv) = eval_with_tangent(field, x, t, c, Some(probe));
    let div = probe.iter().zip(&jv).map(|(a, b)| a * b).sum();
    (v, div)
}
