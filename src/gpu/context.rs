//! The GPU context: adapter choice, device creation with the adapter's real limits, and an
//! entry point for applications that already own a `wgpu::Device`.

use std::fmt;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::buffer::BufferPool;
use crate::gpu::kernels::KernelCache;
use crate::gpu::ledger::Ledger;

/// Optional features morphogen enables when the adapter has them, by name; none is
/// required.
pub const OPTIONAL_FEATURES: [(&str, wgpu::Features); 6] = [
    ("timestamp-query", wgpu::Features::TIMESTAMP_QUERY),
    (
        "timestamp-query-inside-encoders",
        wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
    ),
    (
        "timestamp-query-inside-passes",
        wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
    ),
    ("shader-f16", wgpu::Features::SHADER_F16),
    ("shader-f64", wgpu::Features::SHADER_F64),
    ("subgroup", wgpu::Features::SUBGROUP),
];

fn optional_features() -> wgpu::Features {
    OPTIONAL_FEATURES
        .iter()
        .fold(wgpu::Features::empty(), |all, (_, f)| all | *f)
}

/// Environment variable naming the adapter to use: a case-insensitive substring of its
/// name, or its index as listed by `morphogen info`. Takes precedence over `WGPU_ADAPTER_NAME`.
pub const ADAPTER_ENV: &str = "MORPHOGEN_ADAPTER";

/// How to choose the adapter and create the device.
#[derive(Clone, Debug)]
pub struct ContextOptions {
    /// Backends to search. `None`: `WGPU_BACKEND` if set, else Vulkan, Metal, DX12 and the
    /// browser's WebGPU.
    pub backends: Option<wgpu::Backends>,
    /// Adapter name substring or index. `None`: `MORPHOGEN_ADAPTER`, then
    /// `WGPU_ADAPTER_NAME`, then the power preference decides.
    pub adapter: Option<String>,
    /// Preference when no adapter is named. Default: high performance (a discrete GPU
    /// before an integrated one before a software driver).
    pub power_preference: wgpu::PowerPreference,
    /// Optional features not to enable even where the adapter has them (to run the
    /// portable kernel paths, or to compare them).
    pub disabled_features: wgpu::Features,
    /// Treat storage bindings as at most this many bytes (below the device's own limit),
    /// so large-problem code paths can be exercised on small data.
    pub binding_cap: Option<u64>,
    /// Treat the driver as stopping shader invocations after this many loop iterations
    /// (see [`GpuContext::loop_limit`]), so the code paths that respect such a limit can
    /// be exercised on any driver.
    pub loop_cap: Option<u64>,
    /// Time every recording with GPU timestamps, for [`GpuContext::gpu_seconds`] (where
    /// the device has timestamp queries). Default off.
    pub gpu_time: bool,
}

impl Default for ContextOptions {
    fn default() -> Self {
        Self {
            backends: None,
            adapter: None,
            power_preference: wgpu::PowerPreference::HighPerformance,
            disabled_features: wgpu::Features::empty(),
            binding_cap: None,
            loop_cap: None,
            gpu_time: false,
        }
    }
}

impl ContextOptions {
    /// Restricts the search to these backends.
    pub fn backends(mut self, backends: wgpu::Backends) -> Self {
        self.backends = Some(backends);
        self
    }

    /// Chooses the adapter by name substring or index.
    pub fn adapter(mut self, name_or_index: impl Into<String>) -> Self {
        self.adapter = Some(name_or_index.into());
        self
    }

    /// Sets the power preference used when no adapter is named.
    pub fn power_preference(mut self, preference: wgpu::PowerPreference) -> Self {
        self.power_preference = preference;
        self
    }

    /// Leaves these optional features off.
    pub fn without_features(mut self, features: wgpu::Features) -> Self {
        self.disabled_features |= features;
        self
    }

    /// Caps the loop iterations of one shader invocation.
    pub fn loop_cap(mut self, iterations: u64) -> Self {
        self.loop_cap = Some(iterations);
        self
    }

    /// Times every recording for [`GpuContext::gpu_seconds`].
    pub fn gpu_time(mut self) -> Self {
        self.gpu_time = true;
        self
    }

    /// Caps the bytes of one storage binding.
    pub fn binding_cap(mut self, bytes: u64) -> Self {
        self.binding_cap = Some(bytes);
        self
    }

    fn resolved_backends(&self) -> wgpu::Backends {
        self.backends
            .or_else(wgpu::Backends::from_env)
            .unwrap_or(wgpu::Backends::PRIMARY)
    }

