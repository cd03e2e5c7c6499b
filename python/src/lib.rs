//! `morphogen._core`: the engine's types for Python. The `morphogen` package around it
//! converts arrays (any float dtype, any layout) to C-ordered float32, fills defaults in
//! Python's vocabulary and documents the API; this module checks what it receives,
//! releases the GIL while the GPU works and turns the engine's errors into exceptions.

mod coffee;
mod evolve;
mod train;

use std::path::PathBuf;

use morphogen::biome::{
    BiomeConfig, Census, Checkpoint, Preset, RunOptions, Width, WorldParts, Worlds,
};
use morphogen::flow::{self, sde, FlowConfig, LogDensity, Solver, VelocityField as EngineField};
use morphogen::gpu::{list_adapters, ContextOptions, GpuContext};
use morphogen::transport::{
    self, Anderson, Convention, Cost, Coupling as EngineCoupling, PointCloud, Problem,
    SinkhornConfig, Solution as EngineSolution,
};
use morphogen::Error;
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::create_exception;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

create_exception!(
    _core,
    DeviceError,
    PyRuntimeError,
    "No GPU adapter, a lost device, or GPU memory exhausted: the input was fine."
);

/// The engine's error as the Python exception its kind calls for.
fn to_py(error: Error) -> PyErr {
    let message = error.to_string();
    match error {
        Error::InvalidInput(_) | Error::LimitExceeded { .. } => PyValueError::new_err(message),
        Error::Io { .. } => PyOSError::new_err(message),
        _ => DeviceError::new_err(message),
    }
}

type Res<T> = PyResult<T>;

fn run<T>(result: morphogen::Result<T>) -> Res<T> {
    result.map_err(to_py)
}

/// A C-contiguous float32 array's values and shape (the package converts before calling).
fn values(array: &PyReadonlyArrayDyn<'_, f32>, name: &str) -> Res<(Vec<f32>, Vec<usize>)> {
    let slice = array.as_slice().map_err(|_| {
        PyValueError::new_err(format!("{name}: expected a C-contiguous float32 array"))
    })?;
    Ok((slice.to_vec(), array.shape().to_vec()))
}

/// The conditioning vectors and each particle's population, empty when not given.
fn conditioning(
    cond: Option<&PyReadonlyArrayDyn<'_, f32>>,
    population: Option<&PyReadonlyArrayDyn<'_, u32>>,
) -> Res<(Vec<f32>, Vec<u32>)> {
    let cond = cond.map(|c| values(c, "cond")).transpose()?.map(|v| v.0);
    let population = population
        .map(|p| {
            p.as_slice().map(<[u32]>::to_vec).map_err(|_| {
                PyValueError::new_err("population: expected a C-contiguous uint32 array")
            })
        })
        .transpose()?;
    Ok((cond.unwrap_or_default(), population.unwrap_or_default()))
}

fn array<'py>(py: Python<'py>, data: Vec<f32>, shape: &[usize]) -> Res<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, data)
        .reshape(shape.to_vec())?
        .into_any())
}

fn array64<'py>(py: Python<'py>, data: Vec<f64>, shape: &[usize]) -> Res<Bound<'py, PyAny>> {
    Ok(PyArray1::from_vec(py, data)
        .reshape(shape.to_vec())?
        .into_any())
}

/// Between segments of a long run (with the GIL released): checks for Ctrl-C and calls the
/// caller's progress callable; either may stop the run, and the Python exception is kept
/// to be raised once the engine has returned.
struct Watch {
    progress: Option<Py<PyAny>>,
    stopped: Option<PyErr>,
}

impl Watch {
    fn new(progress: Option<Py<PyAny>>) -> Self {
        Self {
            progress,
            stopped: None,
        }
    }

    /// The engine's progress callback: an error stops the run.
    fn check(&mut self, done: u64, total: u64) -> morphogen::Result<()> {
        let progress = &self.progress;
        Python::attach(|py| -> PyResult<()> {
            py.check_signals()?;
            if let Some(callback) = progress {
                callback.call1(py, (done, total))?;
            }
            Ok(())
        })
        .map_err(|e| {
            self.stopped = Some(e);
            Error::invalid("stopped from Python")
        })
    }

    /// The run's result, or the exception that stopped it.
    fn finish<T>(self, result: morphogen::Result<T>) -> Res<T> {
        match self.stopped {
            Some(e) => Err(e),
            None => run(result),
        }
    }
}

