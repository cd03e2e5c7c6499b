// Energy, first half: nutrient diffusion in the media, then what each material cell can
// give the roots and leaves around it. Earth nutrient diffuses among EARTH cells with
// IMMOVABLE as a source at the material cap, air nutrient among AIR cells with SUN as the
// source; every other cell's material nutrient becomes 0. A material cell asked for T in
// total by the agents around it gives each the fraction clip(v / T, 0, 1) of its ask and
// keeps max(v - T, 0).
// Output per cell: (fraction earth, fraction air, kept earth, kept air).
// An invocation walks a strip of BAND rows of one column (`Strip` in common/biome.wgsl)
// with the 3x3 window of types and media in registers, reading three new cells per row
// instead of nine; the window's sums run in the same order as one cell's alone.
//! generated: biome/state_read
//! generated: biome/offer_write

override WG: u32 = 64u;
override BAND: u32 = 8u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
#import biome/state_read
#import biome/offer_write

const DIFFUSION_RATE: f32 = 0.1;

// (earth, air) nutrient a cell holds as a medium, and whether it takes part in each
// medium's diffusion.
fn medium(cell: u32, t: u32) -> vec4<f32> {
    let base = cell * params.channels;
    var v = vec4<f32>(0.0);
    if (t == EARTH) {
        v.x = state_at(base + EARTH_NUTRIENT);
        v.z = 1.0;
    } else if (t == IMMOVABLE) {
        v.x = params.material_cap.x;
        v.z = 1.0;
    } else if (t == AIR) {
        v.y = state_at(base + AIR_NUTRIENT);
        v.w = 1.0;
    } else if (t == SUN) {
        v.y = params.material_cap.y;
        v.w = 1.0;
    }
    return v;
}

// Three neighbouring cells of a row (left, centre, right): types and media. Cells outside
// the world are OUT_OF_BOUNDS with no medium, which adds exactly nothing to the sums.
struct Row {
    t: vec3<u32>,
    left: vec4<f32>,
    centre: vec4<f32>,
    right: vec4<f32>,
}

// The medium of `cell` (-1: outside the world) and its type in `t`.
fn cell_view(cell: i32, t: ptr<function, u32>) -> vec4<f32> {
    if (cell < 0) {
        *t = OUT_OF_BOUNDS;
        return vec4<f32>(0.0);
    }
    *t = types[u32(cell)];
    return medium(u32(cell), *t);
}

fn row_at(s: Strip, row: i32) -> Row {
    let c = strip_row(s, row);
    var r: Row;
    var t = 0u;
    r.left = cell_view(c.x, &t);
    r.t.x = t;
    r.centre = cell_view(c.y, &t);
    r.t.y = t;
    r.right = cell_view(c.z, &t);
    r.t.z = t;
    return r;
}

// What neighbour `other` of type `t` adds to the flow into `own` and to the asks.
fn gather(own: vec4<f32>, other: vec4<f32>, t: u32, flow: ptr<function, vec2<f32>>, asked: ptr<function, vec2<f32>>) {
    *flow = *flow + other.zw * (other.xy - own.xy);
    *asked = *asked + params.absorption * vec2<f32>(f32(t == ROOT), f32(t == LEAF));
}

fn gather_row(own: vec4<f32>, r: Row, flow: ptr<function, vec2<f32>>, asked: ptr<function, vec2<f32>>) {
    gather(own, r.left, r.t.x, flow, asked);
    gather(own, r.centre, r.t.y, flow, asked);
    gather(own, r.right, r.t.z, flow, asked);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    var s: Strip;
    if (!strip_of(linear_workgroup(wid, nwg) * WG + lid, BAND, &s)) {
        return;
    }
    var above = row_at(s, i32(s.first) - 1);
    var here = row_at(s, i32(s.first));
    for (var r = 0u; r < s.rows; r = r + 1u) {
        let row = i32(s.first + r);
        let below = row_at(s, row + 1);
        let own = here.centre;
        var flow = vec2<f32>(0.0);
        var asked = vec2<f32>(0.0);
        gather_row(own, above, &flow, &asked);
        gather_row(own, here, &flow, &asked);
        gather_row(own, below, &flow, &asked);
        let t = here.t.y;
        let is_medium = vec2<f32>(f32(t == EARTH), f32(t == AIR));
        let available = (own.xy + DIFFUSION_RATE * flow) * is_medium;
        let fraction = clamp(available / max(asked, vec2<f32>(1e-6)), vec2<f32>(0.0), vec2<f32>(1.0));
        let kept = max(available - asked, vec2<f32>(0.0));
        offer_put(strip_cell(s, row), vec4<f32>(fraction, kept));
        above = here;
        here = below;
    }
}
