//! The runtime's contract: adapter choice and its errors, a caller's own device, kernel
//! compilation errors as values, recording, and timing.

mod common;

use common::ctx;
use morphogen::gpu::{self, Binding, ContextOptions, GpuBuffer, GpuContext, KernelDesc, ReduceOp};
use morphogen::Error;

#[test]
fn a_missing_adapter_is_the_documented_error() {
    // Metal and DX12 are absent on Linux (and Metal on Windows, DX12 on macOS): ask for
    // whichever of them this platform cannot have.
    let absent = if cfg!(target_os = "macos") {
        wgpu::Backends::DX12
    } else {
        wgpu::Backends::METAL
    };
    let err = GpuContext::with_options(&ContextOptions::default().backends(absent)).unwrap_err();
    assert!(matches!(err, Error::NoAdapter { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("apt-get install mesa-vulkan-drivers"),
        "{message}"
    );
    assert!(message.contains("WGPU_BACKEND"), "{message}");
}

#[test]
fn an_adapter_name_that_matches_nothing_lists_the_adapters() {
    let err = GpuContext::with_options(&ContextOptions::default().adapter("no-such-gpu-xyz"))
        .unwrap_err();
    assert!(matches!(err, Error::AdapterNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(
        message.contains("no-such-gpu-xyz") && message.contains("[0]"),
        "{message}"
    );
}

#[test]
fn adapters_can_be_chosen_by_index_and_name() {
    let adapters = gpu::list_adapters(None);
    assert!(!adapters.is_empty());
    let by_index = GpuContext::with_options(&ContextOptions::default().adapter("0")).unwrap();
    assert_eq!(by_index.adapter().name, adapters[0].name);
    let upper = adapters[0].name.to_uppercase();
    let by_name = GpuContext::with_options(&ContextOptions::default().adapter(upper)).unwrap();
    assert_eq!(by_name.adapter().name, adapters[0].name);
}

#[test]
fn a_callers_own_device_runs_kernels() {
    let instance = wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle());
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .unwrap();
    let (device, queue) =
        pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor::default())).unwrap();
    let ctx = GpuContext::from_device(device, queue);
    assert_eq!(ctx.adapter().name, adapter.get_info().name);
    let buf = GpuBuffer::from_slice(&ctx, &[1.0f32, 2.0, 3.0, 4.0], "test.own").unwrap();
    assert_eq!(gpu::reduce(&ctx, &buf, ReduceOp::Sum).unwrap(), 10.0);
}

#[test]
fn a_shader_that_does_not_compile_is_an_err() {
    let ctx = ctx();
    // Without an OP_* define the reduction helpers have no return statement.
    let desc = KernelDesc::new("reduce/reduce");
    let err = ctx.kernel(&desc).unwrap_err();
    assert!(matches!(err, Error::Shader { .. }), "{err:?}");
    let err = ctx.kernel(&KernelDesc::new("no/such")).unwrap_err();
    assert!(matches!(err, Error::Preprocess { .. }), "{err:?}");
}

#[test]
fn binding_the_wrong_number_of_resources_is_an_err() {
    let ctx = ctx();
    let kernel = ctx
        .kernel(&KernelDesc::new("rng/fill").defines(&["RAW"]))
        .unwrap();
    let buf = GpuBuffer::<u32>::zeroed(ctx, 4, "test.bind").unwrap();
    assert!(kernel.bind(ctx, &[buf.binding()]).is_err());
    // A storage buffer where a uniform is expected: a validation error, as a value.
    let err = kernel
        .bind(ctx, &[buf.binding(), buf.binding()])
        .unwrap_err();
    assert!(matches!(err, Error::Gpu { .. }), "{err:?}");
    // By name: the WGSL variables' names, each exactly once.
    assert_eq!(kernel.binding_names(), ["params", "dst"]);
    let params = GpuBuffer::uniform(ctx, &[0u32; 4], "test.params").unwrap();
    kernel
        .bind_named(ctx, &[("dst", buf.binding()), ("params", params.binding())])
        .unwrap();
    let err = kernel
        .bind_named(ctx, &[("params", params.binding()), ("out", buf.binding())])
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no binding named `out`") && err.contains("params, dst"),
        "{err}"
    );
    let err = kernel
        .bind_named(ctx, &[("params", params.binding())])
        .unwrap_err()
        .to_string();
    assert!(err.contains("nothing bound to `dst`"), "{err}");
}