/// The names of the adapters this machine offers, in the order `Context(adapter=k)` counts.
#[pyfunction]
fn adapters() -> Vec<String> {
    list_adapters(None)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// A GPU device with its kernel cache and buffer pool.
#[pyclass(frozen, module = "morphogen._core")]
struct Context {
    inner: GpuContext,
}

#[pymethods]
impl Context {
    #[new]
    #[pyo3(signature = (adapter=None))]
    fn new(py: Python<'_>, adapter: Option<String>) -> Res<Self> {
        let mut options = ContextOptions::default();
        if let Some(name) = adapter {
            options = options.adapter(name);
        }
        let inner = py
            .detach(|| GpuContext::with_options(&options))
            .map_err(to_py)?;
        Ok(Self { inner })
    }

    /// The adapter this context runs on.
    #[getter]
    fn adapter(&self) -> String {
        self.inner.adapter().to_string()
    }

    fn __repr__(&self) -> String {
        format!("Context({})", self.inner.adapter())
    }
}

/// The settings of a Sinkhorn solve, as the package passes them.
#[derive(Clone, Debug, FromPyObject)]
#[pyo3(from_item_all)]
struct Settings {
    cost: String,
    eps: Option<f32>,
    eps_rel: f32,
    tau_a: f32,
    tau_b: f32,
    convention: String,
    tol: f32,
    max_iter: usize,
    momentum: f32,
    anderson: Option<usize>,
    eps_scaling: Option<f32>,
}

impl Settings {
    fn cost(&self) -> Res<Cost> {
        run(Cost::parse(&self.cost))
    }

    fn config(&self) -> Res<SinkhornConfig> {
        let mut config = SinkhornConfig::default()
            .threshold(self.tol)
            .max_iter(self.max_iter)
            .momentum(self.momentum)
            .tau_a(self.tau_a)
            .tau_b(self.tau_b);
        config = match self.eps {
            Some(e) => config.eps(e),
            None => config.eps_rel(self.eps_rel),
        };
        config = config.convention(Convention::parse(&self.convention).ok_or_else(|| {
            PyValueError::new_err(format!(
                "convention={:?}: use \"kl\" (POT's reg_type=\"kl\", GeomLoss) or \"entropy\" (OTT-JAX)",
                self.convention
            ))
        })?);
        if let Some(memory) = self.anderson {
            config = config.anderson(Anderson::with_memory(memory));
        }
        if let Some(decay) = self.eps_scaling {
            config = config.eps_scaling(decay);
        }
        run(config.validate())?;
        Ok(config)
    }
}

/// The source and target clouds of one problem, with optional weights.
fn clouds(
    x: &PyReadonlyArrayDyn<'_, f32>,
    y: &PyReadonlyArrayDyn<'_, f32>,
    a: Option<&PyReadonlyArrayDyn<'_, f32>>,
    b: Option<&PyReadonlyArrayDyn<'_, f32>>,
) -> Res<(PointCloud, PointCloud)> {
    let (xv, xs) = values(x, "x")?;
    let (yv, ys) = values(y, "y")?;
    let mut source = run(PointCloud::new(xv, xs[1]))?;
    let mut target = run(PointCloud::new(yv, ys[1]))?;
    if let Some(a) = a {
        source = run(source.with_weights(values(a, "a")?.0))?;
    }
    if let Some(b) = b {
        target = run(target.with_weights(values(b, "b")?.0))?;
    }
    Ok((source, target))
}

/// The result of a Sinkhorn solve.
#[pyclass(frozen, module = "morphogen._core")]
struct Solution {
    inner: EngineSolution,
}

#[pymethods]
impl Solution {
    /// Source potential f (n values).
    #[getter]
    fn f<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyAny>> {
        array(py, self.inner.f.clone(), &[self.inner.f.len()])
    }
    /// Target potential g (m values).
    #[getter]
    fn g<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyAny>> {
        array(py, self.inner.g.clone(), &[self.inner.g.len()])
    }
    /// The regularised OT cost OT_eps (the dual objective).
    #[getter]
    fn reg_ot_cost(&self) -> f64 {
        self.inner.reg_ot_cost
    }
    /// The transport cost <C, P> of the plan.
    #[getter]
    fn primal_cost(&self) -> f64 {
        self.inner.primal_cost
    }
    /// Iterations run.
    #[getter]
    fn iterations(&self) -> usize {
        self.inner.iterations
    }
    /// Whether the marginal error reached the tolerance.
    #[getter]
    fn converged(&self) -> bool {
        self.inner.converged
    }
    /// The L1 marginal error of the returned potentials.
    #[getter]
    fn marginal_error(&self) -> f64 {
        self.inner.marginal_error
    }
    /// The plan's total mass.
    #[getter]
    fn transported_mass(&self) -> f64 {
        self.inner.transported_mass
    }
    /// The ε the solve ended at.
    #[getter]
    fn epsilon(&self) -> f64 {
        self.inner.epsilon
    }
    /// (iteration, marginal error) at each check.
    #[getter]
    fn errors(&self) -> Vec<(usize, f64)> {
        self.inner.errors.clone()
    }

    fn __repr__(&self) -> String {
        let s = &self.inner;
        format!(
            "Solution(reg_ot_cost={:.6}, iterations={}, converged={}, marginal_error={:.2e})",
            s.reg_ot_cost, s.iterations, s.converged, s.marginal_error
        )
    }
}

/// Solves one problem; `progress(iterations, max_iter)` is called after each error check,
/// where Ctrl-C also stops the solve.
#[pyfunction]
#[pyo3(signature = (context, x, y, a, b, settings, progress=None))]
#[allow(clippy::too_many_arguments)]
fn transport_solve(
    py: Python<'_>,
    context: &Context,
    x: PyReadonlyArrayDyn<'_, f32>,
    y: PyReadonlyArrayDyn<'_, f32>,
    a: Option<PyReadonlyArrayDyn<'_, f32>>,
    b: Option<PyReadonlyArrayDyn<'_, f32>>,
    settings: Settings,
    progress: Option<Py<PyAny>>,
) -> Res<Solution> {
    let (source, target) = clouds(&x, &y, a.as_ref(), b.as_ref())?;
    let problem = run(Problem::with_cost(source, target, settings.cost()?))?;
    let config = settings.config()?;
    let ctx = context.inner.clone();
    let mut watch = Watch::new(progress);
    let result = py.detach(|| {
        transport::solve_with_progress(&ctx, &problem, &config, &mut |done, total, _| {
            watch.check(done as u64, total as u64)
        })
    });
    Ok(Solution {
        inner: watch.finish(result)?,
    })
}

#[pyfunction]
#[pyo3(signature = (context, x, y, a, b, settings))]
fn transport_solve_batch(
    py: Python<'_>,
    context: &Context,
    x: PyReadonlyArrayDyn<'_, f32>,
    y: PyReadonlyArrayDyn<'_, f32>,
    a: Option<PyReadonlyArrayDyn<'_, f32>>,
    b: Option<PyReadonlyArrayDyn<'_, f32>>,
    settings: Settings,
) -> Res<Vec<Solution>> {
    let (xv, xs) = values(&x, "x")?;
    let (yv, ys) = values(&y, "y")?;
    let (batch, n, m, d) = (xs[0], xs[1], ys[1], xs[2]);
    let av = a.as_ref().map(|a| values(a, "a")).transpose()?;
    let bv = b.as_ref().map(|b| values(b, "b")).transpose()?;
    let cost = settings.cost()?;
    let mut problems = Vec::with_capacity(batch);
    for k in 0..batch {
        let mut source = run(PointCloud::new(xv[k * n * d..(k + 1) * n * d].to_vec(), d))?;
        let mut target = run(PointCloud::new(yv[k * m * d..(k + 1) * m * d].to_vec(), d))?;
        if let Some((av, _)) = &av {
            source = run(source.with_weights(av[k * n..(k + 1) * n].to_vec()))?;
        }
        if let Some((bv, _)) = &bv {
            target = run(target.with_weights(bv[k * m..(k + 1) * m].to_vec()))?;
        }
        problems.push(run(Problem::with_cost(source, target, cost))?);
    }
    let config = settings.config()?;
    let ctx = context.inner.clone();
    let solutions = py
        .detach(|| transport::solve_batch(&ctx, &problems, &config))
        .map_err(to_py)?;
    Ok(solutions
        .into_iter()
        .map(|inner| Solution { inner })
        .collect())
}

/// The debiased Sinkhorn divergence and its three solves, as a dict (with `grad`, also
/// its gradients with respect to both clouds).
#[pyfunction]
#[pyo3(signature = (context, x, y, a, b, settings, grad=false))]
#[allow(clippy::too_many_arguments)]
fn transport_divergence<'py>(
    py: Python<'py>,
    context: &Context,
    x: PyReadonlyArrayDyn<'_, f32>,
    y: PyReadonlyArrayDyn<'_, f32>,
    a: Option<PyReadonlyArrayDyn<'_, f32>>,
    b: Option<PyReadonlyArrayDyn<'_, f32>>,
    settings: Settings,
    grad: bool,
) -> Res<Bound<'py, PyDict>> {
    let (source, target) = clouds(&x, &y, a.as_ref(), b.as_ref())?;
    let (cost, config) = (settings.cost()?, settings.config()?);
    let ctx = context.inner.clone();
    let out = PyDict::new(py);
    let d = if grad {
        let (d, g) = py
            .detach(|| transport::sinkhorn_divergence_grad(&ctx, &source, &target, cost, &config))
            .map_err(to_py)?;
        let dim = source.dim();
        out.set_item("grad_x", array(py, g.source, &[source.len(), dim])?)?;
        out.set_item("grad_y", array(py, g.target, &[target.len(), dim])?)?;
        d
    } else {
        py.detach(|| transport::sinkhorn_divergence(&ctx, &source, &target, cost, &config))
            .map_err(to_py)?
    };
    out.set_item("value", d.value)?;
    out.set_item("ot_xy", Solution { inner: d.ot_xy })?;
    out.set_item("ot_xx", Solution { inner: d.ot_xx })?;
    out.set_item("ot_yy", Solution { inner: d.ot_yy })?;
    Ok(out)
}

