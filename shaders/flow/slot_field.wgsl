// A field evaluated for SLOTS particles at once through the generated network of
// flow/net: one call of the network per pass over every slot's input (flow/slot_input;
// flow::eval on the CPU).
//
// The importing kernel provides what flow/slot_input needs and `probe_at(slot, i)` (each
// slot's tangent direction for Hutchinson passes).

#import flow/slot_input

// One pass of the network over every slot, optionally with a tangent: the unit vector
// along input coordinate `unit` of x, or (probe) each slot's `probe` vector.
fn network_pass(shape: InputLayout, tangent: bool, unit: u32, use_probe: bool) {
    let x_off = load_inputs(shape);
    if (tangent) {
        for (var s = 0u; s < slot_count(); s = s + 1u) {
            if (use_probe) {
                for (var c = 0u; c < shape.dim; c = c + 1u) {
                    tan_put(s, x_off + c, probe_at(s, c));
                }
            } else {
                tan_put(s, x_off + unit, 1.0);
            }
        }
        net_tangent();
    } else {
        net_forward();
    }
}
