//! WGSL generated for one network shape: the `flow/net` snippet that the batched flow
//! kernels import.
//!
//! Each invocation evaluates the network for `SLOTS` particles at once. Every loop over a
//! layer's inputs is written out with constant indices, so the activations of all slots
//! stay in registers or plain (non-gathered) private memory, and one load of each weight
//! feeds `SLOTS` multiply-adds; the loop over a layer's outputs stays a loop, which keeps
//! the source (and the shader compile) linear in the number of parameters rather than
//! quadratic. Weights are read through the importing kernel's `fn weight(i: u32) -> f32`
//! at offsets fixed by the shape (the packing of `flow::pack`), so
//! networks of one shape share one pipeline.

use std::fmt::Write as _;

use crate::error::{Error, Result};
use crate::flow::model::VelocityField;
use crate::flow::private_rows::PrivateRows;

/// Widest layer the generated kernels take (inputs unrolled per output: the source
/// grows with the widest fan-in).
pub(crate) const MAX_GENERATED_WIDTH: usize = 1024;

/// Inputs of a layer written out with constant indices; wider layers loop over them.
const UNROLLED_INPUTS: usize = 64;

/// Outputs whose accumulators a wide layer keeps in registers at once, per slot count
/// (about 16 accumulators per invocation; 32 ran the 4x256 network 1.4x faster on
/// lavapipe with subgroup loads but took its pipeline's compile from 12 s to 16 s). The
/// accumulators set most of lavapipe's compile time for a d = 64 network: 8 per
/// invocation compiled the one-slot 4x256 integrator in 3.6 s instead of 9.5 s but ran it
/// 21-39% slower, and 4 per slot with two slots 30-47% slower (two runs each).
fn out_block(slots: usize) -> usize {
    (16 / slots.max(1)).clamp(2, 16)
}

/// One dense layer as the kernel sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct LayerShape {
    inputs: usize,
    outputs: usize,
    /// Activation code of `shaders/common/activations.wgsl`.
    activation: u32,
    residual: bool,
}

/// What the generated source depends on: layer sizes, activations, residual links,
/// whether the output is a scalar potential, and the slots per invocation.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct NetworkShape {
    layers: Vec<LayerShape>,
    scalar: bool,
    /// Particles one invocation evaluates together.
    pub slots: usize,
    /// Wide layers' weights: 0 reads each weight in every invocation; n (a power of two
    /// no larger than the subgroup) reads n of a block's weights at once, one per lane of
    /// n, and broadcasts each to the subgroup. The kernel sets `net_lane` (its subgroup
    /// invocation id) and calls the network in subgroup-uniform control flow.
    pub lanes: usize,
    /// Row length of the activation arrays: the network's own width, or for the SDE's
    /// roles, which share arrays, the widest role's.
    array_width: usize,
}

impl NetworkShape {
    /// The shape of `field` evaluated `slots` particles at a time.
    pub(crate) fn of(field: &VelocityField, slots: usize) -> Result<Self> {
        let width = field.max_width();
        if width > MAX_GENERATED_WIDTH {
            return Err(Error::invalid(format!(
                "the widest layer has {width} units; the flow kernels take at most \
                 {MAX_GENERATED_WIDTH}"
            )));
        }
        let last = field.layers.len().saturating_sub(1);
        let layers = field
            .layers
            .iter()
            .enumerate()
            .map(|(l, layer)| LayerShape {
                inputs: layer.inputs,
                outputs: layer.outputs,
                activation: if l == last {
                    field.output_activation.code()
                } else {
                    field.activation.code()
                },
                residual: field.residual && l > 0 && l < last && layer.inputs == layer.outputs,
            })
            .collect();
        let mut shape = Self {
            layers,
            scalar: field.scalar,
            slots: slots.max(1),
            lanes: 0,
            array_width: 0,
        };
        shape.array_width = shape.width();
        Ok(shape)
    }

    /// The shape with wide layers' weights broadcast across `lanes` subgroup lanes (0:
    /// read by every invocation).
    pub(crate) fn with_lanes(mut self, lanes: usize) -> Self {
        self.lanes = lanes;
        self
    }

    /// Whether some layer loops over its inputs (the layers subgroup loads serve).
    pub(crate) fn has_wide_layer(&self) -> bool {
        self.layers.iter().any(|l| l.inputs > UNROLLED_INPUTS)
    }

