//! The Coffee Automaton for Python: replicas resident on the GPU, sampled runs returning
//! the curves and row profiles as arrays, the grids as uint8 arrays, checkpoints.

use std::path::PathBuf;

use morphogen::coffee::{
    self, Adjust, Automaton, Boundary, Checkpoint, CoffeeConfig, Curve, Model, Schedule,
};
use numpy::{PyArray1, PyArrayMethods, PyUntypedArrayMethods};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::{array64, run, to_py, Context, Res, Watch};

/// Replicas of one coffee automaton on the GPU, with what their sampled runs recorded.
#[pyclass(module = "morphogen._core")]
pub(crate) struct Coffee {
    inner: Automaton,
    schedule: Option<Schedule>,
    curves: Vec<Curve>,
    profile: Vec<f64>,
}

fn named<T>(what: &str, value: &str, parse: fn(&str) -> Option<T>, allowed: &str) -> Res<T> {
    parse(value).ok_or_else(|| PyValueError::new_err(format!("{what}={value:?}: use {allowed}")))
}

/// A checked configuration from Python's names.
fn configure(
    model: &str,
    size: usize,
    replicas: usize,
    grain: Option<usize>,
    adjust: &str,
    boundary: &str,
) -> Res<CoffeeConfig> {
    let model_names = "'interacting' or 'noninteracting'";
    let config = CoffeeConfig {
        model: named("model", model, Model::parse, model_names)?,
        size,
        replicas,
        grain,
        adjust: named("adjust", adjust, Adjust::parse, "'rowwise' or 'cellwise'")?,
        boundary: named(
            "boundary",
            boundary,
            Boundary::parse,
            "'closed' or 'periodic'",
        )?,
    };
    config.validate().map_err(PyValueError::new_err)?;
    Ok(config)
}

fn bytes_array<'py>(py: Python<'py>, data: Vec<u8>, shape: &[usize]) -> Res<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, data)
        .reshape(shape.to_vec())?
        .into_any())
}

