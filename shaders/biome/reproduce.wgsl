// Reproduction, one workgroup per world of the batch: take the `picks` candidate flowers with the largest keys
// (a draw without replacement, proportional to their AIR neighbours). With mutation,
// pick i is paired with the i-th least populated program slot and goes ahead only if
// that slot is empty; the parent's program, mutated, is written there and the child
// takes that id. Each executed pick, in order and seeing the previous ones, places a seed
// (two UNSPECIALIZED cells sharing what the flower holds above the reproduce cost) on the
// topmost AIR-over-EARTH spot of a column chosen uniformly among those min..max columns
// away; then every executed flower becomes VOID, seed or no seed. In the petri-dish mode
// (`params.intercept`) no program is mutated and no seed placed: a pick succeeds when
// its flower holds at least `params.repr_min_energy` above the reproduce cost in both
// nutrients, and the flower is removed either way.
// control: the world's candidate count. The world's census row of `params.record_slot`:
// [10] executed picks, [11] seeds placed, [15] successful intercepted picks.
//! generated: biome/state_write
//! generated: biome/candidates_read

override WG: u32 = 256u;

#import agent
#import biome/census_at
#import biome/control
#import biome/draws

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<uniform> agent: AgentLayout;
@group(0) @binding(2) var<storage, read_write> programs: array<f32>;
@group(0) @binding(3) var<storage, read_write> slot_ok: array<u32>;
@group(0) @binding(4) var<storage, read_write> types: array<u32>;
#import biome/state_write
@group(0) @binding(6) var<storage, read_write> ids: array<u32>;
@group(0) @binding(7) var<storage, read> control: array<u32>;
@group(0) @binding(8) var<storage, read> id_counts: array<u32>;
#import biome/candidates_read
@group(0) @binding(10) var<storage, read_write> census: array<u32>;
@group(0) @binding(11) var<storage, read> seeds: array<vec2<u32>>;

const MAX_PICKS: u32 = 16u;
const NONE: u32 = 0xffffffffu;

var<workgroup> best_key: array<f32, 256>;
var<workgroup> best_item: array<u32, 256>;
var<workgroup> picked: array<u32, 16>;
var<workgroup> slot_for: array<u32, 16>;
var<workgroup> slot_free: array<u32, 16>;
var<workgroup> ranks: array<u32, 256>;
var<workgroup> seed_col: u32;
var<workgroup> seed_total: u32;
// The world this workgroup reproduces in, its first cell and its first program slot.
var<private> world: u32;
var<private> base: u32;
var<private> first_slot: u32;

fn better(key_a: f32, item_a: u32, key_b: f32, item_b: u32) -> bool {
    if (item_b == NONE) {
        return item_a != NONE;
    }
    if (item_a == NONE) {
        return false;
    }
    return key_a > key_b || (key_a == key_b && item_a < item_b);
}

// Tree reduction of (best_key, best_item) to slot 0.
fn reduce_best(lid: u32) {
    for (var stride = WG / 2u; stride > 0u; stride = stride / 2u) {
        workgroupBarrier();
        if (lid < stride && better(best_key[lid + stride], best_item[lid + stride], best_key[lid], best_item[lid])) {
            best_key[lid] = best_key[lid + stride];
            best_item[lid] = best_item[lid + stride];
        }
    }
    workgroupBarrier();
}

fn box_muller(bits: vec4<u32>) -> f32 {
    let r = sqrt(-2.0 * log(rng_u01(bits.x)));
    return r * cos(6.283185307179586 * rng_u01(bits.y));
}

fn mutation_bits(j: u32, pick: u32, block: u32) -> vec4<u32> {
    return world_bits(world, j, STREAM_MUTATE | (pick << 8u), block);
}

