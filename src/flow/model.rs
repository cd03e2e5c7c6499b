//! Velocity fields: multilayer perceptrons loaded from safetensors + a JSON spec (or
//! TorchCFM's key layout with no spec), and analytic fields written as one linear layer.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Activation between layers, with PyTorch's constants.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// SELU: scale 1.0507009873554805, α 1.6732632423543772.
    Selu,
    /// ELU with α = 1.
    Elu,
    /// SiLU (swish): x σ(x).
    Silu,
    /// max(x, 0).
    Relu,
    /// tanh.
    Tanh,
    /// GELU, exact (erf) form.
    Gelu,
    /// Softplus with β = 1, linear above 20.
    Softplus,
    /// No activation.
    Identity,
    /// x² (not a PyTorch module; builds analytic potentials such as
    /// [`VelocityField::quadratic_potential`]).
    Square,
}

impl Activation {
    /// Code used by the shaders (`shaders/common/activations.wgsl`).
    pub(crate) fn code(self) -> u32 {
        use crate::flow::codes::*;
        match self {
            Self::Selu => ACT_SELU,
            Self::Elu => ACT_ELU,
            Self::Silu => ACT_SILU,
            Self::Relu => ACT_RELU,
            Self::Tanh => ACT_TANH,
            Self::Gelu => ACT_GELU,
            Self::Softplus => ACT_SOFTPLUS,
            Self::Identity => ACT_IDENTITY,
            Self::Square => ACT_SQUARE,
        }
    }

    /// The activation in f64 (the CPU twin).
    pub fn apply(self, x: f64) -> f64 {
        match self {
            Self::Selu => {
                const SCALE: f64 = 1.050_700_987_355_480_5;
                const ALPHA: f64 = 1.673_263_242_354_377_2;
                if x > 0.0 {
                    SCALE * x
                } else {
                    SCALE * ALPHA * x.exp_m1()
                }
            }
            Self::Elu => {
                if x > 0.0 {
                    x
                } else {
                    x.exp_m1()
                }
            }
            Self::Silu => x / (1.0 + (-x).exp()),
            Self::Relu => x.max(0.0),
            Self::Tanh => x.tanh(),
            Self::Gelu => 0.5 * x * (1.0 + erf(x / std::f64::consts::SQRT_2)),
            Self::Softplus => {
                if x > 20.0 {
                    x
                } else {
                    x.exp().ln_1p()
                }
            }
            Self::Identity => x,
            Self::Square => x * x,
        }
    }

    /// d/dx of the activation at x (for forward-mode tangents).
    pub fn derivative(self, x: f64) -> f64 {
        match self {
            Self::Selu => {
                const SCALE: f64 = 1.050_700_987_355_480_5;
                const ALPHA: f64 = 1.673_263_242_354_377_2;
                if x > 0.0 {
                    SCALE
                } else {
                    SCALE * ALPHA * x.exp()
                }
            }
            Self::Elu => {
                if x > 0.0 {
                    1.0
                } else {
                    x.exp()
                }
            }
            Self::Silu => {
                let s = 1.0 / (1.0 + (-x).exp());
                s * (1.0 + x * (1.0 - s))
            }
            Self::Relu => {
                if x > 0.0 {
                    1.0
                } else {
                    0.0
                }
            }
            Self::Tanh => 1.0 - x.tanh().powi(2),
            Self::Gelu => {
                let pdf = (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt();
                0.5 * (1.0 + erf(x / std::f64::consts::SQRT_2)) + x * pdf
            }
            Self::Softplus => {
                if x > 20.0 {
                    1.0
                } else {
                    1.0 / (1.0 + (-x).exp())
                }
            }
            Self::Identity => 1.0,
            Self::Square => 2.0 * x,
        }
    }
}

/// erf with ~1e-15 accuracy (series for small |x|, continued fraction beyond).
fn erf(x: f64) -> f64 {
    if x.abs() < 2.5 {
        // Maclaurin series.
        let mut term = x;
        let mut sum = x;
        let x2 = x * x;
        for n in 1..80 {
            term *= -x2 / n as f64;
            let add = term / (2 * n + 1) as f64;
            sum += add;
            if add.abs() < 1e-17 * sum.abs() {
                break;
            }
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    } else {
        // erfc by Lentz's continued fraction.
        let ax = x.abs();
        let mut f = ax;
        let (mut c, mut d) = (ax, 0.0f64);
        for n in 1..200 {
            let a = n as f64 * 0.5;
            d = 1.0 / (ax + a * d);
            c = ax + a / c;
            let delta = c * d;
            f *= delta;
            if (delta - 1.0).abs() < 1e-16 {
                break;
            }
        }
        let erfc = (-ax * ax).exp() / (f * std::f64::consts::PI.sqrt());
        (1.0 - erfc).copysign(x)
    }
}

/// Where time enters the network's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeInput {
    /// Input [x, c, t] (TorchCFM).
    Last,
    /// Input [t, x, c].
    First,
    /// The field does not depend on t.
    None,
}

/// One fully connected layer: y = W x + b with W stored [out, in] row-major (PyTorch).
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// out × in weights, row-major.
    pub weight: Vec<f32>,
    /// out biases.
    pub bias: Vec<f32>,
}