#[pymethods]
impl Coffee {
    #[new]
    #[pyo3(signature = (context, model, size, replicas, grain, adjust, boundary, seed))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the configuration, spelled out for Python"
    )]
    fn new(
        py: Python<'_>,
        context: &Context,
        model: &str,
        size: usize,
        replicas: usize,
        grain: Option<usize>,
        adjust: &str,
        boundary: &str,
        seed: u64,
    ) -> Res<Self> {
        let config = configure(model, size, replicas, grain, adjust, boundary)?;
        let ctx = context.inner.clone();
        let inner = py
            .detach(|| Automaton::new(&ctx, &config, seed))
            .map_err(to_py)?;
        Ok(Self {
            inner,
            schedule: None,
            curves: Vec::new(),
            profile: Vec::new(),
        })
    }

    /// Continues from a checkpoint file, with the curves it recorded.
    #[staticmethod]
    fn resume(py: Python<'_>, context: &Context, path: PathBuf) -> Res<Self> {
        let ctx = context.inner.clone();
        let (inner, cp) = py
            .detach(|| {
                let cp = Checkpoint::load(&path)?;
                Ok::<_, morphogen::Error>((cp.resume(&ctx)?, cp))
            })
            .map_err(to_py)?;
        Ok(Self {
            inner,
            schedule: Some(cp.schedule),
            curves: cp.curves,
            profile: cp.profile,
        })
    }

    /// Samples every `interval` steps from step 0 through `end`, from where the replicas
    /// are (a step already sampled is not sampled again); returns the samples taken by
    /// this call.
    #[pyo3(signature = (interval, end, progress=None))]
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        interval: u64,
        end: u64,
        progress: Option<Py<PyAny>>,
    ) -> Res<Bound<'py, PyDict>> {
        if interval == 0 {
            return Err(PyValueError::new_err(
                "the sample interval must be at least 1",
            ));
        }
        let schedule = Schedule { interval, end };
        let first = self.curves.len();
        let total = schedule.len() as u64;
        let mut watch = Watch::new(progress);
        let (curves, profile) = (&mut self.curves, &mut self.profile);
        // A sample already recorded (the last one of an earlier run or a checkpoint) is
        // not taken again.
        let done = curves.last().map(|c| c.step);
        let times: Vec<(usize, u64)> = schedule
            .times()
            .enumerate()
            .filter(|&(_, t)| t >= self.inner.step() && done.is_none_or(|d| t > d))
            .collect();
        let inner = &mut self.inner;
        let result = py.detach(|| {
            inner.run_at(&times, |sample| {
                curves.push(sample.curve());
                profile.extend_from_slice(&sample.profile);
                watch.check(sample.index as u64 + 1, total)
            })
        });
        watch.finish(result)?;
        self.schedule = Some(schedule);
        self.samples(py, first)
    }

    /// Every sample recorded so far (all runs, and those of a resumed checkpoint).
    fn history<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyDict>> {
        self.samples(py, 0)
    }

    /// Advances every replica to `step` without sampling.
    fn advance(&mut self, py: Python<'_>, step: u64) -> Res<()> {
        let inner = &mut self.inner;
        py.detach(|| inner.advance_to(step)).map_err(to_py)
    }

    /// Every replica's fine, coarse and adjusted states, coarse-grained on the GPU.
    fn grids<'py>(&mut self, py: Python<'py>) -> Res<Bound<'py, PyDict>> {
        let inner = &mut self.inner;
        let grids = py.detach(|| inner.grids()).map_err(to_py)?;
        let n = self.inner.config().size;
        let r = grids.len();
        let out = PyDict::new(py);
        let part = |f: &dyn Fn(&coffee::Grids) -> &Vec<u8>| -> Vec<u8> {
            grids.iter().flat_map(|g| f(g).iter().copied()).collect()
        };
        out.set_item("fine", bytes_array(py, part(&|g| &g.fine), &[r, n, n])?)?;
        out.set_item("coarse", bytes_array(py, part(&|g| &g.coarse), &[r, n, n])?)?;
        out.set_item(
            "adjusted",
            bytes_array(py, part(&|g| &g.adjusted), &[r, n, n])?,
        )?;
        Ok(out)
    }

    /// Every replica's cells (0/1, or particles per cell) and clocks.
    fn state<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyDict>> {
        let state = py.detach(|| self.inner.state()).map_err(to_py)?;
        let n = self.inner.config().size;
        let r = state.clocks.len();
        let out = PyDict::new(py);
        out.set_item(
            "cells",
            PyArray1::from_vec(py, state.cells).reshape(vec![r, n, n])?,
        )?;
        let swaps: Vec<u64> = state.clocks.iter().map(|c| c.swaps).collect();
        let attempts: Vec<u64> = state.clocks.iter().map(|c| c.attempts).collect();
        out.set_item("swaps", PyArray1::from_vec(py, swaps))?;
        out.set_item("attempts", PyArray1::from_vec(py, attempts))?;
        Ok(out)
    }

    /// Writes the replicas and the samples so far to a checkpoint file.
    fn save_checkpoint(&self, py: Python<'_>, path: PathBuf) -> Res<()> {
        let step = self.inner.step();
        let checkpoint = Checkpoint {
            config: self.inner.config().clone(),
            seed: self.inner.seed(),
            state: py.detach(|| self.inner.state()).map_err(to_py)?,
            schedule: self.schedule.unwrap_or(Schedule {
                interval: step.max(1),
                end: step,
            }),
            curves: self.curves.clone(),
            profile: self.profile.clone(),
        };
        run(checkpoint.save(&path))
    }

    /// The step every replica has reached (swaps for the interacting model).
    #[getter]
    fn step(&self) -> u64 {
        self.inner.step()
    }

    /// The configuration: model, size, replicas, grain, adjust, boundary, seed.
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyDict>> {
        let c = self.inner.config();
        let out = PyDict::new(py);
        out.set_item("model", c.model.name())?;
        out.set_item("size", c.size)?;
        out.set_item("replicas", c.replicas)?;
        out.set_item("grain", c.grain_size())?;
        out.set_item("adjust", c.adjust.name())?;
        out.set_item("boundary", c.boundary.name())?;
        out.set_item("seed", self.inner.seed())?;
        Ok(out)
    }
}