    fn resolved_adapter(&self) -> Option<(String, String)> {
        if let Some(name) = &self.adapter {
            return Some((name.clone(), "the adapter option".into()));
        }
        for var in [ADAPTER_ENV, "WGPU_ADAPTER_NAME"] {
            if let Ok(value) = std::env::var(var) {
                if !value.trim().is_empty() {
                    return Some((value, var.into()));
                }
            }
        }
        None
    }
}

/// What morphogen reports about an adapter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdapterReport {
    /// Adapter name as the driver gives it.
    pub name: String,
    /// Graphics API.
    pub backend: String,
    /// Discrete, integrated, virtual, CPU or other.
    pub device_type: String,
    /// Driver name and version.
    pub driver: String,
    /// Smallest and largest subgroup size of the adapter.
    pub subgroup_sizes: (u32, u32),
}

impl AdapterReport {
    fn from_info(info: &wgpu::AdapterInfo) -> Self {
        let driver = [info.driver.as_str(), info.driver_info.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            name: info.name.clone(),
            backend: format!("{:?}", info.backend),
            device_type: format!("{:?}", info.device_type),
            driver,
            subgroup_sizes: (info.subgroup_min_size, info.subgroup_max_size),
        }
    }
}

impl fmt::Display for AdapterReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}, {}", self.name, self.backend, self.device_type)?;
        if !self.driver.is_empty() {
            write!(f, ", {}", self.driver)?;
        }
        write!(f, ")")
    }
}

/// Errors the device reported outside any error scope, and device loss. Checked at every
/// readback point so an asynchronous failure surfaces as an `Err` of the next call.
#[derive(Default)]
pub(crate) struct ErrorSink {
    uncaptured: Mutex<Vec<String>>,
    lost: Mutex<Option<String>>,
}

impl ErrorSink {
    fn install(self: &Arc<Self>, device: &wgpu::Device) {
        let sink = Arc::clone(self);
        device.on_uncaptured_error(Arc::new(move |error: wgpu::Error| {
            log::error!("uncaptured GPU error: {error}");
            if let Ok(mut list) = sink.uncaptured.lock() {
                list.push(error.to_string());
            }
        }));
        let sink = Arc::clone(self);
        device.set_device_lost_callback(move |reason, message| {
            // Dropping the device reports `Destroyed`; only a real loss is an error.
            if reason == wgpu::DeviceLostReason::Destroyed {
                return;
            }
            if let Ok(mut lost) = sink.lost.lock() {
                *lost = Some(format!("{reason:?}: {message}"));
            }
        });
    }

    pub(crate) fn check(&self, context: &str) -> Result<()> {
        if let Some(message) = self.lost.lock().ok().and_then(|l| l.clone()) {
            return Err(Error::DeviceLost(message));
        }
        let mut list = self.uncaptured.lock().map_err(|_| Error::Gpu {
            context: context.into(),
            message: "error sink poisoned".into(),
        })?;
        if list.is_empty() {
            return Ok(());
        }
        let message = list.drain(..).collect::<Vec<_>>().join("; ");
        Err(Error::Gpu {
            context: context.into(),
            message,
        })
    }
}

pub(crate) struct ContextInner {
    pub(crate) device: wgpu::Device,
    pub(crate) queue: wgpu::Queue,
    pub(crate) adapter: AdapterReport,
    pub(crate) limits: wgpu::Limits,
    pub(crate) features: wgpu::Features,
    pub(crate) kernels: KernelCache,
    pub(crate) pool: BufferPool,
    pub(crate) errors: Arc<ErrorSink>,
    pub(crate) binding_cap: Option<u64>,
    pub(crate) loop_cap: Option<u64>,
    pub(crate) ledger: Option<Ledger>,
}

/// A GPU device and queue with morphogen's kernel cache and buffer pool. Cheap to clone.
///
/// ```no_run
/// let ctx = morphogen::gpu::GpuContext::new()?;
/// println!("running on {}", ctx.adapter());
/// # Ok::<(), morphogen::Error>(())
/// ```
#[derive(Clone)]
pub struct GpuContext {
    pub(crate) inner: Arc<ContextInner>,
}

impl fmt::Debug for GpuContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GpuContext")
            .field("adapter", &self.inner.adapter)
            .finish_non_exhaustive()
    }
}

/// Lists the adapters visible on `backends` (`None`: the default backends), in the order
/// that index-based selection uses.
pub fn list_adapters(backends: Option<wgpu::Backends>) -> Vec<AdapterReport> {
    let options = ContextOptions {
        backends,
        ..ContextOptions::default()
    };
    let instance = make_instance(options.resolved_backends());
    pollster::block_on(instance.enumerate_adapters(options.resolved_backends()))
        .iter()
        .map(|a| AdapterReport::from_info(&a.get_info()))
        .collect()
}