/// The JSON spec beside a safetensors file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// State dimension d (the field's output).
    pub dim: usize,
    /// Where t enters: "last" (default), "first" or "none".
    #[serde(default = "default_time")]
    pub time: TimeInput,
    /// t is multiplied by this before entering the network (default 1).
    #[serde(default = "one")]
    pub time_scale: f32,
    /// Length of a conditioning vector c appended to x (default 0).
    #[serde(default)]
    pub cond_dim: usize,
    /// Sinusoidal embedding of t instead of raw t: `[dim, max_period]` gives
    /// [cos(t f_k), sin(t f_k)] with f_k = max_period^(−k/(dim/2)), k < dim/2.
    #[serde(default)]
    pub time_embedding: Option<(usize, f32)>,
    /// Hidden layers of equal width add their input (h ← h + act(W h + b)).
    #[serde(default)]
    pub residual: bool,
    /// Activation after every layer but the last.
    pub activation: Activation,
    /// Activation of the last layer (default identity).
    #[serde(default = "identity")]
    pub output_activation: Activation,
    /// The network gives one value s(x, t): as a velocity field v = ∇ₓ s (Action
    /// Matching's potential), as a growth head g = s (default false).
    #[serde(default)]
    pub scalar: bool,
    /// Tensor names of each layer's weight and bias, input to output.
    pub layers: Vec<(String, String)>,
}

fn default_time() -> TimeInput {
    TimeInput::Last
}

fn one() -> f32 {
    1.0
}

fn identity() -> Activation {
    Activation::Identity
}

/// A velocity field v(x, t[, c]) given by a multilayer perceptron.
#[derive(Clone, Debug, PartialEq)]
pub struct VelocityField {
    /// State dimension d.
    pub dim: usize,
    /// Where t enters the input.
    pub time: TimeInput,
    /// Factor applied to t before it enters.
    pub time_scale: f32,
    /// Conditioning vector length.
    pub cond_dim: usize,
    /// Sinusoidal time embedding (dim, max period).
    pub time_embedding: Option<(usize, f32)>,
    /// Residual hidden layers.
    pub residual: bool,
    /// Hidden activation.
    pub activation: Activation,
    /// Output activation.
    pub output_activation: Activation,
    /// One output s(x, t): the field is ∇ₓ s (or, as a growth head, s itself).
    pub scalar: bool,
    /// The layers, input to output.
    pub layers: Vec<Dense>,
}

impl VelocityField {
    /// Width of the network's input: d + c + (1 or the embedding's width, if t enters).
    pub fn input_width(&self) -> usize {
        let time = match (self.time, self.time_embedding) {
            (TimeInput::None, _) => 0,
            (_, Some((k, _))) => k,
            (_, None) => 1,
        };
        self.dim + self.cond_dim + time
    }