    /// Whether the output is a scalar potential.
    pub(crate) fn is_scalar(&self) -> bool {
        self.scalar
    }

    /// The widest layer, inputs included.
    pub(crate) fn width(&self) -> usize {
        self.layers
            .iter()
            .map(|l| l.inputs.max(l.outputs))
            .max()
            .unwrap_or(1)
    }

    /// The activation rows `name` (`act`, `tan`, `act_b`, `tan_b`; one per slot).
    fn rows(&self, name: &str) -> PrivateRows {
        activation_rows(name, self.slots, self.array_width)
    }

    /// Element `index` (WGSL) of slot `p`'s row of the activation array `name`.
    fn at(&self, name: &str, p: usize, index: &str) -> String {
        self.rows(name).cell(p, index)
    }

    /// Loop iterations of one pass of the generated network (for drivers that stop a
    /// shader after a number of them): one per output, and for the layers that loop over
    /// their inputs, one per input and block of outputs.
    pub(crate) fn loop_iterations(&self) -> usize {
        let block = out_block(self.slots);
        self.layers
            .iter()
            .map(|l| {
                if l.inputs > UNROLLED_INPUTS {
                    l.outputs.div_ceil(block) * (1 + l.inputs)
                } else {
                    l.outputs
                }
            })
            .sum()
    }

    /// The `flow/net` snippet: `SLOTS`, `NET_WIDTH`, `NET_SCALAR`, the private rows
    /// `act` and `tan` (row = slot: the input on entry, the output on exit), and
    /// `net_forward()` / `net_tangent()` (the latter also pushes `tan` through as a
    /// forward-mode tangent).
    pub(crate) fn source(&self) -> String {
        let mut s = String::new();
        write_header(&mut s, &[self.describe()], self.slots, self.array_width);
        let _ = writeln!(s, "const NET_SCALAR: bool = {};", self.scalar);
        let _ = writeln!(
            s,
            "// This invocation's subgroup lane (wide layers' broadcast loads)."
        );
        let _ = writeln!(s, "var<private> net_lane: u32;");
        self.write_pass(&mut s, false, "net_forward");
        self.write_pass(&mut s, true, "net_tangent");
        s
    }