/// A solved problem kept on the GPU: entropic maps, plan samples, dense plans.
#[pyclass(frozen, module = "morphogen._core")]
struct Coupling {
    inner: EngineCoupling,
    shape: (usize, usize),
}

#[pymethods]
impl Coupling {
    #[new]
    #[pyo3(signature = (context, x, y, a, b, settings, progress=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        context: &Context,
        x: PyReadonlyArrayDyn<'_, f32>,
        y: PyReadonlyArrayDyn<'_, f32>,
        a: Option<PyReadonlyArrayDyn<'_, f32>>,
        b: Option<PyReadonlyArrayDyn<'_, f32>>,
        settings: Settings,
        progress: Option<Py<PyAny>>,
    ) -> Res<Self> {
        let (source, target) = clouds(&x, &y, a.as_ref(), b.as_ref())?;
        let shape = (source.len(), target.len());
        let problem = run(Problem::with_cost(source, target, settings.cost()?))?;
        let config = settings.config()?;
        let ctx = context.inner.clone();
        let mut watch = Watch::new(progress);
        let result = py.detach(|| {
            EngineCoupling::solve_with_progress(&ctx, &problem, &config, &mut |done, total, _| {
                watch.check(done as u64, total as u64)
            })
        });
        let inner = watch.finish(result)?;
        Ok(Self { inner, shape })
    }

    /// The solution (potentials, costs, convergence).
    #[getter]
    fn solution(&self) -> Solution {
        Solution {
            inner: self.inner.solution().clone(),
        }
    }

    /// The entropic map T(points) of P x d points.
    fn map<'py>(
        &self,
        py: Python<'py>,
        points: PyReadonlyArrayDyn<'_, f32>,
    ) -> Res<Bound<'py, PyAny>> {
        let (v, shape) = values(&points, "points")?;
        let mapped = py.detach(|| self.inner.map(&v)).map_err(to_py)?;
        array(py, mapped, &shape)
    }

    /// The backward entropic map of Q x d target-space points.
    fn map_back<'py>(
        &self,
        py: Python<'py>,
        points: PyReadonlyArrayDyn<'_, f32>,
    ) -> Res<Bound<'py, PyAny>> {
        let (v, shape) = values(&points, "points")?;
        let mapped = py.detach(|| self.inner.map_back(&v)).map_err(to_py)?;
        array(py, mapped, &shape)
    }

    /// (d OT_eps / dx, d OT_eps / dy), shaped as the clouds (squared Euclidean cost).
    fn gradients<'py>(&self, py: Python<'py>) -> Res<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let g = py.detach(|| self.inner.gradients()).map_err(to_py)?;
        let d = g.source.len() / self.shape.0.max(1);
        Ok((
            array(py, g.source, &[self.shape.0, d])?,
            array(py, g.target, &[self.shape.1, d])?,
        ))
    }

    /// K (i, j) index pairs drawn from the plan, as a K x 2 int64 array.
    fn sample<'py>(&self, py: Python<'py>, k: usize, seed: u64) -> Res<Bound<'py, PyAny>> {
        let pairs = py.detach(|| self.inner.sample(k, seed)).map_err(to_py)?;
        let flat: Vec<i64> = pairs
            .iter()
            .flat_map(|&(i, j)| [i64::from(i), i64::from(j)])
            .collect();
        Ok(PyArray1::from_vec(py, flat).reshape(vec![k, 2])?.into_any())
    }

    /// The dense n x m plan (small problems).
    fn plan<'py>(&self, py: Python<'py>) -> Res<Bound<'py, PyAny>> {
        let plan = py.detach(|| self.inner.plan()).map_err(to_py)?;
        array(py, plan, &[self.shape.0, self.shape.1])
    }
}

