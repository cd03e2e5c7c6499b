//! Training flow-matching fields on the GPU for Python: point clouds or TorchCFM's
//! samplers in, losses, parameters and a `VelocityField` out.

use std::path::PathBuf;

use morphogen::flow::train::{
    evaluate, ExactPairing, Method, NetworkShape, Sampler, TrainCheckpoint, TrainConfig,
    Trainer as EngineTrainer,
};
use morphogen::flow::{Activation, TimeInput};
use numpy::PyReadonlyArrayDyn;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{array, run, to_py, values, Context, Res, VelocityField, Watch};

/// A training run on the GPU.
#[pyclass(module = "morphogen._core")]
pub(crate) struct Trainer {
    inner: EngineTrainer,
    ctx: Py<Context>,
    losses: Vec<f32>,
}

fn sampler(
    name: Option<&str>,
    points: Option<PyReadonlyArrayDyn<'_, f32>>,
    what: &str,
) -> Res<Sampler> {
    match (name, points) {
        (_, Some(array)) => {
            let (points, shape) = values(&array, what)?;
            if shape.len() != 2 {
                return Err(PyValueError::new_err(format!(
                    "{what}: expected N x d points, got shape {shape:?}"
                )));
            }
            Ok(Sampler::Points {
                points,
                dim: shape[1],
            })
        }
        (Some(name), None) => run(Sampler::from_name(name)),
        (None, None) => Err(PyValueError::new_err(format!(
            "{what}: give points or a sampler name"
        ))),
    }
}

fn parsed<T: serde::de::DeserializeOwned>(what: &str, value: &str) -> Res<T> {
    serde_json::from_value(serde_json::Value::String(value.to_ascii_lowercase()))
        .map_err(|_| PyValueError::new_err(format!("{what}={value:?} is not one of the choices")))
}

