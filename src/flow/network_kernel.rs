//! WGSL generated for one network shape: the `flow/net` snippet that the batched flow
//! kernels import.
//!
//! Each invocation evaluates the network for `SLOTS` particles at once. Every loop over a
//! layer's inputs is written out with constant indices, so the activations of all slots
//! stay in registers or plain (non-gathered) private memory, and one load of each weight
//! feeds `SLOTS` multiply-adds; the loop over a layer's outputs stays a loop, which keeps
//! the source (and the shader compile) linear in the number of parameters rather than
//! quadratic, and consecutive wide layers share one body that a loop runs once per layer
//! (the compile then does not grow with depth). Weights are read through the importing
//! kernel's `fn weight(i: u32) -> f32` at offsets fixed by the shape (the packing of
//! `flow::pack`), so networks of one shape share one pipeline.

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
/// (about 16 accumulators per invocation). With one body per run of wide layers, 32 ran
/// the two-slot 4x256 integrator about 10% faster on lavapipe but took its cold compile
/// from 4.1-5.1 s to 5.0-6.3 s, past the 5 s the pipelines are held to; 8 per invocation
/// ran it 21-39% slower (one body per layer then).
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

/// Where a wide layer's body finds its weights: WGSL expressions for its weight offset
/// and its input and output counts (constants, or entries of its run's table).
struct WideAt {
    offset: String,
    inputs: String,
    outputs: String,
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
    /// their inputs, one per input and block of outputs, one per output copied back and
    /// one for their run's loop.
    pub(crate) fn loop_iterations(&self) -> usize {
        let block = out_block(self.slots);
        self.layers
            .iter()
            .map(|l| {
                if l.inputs > UNROLLED_INPUTS {
                    l.outputs.div_ceil(block) * (1 + l.inputs) + l.outputs + 1
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

    /// Wide layers from the wide layer `l` on that share one loop body with it (at least
    /// 1): their outputs are all equal or all whole blocks, so one body serves each (their
    /// sizes, weight offsets, activations and residual links come from a table the loop
    /// walks).
    fn run_at(&self, l: usize) -> usize {
        let first = &self.layers[l];
        let block = out_block(self.slots);
        let wide = self.layers[l..]
            .iter()
            .take_while(|m| m.inputs > UNROLLED_INPUTS)
            .count();
        let equal = self.layers[l..l + wide]
            .iter()
            .take_while(|m| m.outputs == first.outputs)
            .count();
        let blocks = self.layers[l..l + wide]
            .iter()
            .take_while(|m| m.outputs % block == 0)
            .count();
        equal.max(blocks).max(1)
    }

    fn write_pass(&self, s: &mut String, tangent: bool, name: &str) {
        let _ = writeln!(s, "\nfn {name}() {{");
        let mut offset = 0usize;
        // Written-out layers alternate between (act, tan) and (act_b, tan_b); a run of
        // wide layers copies its output back into its input rows.
        let bufs = [("act", "tan"), ("act_b", "tan_b")];
        let mut parity = 0;
        let mut l = 0;
        while l < self.layers.len() {
            if self.layers[l].inputs > UNROLLED_INPUTS {
                let run = self.run_at(l);
                offset = self.write_layer_run(s, tangent, l, run, offset, parity);
                l += run;
                continue;
            }
            let layer = &self.layers[l];
            let (src, src_t) = bufs[parity];
            let (dst, dst_t) = bufs[1 - parity];
            parity = 1 - parity;
            let (ins, outs) = (layer.inputs, layer.outputs);
            let bias = offset + ins * outs;
            let code = layer.activation;
            let _ = writeln!(s, "    // layer {l}: {ins} -> {outs}");
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
            l += 1;
        }
        // The output ends in act (and tan).
        if parity == 1 {
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
    /// so each activation loaded at a run-time index feeds a block of multiply-adds. The
    /// body writes the sums (and tangents) to `dst`; its run applies the activation.
    fn write_wide_layer(
        &self,
        s: &mut String,
        tangent: bool,
        l: usize,
        (src, src_t): (&str, &str),
        (dst, dst_t): (&str, &str),
        at: &WideAt,
    ) {
        let outs = self.layers[l].outputs;
        let (offset, ins) = (&at.offset, &at.inputs);
        let _ = writeln!(s, "        let lo = {offset};");
        let _ = writeln!(s, "        let li = {ins};");
        let _ = writeln!(s, "        let lb = lo + li * {};", at.outputs);
        let block = out_block(self.slots);
        // A run's layers are all `outs` wide or all whole blocks (then `at.outputs`).
        let full = outs / block * block;
        let full_expr = if full == outs {
            at.outputs.clone()
        } else {
            format!("{full}u")
        };
        let lanes = self.lanes;
        let write_block = |s: &mut String, width: usize| {
            for j in 0..width {
                for p in 0..self.slots {
                    let _ = writeln!(s, "        var z{j}_{p} = weight(lb + ob + {j}u);");
                    if tangent {
                        let _ = writeln!(s, "        var dz{j}_{p} = 0.0;");
                    }
                }
            }
            let _ = writeln!(
                s,
                "        for (var i = 0u; i < net_count(li); i = i + 1u) {{"
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
                        "            let lw{c} = weight(lo + (ob + {}u + min(net_lane & {}u, {last}u)) * li + i);",
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
                        "            let w{j} = weight(lo + (ob + {j}u) * li + i);"
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
                    let _ = writeln!(s, "        {} = z{j}_{p};", self.at(dst, p, &o));
                    if tangent {
                        let _ = writeln!(s, "        {} = dz{j}_{p};", self.at(dst_t, p, &o));
                    }
                }
            }
        };
        if full > 0 {
            let _ = writeln!(
                s,
                "    for (var ob = 0u; ob < net_count({full_expr}); ob = ob + {block}u) {{"
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

    /// The wide layers `l..l + run` (see [`Self::run_at`]; a layer of its own is a run
    /// of one, with constants for the table) as one loop over a table of (weight offset,
    /// inputs, outputs, residual link) and activations around one wide-layer body: each pass reads the rows of `parity`, writes its sums to the others, and
    /// copies them back through the activation (and the residual link), so the source
    /// and the shader compile hold one body for the whole run. Returns the weight offset
    /// after the run.
    fn write_layer_run(
        &self,
        s: &mut String,
        tangent: bool,
        l: usize,
        run: usize,
        mut offset: usize,
        parity: usize,
    ) -> usize {
        let bufs = [("act", "tan"), ("act_b", "tan_b")];
        let (src, src_t) = bufs[parity];
        let (dst, dst_t) = bufs[1 - parity];
        let layers = &self.layers[l..l + run];
        let first_offset = offset;
        let mut sizes = Vec::with_capacity(run);
        for (k, layer) in layers.iter().enumerate() {
            let (ins, outs) = (layer.inputs, layer.outputs);
            let _ = writeln!(s, "    // layer {}: {ins} -> {outs}", l + k);
            sizes.push(format!(
                "vec4<u32>({offset}u, {ins}u, {outs}u, {}u)",
                u32::from(layer.residual)
            ));
            offset += ins * outs + outs;
        }
        let codes: Vec<String> = layers
            .iter()
            .map(|m| format!("{}u", m.activation))
            .collect();
        if run > 1 {
            let _ = writeln!(
                s,
                "    var sizes{l} = array<vec4<u32>, {run}>({});",
                sizes.join(", ")
            );
        }
        let code = if layers.iter().all(|m| m.activation == layers[0].activation) {
            codes[0].clone()
        } else {
            let _ = writeln!(
                s,
                "    var codes{l} = array<u32, {run}>({});",
                codes.join(", ")
            );
            format!("codes{l}[h]")
        };
        let per = |field: &str, value: fn(&LayerShape) -> usize| {
            if layers.iter().all(|m| value(m) == value(&layers[0])) {
                format!("{}u", value(&layers[0]))
            } else {
                format!("sizes{l}[h].{field}")
            }
        };
        let residual = if layers.iter().all(|m| m.residual) {
            "true".to_string()
        } else if layers.iter().any(|m| m.residual) {
            format!("sizes{l}[h].w != 0u")
        } else {
            "false".to_string()
        };
        let at = WideAt {
            offset: if run == 1 {
                format!("{first_offset}u")
            } else {
                format!("sizes{l}[h].x")
            },
            inputs: per("y", |m| m.inputs),
            outputs: per("z", |m| m.outputs),
        };
        let _ = writeln!(
            s,
            "    for (var h = 0u; h < net_count({run}u); h = h + 1u) {{"
        );
        self.write_wide_layer(s, tangent, l, (src, src_t), (dst, dst_t), &at);
        let _ = writeln!(s, "        let code = {code};");
        let _ = writeln!(s, "        let lr = {residual};");
        let _ = writeln!(
            s,
            "        for (var u = 0u; u < net_count({}); u = u + 1u) {{",
            at.outputs
        );
        for p in 0..self.slots {
            let (z, into) = (self.at(dst, p, "u"), self.at(src, p, "u"));
            let _ = writeln!(s, "            let v{p} = activate(code, {z});");
            if tangent {
                let (dz, into_t) = (self.at(dst_t, p, "u"), self.at(src_t, p, "u"));
                let _ = writeln!(
                    s,
                    "            let dv{p} = activate_derivative(code, {z}) * {dz};"
                );
                let _ = writeln!(
                    s,
                    "            {into_t} = select(dv{p}, dv{p} + {into_t}, lr);"
                );
            }
            let _ = writeln!(s, "            {into} = select(v{p}, v{p} + {into}, lr);");
        }
        let _ = writeln!(s, "        }}\n    }}");
        offset
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
            src.matches("for (var i = 0u; i < net_count(li);").count(),
            2
        );
        assert_eq!(src.matches("let li = 80u;").count(), 2);
        assert_eq!(src.matches("for (var ob = 0u;").count(), 0);
        assert!(src.contains("let a1 = act_b[1][i];"), "{src}");
        assert!(src.contains("z1_1 = fma(w1, a1, z1_1);"));
        // The wide layer: 81 per output block, 2 copied back, 1 for its run's loop.
        assert_eq!(shape.loop_iterations(), 80 + 81 + 2 + 1);
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
        assert_eq!(wide.loop_iterations(), 100 + (7 * 101 + 101) + (101 + 3));
    }

    #[test]
    fn wide_layers_of_whole_blocks_share_one_body() {
        // 65 -> 256 -> 256 -> 256 -> 256 -> 64 in blocks of 8 (two slots): one loop over
        // the five layers' table around one body; the activation (SiLU, then the output's
        // identity) and the middle layers' residual links are applied in the copy back.
        let sizes = [65, 256, 256, 256, 256, 64];
        let layers = sizes.windows(2).map(|w| dense(w[0], w[1])).collect();
        let mut field =
            VelocityField::from_layers(64, TimeInput::Last, Activation::Silu, layers).unwrap();
        field.residual = true;
        let shape = NetworkShape::of(&field, 2).unwrap();
        let src = shape.source();
        let forward =
            &src[src.find("fn net_forward").unwrap()..src.find("fn net_tangent").unwrap()];
        assert_eq!(
            forward
                .matches("for (var i = 0u; i < net_count(li);")
                .count(),
            1
        );
        assert_eq!(forward.matches("activate(").count(), 2, "{forward}");
        // Offsets: 65 * 256 + 256 = 16896, then 256 * 256 + 256 = 65792 per layer.
        assert!(
            forward.contains(
                "var sizes0 = array<vec4<u32>, 5>(vec4<u32>(0u, 65u, 256u, 0u), \
                 vec4<u32>(16896u, 256u, 256u, 1u), vec4<u32>(82688u, 256u, 256u, 1u), \
                 vec4<u32>(148480u, 256u, 256u, 1u), vec4<u32>(214272u, 256u, 64u, 0u));"
            ),
            "{forward}"
        );
        assert!(forward.contains("let code = codes0[h];"), "{forward}");
        assert!(forward.contains("let lr = sizes0[h].w != 0u;"), "{forward}");
        assert!(forward.contains("net_count(sizes0[h].z)"), "{forward}");
        // The run writes act_b and copies back into act, where the output stays.
        assert!(
            forward.contains("act_1[u] = select(v1, v1 + act_1[u], lr);"),
            "{forward}"
        );
        assert!(!forward.contains("act_0[0u] = act_b_0[0u];"), "{forward}");
        let per_layer = |ins: usize, outs: usize| outs.div_ceil(8) * (1 + ins) + 1 + outs;
        assert_eq!(
            shape.loop_iterations(),
            per_layer(65, 256) + 3 * per_layer(256, 256) + per_layer(256, 64)
        );
        // With one slot (blocks of 16) and outputs of 100, only the equal layers share.
        let sizes = [65, 100, 100, 64];
        let layers = sizes.windows(2).map(|w| dense(w[0], w[1])).collect();
        let field =
            VelocityField::from_layers(64, TimeInput::Last, Activation::Silu, layers).unwrap();
        let shape = NetworkShape::of(&field, 1).unwrap();
        let src = shape.source();
        let forward =
            &src[src.find("fn net_forward").unwrap()..src.find("fn net_tangent").unwrap()];
        assert!(
            forward.contains("var sizes0 = array<vec4<u32>, 2>("),
            "{forward}"
        );
        assert!(forward.contains("let code = 2u;"), "{forward}");
        assert_eq!(
            forward
                .matches("for (var i = 0u; i < net_count(li);")
                .count(),
            3
        );
    }
}
