//! `morphogen info`: the adapters found, and the chosen one's limits and features.

use crate::cli::output::CliResult;
use crate::cli::Common;
use crate::gpu;

/// Runs `morphogen info`.
pub fn run(common: &Common, peaks: bool) -> CliResult<()> {
    let json = common.json;
    let adapters = gpu::list_adapters(None);
    let ctx = common.context()?;
    let limits = ctx.limits();
    let rows: Vec<(&str, u64)> = vec![
        ("max_buffer_size", limits.max_buffer_size),
        (
            "max_storage_buffer_binding_size",
            limits.max_storage_buffer_binding_size,
        ),
        (
            "max_storage_buffers_per_shader_stage",
            limits.max_storage_buffers_per_shader_stage.into(),
        ),
        (
            "max_compute_workgroup_storage_size",
            limits.max_compute_workgroup_storage_size.into(),
        ),
        (
            "max_compute_invocations_per_workgroup",
            limits.max_compute_invocations_per_workgroup.into(),
        ),
        (
            "max_compute_workgroup_size_x",
            limits.max_compute_workgroup_size_x.into(),
        ),
        (
            "max_compute_workgroups_per_dimension",
            limits.max_compute_workgroups_per_dimension.into(),
        ),
        (
            "min_storage_buffer_offset_alignment",
            limits.min_storage_buffer_offset_alignment.into(),
        ),
    ];
    let optional: Vec<&str> = gpu::context::OPTIONAL_FEATURES
        .iter()
        .map(|(n, _)| *n)
        .collect();
    let enabled = ctx.feature_names();
    let biome = crate::biome::BiomeConfig::default();
    let largest_world = crate::biome::World::max_cells(&ctx, &biome);
    let batch = crate::biome::Worlds::max_batch(&ctx, &biome);
    let measured = if peaks {
        Some(gpu::measure_peaks(&ctx)?)
    } else {
        None
    };

    if json {
        let mut summary = serde_json::json!({
            "adapters": adapters.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            "chosen": ctx.adapter().to_string(),
            "limits": rows.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
            "optional_features": optional,
            "enabled_features": enabled,
            "largest_biome_world_cells": largest_world,
            "biome_worlds_per_batch": batch,
        });
        if let Some(p) = &measured {
            summary["peaks"] = serde_json::json!({
                "exp_per_s": p.exp_per_s, "fma_per_s": p.fma_per_s, "bytes_per_s": p.bytes_per_s, "clock": p.clock,
            });
        }
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).unwrap_or_default()
        );
        return Ok(());
    }
    println!("Adapters:");
    for (i, a) in adapters.iter().enumerate() {
        println!("  [{i}] {a}");
    }
    println!("Chosen: {}", ctx.adapter());
    println!("Limits:");
    for (name, value) in &rows {
        println!("  {name:<40} {value}");
    }
    println!(
        "Optional features enabled: {}",
        if enabled.is_empty() {
            "none".into()
        } else {
            enabled.join(", ")
        }
    );
    let side = (largest_world as f64).sqrt() as u64;
    println!(
        "Largest biome world: {largest_world} cells (e.g. {side} x {side}): its 4-byte grids \
         live in one storage binding each, its state ({} f32 per cell) and offers in one \
         buffer each, bound in windows",
        biome.state_channels()
    );
    println!(
        "Biome worlds per batch: {batch} of {} x {} (one dispatch chain advances them all)",
        biome.height,
        biome.columns()
    );
    if let Some(p) = measured {
        println!("Measured peaks ({}):", p.clock);
        println!("  exp2      {:>10.3} G/s", p.exp_per_s / 1e9);
        println!(
            "  fma       {:>10.3} G/s ({:.3} GFLOP/s)",
            p.fma_per_s / 1e9,
            2.0 * p.fma_per_s / 1e9
        );
        println!("  bandwidth {:>10.3} GB/s", p.bytes_per_s / 1e9);
    }
    Ok(())
}
