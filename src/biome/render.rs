//! Pictures of a world: the reference's palette and shading computed on the GPU, nearest-
//! neighbour zoom, PNG files and animated PNG (or, with the `gif` feature, GIF) time-lapses.

use std::path::Path;

use crate::biome::config::BiomeConfig;
use crate::biome::params::StepParams;
use crate::biome::state::{channel, kind, WorldState};
use crate::biome::world::World;
use crate::error::{Error, Result};
use crate::gpu::{GpuBuffer, Grid, KernelDesc};

const WG: u32 = 64;

/// An RGBA8 image, row-major from the top-left.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    /// Pixels per row.
    pub width: u32,
    /// Rows.
    pub height: u32,
    /// `width · height · 4` bytes.
    pub rgba: Vec<u8>,
}

impl Image {
    /// Writes the image as a PNG file, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_png(path, self.width, self.height, &self.rgba)
    }
}

impl World {
    /// Renders the world, each cell a `zoom × zoom` square.
    pub fn render(&self, zoom: u32) -> Result<Image> {
        pollster::block_on(self.render_async(zoom))
    }

    /// [`World::render`] without blocking the thread (the browser's form).
    pub async fn render_async(&self, zoom: u32) -> Result<Image> {
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
        let mut params = StepParams::new(&self.config, self.seed, self.step);
        params.zoom = zoom;
        let params = GpuBuffer::uniform(&self.ctx, &params, "morphogen.biome.render.params")?;
        let image: GpuBuffer<u32> =
            GpuBuffer::zeroed(&self.ctx, pixels as usize, "morphogen.biome.render.image")?;
        let kernel = self
            .ctx
            .kernel(&KernelDesc::new("biome/render").overrides(&[("WG", f64::from(WG))]))?;
        let g = &self.grids;
        let group = kernel.bind_named(
            &self.ctx,
            &[
                ("params", params.binding()),
                ("types", g.types.binding()),
                ("state", g.state.binding()),
                ("ids", g.ids.binding()),
                ("image", image.binding()),
            ],
        )?;
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

/// Renders a host world on the CPU (the twin of [`World::render`]).
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

/// Frames gathered during a run, written as one animated PNG.
#[derive(Debug, Default)]
pub struct TimeLapse {
    frames: Vec<Image>,
}

impl TimeLapse {
    /// An empty time-lapse.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a frame; every frame must have the first frame's size.
    pub fn push(&mut self, frame: Image) -> Result<()> {
        if let Some(first) = self.frames.first() {
            if (first.width, first.height) != (frame.width, frame.height) {
                return Err(Error::invalid(format!(
                    "time-lapse frames must all be {}x{}, got {}x{}",
                    first.width, first.height, frame.width, frame.height
                )));
            }
        }
        self.frames.push(frame);
        Ok(())
    }

    /// Frames so far.
    pub fn len(&self) -> usize {
        self.frames.len()
    }

    /// Whether no frame was added.
    pub fn is_empty(&self) -> bool {
        self.frames.is_empty()
    }

    /// The animated PNG bytes, `fps` frames per second, looping forever.
    pub fn encode(&self, fps: u16) -> Result<Vec<u8>> {
        let first = self
            .frames
            .first()
            .ok_or_else(|| Error::invalid("a time-lapse needs at least one frame"))?;
        let to_err = |e: png::EncodingError| Error::invalid(format!("APNG encoding failed: {e}"));
        let mut out = Vec::new();
        {
            let mut encoder = png::Encoder::new(&mut out, first.width, first.height);
            encoder.set_color(png::ColorType::Rgba);
            encoder.set_depth(png::BitDepth::Eight);
            encoder
                .set_animated(self.frames.len() as u32, 0)
                .map_err(to_err)?;
            encoder.set_frame_delay(1, fps.max(1)).map_err(to_err)?;
            let mut writer = encoder.write_header().map_err(to_err)?;
            for frame in &self.frames {
                writer.write_image_data(&frame.rgba).map_err(to_err)?;
            }
            writer.finish().map_err(to_err)?;
        }
        Ok(out)
    }

    /// Writes the animated PNG, whole or not at all.
    pub fn save(&self, path: &Path, fps: u16) -> Result<()> {
        crate::io::write_atomic(path, &self.encode(fps)?)
    }

    /// The animated GIF bytes (each frame quantised to its own 256-colour palette),
    /// `fps` frames per second, looping forever. Needs the `gif` feature (on with `cli`).
    #[cfg(feature = "gif")]
    pub fn encode_gif(&self, fps: u16) -> Result<Vec<u8>> {
        let first = self
            .frames
            .first()
            .ok_or_else(|| Error::invalid("a time-lapse needs at least one frame"))?;
        let (w, h) = match (u16::try_from(first.width), u16::try_from(first.height)) {
            (Ok(w), Ok(h)) => (w, h),
            _ => {
                return Err(Error::invalid(format!(
                    "GIF frames are at most 65535 pixels on a side, these are {}x{}",
                    first.width, first.height
                )))
            }
        };
        let to_err = |e: gif::EncodingError| Error::invalid(format!("GIF encoding failed: {e}"));
        let mut out = Vec::new();
        {
            let mut encoder = gif::Encoder::new(&mut out, w, h, &[]).map_err(to_err)?;
            encoder.set_repeat(gif::Repeat::Infinite).map_err(to_err)?;
            let delay = (100 / fps.max(1)).max(1);
            for image in &self.frames {
                let mut rgba = image.rgba.clone();
                let mut frame = gif::Frame::from_rgba_speed(w, h, &mut rgba, 10);
                frame.delay = delay;
                encoder.write_frame(&frame).map_err(to_err)?;
            }
        }
        Ok(out)
    }

    /// Writes the animated GIF, whole or not at all. Needs the `gif` feature.
    #[cfg(feature = "gif")]
    pub fn save_gif(&self, path: &Path, fps: u16) -> Result<()> {
        crate::io::write_atomic(path, &self.encode_gif(fps)?)
    }
}
