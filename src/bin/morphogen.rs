//! The `morphogen` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use morphogen::gpu::{self, ContextOptions, GpuContext};

#[derive(Parser)]
#[command(
    name = "morphogen",
    version,
    about = "GPU compute engine: optimal transport, learned flows, Biomaker CA"
)]
struct Cli {
    /// Adapter to run on: a substring of its name or its index in `morphogen info`.
    #[arg(long, global = true)]
    adapter: Option<String>,
    /// Print the summary as JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the adapters found and show the chosen one's limits and features.
    Info {
        /// Also measure the chosen adapter's peak exp/s, FMA/s and bandwidth.
        #[arg(long)]
        peaks: bool,
    },
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Info { peaks } => info(cli.adapter, cli.json, peaks),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("morphogen: {error}");
            match error {
                morphogen::Error::InvalidInput(_) | morphogen::Error::Io { .. } => {
                    ExitCode::from(2)
                }
                _ => ExitCode::FAILURE,
            }
        }
    }
}

fn info(adapter: Option<String>, json: bool, peaks: bool) -> morphogen::Result<()> {
    let adapters = gpu::list_adapters(None);
    let mut options = ContextOptions::default();
    if let Some(name) = adapter {
        options = options.adapter(name);
    }
    let ctx = GpuContext::with_options(&options)?;
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