/// A velocity field (or score, growth or potential network) that runs inside the
/// integrator's shaders.
#[pyclass(frozen, module = "morphogen._core")]
struct VelocityField {
    inner: EngineField,
}

#[pymethods]
impl VelocityField {
    /// Loads safetensors weights, with a JSON spec or TorchCFM's layout.
    #[staticmethod]
    #[pyo3(signature = (path, spec=None))]
    fn load(path: PathBuf, spec: Option<PathBuf>) -> Res<Self> {
        Ok(Self {
            inner: run(EngineField::load(&path, spec.as_deref()))?,
        })
    }

    /// From (name, C-contiguous float32 array) pairs and an optional spec as JSON text.
    #[staticmethod]
    #[pyo3(signature = (tensors, spec=None))]
    fn from_tensors(
        tensors: Vec<(String, PyReadonlyArrayDyn<'_, f32>)>,
        spec: Option<String>,
    ) -> Res<Self> {
        let owned = tensors
            .iter()
            .map(|(name, a)| values(a, name).map(|(v, shape)| (name.clone(), shape, v)))
            .collect::<Res<Vec<_>>>()?;
        Ok(Self {
            inner: run(EngineField::from_tensors(&owned, spec.as_deref()))?,
        })
    }

    /// A linear field v(x) = A x + b (A given row-major, d x d).
    #[staticmethod]
    fn linear(a: Vec<f32>, b: Vec<f32>) -> Res<Self> {
        Ok(Self {
            inner: run(EngineField::linear(&a, &b))?,
        })
    }

    /// The state dimension d.
    #[getter]
    fn dim(&self) -> usize {
        self.inner.dim
    }

    fn __repr__(&self) -> String {
        format!(
            "VelocityField(dim={}, layers={})",
            self.inner.dim,
            self.inner.layers.len()
        )
    }
}

/// Flow settings, as the package passes them.
#[derive(Clone, Debug, FromPyObject)]
#[pyo3(from_item_all)]
struct FlowSettings {
    t0: f64,
    t1: f64,
    solver: String,
    rtol: f64,
    atol: f64,
    steps: usize,
    save_at: Option<Vec<f64>>,
    logp: Option<String>,
    seed: u64,
    max_steps: usize,
}

impl FlowSettings {
    fn config(&self) -> Res<FlowConfig> {
        let solver = Solver::parse(&self.solver).ok_or_else(|| {
            PyValueError::new_err(format!(
                "solver={:?}: use euler, midpoint, heun, rk4, dopri5 or tsit5",
                self.solver
            ))
        })?;
        let mut config = FlowConfig::default()
            .solver(solver)
            .span(self.t0, self.t1)
            .steps(self.steps)
            .tolerances(self.rtol, self.atol)
            .max_steps(self.max_steps);
        if let Some(times) = &self.save_at {
            config = config.save_at(times);
        }
        if let Some(mode) = &self.logp {
            let mode = LogDensity::parse(mode).ok_or_else(|| {
                PyValueError::new_err(format!(
                    "logp={mode:?}: use None, \"exact\", \"hutchinson\" or \"central\""
                ))
            })?;
            config = config.log_density(mode, self.seed);
        }
        run(config.validate())?;
        Ok(config)
    }
}

/// Integrates particles through a field (on the GPU, or with `cpu` the f64 twin); returns
/// (states T x N x d, log-density change T x N or None, evaluations per particle, indices
/// of particles that hit the step cap).
#[pyfunction]
#[pyo3(signature = (context, field, x0, cond, population, settings, cpu=false, progress=None))]
#[allow(clippy::too_many_arguments)]
fn flow_integrate<'py>(
    py: Python<'py>,
    context: &Context,
    field: &VelocityField,
    x0: PyReadonlyArrayDyn<'_, f32>,
    cond: Option<PyReadonlyArrayDyn<'_, f32>>,
    population: Option<PyReadonlyArrayDyn<'_, u32>>,
    settings: FlowSettings,
    cpu: bool,
    progress: Option<Py<PyAny>>,
) -> Res<Bound<'py, PyDict>> {
    let (x, shape) = values(&x0, "x0")?;
    let (n, d) = (shape[0], shape[1]);
    let (cond, population) = conditioning(cond.as_ref(), population.as_ref())?;
    let config = settings.config()?;
    let ctx = context.inner.clone();
    let mut watch = Watch::new(progress);
    let result = py.detach(|| {
        if cpu {
            return flow::integrate_cpu_populations(&field.inner, &x, &cond, &population, &config);
        }
        flow::integrate_with_progress(
            &ctx,
            &field.inner,
            &x,
            (&cond, &population),
            &config,
            &mut |done, total| watch.check(done, total),
        )
    });
    let result = watch.finish(result)?;
    let times = result.times.len();
    let out = PyDict::new(py);
    out.set_item("times", array64(py, result.times.clone(), &[times])?)?;
    out.set_item("states", array(py, result.states, &[times, n, d])?)?;
    match result.log_density_change {
        Some(logp) => out.set_item("logp", array(py, logp, &[times, n])?)?,
        None => out.set_item("logp", py.None())?,
    }
    let evaluations: Vec<f64> = result.evaluations.iter().map(|&e| f64::from(e)).collect();
    out.set_item("evaluations", array64(py, evaluations, &[n])?)?;
    out.set_item("capped", result.capped)?;
    Ok(out)
}

