//! Training checkpoints: parameters and Adam's moments (f32, models × parameters), the
//! loss history (steps × models) and point clouds in one safetensors file; the settings,
//! samplers and step count in its metadata. A run resumed from one continues exactly:
//! every draw is keyed by (seed, step).

use std::collections::BTreeMap;
use std::path::Path;

use safetensors::Dtype;
use serde_json::{json, Value};

use super::config::{ExactPairing, Method, NetworkShape, Sampler, TrainConfig};
use crate::error::{Error, Result};
use crate::flow::model::{Activation, TimeInput};
use crate::io::tensors::{serialize, view, TensorFile};

const FORMAT: &str = "morphogen.flow.train/1";

/// A training run's state.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainCheckpoint {
    /// The run's settings.
    pub config: TrainConfig,
    /// Where source points come from.
    pub source: Sampler,
    /// Where target points come from.
    pub target: Sampler,
    /// Steps taken.
    pub step: u64,
    /// Parameters (models × parameters).
    pub params: Vec<f32>,
    /// Adam's first moments.
    pub first: Vec<f32>,
    /// Adam's second moments.
    pub second: Vec<f32>,
    /// Every step's loss so far (steps × models).
    pub losses: Vec<f32>,
}

fn sampler_json(s: &Sampler) -> Value {
    match s {
        Sampler::EightGaussians => json!({"kind": "8gaussians"}),
        Sampler::Moons => json!({"kind": "moons"}),
        Sampler::Checkerboard => json!({"kind": "checkerboard"}),
        Sampler::Normal { dim } => json!({"kind": "normal", "dim": dim}),
        Sampler::Points { dim, .. } => json!({"kind": "points", "dim": dim}),
    }
}