fn make_instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    desc.flags = wgpu::InstanceFlags::from_build_config().with_env();
    wgpu::Instance::new(desc)
}

fn type_rank(device_type: wgpu::DeviceType, preference: wgpu::PowerPreference) -> u8 {
    use wgpu::DeviceType as T;
    match preference {
        wgpu::PowerPreference::LowPower => match device_type {
            T::IntegratedGpu => 0,
            T::DiscreteGpu => 1,
            T::VirtualGpu => 2,
            T::Other => 3,
            T::Cpu => 4,
        },
        _ => match device_type {
            T::DiscreteGpu => 0,
            T::IntegratedGpu => 1,
            T::VirtualGpu => 2,
            T::Other => 3,
            T::Cpu => 4,
        },
    }
}

fn choose_adapter(adapters: Vec<wgpu::Adapter>, options: &ContextOptions) -> Result<wgpu::Adapter> {
    if let Some((wanted, source)) = options.resolved_adapter() {
        let names: Vec<String> = adapters
            .iter()
            .enumerate()
            .map(|(i, a)| format!("[{i}] {}", AdapterReport::from_info(&a.get_info())))
            .collect();
        let index = wanted.trim().parse::<usize>().ok();
        let needle = wanted.to_lowercase();
        let found = adapters
            .into_iter()
            .enumerate()
            .find(|(i, a)| Some(*i) == index || a.get_info().name.to_lowercase().contains(&needle));
        return found.map(|(_, a)| a).ok_or(Error::AdapterNotFound {
            wanted,
            source_of_choice: source,
            available: names,
        });
    }
    let preference = options.power_preference;
    let mut ranked: Vec<(usize, wgpu::Adapter)> = adapters.into_iter().enumerate().collect();
    if preference != wgpu::PowerPreference::None {
        ranked.sort_by_key(|(i, a)| (type_rank(a.get_info().device_type, preference), *i));
    }
    ranked
        .into_iter()
        .next()
        .map(|(_, a)| a)
        .ok_or_else(|| Error::NoAdapter {
            backends: format!("{:?}", options.resolved_backends()),
            env_backend: std::env::var("WGPU_BACKEND").ok(),
        })
}

impl GpuContext {
    /// Creates a context on the adapter chosen by the environment and defaults.
    pub fn new() -> Result<Self> {
        Self::with_options(&ContextOptions::default())
    }

    /// Creates a context on the adapter the options choose.
    pub fn with_options(options: &ContextOptions) -> Result<Self> {
        pollster::block_on(Self::with_options_async(options))
    }

    /// Async form of [`GpuContext::with_options`] (for the web, where nothing may block).
    pub async fn with_options_async(options: &ContextOptions) -> Result<Self> {
        let backends = options.resolved_backends();
        let instance = make_instance(backends);
        let adapters = instance.enumerate_adapters(backends).await;
        let adapter = if adapters.is_empty() && options.resolved_adapter().is_none() {
            // Some platforms (the browser) cannot enumerate; ask for one instead.
            instance
                .request_adapter(&wgpu::RequestAdapterOptions {
                    power_preference: options.power_preference,
                    ..Default::default()
                })
                .await
                .map_err(|_| Error::NoAdapter {
                    backends: format!("{backends:?}"),
                    env_backend: std::env::var("WGPU_BACKEND").ok(),
                })?
        } else {
            choose_adapter(adapters, options)?
        };
        let info = adapter.get_info();
        let features = adapter.features() & optional_features() & !options.disabled_features;
        let limits = adapter.limits();
        let desc = wgpu::DeviceDescriptor {
            label: Some("morphogen"),
            required_features: features,
            required_limits: limits.clone(),
            ..Default::default()
        };
        let (device, queue) =
            adapter
                .request_device(&desc)
                .await
                .map_err(|e| Error::RequestDevice {
                    adapter: info.name.clone(),
                    message: e.to_string(),
                })?;
        log::info!("morphogen on {}", AdapterReport::from_info(&info));
        Ok(Self::assemble(
            device,
            queue,
            &info,
            options.binding_cap,
            options.loop_cap,
            options.gpu_time,
        ))
    }

    /// Wraps a device and queue the caller already owns (an application embedding
    /// morphogen). Its features and limits are used as they are.
    pub fn from_device(device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let info = device.adapter_info();
        Self::assemble(device, queue, &info, None, None, false)
    }

