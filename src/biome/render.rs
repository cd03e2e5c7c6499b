//! Pictures of a world: the reference's palette and shading computed on the GPU, nearest-
//! neighbour zoom (the images and time-lapses are [`crate::automata`]'s).

pub use crate::automata::Image;
use crate::biome::config::BiomeConfig;
use crate::biome::params::StepParams;
use crate::biome::state::{channel, kind, WorldState};
use crate::biome::world::Worlds;
use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, Grid, KernelDesc};

const WG: u32 = 64;

impl Worlds {
    /// The largest zoom up to `zoom` (at least 1) whose picture fits one storage binding:
    /// large worlds are drawn smaller than asked.
    pub fn zoom_that_fits(&self, zoom: u32) -> u32 {
        let cells = self.height() as u64 * self.width() as u64;
        let mut z = zoom.max(1);
        while z > 1 && cells * u64::from(z) * u64::from(z) * 4 > self.ctx.max_binding_bytes() {
            z -= 1;
        }
        z
    }

    /// Renders world `world` of the batch, each cell a `zoom × zoom` square.
    pub fn render(&self, world: usize, zoom: u32) -> Result<Image> {
        pollster::block_on(self.render_async(world, zoom))
    }

    /// [`Worlds::render`] without blocking the thread (the browser's form).
    pub async fn render_async(&self, world: usize, zoom: u32) -> Result<Image> {
        if world >= self.count() {
            return Err(Error::invalid(format!(
                "world {world} is not in a batch of {}",
                self.count()
            )));
        }
        let (h, w) = (self.height() as u32, self.width() as u32);
        if zoom == 0 {
            return Err(Error::invalid("render zoom must be at least 1"));
        }
        let (out_w, out_h) = (w * zoom, h * zoom);
        let pixels = u64::from(out_w) * u64::from(out_h);
        if pixels * 4 > self.ctx.max_binding_bytes() {
            return Err(Error::invalid(format!(
                "a {out_w}x{out_h} picture does not fit one GPU buffer binding; use a \
                 smaller zoom"
            )));
        }
        let mut params = StepParams::new(&self.config, self.count(), self.step);
        params.zoom = zoom;
        params.world = world as u32;
        let params = GpuBuffer::uniform(&self.ctx, &params, "morphogen.biome.render.params")?;
        let image: GpuBuffer<u32> =
            GpuBuffer::zeroed(&self.ctx, pixels as usize, "morphogen.biome.render.image")?;
        let g = &self.grids;
        let state = &g.banks.state;
        let accessors = [(state.import(false), state.source(false))];
        let generated = [(accessors[0].0.as_str(), accessors[0].1.as_str())];
        let kernel = self.ctx.kernel(
            &KernelDesc::new("biome/render")
                .generated(&generated)
                .overrides(&[("WG", f64::from(WG))]),
        )?;
        let windows = state.bindings(&g.state);
        let mut bindings = vec![
            ("params", params.binding()),
            ("types", g.types.binding()),
            ("ids", g.ids.binding()),
            ("image", image.binding()),
        ];
        bindings.extend(windows.iter().map(|(n, r)| (n.as_str(), r.clone())));
        let group = kernel.bind_named(&self.ctx, &bindings)?;
        let mut rec = self.ctx.recorder("morphogen.biome.render");
        rec.dispatch(
            &kernel,
            &group,
            Grid::linear(
                pixels,
                WG,
                self.ctx.limits().max_compute_workgroups_per_dimension,
            ),
        );
        let pending = rec.read(&image)?;
        rec.submit()?;
        let words = pending.wait_async(&self.ctx).await?;
        Ok(Image {
            width: out_w,
            height: out_h,
            rgba: bytemuck::cast_slice(&words).to_vec(),
        })
    }
}

/// The reference's base colour of each type id.
const PALETTE: [[f64; 3]; kind::COUNT] = [
    [1.0, 1.0, 1.0],
    [0.84, 1.0, 1.0],
    [0.769, 0.643, 0.518],
    [0.0, 0.0, 0.0],
    [1.0, 1.0, 0.5],
    [1.0, 0.0, 0.0],
    [0.65, 0.68, 0.65],
    [0.52, 0.39, 0.14],
    [0.16, 0.49, 0.10],
    [1.0, 0.42, 0.71],
];

fn hue_channel(t: f64) -> f64 {
    let t = t.rem_euclid(1.0);
    let (p, q) = (0.25, 0.75);
    if t < 1.0 / 6.0 {
        p + (q - p) * 6.0 * t
    } else if t < 0.5 {
        q
    } else if t < 2.0 / 3.0 {
        p + (q - p) * (2.0 / 3.0 - t) * 6.0
    } else {
        p
    }
}

/// The colour of one cell, in [0, 1] before the 8-bit conversion (the CPU twin of the
/// render kernel).
pub fn cell_colour(config: &BiomeConfig, t: u32, state: &[f32], id: u32) -> [f64; 3] {
    let mut c = PALETTE[(t as usize).min(kind::COUNT - 1)];
    let scale = |c: &mut [f64; 3], s: f64| c.iter_mut().for_each(|v| *v *= s);
    match t {
        kind::EARTH => scale(
            &mut c,
            0.3 + 0.7 * f64::from(state[channel::EARTH_NUTRIENT]) / config.material_nutrient_cap[0],
        ),
        kind::AIR => scale(
            &mut c,
            0.3 + 0.7 * f64::from(state[channel::AIR_NUTRIENT]) / config.material_nutrient_cap[1],
        ),
        t if kind::is_agent(t) => {
            let hue = (f64::from(id) * 41.0 / 137.0).rem_euclid(1.0);
            let tint = [1.0 / 3.0, 0.0, -1.0 / 3.0].map(|o| hue_channel(hue + o));
            for (v, tv) in c.iter_mut().zip(tint) {
                *v = 0.85 * *v + 0.15 * tv;
            }
            let age = f64::from(state[channel::AGE]);
            scale(
                &mut c,
                0.3 + 0.7 * (1.0 - age / f64::from(config.max_lifetime)),
            );
        }
        _ => {}
    }
    c
}

/// Renders a host world on the CPU (the twin of [`Worlds::render`]).
pub fn render_cpu(config: &BiomeConfig, world: &WorldState, zoom: u32) -> Image {
    let zoom = zoom.max(1) as usize;
    let (out_w, out_h) = (world.width * zoom, world.height * zoom);
    let mut rgba = Vec::with_capacity(out_w * out_h * 4);
    for y in 0..out_h {
        for x in 0..out_w {
            let (r, c) = (y / zoom, x / zoom);
            let i = world.index(r, c);
            let colour = cell_colour(config, world.types[i], world.state_at(r, c), world.ids[i]);
            rgba.extend(colour.map(|v| (v.clamp(0.0, 1.0) * 255.0) as u8));
            rgba.push(255);
        }
    }
    Image {
        width: out_w as u32,
        height: out_h as u32,
        rgba,
    }
}