    /// The widest layer (input included).
    pub fn max_width(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.inputs.max(l.outputs))
            .max()
            .unwrap_or(0)
            .max(self.input_width())
    }

    /// Outputs of the network: 1 for a scalar network, else d.
    pub fn outputs(&self) -> usize {
        if self.scalar {
            1
        } else {
            self.dim
        }
    }

    /// Number of parameters.
    pub fn parameters(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.weight.len() + l.bias.len())
            .sum()
    }

    /// The linear field v = A x + b (A is d × d, row-major).
    pub fn linear(a: &[f32], b: &[f32]) -> Result<Self> {
        let d = b.len();
        if d == 0 || a.len() != d * d {
            return Err(Error::invalid(format!(
                "a linear field needs a d x d matrix and d offsets; got {} and {d}",
                a.len()
            )));
        }
        Self::from_layers(
            d,
            TimeInput::None,
            Activation::Identity,
            vec![Dense {
                inputs: d,
                outputs: d,
                weight: a.to_vec(),
                bias: b.to_vec(),
            }],
        )
    }

    /// The rotation v(x, y) = ω (−y, x) in the plane.
    pub fn rotation(omega: f32) -> Self {
        Self::linear(&[0.0, -omega, omega, 0.0], &[0.0, 0.0]).expect("2 x 2 is well formed")
    }

    /// The gradient field of the potential s(x) = ½ |L x + c|² (L is m × d, row-major):
    /// v = ∇s = Lᵀ (L x + c), a scalar network of two layers.
    pub fn quadratic_potential(l: &[f32], c: &[f32]) -> Result<Self> {
        let m = c.len();
        if m == 0 || l.is_empty() || !l.len().is_multiple_of(m) {
            return Err(Error::invalid(format!(
                "a quadratic potential needs an m x d matrix and m offsets; got {} and {m}",
                l.len()
            )));
        }
        let d = l.len() / m;
        let field = Self {
            dim: d,
            time: TimeInput::None,
            time_scale: 1.0,
            cond_dim: 0,
            time_embedding: None,
            residual: false,
            activation: Activation::Square,
            output_activation: Activation::Identity,
            scalar: true,
            layers: vec![
                Dense {
                    inputs: d,
                    outputs: m,
                    weight: l.to_vec(),
                    bias: c.to_vec(),
                },
                Dense {
                    inputs: m,
                    outputs: 1,
                    weight: vec![0.5; m],
                    bias: vec![0.0],
                },
            ],
        };
        field.validate()?;
        Ok(field)
    }

    /// A network from its layers, with raw t (scale 1) and no conditioning.
    pub fn from_layers(
        dim: usize,
        time: TimeInput,
        activation: Activation,
        layers: Vec<Dense>,
    ) -> Result<Self> {
        let field = Self {
            dim,
            time,
            time_scale: 1.0,
            cond_dim: 0,
            time_embedding: None,
            residual: false,
            activation,
            output_activation: Activation::Identity,
            scalar: false,
            layers,
        };
        field.validate()?;
        Ok(field)
    }

    /// Checks that consecutive layers fit together and match the input and output.
    pub fn validate(&self) -> Result<()> {
        if self.dim == 0 {
            return Err(Error::invalid("the field's dimension must be at least 1"));
        }
        if self.layers.is_empty() {
            return Err(Error::invalid("a network needs at least one layer"));
        }
        if let Some((k, period)) = self.time_embedding {
            if k == 0 || k % 2 != 0 || period.is_nan() || period <= 0.0 {
                return Err(Error::invalid(format!(
                    "time_embedding ({k}, {period}): the width must be even and positive, the period positive"
                )));
            }
        }
        let mut width = self.input_width();
        for (i, l) in self.layers.iter().enumerate() {
            if l.inputs != width {
                return Err(Error::invalid(format!(
                    "layer {i} takes {} inputs but receives {width} (the input is d + cond + time = {}, \
                     then each layer's outputs)",
                    l.inputs,
                    self.input_width()
                )));
            }
            if l.weight.len() != l.inputs * l.outputs || l.bias.len() != l.outputs {
                return Err(Error::invalid(format!(
                    "layer {i}: weight has {} values and bias {}, expected {} x {} and {}",
                    l.weight.len(),
                    l.bias.len(),
                    l.outputs,
                    l.inputs,
                    l.outputs
                )));
            }
            if let Some(k) = l.weight.iter().chain(&l.bias).position(|v| !v.is_finite()) {
                return Err(Error::invalid(format!(
                    "layer {i} has a non-finite parameter at index {k}"
                )));
            }
            width = l.outputs;
        }
        if width != self.outputs() {
            return Err(Error::invalid(if self.scalar {
                format!("a scalar network must end in one output; the last layer gives {width}")
            } else {
                format!(
                    "the last layer gives {width} outputs but the field's dimension is {} \
                     (a network with one output is a potential: set \"scalar\": true)",
                    self.dim
                )
            }));
        }
        Ok(())
    }

    /// Loads a network from a safetensors file and its spec. Without a spec, TorchCFM's
    /// layout is assumed: keys `net.K.weight|bias`, SELU, input [x, t].
    pub fn load(weights: &Path, spec: Option<&Path>) -> Result<Self> {
        let bytes = std::fs::read(weights).map_err(|e| Error::io(weights, e))?;
        let spec = match spec {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
                serde_json::from_str::<ModelSpec>(&text).map_err(|e| {
                    Error::invalid(format!("{}: not a valid model spec: {e}", path.display()))
                })?
            }
            None => torchcfm_spec(&bytes, weights)?,
        };
        Self::from_safetensors(&bytes, &spec, weights)
    }

    /// Builds the network from named float32 tensors held in memory (a PyTorch
    /// `state_dict` as arrays: name, shape, row-major values) and a spec as JSON; without
    /// one TorchCFM's layout is assumed, as for files.
    pub fn from_tensors(
        tensors: &[(String, Vec<usize>, Vec<f32>)],
        spec_json: Option<&str>,
    ) -> Result<Self> {
        let views = tensors
            .iter()
            .map(|(name, shape, values)| {
                let expected: usize = shape.iter().product();
                if expected != values.len() {
                    return Err(Error::invalid(format!(
                        "tensor {name:?} has shape {shape:?} ({expected} values) but {} values",
                        values.len()
                    )));
                }
                let view = safetensors::tensor::TensorView::new(
                    safetensors::Dtype::F32,
                    shape.clone(),
                    bytemuck::cast_slice(values),
                )
                .map_err(|e| Error::invalid(format!("tensor {name:?}: {e}")))?;
                Ok((name.as_str(), view))
            })
            .collect::<Result<Vec<_>>>()?;
        let bytes = safetensors::serialize(views, None)
            .map_err(|e| Error::invalid(format!("the tensors cannot be packed: {e}")))?;
        let source = Path::new("(tensors in memory)");
        let spec = match spec_json {
            Some(text) => serde_json::from_str::<ModelSpec>(text)
                .map_err(|e| Error::invalid(format!("not a valid model spec: {e}")))?,
            None => torchcfm_spec(&bytes, source)?,
        };
        Self::from_safetensors(&bytes, &spec, source)
    }

    /// Builds the network from safetensors bytes and a spec.
    pub fn from_safetensors(bytes: &[u8], spec: &ModelSpec, source: &Path) -> Result<Self> {
        let tensors = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
            Error::invalid(format!("{}: not a safetensors file: {e}", source.display()))
        })?;
        let read = |name: &str| -> Result<(Vec<usize>, Vec<f32>)> {
            let t = tensors.tensor(name).map_err(|_| {
                Error::invalid(format!(
                    "{}: no tensor {name:?} (the file has {})",
                    source.display(),
                    tensors.names().join(", ")
                ))
            })?;
            let values = match t.dtype() {
                safetensors::Dtype::F32 => t
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                safetensors::Dtype::F64 => t
                    .data()
                    .chunks_exact(8)
                    .map(|c| f64::from_le_bytes(c.try_into().unwrap_or([0; 8])) as f32)
                    .collect(),
                safetensors::Dtype::F16 => t
                    .data()
                    .chunks_exact(2)
                    .map(|c| half_to_f32(u16::from_le_bytes([c[0], c[1]])))
                    .collect(),
                other => {
                    return Err(Error::invalid(format!(
                        "{}: tensor {name:?} is {other:?}; use float32, float64 or float16",
                        source.display()
                    )))
                }
            };
            Ok((t.shape().to_vec(), values))
        };
        let mut layers = Vec::new();
        for (i, (w, b)) in spec.layers.iter().enumerate() {
            let (ws, weight) = read(w)?;
            let (bs, bias) = read(b)?;
            if ws.len() != 2 || bs.len() != 1 || bs[0] != ws[0] {
                return Err(Error::invalid(format!(
                    "layer {i}: {w:?} has shape {ws:?} and {b:?} {bs:?}; expected [out, in] and [out]"
                )));
            }
            layers.push(Dense {
                inputs: ws[1],
                outputs: ws[0],
                weight,
                bias,
            });
        }
        let field = Self {
            dim: spec.dim,
            time: spec.time,
            time_scale: spec.time_scale,
            cond_dim: spec.cond_dim,
            time_embedding: spec.time_embedding,
            residual: spec.residual,
            activation: spec.activation,
            output_activation: spec.output_activation,
            scalar: spec.scalar,
            layers,
        };
        field
            .validate()
            .map_err(|e| Error::invalid(format!("{}: {e}", source.display())))?;
        Ok(field)
    }
}