// A standard normal truncated to [-3, 3], from blocks first, first + 2, ... (rejection;
// 32 straight rejections, probability 0.0027^32, give 0).
fn truncated_normal(j: u32, pick: u32, first: u32) -> f32 {
    for (var attempt = 0u; attempt < 32u; attempt = attempt + 1u) {
        let z = box_muller(mutation_bits(j, pick, first + 2u * attempt));
        if (abs(z) <= 3.0) {
            return z;
        }
    }
    return 0.0;
}

fn mutate(pick: u32, from_slot: u32, to_slot: u32, lid: u32) {
    let n = agent.params_len;
    let src = (first_slot + from_slot) * agent.stride;
    let dst = (first_slot + to_slot) * agent.stride;
    for (var j = lid; j < n; j = j + WG) {
        let b0 = mutation_bits(j, pick, 0u);
        let change = rng_u01(b0.x) < agent.change_perc;
        if (agent.mutator == 1u) {
            var v = programs[src + j];
            if (change) {
                v = v + box_muller(vec4<u32>(b0.y, b0.z, 0u, 0u)) * agent.mutate_sd;
            }
            programs[dst + j] = v;
        } else {
            var mu = programs[src + j];
            var sd = programs[src + n + j];
            if (change) {
                let dmu = truncated_normal(j, pick, 1u) * sd;
                let dsd = truncated_normal(j, pick, 2u) * sd * agent.meta_sd_perc;
                mu = mu + dmu;
                sd = clamp(sd + dsd, 1e-5, 10.0);
            }
            programs[dst + j] = mu;
            programs[dst + n + j] = sd;
        }
    }
}

// The topmost row r of `col` with AIR at r over EARTH at r + 1, or NONE.
fn fertile_row(col: u32) -> u32 {
    let w = params.width;
    for (var r = 0u; r + 1u < params.height; r = r + 1u) {
        if (types[base + r * w + col] == AIR && types[base + (r + 1u) * w + col] == EARTH) {
            return r;
        }
    }
    return NONE;
}

