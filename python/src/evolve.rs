//! Evolution of agent programs in petri dishes for Python: PGPE proposes, dishes score,
//! the history and the evolved program come back as arrays.

use std::path::PathBuf;

use morphogen::biome::evolve::{Evolution as EngineEvolution, PetriConfig, PgpeConfig};
use morphogen::biome::{Preset, Width};
use numpy::PyArray1;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{array64, run, to_py, Context, Res, Watch};

/// An evolution in progress.
#[pyclass(module = "morphogen._core")]
pub(crate) struct Evolution {
    inner: EngineEvolution,
    ctx: Py<Context>,
}

#[pymethods]
impl Evolution {
    #[new]
    #[pyo3(signature = (context, preset, height, width, population, steps, target_agents, reproduction_weight, center_lr, init_stdev, seed))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the evolution's settings, spelled out for Python"
    )]
    fn new(
        context: Py<Context>,
        preset: &str,
        height: u32,
        width: &str,
        population: usize,
        steps: u64,
        target_agents: f64,
        reproduction_weight: f64,
        center_lr: f64,
        init_stdev: f64,
        seed: u64,
    ) -> Res<Self> {
        let preset: Preset = run(preset.parse())?;
        let width: Width = run(width.parse())?;
        let mut petri = PetriConfig::new(preset, height, width);
        petri.steps = steps;
        petri.target_agents = target_agents;
        petri.reproduction_weight = reproduction_weight;
        let pgpe = PgpeConfig {
            population,
            center_learning_rate: center_lr,
            init_stdev,
            ..PgpeConfig::default()
        };
        pgpe.validate().map_err(PyValueError::new_err)?;
        let inner = run(EngineEvolution::new(petri, pgpe, seed))?;
        Ok(Self {
            inner,
            ctx: context,
        })
    }

    /// Continues an evolution from its checkpoint file.
    #[staticmethod]
    fn resume(context: Py<Context>, path: PathBuf) -> Res<Self> {
        let inner = run(EngineEvolution::load(&path))?;
        Ok(Self {
            inner,
            ctx: context,
        })
    }

    /// Runs `generations` more generations; `progress(done, total)` is called after each
    /// dish. Returns the whole fitness history.
    #[pyo3(signature = (generations, progress=None))]
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        generations: u64,
        progress: Option<Py<PyAny>>,
    ) -> Res<Bound<'py, PyDict>> {
        let ctx = self.ctx.get().inner.clone();
        let population = self.inner.pgpe.config.population as u64;
        let total = generations * population;
        let mut watch = Watch::new(progress);
        let inner = &mut self.inner;
        let mut done = 0u64;
        let result = py.detach(|| {
            inner.run(&ctx, generations, |generation, _| {
                if generation.is_none() {
                    done += 1;
                }
                watch.check(done, total)
            })
        });
        watch.finish(result)?;
        self.history(py)
    }

    /// The fitness of every generation so far: generation, best, mean.
    fn history<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyDict>> {
        let h = &self.inner.history;
        let out = PyDict::new(py);
        let generations: Vec<u64> = h.iter().map(|g| g.generation).collect();
        out.set_item("generation", PyArray1::from_vec(py, generations))?;
        out.set_item(
            "best",
            array64(py, h.iter().map(|g| g.best).collect(), &[h.len()])?,
        )?;
        out.set_item(
            "mean",
            array64(py, h.iter().map(|g| g.mean).collect(), &[h.len()])?,
        )?;
        Ok(out)
    }

    /// The evolved program (PGPE's centre) as float32, loadable by `World.load_program`
    /// once saved with numpy.
    fn program<'py>(&self, py: Python<'py>) -> Bound<'py, PyArray1<f32>> {
        PyArray1::from_vec(py, self.inner.program())
    }

    /// Writes the search state and the history, whole or not at all.
    fn save_checkpoint(&self, path: PathBuf) -> Res<()> {
        self.inner.save(&path).map_err(to_py)
    }

    /// Generations run so far.
    #[getter]
    fn generation(&self) -> u64 {
        self.inner.pgpe.generation
    }
}