/// A branch as the package passes it: velocity, optional score, optional growth head.
type BranchFields<'a> = (
    PyRef<'a, VelocityField>,
    Option<PyRef<'a, VelocityField>>,
    Option<PyRef<'a, VelocityField>>,
);

/// SDE settings, as the package passes them.
#[derive(Clone, Debug, FromPyObject)]
#[pyo3(from_item_all)]
struct SdeSettings {
    t0: f64,
    t1: f64,
    solver: String,
    steps: usize,
    save_at: Option<Vec<f64>>,
    sigma: f64,
    bridge: bool,
    growth: String,
    initial_weights: Option<Vec<f64>>,
    resample_below: Option<f64>,
    seed: u64,
}

impl SdeSettings {
    fn config(&self) -> Res<sde::SdeConfig> {
        let solver = sde::SdeSolver::parse(&self.solver).ok_or_else(|| {
            PyValueError::new_err(format!(
                "solver={:?}: use \"em\" (Euler-Maruyama) or \"sra1\"",
                self.solver
            ))
        })?;
        let growth = sde::Growth::parse(&self.growth).ok_or_else(|| {
            PyValueError::new_err(format!(
                "growth={:?}: use \"log\" (d log w = g dt) or \"additive\" (dw = g dt)",
                self.growth
            ))
        })?;
        let mut config = sde::SdeConfig::default()
            .solver(solver)
            .span(self.t0, self.t1)
            .steps(self.steps)
            .diffusion(if self.bridge {
                sde::Diffusion::Bridge(self.sigma)
            } else {
                sde::Diffusion::Constant(self.sigma)
            })
            .growth(growth)
            .seed(self.seed);
        if let Some(times) = &self.save_at {
            config = config.save_at(times);
        }
        if let Some(w) = &self.initial_weights {
            config = config.initial_weights(w);
        }
        if let Some(f) = self.resample_below {
            config = config.resample_below(f);
        }
        Ok(config)
    }
}