impl VelocityField {
    /// The JSON spec of this field, naming its tensors `layers.K.weight` / `layers.K.bias`.
    pub fn spec(&self) -> ModelSpec {
        ModelSpec {
            dim: self.dim,
            time: self.time,
            time_scale: self.time_scale,
            cond_dim: self.cond_dim,
            time_embedding: self.time_embedding,
            residual: self.residual,
            activation: self.activation,
            output_activation: self.output_activation,
            scalar: self.scalar,
            layers: (0..self.layers.len())
                .map(|k| (format!("layers.{k}.weight"), format!("layers.{k}.bias")))
                .collect(),
        }
    }

    /// Writes the weights (safetensors, float32) and the spec (JSON), each whole or not
    /// at all.
    pub fn save(&self, weights: &Path, spec: &Path) -> Result<()> {
        self.save_with_names(weights, spec, self.spec().layers)
    }

    /// TorchCFM's tensor names for this network's layers, `net.{2k}.weight|bias` (an
    /// `nn.Sequential` of Linear layers with activations between): what
    /// `MLP.load_state_dict` expects.
    pub fn torchcfm_names(&self) -> Vec<(String, String)> {
        (0..self.layers.len())
            .map(|k| {
                (
                    format!("net.{}.weight", 2 * k),
                    format!("net.{}.bias", 2 * k),
                )
            })
            .collect()
    }

