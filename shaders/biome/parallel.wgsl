// The agents' parallel op, one invocation per listed agent: the program decides how
// much of each nutrient to send to each neighbour (shares over agent neighbours of its
// own id, after keeping `keep_en`), a change of its internal state, and a new
// specialization. The environment's checks follow: only agents receive, nothing
// negative, no more than the agent holds, and a specialization change only if its cost
// is affordable. Output per listed agent in `share` (SHARE_STRIDE floats): the 9 x 2 sent
// amounts (slot 4: minus what leaves), the state change, the new type.
//! generated: biome/state_read
//! generated: biome/nets

override WG: u32 = 64u;

#import grid
#import agent
#import biome/listed
#import biome/nets

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> agent: AgentLayout;
@group(0) @binding(2) var<storage, read> programs: array<f32>;
@group(0) @binding(3) var<storage, read> slot_ok: array<u32>;
@group(0) @binding(4) var<storage, read> types: array<u32>;
#import biome/state_read
@group(0) @binding(6) var<storage, read> ids: array<u32>;
@group(0) @binding(7) var<storage, read> list: array<u32>;
@group(0) @binding(8) var<storage, read> control: array<u32>;
@group(0) @binding(9) var<storage, read_write> share: array<f32>;

const SHARE_STRIDE: u32 = 24u;

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let i = linear_workgroup(wid, nwg) * WG + lid;
    if (i >= listed()) {
        return;
    }
    let cell = list[i];
    if (slot_ok[table_slot(cell)] == 0u) {
        return;
    }
    load_window(cell);
    let spec = own_spec();
    let a = agent.state_size;
    var x: array<f32, 34>;
    var out: array<f32, 17>;
    let base = i * SHARE_STRIDE;

    // Internal state change.
    for (var j = 0u; j < a; j = j + 1u) {
        share[base + 18u + j] = 0.0;
    }
    if (agent.extended != 0u) {
        fill_avg_and_self(&x);
        state_net(spec, &x, &out);
        for (var j = 0u; j < a; j = j + 1u) {
            share[base + 18u + j] = clip_residual(norm(4u, AGENT_STATE + j), out[j]);
        }
    }

    // Specialization logits.
    var averages: array<f32, 10>;
    for (var t = 0u; t < TYPES; t = t + 1u) {
        averages[t] = average_type(t);
    }
    var logits: array<f32, 4>;
    for (var o = 0u; o < SPECS; o = o + 1u) {
        var l = p(agent.nsl_b + spec * SPECS + o);
        for (var t = 0u; t < TYPES; t = t + 1u) {
            l = l + averages[t] * p(agent.nsl_w + (spec * TYPES + t) * SPECS + o);
        }
        logits[o] = l;
    }
    if (agent.extended != 0u) {
        // x still holds what the state network read.
        spec_net(spec, &x, &out);
        for (var o = 0u; o < SPECS; o = o + 1u) {
            logits[o] = logits[o] + out[o];
        }
    }

    // Energy shares: relu'd logits over agent neighbours (self included).
    var shares: array<vec2<f32>, 9>;
    if (agent.extended != 0u) {
        energy_nets(spec, &shares);
    }
    var total = vec2<f32>(0.0);
    for (var k = 0u; k < 9u; k = k + 1u) {
        var s = vec2<f32>(p(agent.denm_b + spec * 18u + k * 2u), p(agent.denm_b + spec * 18u + k * 2u + 1u));
        if (agent.extended != 0u) {
            s = s + shares[k];
        }
        s = max(s, vec2<f32>(0.0)) * select(0.0, 1.0, is_agent(win_types[k]));
        shares[k] = s;
        total = total + s;
    }
    total = max(total, vec2<f32>(1e-6));
    let own = vec2<f32>(raw(4u, EARTH_NUTRIENT), raw(4u, AIR_NUTRIENT));
    let keep = vec2<f32>(p(agent.denm_keep + spec * 2u), p(agent.denm_keep + spec * 2u + 1u));
    let available = max(own - keep, vec2<f32>(0.0));
    var sent: array<vec2<f32>, 9>;
    var asked = vec2<f32>(0.0);
    for (var k = 0u; k < 9u; k = k + 1u) {
        let same = agent.perceive_ids == 0u || win_ids[k] == win_ids[4];
        var d = vec2<f32>(0.0);
        if (k != 4u && same && is_agent(win_types[k])) {
            d = max(shares[k] / total * available, vec2<f32>(0.0));
        }
        sent[k] = d;
        asked = asked + d;
    }
    let given = min(asked, own);
    let divider = max(asked / max(given, vec2<f32>(1e-6)), vec2<f32>(1.0));
    for (var k = 0u; k < 9u; k = k + 1u) {
        sent[k] = sent[k] / divider;
    }
    sent[4] = -given;

    // New specialization, if it differs and is affordable (ties: the lower index).
    var best = 0u;
    for (var o = 1u; o < SPECS; o = o + 1u) {
        if (logits[o] > logits[best]) {
            best = o;
        }
    }
    var new_type = UNSPECIALIZED + best;
    let left = own - given - params.specialize_cost;
    if (new_type != win_types[4] && left.x >= 0.0 && left.y >= 0.0) {
        sent[4] = sent[4] - params.specialize_cost;
    } else {
        new_type = win_types[4];
    }
    for (var k = 0u; k < 9u; k = k + 1u) {
        share[base + k * 2u] = sent[k].x;
        share[base + k * 2u + 1u] = sent[k].y;
    }
    share[base + 22u] = f32(new_type);
}