impl Coffee {
    /// The samples from `first` on as a dict of arrays.
    fn samples<'py>(&self, py: Python<'py>, first: usize) -> Res<Bound<'py, PyDict>> {
        let rows = &self.curves[first..];
        let n = self.inner.config().size;
        let k = rows.len();
        let column = |f: &dyn Fn(&Curve) -> f64| -> Vec<f64> { rows.iter().map(f).collect() };
        let out = PyDict::new(py);
        let steps: Vec<u64> = rows.iter().map(|c| c.step).collect();
        out.set_item("step", PyArray1::from_vec(py, steps))?;
        let columns: [(&str, Vec<f64>); 7] = [
            ("attempts", column(&|c| c.attempts)),
            ("entropy", column(&|c| c.entropy.mean)),
            ("complexity", column(&|c| c.complexity.mean)),
            (
                "adjusted_complexity",
                column(&|c| c.adjusted_complexity.mean),
            ),
            ("entropy_se", column(&|c| c.entropy.se)),
            ("complexity_se", column(&|c| c.complexity.se)),
            (
                "adjusted_complexity_se",
                column(&|c| c.adjusted_complexity.se),
            ),
        ];
        for (name, values) in columns {
            out.set_item(name, array64(py, values, &[k])?)?;
        }
        out.set_item(
            "profile",
            array64(py, self.profile[first * n..].to_vec(), &[k, n])?,
        )?;
        Ok(out)
    }
}

/// One grid coarse-grained on the CPU (the twin of the GPU passes): 3-bucket, 7-bucket
/// and adjusted states as uint8 arrays.
#[pyfunction]
#[pyo3(signature = (cells, model, grain, adjust))]
pub(crate) fn coffee_coarse_grain<'py>(
    py: Python<'py>,
    cells: numpy::PyReadonlyArray2<'py, u32>,
    model: &str,
    grain: Option<usize>,
    adjust: &str,
) -> Res<Bound<'py, PyDict>> {
    let shape = cells.shape().to_vec();
    if shape[0] != shape[1] {
        return Err(PyValueError::new_err(format!(
            "cells: expected a square grid, got {} x {}",
            shape[0], shape[1]
        )));
    }
    let values = cells
        .as_slice()
        .map_err(|_| PyValueError::new_err("cells: expected a C-contiguous uint32 array"))?
        .to_vec();
    let config = configure(model, shape[0], 1, grain, adjust, "closed")?;
    let n = config.size;
    let [coarse, buckets, adjusted] = coffee::reference::coarse_grain(
        &values,
        n,
        config.grain_size(),
        config.max_value(),
        config.adjust,
    );
    let out = PyDict::new(py);
    out.set_item("coarse", bytes_array(py, coarse, &[n, n])?)?;
    out.set_item("buckets", bytes_array(py, buckets, &[n, n])?)?;
    out.set_item("adjusted", bytes_array(py, adjusted, &[n, n])?)?;
    Ok(out)
}

/// The samples of a run: (interval, last step). Without `steps`, the authors' run for
/// `model` on a size x size grid (with `samples`, that length spread over them); with it,
/// at most `samples` samples spread evenly over `steps` steps.
#[pyfunction]
#[pyo3(signature = (model, size, steps=None, samples=None))]
pub(crate) fn coffee_schedule(
    model: &str,
    size: usize,
    steps: Option<u64>,
    samples: Option<usize>,
) -> Res<(u64, u64)> {
    let model = named(
        "model",
        model,
        Model::parse,
        "'interacting' or 'noninteracting'",
    )?;
    let s = Schedule::requested(model, size, steps, samples).map_err(PyValueError::new_err)?;
    Ok((s.interval, s.end))
}
