// The agents' exclusive op (spawn), one invocation per listed agent, after the material
// proposals: with enough nutrients, and with probability sigmoid((max_neigh_agent_avg -
// fraction of agent neighbours) * sensitivity), the agent proposes a child in the slot
// chosen by argmax(logits + Gumbel noise), if that slot holds VOID, AIR or EARTH and the
// agent holds at least the spawn cost. Payload per listed agent in `spawn` (SPAWN_STRIDE
// floats, by list position): the child's share of the spendable nutrients, the child's internal state,
// the parent's state change.
//! generated: biome/state_read
//! generated: biome/nets

override WG: u32 = 64u;

#import grid
#import agent
#import biome/listed
#import biome/draws
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
@group(0) @binding(9) var<storage, read_write> proposal: array<u32>;
@group(0) @binding(10) var<storage, read_write> spawn: array<f32>;
@group(0) @binding(11) var<storage, read> seeds: array<vec2<u32>>;

const SPAWN_STRIDE: u32 = 12u;

fn gumbel(bits: u32) -> f32 {
    return -log(-log(rng_u01(bits)));
}

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
    let b0 = step_bits(cell, STREAM_SPAWN, 0u);
    let b1 = step_bits(cell, STREAM_SPAWN, 1u);
    let b2 = step_bits(cell, STREAM_SPAWN, 2u);

    var wants = norm(4u, EARTH_NUTRIENT) - p(agent.excl_min_en) >= 0.0
        && norm(4u, AIR_NUTRIENT) - p(agent.excl_min_en + 1u) >= 0.0;
    var agents_around = 0.0;
    for (var t = UNSPECIALIZED; t <= FLOWER; t = t + 1u) {
        agents_around = agents_around + average_type(t);
    }
    let crowding = (p(agent.excl_max_neigh) - agents_around) * p(agent.excl_sensitivity);
    wants = wants && rng_u01(b0.x) < 1.0 / (1.0 + exp(-crowding));
    let affordable = raw(4u, EARTH_NUTRIENT) >= params.spawn_cost.x
        && raw(4u, AIR_NUTRIENT) >= params.spawn_cost.y;
    // Without a proposal nothing reads the payload: the network need not run.
    if (!wants || !affordable) {
        return;
    }

    var logits: array<f32, 9>;
    for (var k = 0u; k < 9u; k = k + 1u) {
        logits[k] = p(agent.excl_b + spec * 9u + k);
    }
    let base = i * SPAWN_STRIDE;
    for (var j = 0u; j < a; j = j + 1u) {
        spawn[base + 1u + j] = 0.0;
        spawn[base + 5u + j] = 0.0;
    }
    if (agent.extended != 0u) {
        var x: array<f32, 34>;
        var out: array<f32, 17>;
        let c = params.channels;
        let n = fill_avg_and_self(&x);
        for (var ch = 0u; ch < c; ch = ch + 1u) {
            var dx = 0.0;
            var dy = 0.0;
            for (var k = 0u; k < 9u; k = k + 1u) {
                let v = norm(k, ch);
                dx = dx + v * (f32(k % 3u) - 1.0);
                dy = dy + v * (1.0 - f32(k / 3u));
            }
            x[n + ch] = dx;
            x[n + c + ch] = dy;
        }
        spawn_net(spec, &x, &out);
        for (var k = 0u; k < 9u; k = k + 1u) {
            logits[k] = logits[k] + out[k];
        }
        for (var j = 0u; j < a; j = j + 1u) {
            let internal = raw(4u, AGENT_STATE + j);
            spawn[base + 1u + j] = clamp(internal + out[9u + a + j], -STATE_CLIP, STATE_CLIP);
            spawn[base + 5u + j] = clip_residual(internal, out[9u + j]);
        }
    }
    let noise = array<u32, 9>(b0.y, b0.z, b0.w, b1.x, b1.y, b1.z, b1.w, b2.x, b2.y);
    var slot = 0u;
    var best = logits[0] + gumbel(noise[0]);
    for (var k = 1u; k < 9u; k = k + 1u) {
        let v = logits[k] + gumbel(noise[k]);
        if (v > best) {
            best = v;
            slot = k;
        }
    }
    let target_type = win_types[slot];
    let spawnable = target_type == VOID || target_type == AIR || target_type == EARTH;
    if (spawnable) {
        proposal[cell] = slot;
        spawn[base] = clamp(p(agent.excl_en_perc), 0.0, 1.0);
    }
}
