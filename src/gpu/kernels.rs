//! Compute kernels: a pipeline cache keyed by (shader, entry, defines, overrides,
//! generated snippets), bind-group layouts read from the shaders' declarations with naga,
//! and compilation inside an error scope.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::gpu::context::GpuContext;
use crate::gpu::preprocess::{preprocess_with, shader_source};

/// How a kernel sees one binding (all bindings live in group 0, in order), as read from
/// its declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Binding {
    /// `var<uniform>`.
    Uniform,
    /// `var<uniform>` bound with a dynamic offset: one buffer holds a block per dispatch
    /// (256-byte blocks), chosen by [`crate::gpu::Recorder::dispatch_at`].
    UniformDynamic,
    /// `var<storage, read>`.
    StorageRead,
    /// `var<storage, read_write>`.
    Storage,
}

impl Binding {
    fn ty(self) -> wgpu::BindingType {
        let buffer = |ty| wgpu::BindingType::Buffer {
            ty,
            has_dynamic_offset: false,
            min_binding_size: None,
        };
        match self {
            Self::Uniform => buffer(wgpu::BufferBindingType::Uniform),
            Self::UniformDynamic => wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: true,
                min_binding_size: None,
            },
            Self::StorageRead => buffer(wgpu::BufferBindingType::Storage { read_only: true }),
            Self::Storage => buffer(wgpu::BufferBindingType::Storage { read_only: false }),
        }
    }
}

/// The kinds of a kernel's group-0 bindings, read from its WGSL with naga: `uniform`,
/// `storage, read` and `storage, read_write` variables, in binding order (numbers may
/// skip: generated snippets declare theirs in ranges of their own), the variables named in
/// `dynamic` (uniforms, where the kernel declares them) bound with a dynamic offset.
fn reflect_bindings(
    source: &str,
    dynamic: &[&str],
) -> std::result::Result<Vec<(u32, String, Binding)>, String> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string(source))?;
    let mut found: Vec<(u32, String, Binding)> = Vec::new();
    for (_, var) in module.global_variables.iter() {
        let Some(slot) = &var.binding else { continue };
        if slot.group != 0 {
            return Err(format!(
                "binding group {} of `{}`: kernels use group 0 only",
                slot.group,
                var.name.as_deref().unwrap_or("?")
            ));
        }
        let name = var.name.clone().unwrap_or_default();
        let marked = dynamic.contains(&name.as_str());
        let kind = match var.space {
            naga::AddressSpace::Uniform if marked => Binding::UniformDynamic,
            naga::AddressSpace::Uniform => Binding::Uniform,
            _ if marked => return Err(format!("`{name}` is marked dynamic but is not a uniform")),
            naga::AddressSpace::Storage { access }
                if access.contains(naga::StorageAccess::STORE) =>
            {
                Binding::Storage
            }
            naga::AddressSpace::Storage { .. } => Binding::StorageRead,
            other => {
                return Err(format!(
                    "binding {} is in address space {other:?}; kernels bind buffers only",
                    slot.binding
                ))
            }
        };
        found.push((slot.binding, name, kind));
    }
    found.sort_by_key(|(b, _, _)| *b);
    if let Some(w) = found.windows(2).find(|w| w[0].0 == w[1].0) {
        return Err(format!(
            "`{}` and `{}` share binding {}",
            w[0].1, w[1].1, w[0].0
        ));
    }
    Ok(found)
}

/// Everything that identifies a kernel variant.
#[derive(Clone, Debug)]
pub struct KernelDesc<'a> {
    /// Shader name: path under `shaders/` without `.wgsl`.
    pub shader: &'a str,
    /// Entry point (house style: `main`).
    pub entry: &'a str,
    /// Preprocessor names set for `#ifdef`.
    pub defines: &'a [&'a str],
    /// Values of WGSL `override` constants.
    pub overrides: &'a [(&'a str, f64)],
    /// Uniform variables, by name, bound with a dynamic offset where the kernel declares
    /// them: one buffer holds a block per dispatch, chosen by
    /// [`crate::gpu::Recorder::dispatch_at`]. Every binding's kind is read from the shader.
    pub dynamic: &'a [&'a str],
    /// Snippets generated at run time, by import name (`flow/net`): they take the place
    /// of files under `shaders/` and are part of the kernel's identity.
    pub generated: &'a [(&'a str, &'a str)],
}

impl<'a> KernelDesc<'a> {
    /// A kernel of `shader` with entry `main`; its bind-group layout comes from the
    /// shader's `@group(0) @binding(i)` declarations.
    pub fn new(shader: &'a str) -> Self {
        Self {
            shader,
            entry: "main",
            defines: &[],
            overrides: &[],
            dynamic: &[],
            generated: &[],
        }
    }