fn to_name<T: serde::Serialize>(value: T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

impl TrainCheckpoint {
    /// The file's bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let c = &self.config;
        let n = &c.network;
        // Every network: the flows, then their score networks.
        let models = c.nets();
        let per_model = self.params.len() / models.max(1);
        let mut views = vec![
            (
                "params",
                view(
                    Dtype::F32,
                    vec![models, per_model],
                    bytemuck::cast_slice(&self.params),
                )?,
            ),
            (
                "adam_m",
                view(
                    Dtype::F32,
                    vec![models, per_model],
                    bytemuck::cast_slice(&self.first),
                )?,
            ),
            (
                "adam_v",
                view(
                    Dtype::F32,
                    vec![models, per_model],
                    bytemuck::cast_slice(&self.second),
                )?,
            ),
            (
                "losses",
                view(
                    Dtype::F32,
                    vec![self.losses.len() / models.max(1), models],
                    bytemuck::cast_slice(&self.losses),
                )?,
            ),
        ];
        for (name, s) in [
            ("source_points", &self.source),
            ("target_points", &self.target),
        ] {
            if let Sampler::Points { points, dim } = s {
                views.push((
                    name,
                    view(
                        Dtype::F32,
                        vec![points.len() / dim, *dim],
                        bytemuck::cast_slice(points),
                    )?,
                ));
            }
        }
        let settings = json!({
            "method": c.method.name(),
            "sigma": c.sigma,
            "sigmas": c.sigmas,
            "batch": c.batch,
            "steps": c.steps,
            "lr": c.lr,
            "betas": [c.betas.0, c.betas.1],
            "adam_eps": c.adam_eps,
            "weight_decay": c.weight_decay,
            "width": n.width,
            "hidden": n.hidden,
            "activation": to_name(n.activation),
            "time": to_name(n.time),
            "residual": n.residual,
            "models": c.models,
            "score": c.score,
            "exact_pairing": match c.exact_pairing {
                ExactPairing::Auto => "auto",
                ExactPairing::Device => "device",
                ExactPairing::Host => "host",
            },
            "steps_per_submit": c.steps_per_submit,
            "coupling_eps": c.coupling_eps,
            "tau": c.tau,
            "sinkhorn_iterations": c.sinkhorn_iterations,
        });
        let metadata = BTreeMap::from([
            ("format", FORMAT.to_string()),
            ("settings", settings.to_string()),
            ("source", sampler_json(&self.source).to_string()),
            ("target", sampler_json(&self.target).to_string()),
            ("seed", c.seed.to_string()),
            ("step", self.step.to_string()),
        ]);
        serialize(views, &metadata)
    }

    /// Parses a checkpoint's bytes; `source` names the file in errors.
    pub fn decode(bytes: &[u8], source: &Path) -> Result<Self> {
        let file = TensorFile::parse(bytes, source, "training", FORMAT)?;
        let s = file.json("settings")?;
        let missing = |key: &str| file.bad(format!("settings.{key} is missing or malformed"));
        let num = |key: &str| s[key].as_f64().ok_or_else(|| missing(key));
        let whole = |key: &str| {
            s[key]
                .as_u64()
                .map(|v| v as usize)
                .ok_or_else(|| missing(key))
        };
        let text = |key: &str| s[key].as_str().ok_or_else(|| missing(key));
        let parse_name = |key: &str| -> Result<Value> { Ok(Value::String(text(key)?.to_string())) };
        let activation: Activation =
            serde_json::from_value(parse_name("activation")?).map_err(|_| missing("activation"))?;
        let time: TimeInput =
            serde_json::from_value(parse_name("time")?).map_err(|_| missing("time"))?;
        let betas = s["betas"]
            .as_array()
            .filter(|b| b.len() == 2)
            .ok_or_else(|| missing("betas"))?;
        let config = TrainConfig {
            method: Method::from_name(text("method")?).map_err(|e| file.bad(e.to_string()))?,
            sigma: num("sigma")?,
            sigmas: s["sigmas"]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_f64).collect())
                .unwrap_or_default(),
            batch: whole("batch")?,
            steps: whole("steps")?,
            lr: num("lr")?,
            betas: (
                betas[0].as_f64().ok_or_else(|| missing("betas"))?,
                betas[1].as_f64().ok_or_else(|| missing("betas"))?,
            ),
            adam_eps: num("adam_eps")?,
            weight_decay: num("weight_decay")?,
            network: NetworkShape {
                width: whole("width")?,
                hidden: whole("hidden")?,
                activation,
                time,
                residual: s["residual"].as_bool().ok_or_else(|| missing("residual"))?,
            },
            seed: file.number("seed")?,
            models: whole("models")?,
            steps_per_submit: whole("steps_per_submit")?,
            coupling_eps: s["coupling_eps"].as_f64(),
            tau: s["tau"].as_f64(),
            sinkhorn_iterations: whole("sinkhorn_iterations")?,
            // Checkpoints written before score networks existed hold none.
            score: s["score"].as_bool().unwrap_or(false),
            exact_pairing: match s["exact_pairing"].as_str() {
                Some("device") => ExactPairing::Device,
                Some("host") => ExactPairing::Host,
                _ => ExactPairing::Auto,
            },
        };
        let sampler = |key: &str, tensor: &str| -> Result<Sampler> {
            let v = file.json(key)?;
            let dim = v["dim"].as_u64().map(|d| d as usize);
            match (v["kind"].as_str(), dim) {
                (Some("8gaussians"), _) => Ok(Sampler::EightGaussians),
                (Some("moons"), _) => Ok(Sampler::Moons),
                (Some("checkerboard"), _) => Ok(Sampler::Checkerboard),
                (Some("normal"), Some(dim)) => Ok(Sampler::Normal { dim }),
                (Some("points"), Some(dim)) => {
                    let (_, points) = file.words::<f32>(tensor, Dtype::F32)?;
                    Ok(Sampler::Points { points, dim })
                }
                _ => Err(file.bad(format!("{key} is not a sampler: {v}"))),
            }
        };
        let src = sampler("source", "source_points")?;
        let dst = sampler("target", "target_points")?;
        config
            .validate(&src, &dst)
            .map_err(|e| file.bad(e.to_string()))?;
        let vector = |name: &str| file.words::<f32>(name, Dtype::F32).map(|(_, v)| v);
        let params = vector("params")?;
        let (first, second) = (vector("adam_m")?, vector("adam_v")?);
        let expected =
            config.nets() * super::layout::Layout::new(dst.dim(), &config.network).params;
        if [params.len(), first.len(), second.len()] != [expected; 3] {
            return Err(file.bad(format!(
                "the parameters and moments must hold {expected} values each (networks x parameters)"
            )));
        }
        Ok(Self {
            config,
            source: src,
            target: dst,
            step: file.number("step")?,
            params,
            first,
            second,
            losses: vector("losses")?,
        })
    }

    /// Writes the checkpoint, whole or not at all.
    pub fn save(&self, path: &Path) -> Result<()> {
        crate::io::write_atomic(path, &self.encode()?)
    }

    /// Reads a checkpoint.
    pub fn load(path: &Path) -> Result<Self> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Self::decode(&bytes, path)
    }
}