#[test]
fn kernels_are_cached_by_variant() {
    let ctx = ctx();
    let a1 = ctx
        .kernel(&KernelDesc::new("rng/fill").defines(&["RAW"]))
        .unwrap();
    let a2 = ctx
        .kernel(&KernelDesc::new("rng/fill").defines(&["RAW"]))
        .unwrap();
    let other = ctx
        .kernel(&KernelDesc::new("rng/fill").defines(&["UNIFORM"]))
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(&a1, &a2));
    assert!(!std::sync::Arc::ptr_eq(&a1, &other));
}

#[test]
fn bind_group_layouts_are_read_from_the_shader() {
    let ctx = ctx();
    let fill = ctx
        .kernel(&KernelDesc::new("rng/fill").defines(&["RAW"]))
        .unwrap();
    assert_eq!(fill.bindings(), [Binding::Uniform, Binding::Storage]);
    let reduce = ctx
        .kernel(&KernelDesc::new("reduce/reduce").defines(&["OP_SUM"]))
        .unwrap();
    assert_eq!(
        reduce.bindings(),
        [Binding::Uniform, Binding::StorageRead, Binding::Storage]
    );
    // A dynamic offset is marked by name, and only a uniform can carry one; a name the
    // kernel does not declare marks nothing (a name rng/fill does not have).
    let stepped = ctx
        .kernel(&KernelDesc::new("biome/choose").dynamic(&["params"]))
        .unwrap();
    assert_eq!(stepped.bindings()[0], Binding::UniformDynamic);
    let err = ctx
        .kernel(
            &KernelDesc::new("rng/fill")
                .defines(&["RAW"])
                .dynamic(&["dst"]),
        )
        .unwrap_err();
    assert!(err.to_string().contains("marked dynamic"), "{err}");
    let plain = ctx
        .kernel(
            &KernelDesc::new("rng/fill")
                .defines(&["RAW"])
                .dynamic(&["params_x"]),
        )
        .unwrap();
    assert_eq!(plain.bindings(), [Binding::Uniform, Binding::Storage]);
}

#[test]
fn one_recording_holds_many_dispatches_and_reads() {
    let ctx = ctx();
    let input = GpuBuffer::from_slice(
        ctx,
        &(0..5000).map(|i| i as f32).collect::<Vec<_>>(),
        "test.rec",
    )
    .unwrap();
    let mut rec = ctx.recorder("test.rec");
    let sum = gpu::record_reduce(&mut rec, &input, 1, 5000, ReduceOp::Sum).unwrap();
    let max = gpu::record_reduce(&mut rec, &input, 1, 5000, ReduceOp::Max).unwrap();
    let rows = gpu::record_reduce(&mut rec, &input, 5, 1000, ReduceOp::Max).unwrap();
    assert_eq!(
        rec.dispatch_count(),
        5,
        "two passes per 5000-value reduction, one for the rows"
    );
    let (s, m, r) = (
        rec.read(&sum).unwrap(),
        rec.read(&max).unwrap(),
        rec.read(&rows).unwrap(),
    );
    rec.submit().unwrap();
    assert_eq!(s.wait(ctx).unwrap(), [12_497_500.0]);
    assert_eq!(m.wait(ctx).unwrap(), [4999.0]);
    assert_eq!(
        r.wait(ctx).unwrap(),
        [999.0, 1999.0, 2999.0, 3999.0, 4999.0]
    );
}