    /// The layer sizes, for the generated source's first line.
    fn describe(&self) -> String {
        self.layers
            .iter()
            .map(|l| format!("{}x{}", l.inputs, l.outputs))
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn write_pass(&self, s: &mut String, tangent: bool, name: &str) {
        let _ = writeln!(s, "\nfn {name}() {{");
        let mut offset = 0usize;
        // Layers alternate between (act, tan) and (act_b, tan_b).
        let bufs = [("act", "tan"), ("act_b", "tan_b")];
        for (l, layer) in self.layers.iter().enumerate() {
            let (src, src_t) = bufs[l % 2];
            let (dst, dst_t) = bufs[(l + 1) % 2];
            let (ins, outs) = (layer.inputs, layer.outputs);
            let bias = offset + ins * outs;
            let code = layer.activation;
            let _ = writeln!(s, "    // layer {l}: {ins} -> {outs}");
            if ins > UNROLLED_INPUTS {
                self.write_wide_layer(s, tangent, l, offset);
                offset = bias + outs;
                continue;
            }
            let _ = writeln!(
                s,
                "    for (var o = 0u; o < net_count({outs}u); o = o + 1u) {{"
            );
            let _ = writeln!(s, "        let row = {offset}u + o * {ins}u;");
            let _ = writeln!(s, "        let bias = weight({bias}u + o);");
            for p in 0..self.slots {
                let _ = writeln!(s, "        var z{p} = bias;");
                if tangent {
                    let _ = writeln!(s, "        var dz{p} = 0.0;");
                }
            }
            for i in 0..ins {
                self.write_input(s, tangent, (src, src_t), &format!("{i}u"));
            }
            for p in 0..self.slots {
                let skip = if layer.residual {
                    format!(" + {}", self.at(src, p, "o"))
                } else {
                    String::new()
                };
                let _ = writeln!(
                    s,
                    "        {} = activate({code}u, z{p}){skip};",
                    self.at(dst, p, "o")
                );
                if tangent {
                    let skip = if layer.residual {
                        format!(" + {}", self.at(src_t, p, "o"))
                    } else {
                        String::new()
                    };
                    let _ = writeln!(
                        s,
                        "        {} = activate_derivative({code}u, z{p}) * dz{p}{skip};",
                        self.at(dst_t, p, "o")
                    );
                }
            }
            let _ = writeln!(s, "    }}");
            offset = bias + outs;
        }
        // The output ends in act (and tan).
        if self.layers.len() % 2 == 1 {
            let outs = self.layers.last().map_or(0, |l| l.outputs);
            for p in 0..self.slots {
                for o in 0..outs {
                    let o = format!("{o}u");
                    let _ = writeln!(
                        s,
                        "    {} = {};",
                        self.at("act", p, &o),
                        self.at("act_b", p, &o)
                    );
                    if tangent {
                        let _ = writeln!(
                            s,
                            "    {} = {};",
                            self.at("tan", p, &o),
                            self.at("tan_b", p, &o)
                        );
                    }
                }
            }
        }
        let _ = writeln!(s, "}}");
    }

    /// A layer of more than `UNROLLED_INPUTS` inputs (written out, a 256-input body took
    /// minutes to compile on lavapipe and spilled): its outputs in blocks of
    /// [`out_block`] whose accumulators stay in registers while a loop walks the inputs,
    /// so each activation loaded at a run-time index feeds a block of multiply-adds.
    fn write_wide_layer(&self, s: &mut String, tangent: bool, l: usize, offset: usize) {
        let layer = &self.layers[l];
        let bufs = [("act", "tan"), ("act_b", "tan_b")];
        let (src, src_t) = bufs[l % 2];
        let (dst, dst_t) = bufs[(l + 1) % 2];
        let (ins, outs, code) = (layer.inputs, layer.outputs, layer.activation);
        let bias = offset + ins * outs;
        let block = out_block(self.slots);
        let full = outs / block * block;
        let lanes = self.lanes;
        let write_block = |s: &mut String, width: usize| {
            for j in 0..width {
                for p in 0..self.slots {
                    let _ = writeln!(s, "        var z{j}_{p} = weight({bias}u + ob + {j}u);");
                    if tangent {
                        let _ = writeln!(s, "        var dz{j}_{p} = 0.0;");
                    }
                }
            }
            let _ = writeln!(
                s,
                "        for (var i = 0u; i < net_count({ins}u); i = i + 1u) {{"
            );
            for p in 0..self.slots {
                let _ = writeln!(s, "            let a{p} = {};", self.at(src, p, "i"));
                if tangent {
                    let _ = writeln!(s, "            let t{p} = {};", self.at(src_t, p, "i"));
                }
            }
            if lanes > 0 {
                // Lane l of each group of `lanes` reads output c·lanes + l's weight (the
                // last chunk's spare lanes repeat its last output).
                for c in 0..width.div_ceil(lanes) {
                    let last = width - 1 - c * lanes;
                    let _ = writeln!(
                        s,
                        "            let lw{c} = weight({offset}u + (ob + {}u + min(net_lane & {}u, {last}u)) * {ins}u + i);",
                        c * lanes,
                        lanes - 1
                    );
                }
            }
            for j in 0..width {
                if let Some(chunk) = j.checked_div(lanes) {
                    let _ = writeln!(
                        s,
                        "            let w{j} = subgroupBroadcast(lw{chunk}, {}u);",
                        j - chunk * lanes
                    );
                } else {
                    let _ = writeln!(
                        s,
                        "            let w{j} = weight({offset}u + (ob + {j}u) * {ins}u + i);"
                    );
                }
                for p in 0..self.slots {
                    let _ = writeln!(s, "            z{j}_{p} = fma(w{j}, a{p}, z{j}_{p});");
                    if tangent {
                        let _ = writeln!(s, "            dz{j}_{p} = fma(w{j}, t{p}, dz{j}_{p});");
                    }
                }
            }
            let _ = writeln!(s, "        }}");
            for j in 0..width {
                for p in 0..self.slots {
                    let o = format!("ob + {j}u");
                    let skip = |buf: &str| {
                        if layer.residual {
                            format!(" + {}", self.at(buf, p, &o))
                        } else {
                            String::new()
                        }
                    };
                    let _ = writeln!(
                        s,
                        "        {} = activate({code}u, z{j}_{p}){};",
                        self.at(dst, p, &o),
                        skip(src)
                    );
                    if tangent {
                        let _ = writeln!(
                            s,
                            "        {} = activate_derivative({code}u, z{j}_{p}) * dz{j}_{p}{};",
                            self.at(dst_t, p, &o),
                            skip(src_t)
                        );
                    }
                }
            }
        };
        if full > 0 {
            let _ = writeln!(
                s,
                "    for (var ob = 0u; ob < net_count({full}u); ob = ob + {block}u) {{"
            );
            write_block(s, block);
            let _ = writeln!(s, "    }}");
        }
        if outs > full {
            let _ = writeln!(s, "    {{\n        let ob = {full}u;");
            write_block(s, outs - full);
            let _ = writeln!(s, "    }}");
        }
    }

    /// The multiply-adds of input `index` (a WGSL expression) for every slot.
    fn write_input(&self, s: &mut String, tangent: bool, (src, src_t): (&str, &str), index: &str) {
        let _ = writeln!(s, "        {{");
        let _ = writeln!(s, "            let w = weight(row + {index});");
        for p in 0..self.slots {
            let _ = writeln!(
                s,
                "            z{p} = fma(w, {}, z{p});",
                self.at(src, p, index)
            );
            if tangent {
                let _ = writeln!(
                    s,
                    "            dz{p} = fma(w, {}, dz{p});",
                    self.at(src_t, p, index)
                );
            }
        }
        let _ = writeln!(s, "        }}");
    }
}

/// `SLOTS`, `NET_WIDTH`, the private rows `act`, `tan`, `act_b`, `tan_b` (row = slot,
/// reached through `act_at(slot, unit)` and `act_put(slot, unit, v)`) that the passes
/// share, and `net_count`.
fn write_header(s: &mut String, networks: &[String], slots: usize, width: usize) {
    let _ = writeln!(
        s,
        "// Generated by flow::network_kernel for layers {}.",
        networks.join("; ")
    );
    let _ = writeln!(s, "const SLOTS: u32 = {slots}u;");
    // Loops over a layer's units run `net_count(n)` times: n, through a value the shader
    // compiler cannot see (the importer's slot count is never 0), so it keeps them loops.
    // Unrolled whole, they took lavapipe's pipeline creation for a d = 64 integrator with
    // two slots from 0.5 s to 4 s.
    let _ = writeln!(
        s,
        "fn net_count(n: u32) -> u32 {{\n    return select(n, 0u, slot_count() == 0u);\n}}"
    );
    let _ = writeln!(s, "const NET_WIDTH: u32 = {width}u;");
    for name in ["act", "tan", "act_b", "tan_b"] {
        s.push_str(&activation_rows(name, slots, width).declare());
    }
}

/// The activation rows `name`: one row of `width` units per slot.
fn activation_rows(name: &str, slots: usize, width: usize) -> PrivateRows {
    PrivateRows::new(name, slots, width)
}

/// The `flow/roles` snippet of the SDE kernel: up to three networks (velocity, score,
/// growth) evaluated `slots` particles at a time through shared activation arrays, as
/// `net_forward_R()` for role R, and `net_tangent_R()` where the network is a scalar
/// potential (the others get empty bodies, so every kernel links). Each network's
/// weights are at offsets from 0 through `weight_R(i)`, which the kernel provides.
pub(crate) fn roles_source(roles: &[Option<NetworkShape>; 3], slots: usize) -> String {
    let present: Vec<&NetworkShape> = roles.iter().flatten().collect();
    let width = present.iter().map(|n| n.width()).max().unwrap_or(1);
    let mut s = String::new();
    write_header(
        &mut s,
        &present.iter().map(|n| n.describe()).collect::<Vec<_>>(),
        slots,
        width,
    );
    for (r, role) in roles.iter().enumerate() {
        match role {
            Some(net) => {
                let net = NetworkShape {
                    array_width: width,
                    slots,
                    ..net.clone()
                };
                let mut pass = String::new();
                net.write_pass(&mut pass, false, &format!("net_forward_{r}"));
                // Velocity and score potentials give their gradients; a growth head
                // its value.
                if net.scalar && r < 2 {
                    net.write_pass(&mut pass, true, &format!("net_tangent_{r}"));
                } else {
                    let _ = writeln!(pass, "\nfn net_tangent_{r}() {{}}");
                }
                s.push_str(&pass.replace("weight(", &format!("weight_{r}(")));
            }
            None => {
                let _ = writeln!(s, "\nfn net_forward_{r}() {{}}\nfn net_tangent_{r}() {{}}");
            }
        }
    }
    s
}

/// The WGSL that the flow kernels import as `flow/net` for `field`, evaluating `slots`
/// particles per invocation (for reading, or for validating kernels that import it).
pub fn network_source(field: &VelocityField, slots: usize) -> Result<String> {
    Ok(NetworkShape::of(field, slots)?.source())
}

/// [`network_source`] with wide layers' weights broadcast across `lanes` subgroup lanes
/// (as the integrator generates it where the adapter has subgroups).
#[doc(hidden)]
pub fn network_source_with_lanes(
    field: &VelocityField,
    slots: usize,
    lanes: usize,
) -> Result<String> {
    Ok(NetworkShape::of(field, slots)?.with_lanes(lanes).source())
}

/// The WGSL that the SDE kernel imports as `flow/roles` for a branch's velocity, score
/// and growth networks (for reading, or for validating the kernel).
pub fn roles_network_source(roles: [Option<&VelocityField>; 3], slots: usize) -> Result<String> {
    let shapes = roles.map(|r| r.map(|f| NetworkShape::of(f, slots)));
    let [a, b, c] = shapes;
    Ok(roles_source(
        &[a.transpose()?, b.transpose()?, c.transpose()?],
        slots.max(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::model::{Activation, Dense, TimeInput};

    fn dense(inputs: usize, outputs: usize) -> Dense {
        Dense {
            inputs,
            outputs,
            weight: vec![0.5; inputs * outputs],
            bias: vec![0.1; outputs],
        }
    }

    #[test]
    fn the_source_unrolls_inputs_and_loops_over_outputs() {
        let layers = vec![dense(3, 8), dense(8, 8), dense(8, 2)];
        let field =
            VelocityField::from_layers(2, TimeInput::Last, Activation::Selu, layers).unwrap();
        let shape = NetworkShape::of(&field, 4).unwrap();
        let src = shape.source();
        assert!(src.contains("const SLOTS: u32 = 4u;"));
        // 3 -> 8 -> 8 -> 2: one loop per layer, every input written out.
        assert_eq!(src.matches("fn net_forward").count(), 1);
        assert_eq!(src.matches("for (var o").count(), 6);
        assert!(src.contains("const NET_WIDTH: u32 = 8u;"));
        // Four slots of 8 units share one array, row = slot.
        assert!(src.contains("act[3][7u]"), "{src}");
        assert!(!src.contains("for (var i"));
        assert_eq!(shape.width(), 8);
        assert_eq!(shape.loop_iterations(), 8 + 8 + 2);
    }

    #[test]
    fn wide_layers_loop_over_their_inputs() {
        let layers = vec![dense(3, 80), dense(80, 2)];
        let field =
            VelocityField::from_layers(2, TimeInput::Last, Activation::Silu, layers).unwrap();
        let shape = NetworkShape::of(&field, 2).unwrap();
        let src = shape.source();
        // Forward and tangent passes: one input loop per block loop (80 outputs in blocks
        // of 8 for 2 slots), and the 80 -> 2 layer's remainder block.
        assert_eq!(
            src.matches("for (var i = 0u; i < net_count(80u);").count(),
            2
        );
        assert_eq!(src.matches("for (var ob = 0u;").count(), 0);
        assert!(src.contains("let a1 = act_b[1][i];"), "{src}");
        assert!(src.contains("z1_1 = fma(w1, a1, z1_1);"));
        assert_eq!(shape.loop_iterations(), 80 + 81);
        let wide = NetworkShape::of(
            &VelocityField::from_layers(
                2,
                TimeInput::Last,
                Activation::Silu,
                vec![dense(3, 100), dense(100, 100), dense(100, 2)],
            )
            .unwrap(),
            1,
        )
        .unwrap();
        // 100 outputs of 1 slot: six blocks of 16 in a loop, then a block of 4.
        let src = wide.source();
        assert_eq!(
            src.matches("for (var ob = 0u; ob < net_count(96u); ob = ob + 16u)")
                .count(),
            2
        );
        assert!(src.contains("let ob = 96u;"));
        assert_eq!(wide.loop_iterations(), 100 + 7 * 101 + 101);
    }
}
