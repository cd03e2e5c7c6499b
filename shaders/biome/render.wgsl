// Rendering: one thread per output pixel of the world zoomed `params.zoom` times (nearest
// neighbour). Colours by type; EARTH and AIR shaded by their nutrient, agents tinted by
// their program id's hue and darkened with age. Pixels are packed RGBA8.
//! generated: biome/state_read

override WG: u32 = 64u;

#import grid
#import biome

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> types: array<u32>;
#import biome/state_read
@group(0) @binding(3) var<storage, read> ids: array<u32>;
@group(0) @binding(4) var<storage, read_write> image: array<u32>;

fn base_colour(t: u32) -> vec3<f32> {
    switch (t) {
        case 0u: { return vec3<f32>(1.0, 1.0, 1.0); }
        case 1u: { return vec3<f32>(0.84, 1.0, 1.0); }
        case 2u: { return vec3<f32>(0.769, 0.643, 0.518); }
        case 3u: { return vec3<f32>(0.0, 0.0, 0.0); }
        case 4u: { return vec3<f32>(1.0, 1.0, 0.5); }
        case 6u: { return vec3<f32>(0.65, 0.68, 0.65); }
        case 7u: { return vec3<f32>(0.52, 0.39, 0.14); }
        case 8u: { return vec3<f32>(0.16, 0.49, 0.10); }
        case 9u: { return vec3<f32>(1.0, 0.42, 0.71); }
        default: { return vec3<f32>(1.0, 0.0, 0.0); }
    }
}

// One channel of hsl(h, s, l) for s = l = 0.5 (p = 0.25, q = 0.75), hue offset `t`.
fn hue_channel(t_in: f32) -> f32 {
    let t = fract(t_in);
    let p = 0.25;
    let q = 0.75;
    if (t < 1.0 / 6.0) {
        return p + (q - p) * 6.0 * t;
    }
    if (t < 0.5) {
        return q;
    }
    if (t < 2.0 / 3.0) {
        return p + (q - p) * (2.0 / 3.0 - t) * 6.0;
    }
    return p;
}

fn to_byte(x: f32) -> u32 {
    return u32(clamp(x, 0.0, 1.0) * 255.0);
}

@compute @workgroup_size(WG)
fn main(
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) nwg: vec3<u32>,
    @builtin(local_invocation_index) lid: u32,
) {
    let pixel = linear_workgroup(wid, nwg) * WG + lid;
    let out_width = params.width * params.zoom;
    if (pixel >= world_cells() * params.zoom * params.zoom) {
        return;
    }
    let row = pixel / out_width / params.zoom;
    let col = pixel % out_width / params.zoom;
    let cell = world_base(params.world) + row * params.width + col;
    let t = types[cell];
    let base = cell * params.channels;
    var c = base_colour(t);
    if (t == EARTH) {
        c = c * (0.3 + 0.7 * state_at(base + EARTH_NUTRIENT) / params.material_cap.x);
    } else if (t == AIR) {
        c = c * (0.3 + 0.7 * state_at(base + AIR_NUTRIENT) / params.material_cap.y);
    } else if (is_agent(t)) {
        let hue = fract(f32(ids[cell]) * 41.0 / 137.0);
        let tint = vec3<f32>(hue_channel(hue + 1.0 / 3.0), hue_channel(hue), hue_channel(hue - 1.0 / 3.0));
        c = 0.85 * c + 0.15 * tint;
        c = c * (0.3 + 0.7 * (1.0 - state_at(base + AGE) / params.max_lifetime));
    }
    image[pixel] = to_byte(c.x) | (to_byte(c.y) << 8u) | (to_byte(c.z) << 16u) | (255u << 24u);
}