    fn assemble(
        device: wgpu::Device,
        queue: wgpu::Queue,
        info: &wgpu::AdapterInfo,
        binding_cap: Option<u64>,
        loop_cap: Option<u64>,
        gpu_time: bool,
    ) -> Self {
        let errors = Arc::new(ErrorSink::default());
        errors.install(&device);
        let limits = device.limits();
        let features = device.features();
        let ledger = (gpu_time && features.contains(wgpu::Features::TIMESTAMP_QUERY))
            .then(|| Ledger::new(&device));
        Self {
            inner: Arc::new(ContextInner {
                kernels: KernelCache::default(),
                pool: BufferPool::default(),
                adapter: AdapterReport::from_info(info),
                limits,
                features,
                errors,
                device,
                queue,
                binding_cap,
                loop_cap,
                ledger,
            }),
        }
    }

    /// Seconds of GPU work submitted through this context so far, measured by timestamps
    /// around every recording: `None` unless the context was created with
    /// [`ContextOptions::gpu_time`] on a device with timestamp queries.
    pub fn gpu_seconds(&self) -> Option<f64> {
        let ledger = self.inner.ledger.as_ref()?;
        ledger.seconds(self).ok()
    }

    /// The wgpu device.
    pub fn device(&self) -> &wgpu::Device {
        &self.inner.device
    }

    /// The wgpu queue.
    pub fn queue(&self) -> &wgpu::Queue {
        &self.inner.queue
    }

    /// The adapter this context runs on.
    pub fn adapter(&self) -> &AdapterReport {
        &self.inner.adapter
    }

    /// The device's limits (the adapter's own, not WebGPU's defaults).
    pub fn limits(&self) -> &wgpu::Limits {
        &self.inner.limits
    }

    /// The optional features that were enabled.
    pub fn features(&self) -> wgpu::Features {
        self.inner.features
    }

    /// Loop iterations after which this driver silently stops a shader invocation, if it
    /// has such a limit: Mesa's llvmpipe before 25 shares one budget of 65,535 iterations
    /// among all loops of an invocation and then returns truncated results. Kernels with
    /// long loops split their work to stay below it.
    pub fn loop_limit(&self) -> Option<u64> {
        let adapter = &self.inner.adapter;
        let major = adapter
            .driver
            .split("Mesa ")
            .nth(1)
            .and_then(|v| v.split('.').next())
            .and_then(|v| v.parse::<u32>().ok());
        let driver = match major {
            Some(major) if adapter.name.starts_with("llvmpipe") && major < 25 => Some(65_535),
            _ => None,
        };
        match (driver, self.inner.loop_cap) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Names of the optional features that are enabled.
    pub fn feature_names(&self) -> Vec<&'static str> {
        OPTIONAL_FEATURES
            .iter()
            .filter(|(_, f)| self.inner.features.contains(*f))
            .map(|(name, _)| *name)
            .collect()
    }

    /// The subgroup size range when subgroup operations are enabled, else `None`.
    pub fn subgroups(&self) -> Option<(u32, u32)> {
        let (min, max) = self.inner.adapter.subgroup_sizes;
        let usable =
            self.inner.features.contains(wgpu::Features::SUBGROUP) && min >= 1 && max >= min;
        usable.then_some((min, max))
    }

    /// Whether GPU timestamp queries are available.
    pub fn has_timestamps(&self) -> bool {
        self.inner
            .features
            .contains(wgpu::Features::TIMESTAMP_QUERY)
    }

    /// The largest byte range one storage binding may cover.
    pub fn max_binding_bytes(&self) -> u64 {
        let limit = self
            .inner
            .limits
            .max_storage_buffer_binding_size
            .min(self.inner.limits.max_buffer_size);
        self.inner.binding_cap.map_or(limit, |cap| cap.min(limit))
    }

    /// Returns an error if the device reported one asynchronously or was lost.
    pub fn check_errors(&self, context: &str) -> Result<()> {
        self.inner.errors.check(context)
    }

    /// Blocks until all submitted work has finished.
    pub fn wait_idle(&self) -> Result<()> {
        self.inner
            .device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| Error::Gpu {
                context: "waiting for the GPU".into(),
                message: e.to_string(),
            })?;
        self.check_errors("waiting for the GPU")
    }

    /// Bytes held by idle pooled buffers, ready for reuse.
    pub fn pool_idle_bytes(&self) -> u64 {
        self.inner.pool.idle_bytes()
    }

    /// Frees the pooled buffers that are not in use.
    pub fn trim_pool(&self) {
        self.inner.pool.trim();
    }
}