/// Simulates particles through SDE branches (each a velocity field with optional score
/// and growth networks). `progress(done, total)` is called between save times; Ctrl-C
/// stops the run there.
#[pyfunction]
#[pyo3(signature = (context, branches, x0, cond, population, settings, progress=None))]
#[allow(clippy::too_many_arguments)]
fn sde_simulate<'py>(
    py: Python<'py>,
    context: &Context,
    branches: Vec<BranchFields<'_>>,
    x0: PyReadonlyArrayDyn<'_, f32>,
    cond: Option<PyReadonlyArrayDyn<'_, f32>>,
    population: Option<PyReadonlyArrayDyn<'_, u32>>,
    settings: SdeSettings,
    progress: Option<Py<PyAny>>,
) -> Res<Bound<'py, PyDict>> {
    let branches: Vec<sde::Branch> = branches
        .iter()
        .map(|(v, s, g)| {
            let mut b = sde::Branch::new(v.inner.clone());
            if let Some(s) = s {
                b = b.score(s.inner.clone());
            }
            if let Some(g) = g {
                b = b.growth(g.inner.clone());
            }
            b
        })
        .collect();
    let (x, shape) = values(&x0, "x0")?;
    let (n, d) = (shape[0], shape[1]);
    let (cond, population) = conditioning(cond.as_ref(), population.as_ref())?;
    let config = settings.config()?;
    run(config.validate(&branches))?;
    let ctx = context.inner.clone();
    let mut watch = Watch::new(progress);
    let result = py.detach(|| {
        sde::simulate_with_progress(
            &ctx,
            &branches,
            &x,
            (&cond, &population),
            &config,
            &mut |done, total| watch.check(done, total),
        )
    });
    let r = watch.finish(result)?;
    let (t, k) = (r.times.len(), r.branches);
    let out = PyDict::new(py);
    out.set_item("times", array64(py, r.times.clone(), &[t])?)?;
    out.set_item("states", array(py, r.states, &[t, k, n, d])?)?;
    match r.weights {
        Some(w) => out.set_item("weights", array(py, w, &[t, k, n])?)?,
        None => out.set_item("weights", py.None())?,
    }
    out.set_item("mass", array64(py, r.mass, &[t, k])?)?;
    out.set_item("ess", array64(py, r.ess, &[t, k])?)?;
    out.set_item("resampled", r.resampled)?;
    out.set_item("steps", r.steps)?;
    Ok(out)
}

