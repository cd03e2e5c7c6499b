// Activations with PyTorch's constants, by code (flow::codes mirrors the ACT_ names):
// SELU, ELU, SiLU, ReLU, tanh, GELU (erf form), softplus (linear above 20), identity,
// square (x², for analytic potentials); and their derivatives, for forward-mode tangents.

const ACT_SELU: u32 = 0u;
const ACT_ELU: u32 = 1u;
const ACT_SILU: u32 = 2u;
const ACT_RELU: u32 = 3u;
const ACT_TANH: u32 = 4u;
const ACT_GELU: u32 = 5u;
const ACT_SOFTPLUS: u32 = 6u;
const ACT_IDENTITY: u32 = 7u;
const ACT_SQUARE: u32 = 8u;

const SELU_SCALE: f32 = 1.0507009873554805;
const SELU_ALPHA: f32 = 1.6732632423543772;

// erf with |error| < 1.5e-7 (Abramowitz & Stegun 7.1.26).
fn erf_approx(x: f32) -> f32 {
    let t = 1.0 / (1.0 + 0.3275911 * abs(x));
    let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
    let y = 1.0 - poly * exp(-x * x);
    return select(-y, y, x >= 0.0);
}

fn activate(code: u32, x: f32) -> f32 {
    switch code {
        case ACT_SELU: {
            return select(SELU_SCALE * SELU_ALPHA * (exp(x) - 1.0), SELU_SCALE * x, x > 0.0);
        }
        case ACT_ELU: {
            return select(exp(x) - 1.0, x, x > 0.0);
        }
        case ACT_SILU: {
            return x / (1.0 + exp(-x));
        }
        case ACT_RELU: {
            return max(x, 0.0);
        }
        case ACT_TANH: {
            return tanh(x);
        }
        case ACT_GELU: {
            return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
        }
        case ACT_SOFTPLUS: {
            return select(log(1.0 + exp(x)), x, x > 20.0);
        }
        case ACT_SQUARE: {
            return x * x;
        }
        default: {
            return x;
        }
    }
}

fn activate_derivative(code: u32, x: f32) -> f32 {
    switch code {
        case ACT_SELU: {
            return select(SELU_SCALE * SELU_ALPHA * exp(x), SELU_SCALE, x > 0.0);
        }
        case ACT_ELU: {
            return select(exp(x), 1.0, x > 0.0);
        }
        case ACT_SILU: {
            let s = 1.0 / (1.0 + exp(-x));
            return s * (1.0 + x * (1.0 - s));
        }
        case ACT_RELU: {
            return select(0.0, 1.0, x > 0.0);
        }
        case ACT_TANH: {
            let t = tanh(x);
            return 1.0 - t * t;
        }
        case ACT_GELU: {
            let pdf = exp(-0.5 * x * x) * 0.3989422804014327;
            return 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * pdf;
        }
        case ACT_SOFTPLUS: {
            return select(1.0 / (1.0 + exp(-x)), 1.0, x > 20.0);
        }
        case ACT_SQUARE: {
            return 2.0 * x;
        }
        default: {
            return 1.0;
        }
    }
}