#[test]
fn timed_recordings_report_a_duration() {
    let ctx = ctx();
    let out = GpuBuffer::<u32>::scratch(ctx, 1 << 16, "test.timing").unwrap();
    let mut rec = ctx.timed_recorder("test.timing").unwrap();
    gpu::record_fill(&mut rec, &out, 1, 0, gpu::Draw::Normal).unwrap();
    let timing = rec.submit().unwrap().wait(ctx).unwrap();
    assert!(timing.wall > std::time::Duration::ZERO);
    assert_eq!(timing.gpu.is_some(), ctx.has_timestamps(), "{timing:?}");
    if let Some(gpu_time) = timing.gpu {
        assert!(gpu_time <= timing.wall * 2, "{timing:?}");
    }
}

#[test]
fn profiled_recordings_time_their_passes_within_the_whole() {
    let ctx = ctx();
    let out = GpuBuffer::<u32>::scratch(ctx, 1 << 18, "test.profile").unwrap();
    // Capacity for 3 passes, 5 recorded: the last two run untimed.
    let mut rec = ctx.profiled_recorder("test.profile", 3).unwrap();
    for k in 0..5 {
        gpu::record_fill(&mut rec, &out, k, 0, gpu::Draw::Normal).unwrap();
    }
    assert_eq!(rec.dispatch_count(), 5);
    let timing = rec.submit().unwrap().wait(ctx).unwrap();
    assert_eq!(timing.kernels.is_some(), ctx.has_timestamps(), "{timing:?}");
    if let (Some(kernels), Some(gpu_time)) = (timing.kernels, timing.gpu) {
        assert!(kernels > std::time::Duration::ZERO, "{timing:?}");
        assert!(
            kernels <= gpu_time,
            "three of five passes within the whole: {timing:?}"
        );
    }
    // An unprofiled recording reports no pass time.
    let mut plain = ctx.timed_recorder("test.profile").unwrap();
    gpu::record_fill(&mut plain, &out, 9, 0, gpu::Draw::Normal).unwrap();
    assert_eq!(plain.submit().unwrap().wait(ctx).unwrap().kernels, None);
}

#[test]
fn a_context_asked_to_keep_gpu_time_adds_up_every_submission() {
    let plain = ctx();
    assert_eq!(plain.gpu_seconds(), None, "off unless asked for");
    let timed = GpuContext::with_options(&ContextOptions::default().gpu_time()).unwrap();
    if !timed.has_timestamps() {
        assert_eq!(timed.gpu_seconds(), None);
        return;
    }
    assert_eq!(timed.gpu_seconds(), Some(0.0), "nothing submitted yet");
    let out = GpuBuffer::<u32>::scratch(&timed, 1 << 18, "test.ledger").unwrap();
    let run = |count: usize| {
        for k in 0..count {
            let mut rec = timed.recorder("test.ledger");
            gpu::record_fill(&mut rec, &out, k as u64, 0, gpu::Draw::Normal).unwrap();
            rec.submit().unwrap();
        }
    };
    run(5); // the first executions of a pipeline are slower
    let warm = timed.gpu_seconds().unwrap();
    let started = std::time::Instant::now();
    run(20);
    let twenty = timed.gpu_seconds().unwrap() - warm;
    assert!(
        twenty > 0.0 && twenty <= started.elapsed().as_secs_f64() * 1.01,
        "{twenty}"
    );
    // A recording dropped unsubmitted counts nothing; more recordings than the ledger
    // holds between readbacks are all counted (about 105 times the twenty).
    drop(timed.recorder("test.ledger.dropped"));
    run(2100);
    let more = timed.gpu_seconds().unwrap() - warm - twenty;
    assert!(
        more > twenty * 20.0,
        "2100 more fills took {more} s in all, 20 took {twenty} s"
    );
}