/// A batch of Biomaker CA worlds of one configuration resident on the GPU, one per seed,
/// advancing together.
#[pyclass(module = "morphogen._core")]
struct World {
    inner: Worlds,
}

/// A world's configuration: the TOML text when given, else the preset at that size.
fn world_config(
    preset: String,
    height: u32,
    width: String,
    config_toml: Option<String>,
) -> Res<BiomeConfig> {
    Ok(match config_toml {
        Some(text) => run(BiomeConfig::from_toml(&text))?,
        None => {
            let preset: Preset = run(preset.parse())?;
            let width: Width = run(width.parse())?;
            BiomeConfig::preset(preset).height(height).width(width)
        }
    })
}

/// Runs `steps` steps in batches, checking for Ctrl-C between them (the GIL is held only
/// for the check), and returns each world's census rows.
fn run_worlds(
    py: Python<'_>,
    worlds: &mut Worlds,
    steps: u64,
    census: bool,
    progress: Option<Py<PyAny>>,
) -> Res<Vec<Vec<Census>>> {
    let mut rows: Vec<Vec<Census>> = vec![Vec::new(); worlds.count()];
    let mut watch = Watch::new(progress);
    let options = RunOptions::default().census(census);
    let first = worlds.steps_done();
    let result = py.detach(|| {
        worlds.run_with(steps, &options, |done, batch| {
            for (all, new) in rows.iter_mut().zip(batch) {
                all.extend_from_slice(new);
            }
            watch.check(done - first, steps)
        })
    });
    watch.finish(result)?;
    Ok(rows)
}