#[pymethods]
impl Trainer {
    /// `settings`: JSON with method, sigma, batch, lr, weight_decay, width, depth,
    /// activation, time, residual, seed, models, eps, tau, sinkhorn_iters, score,
    /// exact_pairing, sigmas (a sweep: one model per value).
    #[new]
    #[pyo3(signature = (context, settings, source_name=None, source=None, target_name=None, target=None))]
    fn new(
        context: Py<Context>,
        settings: &str,
        source_name: Option<&str>,
        source: Option<PyReadonlyArrayDyn<'_, f32>>,
        target_name: Option<&str>,
        target: Option<PyReadonlyArrayDyn<'_, f32>>,
    ) -> Res<Self> {
        let s: serde_json::Value = serde_json::from_str(settings)
            .map_err(|e| PyValueError::new_err(format!("settings: {e}")))?;
        let num = |k: &str| s[k].as_f64();
        let whole = |k: &str| s[k].as_u64().map(|v| v as usize);
        let text = |k: &str| s[k].as_str().unwrap_or_default().to_string();
        let defaults = TrainConfig::default();
        let mut config = TrainConfig {
            method: run(Method::from_name(&text("method")))?,
            sigma: num("sigma").unwrap_or(defaults.sigma),
            batch: whole("batch").unwrap_or(defaults.batch),
            lr: num("lr").unwrap_or(defaults.lr),
            weight_decay: num("weight_decay").unwrap_or(0.0),
            network: NetworkShape {
                width: whole("width").unwrap_or(64),
                hidden: whole("depth").unwrap_or(3),
                activation: parsed::<Activation>("activation", &text("activation"))?,
                time: parsed::<TimeInput>("time", &text("time"))?,
                residual: s["residual"].as_bool().unwrap_or(false),
            },
            seed: s["seed"].as_u64().unwrap_or(0),
            models: whole("models").unwrap_or(1),
            coupling_eps: num("eps"),
            tau: num("tau"),
            sinkhorn_iterations: whole("sinkhorn_iters").unwrap_or(defaults.sinkhorn_iterations),
            score: s["score"].as_bool().unwrap_or(false),
            exact_pairing: match s["exact_pairing"].as_str().unwrap_or("auto") {
                "auto" => ExactPairing::Auto,
                "device" => ExactPairing::Device,
                "host" => ExactPairing::Host,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "exact_pairing={other:?}: use 'auto', 'device' or 'host'"
                    )))
                }
            },
            ..defaults
        };
        if let Some(list) = s["sigmas"].as_array() {
            let sigmas: Vec<f64> = list.iter().filter_map(serde_json::Value::as_f64).collect();
            if config.models != 1 && config.models != sigmas.len() {
                return Err(PyValueError::new_err(format!(
                    "sigma gives {} values, one model each; models={} disagrees",
                    sigmas.len(),
                    config.models
                )));
            }
            config = config.sigma_sweep(&sigmas);
        }
        let source = sampler(source_name, source, "source")?;
        let target = sampler(target_name, target, "target")?;
        let inner = run(EngineTrainer::new(
            &context.get().inner,
            &config,
            &source,
            &target,
        ))?;
        Ok(Self {
            inner,
            ctx: context,
            losses: Vec::new(),
        })
    }

    /// Continues a run from its checkpoint file.
    #[staticmethod]
    fn resume(context: Py<Context>, path: PathBuf) -> Res<Self> {
        let checkpoint = run(TrainCheckpoint::load(&path))?;
        let inner = run(EngineTrainer::resume(&context.get().inner, &checkpoint))?;
        Ok(Self {
            inner,
            ctx: context,
            losses: checkpoint.losses,
        })
    }

    /// Takes `steps` optimiser steps; `progress(done, total)` after each submission.
    /// Returns this call's losses, steps x networks (the models, then their score
    /// networks).
    #[pyo3(signature = (steps, progress=None))]
    fn train<'py>(
        &mut self,
        py: Python<'py>,
        steps: usize,
        progress: Option<Py<PyAny>>,
    ) -> Res<Bound<'py, PyAny>> {
        let models = self.inner.config().nets();
        let mut watch = Watch::new(progress);
        let inner = &mut self.inner;
        let mut losses = Vec::with_capacity(steps * models);
        // In chunks, so that Ctrl-C and the progress callable are heard between them.
        let result = py.detach(|| -> morphogen::Result<()> {
            let mut done = 0;
            while done < steps {
                let n = (steps - done).min(250);
                losses.extend(inner.train(n, &mut |_| {})?);
                done += n;
                watch.check(done as u64, steps as u64)?;
            }
            Ok(())
        });
        watch.finish(result)?;
        self.losses.extend_from_slice(&losses);
        let rows = losses.len() / models;
        array(py, losses, &[rows, models])
    }

    /// Every step's loss so far, steps x networks.
    fn losses<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyAny>> {
        let models = self.inner.config().nets();
        array(
            py,
            self.losses.clone(),
            &[self.losses.len() / models, models],
        )
    }

    /// The parameters, networks x parameters (each layer's weight, out x in, then bias).
    fn parameters<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyAny>> {
        let p = run(self.inner.parameters())?;
        let (models, n) = (p.len(), self.inner.layout().params);
        array(py, p.concat(), &[models, n])
    }

    /// Model `m`'s network.
    fn field(&self, m: usize) -> Res<VelocityField> {
        Ok(VelocityField {
            inner: run(self.inner.field(m))?,
        })
    }

    /// Model `m`'s score network (SF2M).
    fn score_field(&self, m: usize) -> Res<VelocityField> {
        Ok(VelocityField {
            inner: run(self.inner.score_field(m))?,
        })
    }

    /// Writes model `m` (or its score network) in TorchCFM's key layout
    /// (`net.0/2/4/6.weight|bias`) and its spec.
    #[pyo3(signature = (m, weights, spec, score=false))]
    fn save(&self, m: usize, weights: PathBuf, spec: PathBuf, score: bool) -> Res<()> {
        let field = run(if score {
            self.inner.score_field(m)
        } else {
            self.inner.field(m)
        })?;
        field
            .save_with_names(&weights, &spec, field.torchcfm_names())
            .map_err(to_py)
    }

    /// Writes the run's state, whole or not at all.
    fn save_checkpoint(&self, path: PathBuf) -> Res<()> {
        run(self.inner.checkpoint(&self.losses))?
            .save(&path)
            .map_err(to_py)
    }

    /// Dopri5 samples of model `m` from `n` held-out source points and their squared W2
    /// to as many held-out target points.
    fn evaluate<'py>(&self, py: Python<'py>, m: usize, n: usize) -> Res<Bound<'py, PyDict>> {
        let ctx = self.ctx.get().inner.clone();
        let inner = &self.inner;
        let e = py.detach(|| evaluate(&ctx, inner, m, n)).map_err(to_py)?;
        let out = PyDict::new(py);
        out.set_item("w2_squared", e.w2_squared)?;
        out.set_item("evaluations_per_particle", e.evaluations_per_particle)?;
        let last = e.flow.times.len() - 1;
        let d = e.flow.dim;
        let samples: Vec<f32> = (0..e.flow.particles)
            .flat_map(|p| e.flow.state(last, p).to_vec())
            .collect();
        out.set_item("samples", array(py, samples, &[e.flow.particles, d])?)?;
        Ok(out)
    }

    /// Steps taken.
    #[getter]
    fn step(&self) -> u64 {
        self.inner.step()
    }
}