    /// Marks uniform variables (by name) as bound with a dynamic offset.
    pub fn dynamic(mut self, bindings: &'a [&'a str]) -> Self {
        self.dynamic = bindings;
        self
    }

    /// Sets snippets generated at run time (import name, source).
    pub fn generated(mut self, generated: &'a [(&'a str, &'a str)]) -> Self {
        self.generated = generated;
        self
    }

    /// The kernel's WGSL after preprocessing, generated snippets included.
    pub fn source(&self) -> Result<String> {
        let generated = self.generated;
        let lookup = move |name: &str| -> Option<&'a str> {
            generated
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, s)| *s)
                .or_else(|| shader_source(name))
        };
        preprocess_with(self.shader, self.defines, &lookup)
    }

    /// Sets `#ifdef` names.
    pub fn defines(mut self, defines: &'a [&'a str]) -> Self {
        self.defines = defines;
        self
    }

    /// Sets `override` constants.
    pub fn overrides(mut self, overrides: &'a [(&'a str, f64)]) -> Self {
        self.overrides = overrides;
        self
    }

    fn key(&self) -> KernelKey {
        let mut defines: Vec<String> = self.defines.iter().map(|d| d.to_string()).collect();
        defines.sort();
        defines.dedup();
        let mut overrides: Vec<(String, u64)> = self
            .overrides
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_bits()))
            .collect();
        overrides.sort();
        KernelKey {
            shader: self.shader.to_string(),
            entry: self.entry.to_string(),
            defines,
            overrides,
            dynamic: self.dynamic.iter().map(|d| d.to_string()).collect(),
            generated: self
                .generated
                .iter()
                .map(|(n, s)| (n.to_string(), s.to_string()))
                .collect(),
        }
    }

    fn label(&self) -> String {
        let mut label = format!("morphogen.{}", self.shader.replace('/', "."));
        for d in self.defines {
            label.push_str(&format!("+{d}"));
        }
        label
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct KernelKey {
    shader: String,
    entry: String,
    defines: Vec<String>,
    overrides: Vec<(String, u64)>,
    dynamic: Vec<String>,
    generated: Vec<(String, String)>,
}

/// A compiled compute pipeline with its bind-group layout.
#[derive(Debug)]
pub struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    bindings: Vec<Binding>,
    /// The WGSL variable of each binding.
    names: Vec<String>,
    /// The `@binding` number of each binding.
    slots: Vec<u32>,
    label: String,
}

/// Pipelines already built on a context.
#[derive(Default)]
pub(crate) struct KernelCache {
    kernels: Mutex<HashMap<KernelKey, Arc<Kernel>>>,
}

/// Runs `f` inside a validation error scope and returns what it captured. In the browser,
/// where nothing may block, no scope is pushed: errors reach the device's
/// uncaptured-error handler and the next [`GpuContext::check_errors`] reports them.
pub(crate) fn scoped<R>(
    device: &wgpu::Device,
    filter: wgpu::ErrorFilter,
    f: impl FnOnce() -> R,
) -> (R, Option<wgpu::Error>) {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (device, filter);
        (f(), None)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        let scope = device.push_error_scope(filter);
        let value = f();
        (value, pollster::block_on(scope.pop()))
    }
}

impl GpuContext {
    /// The kernel `desc` describes, compiled on first use and cached afterwards.
    pub fn kernel(&self, desc: &KernelDesc<'_>) -> Result<Arc<Kernel>> {
        let key = desc.key();
        if let Some(kernel) = self
            .inner
            .kernels
            .kernels
            .lock()
            .ok()
            .and_then(|k| k.get(&key).cloned())
        {
            return Ok(kernel);
        }
        let kernel = Arc::new(self.build_kernel(desc)?);
        if let Ok(mut kernels) = self.inner.kernels.kernels.lock() {
            kernels.insert(key, Arc::clone(&kernel));
        }
        Ok(kernel)
    }

    fn build_kernel(&self, desc: &KernelDesc<'_>) -> Result<Kernel> {
        let source = desc.source()?;
        let label = desc.label();
        // The layout comes from the declarations (parsed before wgpu takes the source).
        let bindings =
            reflect_bindings(&source, desc.dynamic).map_err(|message| Error::Shader {
                shader: desc.shader.to_string(),
                entry: desc.entry.to_string(),
                message,
            })?;
        let device = self.device();
        let shader_error = |message: String| Error::Shader {
            shader: desc.shader.to_string(),
            entry: desc.entry.to_string(),
            message,
        };
        let (module, error) = scoped(device, wgpu::ErrorFilter::Validation, || {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&label),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            })
        });
        if let Some(error) = error {
            return Err(shader_error(error.to_string()));
        }
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .map(|&(slot, _, b)| wgpu::BindGroupLayoutEntry {
                binding: slot,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: b.ty(),
                count: None,
            })
            .collect();
        let ((layout, pipeline), error) = scoped(device, wgpu::ErrorFilter::Validation, || {
            let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&label),
                entries: &entries,
            });
            let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(&label),
                bind_group_layouts: &[Some(&layout)],
                immediate_size: 0,
            });
            let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(&label),
                layout: Some(&pipeline_layout),
                module: &module,
                entry_point: Some(desc.entry),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants: desc.overrides,
                    // Kernels initialise the workgroup memory they read.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            });
            (layout, pipeline)
        });
        if let Some(error) = error {
            return Err(shader_error(error.to_string()));
        }
        Ok(Kernel {
            pipeline,
            layout,
            names: bindings.iter().map(|(_, name, _)| name.clone()).collect(),
            slots: bindings.iter().map(|(slot, _, _)| *slot).collect(),
            bindings: bindings.into_iter().map(|(_, _, kind)| kind).collect(),
            label,
        })
    }
}