#[pymethods]
impl World {
    #[new]
    #[pyo3(signature = (context, preset, height, width, seeds, config_toml=None, intercept=None))]
    #[expect(
        clippy::too_many_arguments,
        reason = "the world's settings, spelled out for Python"
    )]
    fn new(
        py: Python<'_>,
        context: &Context,
        preset: String,
        height: u32,
        width: String,
        seeds: Vec<u64>,
        config_toml: Option<String>,
        intercept: Option<[f64; 2]>,
    ) -> Res<Self> {
        let mut config = world_config(preset, height, width, config_toml)?;
        if intercept.is_some() {
            config.intercept_reproduction = intercept;
        }
        run(config.validate())?;
        let ctx = context.inner.clone();
        let inner = py
            .detach(|| Worlds::new(&ctx, &config, &seeds))
            .map_err(to_py)?;
        Ok(Self { inner })
    }

    /// Continues a world from a checkpoint file (a batch of one).
    #[staticmethod]
    fn resume(py: Python<'_>, context: &Context, path: PathBuf) -> Res<Self> {
        let ctx = context.inner.clone();
        let inner = py
            .detach(|| {
                let cp = Checkpoint::load(&path)?;
                let part = WorldParts {
                    state: cp.world,
                    programs: cp.programs,
                    seed: cp.seed,
                };
                Worlds::from_parts(&ctx, &cp.config, &[part], cp.step)
            })
            .map_err(to_py)?;
        Ok(Self { inner })
    }

    /// The most worlds of this configuration one batch holds on the context's adapter.
    #[staticmethod]
    #[pyo3(signature = (context, preset, height, width, config_toml=None))]
    fn max_batch(
        context: &Context,
        preset: String,
        height: u32,
        width: String,
        config_toml: Option<String>,
    ) -> Res<usize> {
        let config = world_config(preset, height, width, config_toml)?;
        Ok(Worlds::max_batch(&context.inner, &config))
    }

    /// Runs `steps` steps; with `census`, returns the census as a dict of (worlds, steps)
    /// arrays.
    #[pyo3(signature = (steps, census=true, progress=None))]
    fn run<'py>(
        &mut self,
        py: Python<'py>,
        steps: u64,
        census: bool,
        progress: Option<Py<PyAny>>,
    ) -> Res<Option<Bound<'py, PyDict>>> {
        let rows = run_worlds(py, &mut self.inner, steps, census, progress)?;
        if !census {
            return Ok(None);
        }
        let worlds = rows.len();
        let per_world = rows.first().map_or(0, Vec::len);
        let column = |f: &dyn Fn(&Census) -> u64| -> Vec<u64> {
            rows.iter().flat_map(|r| r.iter().map(f)).collect()
        };
        let out = PyDict::new(py);
        let columns: [(&str, Vec<u64>); 10] = [
            ("step", column(&|c| c.step)),
            ("agents", column(&|c| c.agents())),
            (
                "unspecialized",
                column(&|c| u64::from(c.by_specialization()[0])),
            ),
            ("root", column(&|c| u64::from(c.by_specialization()[1]))),
            ("leaf", column(&|c| u64::from(c.by_specialization()[2]))),
            ("flower", column(&|c| u64::from(c.by_specialization()[3]))),
            ("reproductions", column(&|c| u64::from(c.reproductions))),
            ("seeds", column(&|c| u64::from(c.seeds))),
            ("living_ids", column(&|c| u64::from(c.living_ids))),
            ("intercepted", column(&|c| u64::from(c.intercepted))),
        ];
        for (name, values) in columns {
            out.set_item(
                name,
                PyArray1::from_vec(py, values).reshape(vec![worlds, per_world])?,
            )?;
        }
        Ok(Some(out))
    }

    /// World `world` as an (H * zoom, W * zoom, 3) uint8 image.
    #[pyo3(signature = (world=0, zoom=1))]
    fn render<'py>(&self, py: Python<'py>, world: usize, zoom: u32) -> Res<Bound<'py, PyAny>> {
        let image = py
            .detach(|| self.inner.render(world, zoom))
            .map_err(to_py)?;
        let rgb: Vec<u8> = image
            .rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        Ok(PyArray1::from_vec(py, rgb)
            .reshape(vec![image.height as usize, image.width as usize, 3])?
            .into_any())
    }

    /// Loads a program (`.npy` of float32 parameters) into every agent slot of every
    /// world.
    fn load_program(&self, path: PathBuf) -> Res<()> {
        run(self.inner.load_program(&path))
    }

    /// Writes world `world`, its programs and its step to a checkpoint file.
    #[pyo3(signature = (path, world=0))]
    fn save_checkpoint(&self, path: PathBuf, world: usize) -> Res<()> {
        run(self.inner.save_checkpoint(world, &path))
    }

    /// Steps run so far.
    #[getter]
    fn steps_done(&self) -> u64 {
        self.inner.steps_done()
    }

    /// (height, width) in cells.
    #[getter]
    fn shape(&self) -> (usize, usize) {
        (self.inner.height(), self.inner.width())
    }

    /// Each world's seed.
    #[getter]
    fn seeds(&self) -> Vec<u64> {
        self.inner.seeds().to_vec()
    }
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("DeviceError", m.py().get_type::<DeviceError>())?;
    m.add_function(wrap_pyfunction!(adapters, m)?)?;
    m.add_class::<Context>()?;
    m.add_class::<Solution>()?;
    m.add_class::<Coupling>()?;
    m.add_class::<VelocityField>()?;
    m.add_class::<World>()?;
    m.add_class::<coffee::Coffee>()?;
    m.add_class::<evolve::Evolution>()?;
    m.add_class::<train::Trainer>()?;
    m.add_function(wrap_pyfunction!(coffee::coffee_coarse_grain, m)?)?;
    m.add_function(wrap_pyfunction!(coffee::coffee_schedule, m)?)?;
    m.add_function(wrap_pyfunction!(transport_solve, m)?)?;
    m.add_function(wrap_pyfunction!(transport_solve_batch, m)?)?;
    m.add_function(wrap_pyfunction!(transport_divergence, m)?)?;
    m.add_function(wrap_pyfunction!(flow_integrate, m)?)?;
    m.add_function(wrap_pyfunction!(sde_simulate, m)?)?;
    Ok(())
}