    /// As [`VelocityField::save`], naming layer k's tensors `names[k]`.
    pub fn save_with_names(
        &self,
        weights: &Path,
        spec: &Path,
        names: Vec<(String, String)>,
    ) -> Result<()> {
        if names.len() != self.layers.len() {
            return Err(Error::invalid(format!(
                "{} layer names for {} layers",
                names.len(),
                self.layers.len()
            )));
        }
        let mut spec_value = self.spec();
        spec_value.layers = names;
        fn view<'a>(
            name: &str,
            shape: Vec<usize>,
            values: &'a [f32],
        ) -> Result<(String, safetensors::tensor::TensorView<'a>)> {
            safetensors::tensor::TensorView::new(
                safetensors::Dtype::F32,
                shape,
                bytemuck::cast_slice(values),
            )
            .map(|v| (name.to_string(), v))
            .map_err(|e| Error::invalid(format!("tensor {name}: {e}")))
        }
        let mut views = Vec::new();
        for (layer, (w, b)) in self.layers.iter().zip(&spec_value.layers) {
            views.push(view(w, vec![layer.outputs, layer.inputs], &layer.weight)?);
            views.push(view(b, vec![layer.outputs], &layer.bias)?);
        }
        let bytes = safetensors::serialize(views, None)
            .map_err(|e| Error::invalid(format!("serialising the weights: {e}")))?;
        crate::io::write_atomic(weights, &bytes)?;
        let text =
            serde_json::to_string_pretty(&spec_value).map_err(|e| Error::invalid(e.to_string()))?;
        crate::io::write_atomic(spec, text.as_bytes())
    }
}

