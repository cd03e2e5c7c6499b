//! Where a trained network's numbers live, shared by the GPU driver and the CPU twin:
//! parameters per model (each layer's weight, out × in row-major, then its bias) and the
//! tape of one batch row (the input, then per layer its pre-activations z and, for hidden
//! layers, its output h). The gradient tape has the same layout: dL/dz at z's places and
//! dL/dh at h's.

use crate::flow::model::{Activation, Dense, TimeInput, VelocityField};

use super::config::NetworkShape;

/// The widest hidden layer the trainer takes.
pub const MAX_WIDTH: usize = 1024;

/// One layer's place in the parameters and in the tape.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LayerSlots {
    /// Inputs.
    pub inputs: usize,
    /// Outputs.
    pub outputs: usize,
    /// Offset of the weight in a model's parameters (the bias follows).
    pub params: usize,
    /// Offset of the layer's input h in the tape.
    pub input: usize,
    /// Offset of the pre-activations z.
    pub z: usize,
    /// Offset of the output h = act(z) (+ input if residual); `None` for the last layer,
    /// whose output is z.
    pub h: Option<usize>,
    /// The layer adds its input.
    pub residual: bool,
}

/// The layout of one network's parameters and tape.
#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    /// State dimension.
    pub dim: usize,
    /// Where t enters.
    pub time: TimeInput,
    /// Hidden activation.
    pub activation: Activation,
    /// Layers, input to output.
    pub layers: Vec<LayerSlots>,
    /// Parameters per model.
    pub params: usize,
    /// Floats per tape row.
    pub tape: usize,
}

impl Layout {
    /// The layout of a network of `shape` on `dim`-dimensional states.
    pub fn new(dim: usize, shape: &NetworkShape) -> Self {
        let input = dim + usize::from(shape.time != TimeInput::None);
        let count = shape.hidden + 1;
        let mut layers = Vec::with_capacity(count);
        let (mut params, mut tape) = (0, input);
        let mut at = 0;
        let mut width = input;
        for l in 0..count {
            let last = l + 1 == count;
            let outputs = if last { dim } else { shape.width };
            let z = tape;
            tape += outputs;
            let h = if last {
                None
            } else {
                tape += outputs;
                Some(z + outputs)
            };
            layers.push(LayerSlots {
                inputs: width,
                outputs,
                params,
                input: at,
                z,
                h,
                residual: shape.residual && l > 0 && !last && width == outputs,
            });
            params += outputs * width + outputs;
            at = h.unwrap_or(z);
            width = outputs;
        }
        Self {
            dim,
            time: shape.time,
            activation: shape.activation,
            layers,
            params,
            tape,
        }
    }

    /// Width of the network's input.
    pub fn input_width(&self) -> usize {
        self.layers[0].inputs
    }

    /// The tape offset of the network's output (the last layer's z).
    pub fn output(&self) -> usize {
        self.layers[self.layers.len() - 1].z
    }

    /// Multiply-adds of one forward pass of one row.
    pub fn forward_fmas(&self) -> usize {
        self.layers.iter().map(|l| l.inputs * l.outputs).sum()
    }

    /// PyTorch's default initial parameters of `nn.Linear`: weights and biases uniform in
    /// ±1/√fan_in, drawn from the counter-based generator under `seed`.
    pub fn initial_parameters(&self, seed: u64) -> Vec<f32> {
        let key = crate::rng::seed_key(seed);
        let mut values = vec![0.0f32; self.params];
        for (l, layer) in self.layers.iter().enumerate() {
            let bound = 1.0 / (layer.inputs as f64).sqrt();
            let count = layer.outputs * (layer.inputs + 1);
            for k in 0..count {
                let u = crate::rng::uniform4(key, [(k / 4) as u32, l as u32, 0x1a7e, 0])[k % 4];
                values[layer.params + k] = ((2.0 * f64::from(u) - 1.0) * bound) as f32;
            }
        }
        values
    }

    /// The network of `params` as a velocity field `morphogen flow` integrates.
    pub fn field(&self, params: &[f32]) -> VelocityField {
        let layers = self
            .layers
            .iter()
            .map(|l| {
                let weights = l.outputs * l.inputs;
                Dense {
                    inputs: l.inputs,
                    outputs: l.outputs,
                    weight: params[l.params..l.params + weights].to_vec(),
                    bias: params[l.params + weights..l.params + weights + l.outputs].to_vec(),
                }
            })
            .collect();
        VelocityField {
            dim: self.dim,
            time: self.time,
            time_scale: 1.0,
            cond_dim: 0,
            time_embedding: None,
            residual: self.layers.iter().any(|l| l.residual),
            activation: self.activation,
            output_activation: Activation::Identity,
            scalar: false,
            layers,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn torchcfm_mlp_has_its_parameter_count() {
        let layout = Layout::new(2, &NetworkShape::default());
        assert_eq!(layout.params, 8706);
        assert_eq!(layout.layers.len(), 4);
        assert_eq!(layout.input_width(), 3);
        assert_eq!(layout.tape, 3 + 3 * 128 + 2);
        assert_eq!(layout.output(), layout.tape - 2);
        let field = layout.field(&layout.initial_parameters(1));
        field.validate().unwrap();
        assert_eq!(field.parameters(), 8706);
    }

    #[test]
    fn residual_layers_are_the_equal_width_hidden_ones() {
        let shape = NetworkShape {
            residual: true,
            ..NetworkShape::default()
        };
        let layout = Layout::new(2, &shape);
        let flags: Vec<bool> = layout.layers.iter().map(|l| l.residual).collect();
        assert_eq!(flags, [false, true, true, false]);
    }

    #[test]
    fn initial_parameters_lie_within_pytorchs_bounds() {
        let layout = Layout::new(2, &NetworkShape::default());
        let p = layout.initial_parameters(3);
        for l in &layout.layers {
            let bound = 1.0 / (l.inputs as f32).sqrt();
            let chunk = &p[l.params..l.params + l.outputs * (l.inputs + 1)];
            assert!(chunk.iter().all(|v| v.abs() <= bound));
            // Uniform on ±bound: the mean square is bound² / 3.
            let ms = chunk.iter().map(|v| v * v).sum::<f32>() / chunk.len() as f32;
            assert!((ms / (bound * bound) - 1.0 / 3.0).abs() < 0.1, "{ms}");
        }
        assert_ne!(p, layout.initial_parameters(4));
    }
}
