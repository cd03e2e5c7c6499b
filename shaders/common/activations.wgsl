// Activations with PyTorch's constants, by code (flow::Activation order): 0 SELU,
// 1 ELU, 2 SiLU, 3 ReLU, 4 tanh, 5 GELU (erf form), 6 softplus (linear above 20),
// 7 identity, 8 square (x², for analytic potentials); and their derivatives, for
// forward-mode tangents.

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
        case 0u: {
            return select(SELU_SCALE * SELU_ALPHA * (exp(x) - 1.0), SELU_SCALE * x, x > 0.0);
        }
        case 1u: {
            return select(exp(x) - 1.0, x, x > 0.0);
        }
        case 2u: {
            return x / (1.0 + exp(-x));
        }
        case 3u: {
            return max(x, 0.0);
        }
        case 4u: {
            return tanh(x);
        }
        case 5u: {
            return 0.5 * x * (1.0 + erf_approx(x * 0.7071067811865476));
        }
        case 6u: {
            return select(log(1.0 + exp(x)), x, x > 20.0);
        }
        case 8u: {
            return x * x;
        }
        default: {
            return x;
        }
    }
}

fn activate_derivative(code: u32, x: f32) -> f32 {
    switch code {
        case 0u: {
            return select(SELU_SCALE * SELU_ALPHA * exp(x), SELU_SCALE, x > 0.0);
        }
        case 1u: {
            return select(exp(x), 1.0, x > 0.0);
        }
        case 2u: {
            let s = 1.0 / (1.0 + exp(-x));
            return s * (1.0 + x * (1.0 - s));
        }
        case 3u: {
            return select(0.0, 1.0, x > 0.0);
        }
        case 4u: {
            let t = tanh(x);
            return 1.0 - t * t;
        }
        case 5u: {
            let pdf = exp(-0.5 * x * x) * 0.3989422804014327;
            return 0.5 * (1.0 + erf_approx(x * 0.7071067811865476)) + x * pdf;
        }
        case 6u: {
            return select(1.0 / (1.0 + exp(-x)), 1.0, x > 20.0);
        }
        case 8u: {
            return 2.0 * x;
        }
        default: {
            return 1.0;
        }
    }
}