/// TorchCFM's MLP: `net.K.weight|bias` for K in increasing order, SELU, input [x, t].
fn torchcfm_spec(bytes: &[u8], source: &Path) -> Result<ModelSpec> {
    let tensors = safetensors::SafeTensors::deserialize(bytes).map_err(|e| {
        Error::invalid(format!("{}: not a safetensors file: {e}", source.display()))
    })?;
    let mut layers: BTreeMap<usize, (Vec<usize>, bool)> = BTreeMap::new();
    for (name, view) in tensors.tensors() {
        let parts: Vec<&str> = name.split('.').collect();
        let index = match parts.as_slice() {
            ["net", k, "weight" | "bias"] => k.parse::<usize>().ok(),
            _ => None,
        };
        let Some(k) = index else {
            return Err(Error::invalid(format!(
                "{}: tensor {name:?} is not in TorchCFM's layout (net.K.weight / net.K.bias); \
                 give a JSON spec with --spec",
                source.display()
            )));
        };
        let entry = layers.entry(k).or_insert((Vec::new(), false));
        if name.ends_with("weight") {
            entry.0 = view.shape().to_vec();
        } else {
            entry.1 = true;
        }
    }
    let last = layers
        .values()
        .last()
        .ok_or_else(|| Error::invalid(format!("{}: no tensors", source.display())))?;
    let dim = last.0.first().copied().unwrap_or(0);
    Ok(ModelSpec {
        dim,
        time: TimeInput::Last,
        time_scale: 1.0,
        cond_dim: 0,
        time_embedding: None,
        residual: false,
        activation: Activation::Selu,
        output_activation: Activation::Identity,
        scalar: false,
        layers: layers
            .keys()
            .map(|k| (format!("net.{k}.weight"), format!("net.{k}.bias")))
            .collect(),
    })
}

fn half_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match exp {
        0 if frac == 0 => sign,
        0 => {
            // Subnormal: renormalise.
            let shift = frac.leading_zeros() - 21;
            sign | ((127 - 15 + 1 - shift) << 23) | ((frac << (shift + 13)) & 0x7f_ffff)
        }
        31 => sign | 0x7f80_0000 | (frac << 13),
        e => sign | ((e + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn activations_match_pytorch_values() {
        // Values of PyTorch's definitions at -1.5 and 0.7 (Python's math module, f64).
        let cases = [
            (Activation::Selu, -1.5, -1.365_814_353_367_252_7),
            (Activation::Selu, 0.7, 0.735_490_691_148_836_3),
            (Activation::Elu, -1.5, -0.776_869_839_851_570_2),
            (Activation::Silu, -1.5, -0.273_638_285_709_534_5),
            (Activation::Gelu, -1.5, -0.100_210_801_903_287_13),
            (Activation::Gelu, 0.7, 0.530_625_443_443_848_9),
            (Activation::Softplus, -1.5, 0.201_413_277_982_752_4),
            (Activation::Tanh, 0.7, 0.604_367_777_117_163_6),
        ];
        for (a, x, want) in cases {
            assert!(
                (a.apply(x) - want).abs() < 1e-13,
                "{a:?}({x}) = {} not {want}",
                a.apply(x)
            );
            let h = 1e-6;
            let numeric = (a.apply(x + h) - a.apply(x - h)) / (2.0 * h);
            assert!((a.derivative(x) - numeric).abs() < 1e-6, "{a:?}'({x})");
        }
    }

    #[test]
    fn half_floats_decode() {
        assert_eq!(half_to_f32(0x3c00), 1.0);
        assert_eq!(half_to_f32(0xc000), -2.0);
        assert_eq!(half_to_f32(0x0001), 5.960_464_5e-8);
        assert!(half_to_f32(0x7c00).is_infinite());
    }
}