impl Kernel {
    /// Binds resources to this kernel's bindings, in order.
    pub fn bind(
        &self,
        ctx: &GpuContext,
        resources: &[wgpu::BindingResource<'_>],
    ) -> Result<wgpu::BindGroup> {
        if resources.len() != self.bindings.len() {
            return Err(Error::Gpu {
                context: format!("binding {}", self.label),
                message: format!(
                    "the kernel has {} bindings but {} resources were given",
                    self.bindings.len(),
                    resources.len()
                ),
            });
        }
        let entries: Vec<wgpu::BindGroupEntry<'_>> = resources
            .iter()
            .zip(&self.slots)
            .map(|(r, &slot)| wgpu::BindGroupEntry {
                binding: slot,
                resource: r.clone(),
            })
            .collect();
        let (group, error) = scoped(ctx.device(), wgpu::ErrorFilter::Validation, || {
            ctx.device().create_bind_group(&wgpu::BindGroupDescriptor {
                label: Some(&self.label),
                layout: &self.layout,
                entries: &entries,
            })
        });
        if let Some(error) = error {
            return Err(Error::Gpu {
                context: format!("binding {}", self.label),
                message: error.to_string(),
            });
        }
        Ok(group)
    }

    /// Binds resources to this kernel's bindings by the names of their WGSL variables
    /// (`("params", buffer.binding())`), in any order; every binding must be named once.
    pub fn bind_named(
        &self,
        ctx: &GpuContext,
        resources: &[(&str, wgpu::BindingResource<'_>)],
    ) -> Result<wgpu::BindGroup> {
        let error = |message: String| Error::Gpu {
            context: format!("binding {}", self.label),
            message,
        };
        let mut ordered: Vec<Option<wgpu::BindingResource<'_>>> = vec![None; self.names.len()];
        for (name, resource) in resources {
            let at = self.names.iter().position(|n| n == name).ok_or_else(|| {
                error(format!(
                    "the kernel has no binding named `{name}`; it has {}",
                    self.names.join(", ")
                ))
            })?;
            if ordered[at].replace(resource.clone()).is_some() {
                return Err(error(format!("`{name}` is bound twice")));
            }
        }
        let ordered: Vec<wgpu::BindingResource<'_>> = ordered
            .into_iter()
            .zip(&self.names)
            .map(|(r, name)| r.ok_or_else(|| error(format!("nothing bound to `{name}`"))))
            .collect::<Result<_>>()?;
        self.bind(ctx, &ordered)
    }

    /// Binds each of this kernel's bindings to the resource of the same name in
    /// `tables`, searched in order (an engine keeps one table naming all its buffers, the
    /// same name meaning the same buffer in every kernel; an earlier table overrides a
    /// later one). Entries the kernel does not declare are ignored.
    pub fn bind_from(
        &self,
        ctx: &GpuContext,
        tables: &[&[(&str, wgpu::BindingResource<'_>)]],
    ) -> Result<wgpu::BindGroup> {
        let resources = self
            .names
            .iter()
            .map(|name| {
                tables
                    .iter()
                    .flat_map(|t| t.iter())
                    .find(|(n, _)| n == name)
                    .map(|(n, r)| (*n, r.clone()))
                    .ok_or_else(|| Error::Gpu {
                        context: format!("binding {}", self.label),
                        message: format!("no buffer is named `{name}`"),
                    })
            })
            .collect::<Result<Vec<_>>>()?;
        self.bind_named(ctx, &resources)
    }

    /// The WGSL variable names of group 0's bindings, in binding order.
    pub fn binding_names(&self) -> &[String] {
        &self.names
    }

    /// The kinds of group 0's bindings, in binding order, as read from the shader.
    pub fn bindings(&self) -> &[Binding] {
        &self.bindings
    }

    /// The compute pipeline.
    pub fn pipeline(&self) -> &wgpu::ComputePipeline {
        &self.pipeline
    }

    /// The debug label (`morphogen.<shader path>+<defines>`).
    pub fn label(&self) -> &str {
        &self.label
    }
}