fn in_range(col: u32, center: u32) -> bool {
    let d = u32(abs(i32(col) - i32(center)));
    return d >= agent.min_dist && d <= agent.max_dist;
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    world = wid.x;
    base = world_base(world);
    first_slot = world * agent.slots;
    let picks = min(agent.picks, MAX_PICKS);
    let count = min(control[CONTROL_CANDIDATES + world], world_cells());
    let intercepting = params.intercept != 0u;
    let mutating = agent.mutator != 0u && !intercepting;

    // The largest keys, one pick at a time.
    for (var i = 0u; i < picks; i = i + 1u) {
        var key = 0.0;
        var item = NONE;
        for (var c = lid; c < count; c = c + WG) {
            let cand = candidates_at(base + c);
            var taken = false;
            for (var j = 0u; j < i; j = j + 1u) {
                taken = taken || picked[j] == cand.y;
            }
            if (!taken && better(bitcast<f32>(cand.x), cand.y, key, item)) {
                key = bitcast<f32>(cand.x);
                item = cand.y;
            }
        }
        best_key[lid] = key;
        best_item[lid] = item;
        reduce_best(lid);
        if (lid == 0u) {
            picked[i] = best_item[0];
        }
        workgroupBarrier();
    }

    // The least populated slots, ties to the lower index.
    if (mutating) {
        for (var i = 0u; i < picks; i = i + 1u) {
            var key = 0.0;
            var item = NONE;
            for (var s = lid; s < agent.slots; s = s + WG) {
                var taken = false;
                for (var j = 0u; j < i; j = j + 1u) {
                    taken = taken || slot_for[j] == s;
                }
                let k = -f32(id_counts[first_slot + s]);
                if (!taken && better(k, s, key, item)) {
                    key = k;
                    item = s;
                }
            }
            best_key[lid] = key;
            best_item[lid] = item;
            reduce_best(lid);
            if (lid == 0u) {
                slot_for[i] = best_item[0];
                slot_free[i] = select(0u, 1u, best_item[0] != NONE && id_counts[first_slot + best_item[0]] == 0u);
            }
            workgroupBarrier();
        }
    }

    let w = params.width;
    let per_thread = (w + WG - 1u) / WG;
    var executed = 0u;
    var placed = 0u;
    var intercepted = 0u;
    for (var i = 0u; i < picks; i = i + 1u) {
        let flower = workgroupUniformLoad(&picked[i]);
        var free = 1u;
        if (mutating) {
            free = workgroupUniformLoad(&slot_free[i]);
        }
        if (flower == NONE || free == 0u) {
            continue;
        }
        executed = executed + 1u;
        if (intercepting) {
            let fb = flower * params.channels;
            let stored = vec2<f32>(state_at(fb + EARTH_NUTRIENT), state_at(fb + AIR_NUTRIENT)) - params.reproduce_cost;
            if (all(stored >= params.repr_min_energy)) {
                intercepted = intercepted + 1u;
            }
            continue;
        }
        let parent = ids[flower];
        var child_id = parent;
        if (mutating) {
            child_id = workgroupUniformLoad(&slot_for[i]);
            mutate(i, parent, child_id, lid);
            if (lid == 0u) {
                slot_ok[first_slot + child_id] = slot_ok[first_slot + parent];
            }
        }
        // Count the allowed fertile columns in this thread's range, then find the
        // chosen one by rank.
        let center = (flower - base) % w;
        let first = lid * per_thread;
        var mine = 0u;
        for (var c = first; c < min(first + per_thread, w); c = c + 1u) {
            if (in_range(c, center) && fertile_row(c) != NONE) {
                mine = mine + 1u;
            }
        }
        ranks[lid] = mine;
        if (lid == 0u) {
            seed_col = NONE;
        }
        workgroupBarrier();
        if (lid == 0u) {
            var total = 0u;
            for (var t = 0u; t < WG; t = t + 1u) {
                let n = ranks[t];
                ranks[t] = total;
                total = total + n;
            }
            seed_total = total;
        }
        let total = workgroupUniformLoad(&seed_total);
        if (total > 0u) {
            let rank = pick_below(world_bits(world, i, STREAM_REPRODUCE, 1u).x, total);
            var r = ranks[lid];
            for (var c = first; c < min(first + per_thread, w); c = c + 1u) {
                if (in_range(c, center) && fertile_row(c) != NONE) {
                    if (r == rank) {
                        seed_col = c;
                    }
                    r = r + 1u;
                }
            }
        }
        workgroupBarrier();
        if (lid == 0u && seed_col != NONE) {
            let row = fertile_row(seed_col);
            let s = params.channels;
            let fb = flower * s;
            let stored = vec2<f32>(state_at(fb + EARTH_NUTRIENT), state_at(fb + AIR_NUTRIENT)) - params.reproduce_cost;
            for (var dr = 0u; dr < 2u; dr = dr + 1u) {
                let cell = base + (row + dr) * w + seed_col;
                types[cell] = UNSPECIALIZED;
                ids[cell] = child_id;
                for (var ch = 0u; ch < s; ch = ch + 1u) {
                    state_put(cell * s + ch, 0.0);
                }
                state_put(cell * s + EARTH_NUTRIENT, stored.x * 0.5);
                state_put(cell * s + AIR_NUTRIENT, stored.y * 0.5);
            }
            placed = placed + 1u;
        }
        storageBarrier();
        workgroupBarrier();
    }
    if (lid == 0u) {
        for (var i = 0u; i < picks; i = i + 1u) {
            let flower = picked[i];
            if (flower != NONE && (!mutating || slot_free[i] != 0u)) {
                types[flower] = VOID;
                ids[flower] = 0u;
                for (var ch = 0u; ch < params.channels; ch = ch + 1u) {
                    state_put(flower * params.channels + ch, 0.0);
                }
            }
        }
        census[census_index(world, CENSUS_REPRODUCTIONS)] = executed;
        census[census_index(world, CENSUS_SEEDS)] = placed;
        census[census_index(world, CENSUS_INTERCEPTED)] = intercepted;
    }
}
