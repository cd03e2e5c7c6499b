//! Flow-matching training on the page: the engine's GPU trainer stepped from JavaScript
//! (`web/static/train.js`), and the trained field's Euler trajectories computed with the
//! f64 twin of its network for drawing.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Promise;
use morphogen::flow::eval::eval_with_tangent;
use morphogen::flow::train::{reference, Method, Sampler, TrainConfig, Trainer};
use morphogen::gpu::{ContextOptions, GpuContext};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::js_error;

/// A flow from TorchCFM's eight Gaussians to its moons, trained on the page's GPU.
#[wasm_bindgen]
pub struct FlowTraining {
    inner: Rc<RefCell<Option<Trainer>>>,
    adapter: String,
    seed: u64,
}

/// Creates a training run: `method` (icfm, otcfm, fm, sbcfm, uotfm), `batch` pairs per
/// step, `seed`; TorchCFM's MLP and Adam at 1e-3, σ = 0.1 for the bridge's noise and 0.01
/// otherwise. Resolves to a `FlowTraining`.
#[wasm_bindgen]
pub fn create_training(method: String, batch: u32, seed: u32) -> Promise {
    future_to_promise(async move {
        let method = Method::from_name(&method).map_err(js_error)?;
        let sigma = if method == Method::Sbcfm { 0.1 } else { 0.01 };
        let config = TrainConfig::default()
            .method(method)
            .batch(batch as usize)
            .sigma(sigma)
            .seed(u64::from(seed));
        let ctx = GpuContext::with_options_async(&ContextOptions::default())
            .await
            .map_err(js_error)?;
        let trainer = Trainer::new(&ctx, &config, &Sampler::EightGaussians, &Sampler::Moons)
            .map_err(js_error)?;
        Ok(FlowTraining {
            inner: Rc::new(RefCell::new(Some(trainer))),
            adapter: ctx.adapter().to_string(),
            seed: u64::from(seed),
        }
        .into())
    })
}

#[wasm_bindgen]
impl FlowTraining {
    /// Takes `steps` optimiser steps; resolves to the last step's loss.
    pub fn train(&self, steps: u32) -> Promise {
        let inner = Rc::clone(&self.inner);
        future_to_promise(async move {
            let mut trainer = inner
                .borrow_mut()
                .take()
                .ok_or_else(|| js_error("the trainer is busy: await the previous call"))?;
            let result = trainer.train_async(steps as usize, &mut |_| {}).await;
            *inner.borrow_mut() = Some(trainer);
            let losses = result.map_err(js_error)?;
            Ok(JsValue::from_f64(f64::from(
                losses.last().copied().unwrap_or(f32::NAN),
            )))
        })
    }

    /// `n` held-out source points pushed through the current field by `steps` Euler
    /// steps (the network in f64 on the CPU): (steps + 1) × n × 2 floats.
    pub fn samples(&self, n: u32, steps: u32) -> Promise {
        let inner = Rc::clone(&self.inner);
        let seed = self.seed;
        future_to_promise(async move {
            let trainer = inner
                .borrow_mut()
                .take()
                .ok_or_else(|| js_error("the trainer is busy: await the previous call"))?;
            let params = trainer.parameters_async().await;
            let field = params.map(|p| trainer.layout().field(&p[0]));
            *inner.borrow_mut() = Some(trainer);
            let field = field.map_err(js_error)?;
            let x0 = reference::sample(&Sampler::EightGaussians, n as usize, seed ^ 0x5eed);
            let mut x: Vec<f64> = x0.iter().map(|&v| f64::from(v)).collect();
            let mut out: Vec<f32> = x0.clone();
            let h = 1.0 / f64::from(steps.max(1));
            for k in 0..steps {
                let t = f64::from(k) * h;
                for p in x.chunks_mut(2) {
                    let (v, _) = eval_with_tangent(&field, p, t, &[], None);
                    p[0] += h * v[0];
                    p[1] += h * v[1];
                }
                out.extend(x.iter().map(|&v| v as f32));
            }
            Ok(js_sys::Float32Array::from(out.as_slice()).into())
        })
    }

    /// `n` points of the target (moons), n × 2 floats.
    pub fn targets(&self, n: u32) -> js_sys::Float32Array {
        let points = reference::sample(&Sampler::Moons, n as usize, self.seed ^ 0x7a59);
        js_sys::Float32Array::from(points.as_slice())
    }

    /// Steps taken.
    pub fn step(&self) -> u32 {
        self.inner.borrow().as_ref().map_or(0, |t| t.step() as u32)
    }

    /// The adapter the page runs on.
    pub fn adapter(&self) -> String {
        self.adapter.clone()
    }
}
