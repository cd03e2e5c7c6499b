//! morphogen's biome in a web page, and a flow trained live on a second page: the same
//! dispatcher and WGSL kernels as the native engine, on the browser's WebGPU, driven from
//! JavaScript (`web/static/main.js`, `web/static/train.js`).
//!
//! Nothing here blocks: every GPU wait is a promise the page awaits.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use morphogen::biome::{BiomeConfig, Census, Preset, RunTotals, Width, World};
use morphogen::gpu::{ContextOptions, GpuContext};
use serde_json::json;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

mod train;

pub use train::{create_training, FlowTraining};

#[wasm_bindgen(start)]
fn start() {
    console_error_panic_hook::set_once();
}

fn js_error(e: impl std::fmt::Display) -> JsValue {
    JsError::new(&e.to_string()).into()
}

/// The configuration the page's controls describe, built as `morphogen biome` builds it
/// from the same flags.
pub fn configure(
    preset: &str,
    height: u32,
    width: &str,
    minimal: bool,
) -> morphogen::Result<BiomeConfig> {
    BiomeConfig::preset(preset.parse::<Preset>()?).choose(
        Some(height),
        Some(width.parse::<Width>()?),
        minimal,
    )
}

struct Inner {
    world: World,
    totals: RunTotals,
    last: Option<Census>,
}

/// A biome living on the page's GPU.
#[wasm_bindgen]
pub struct Biome {
    inner: Rc<RefCell<Option<Inner>>>,
    adapter: String,
}

/// Creates a biome: `preset` (persistence, pestilence, collaboration, sideways), `height`
/// rows, `width` (wide, landscape, square, petri or a number of columns), `seed`,
/// optionally the bytes of a program `.npy` copied into every slot, and `minimal`
/// programs instead of extended ones. Resolves to a `Biome`.
#[wasm_bindgen]
pub fn create(
    preset: String,
    height: u32,
    width: String,
    seed: u32,
    program: Option<Vec<u8>>,
    minimal: bool,
) -> Promise {
    future_to_promise(async move {
        let config = configure(&preset, height, &width, minimal).map_err(js_error)?;
        let ctx = GpuContext::with_options_async(&ContextOptions::default())
            .await
            .map_err(js_error)?;
        let world = World::new(&ctx, &config, u64::from(seed)).map_err(js_error)?;
        if let Some(bytes) = program {
            world
                .load_program_npy(&bytes, "the program file")
                .map_err(js_error)?;
        }
        let biome = Biome {
            inner: Rc::new(RefCell::new(Some(Inner {
                world,
                totals: RunTotals::default(),
                last: None,
            }))),
            adapter: ctx.adapter().to_string(),
        };
        Ok(biome.into())
    })
}

#[wasm_bindgen]
impl Biome {
    /// Runs `steps` steps with a census after each; resolves when the GPU is done.
    pub fn step(&self, steps: u32) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            // The world leaves the cell while the GPU works, so a second call waits for
            // nothing it could corrupt.
            let mut state = inner
                .borrow_mut()
                .take()
                .ok_or_else(|| js_error("the biome is busy: await the previous call"))?;
            let result = state.world.run_async(u64::from(steps), true).await;
            if let Ok(rows) = &result {
                for row in rows {
                    state.totals.add(row);
                }
                state.last = rows.last().copied().or(state.last);
            }
            *inner.borrow_mut() = Some(state);
            result.map(|_| JsValue::UNDEFINED).map_err(js_error)
        })
    }

    /// The world drawn with the reference's palette, `zoom` pixels per cell: RGBA bytes
    /// of (width · zoom) × (height · zoom) pixels.
    pub fn frame(&self, zoom: u32) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let state = inner
                .borrow_mut()
                .take()
                .ok_or_else(|| js_error("the biome is busy: await the previous call"))?;
            let image = state.world.render_async(zoom).await;
            *inner.borrow_mut() = Some(state);
            let image = image.map_err(js_error)?;
            Ok(js_sys::Uint8Array::from(image.rgba.as_slice()).into())
        })
    }

    /// Columns of the world.
    pub fn width(&self) -> u32 {
        self.with(|s| s.world.width() as u32).unwrap_or(0)
    }

    /// Rows of the world.
    pub fn height(&self) -> u32 {
        self.with(|s| s.world.height() as u32).unwrap_or(0)
    }

    /// The adapter the page runs on.
    pub fn adapter(&self) -> String {
        self.adapter.clone()
    }

    /// The latest census and the run's totals, as JSON.
    pub fn metrics(&self) -> String {
        self.with(|s| {
            let last = s.last.unwrap_or(Census {
                step: s.world.steps_done(),
                ..Census::default()
            });
            let [unspecialized, root, leaf, flower] = last.by_specialization();
            json!({
                "step": s.world.steps_done(),
                "agents": last.agents(),
                "unspecialized": unspecialized,
                "root": root,
                "leaf": leaf,
                "flower": flower,
                "reproductions": last.reproductions,
                "seeds": last.seeds,
                "living_ids": last.living_ids,
                "total_reproductions": s.totals.reproductions,
                "total_seeds": s.totals.seeds,
                "agent_steps": s.totals.agent_steps,
                "adapter": self.adapter,
            })
            .to_string()
        })
        .unwrap_or_else(|| "{\"busy\": true}".into())
    }

    fn with<R>(&self, f: impl FnOnce(&Inner) -> R) -> Option<R> {
        self.inner.borrow().as_ref().map(f)
    }
}
