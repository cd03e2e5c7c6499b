//! Every WGSL file, after preprocessing, parses and validates with naga (no GPU needed).
//!
//! A kernel lists the define sets it is built with in `//! variants:` lines: groups
//! separated by spaces, alternatives by `|`, an empty alternative meaning "unset"; every
//! combination is validated.

use morphogen::biome::{agent_nets_source, banked_grid_sources, KERNEL_STORAGE_BINDINGS};
use morphogen::flow::{
    integrate_state_source, network_source, network_source_with_lanes, roles_network_source,
    sde_state_source, Activation, Dense, TimeInput, VelocityField,
};
use morphogen::gpu::preprocess::{shader_names, shader_source, validate_wgsl};
use morphogen::gpu::KernelDesc;

fn variants(source: &str) -> Vec<Vec<String>> {
    let mut sets: Vec<Vec<String>> = vec![vec![]];
    for line in source.lines() {
        let Some(spec) = line.trim().strip_prefix("//! variants:") else {
            continue;
        };
        for group in spec.split_whitespace() {
            let alternatives: Vec<&str> = group.split('|').collect();
            sets = sets
                .iter()
                .flat_map(|set| {
                    alternatives.iter().map(move |alt| {
                        let mut next = set.clone();
                        if !alt.is_empty() {
                            next.push(alt.to_string());
                        }
                        next
                    })
                })
                .collect();
        }
    }
    sets
}

/// Snippets a kernel imports that are generated at run time (`//! generated: name`).
fn generated_imports(source: &str) -> Vec<String> {
    source
        .lines()
        .filter_map(|l| l.trim().strip_prefix("//! generated:"))
        .map(|n| n.trim().to_string())
        .collect()
}

fn dense(inputs: usize, outputs: usize) -> Dense {
    Dense {
        inputs,
        outputs,
        weight: vec![0.25; inputs * outputs],
        bias: vec![0.0; outputs],
    }
}

/// Generated snippets by import name, two samples: a plain field, and a residual
/// scalar potential (their generated code takes different paths; the SDE's three roles
/// get a velocity alone, then a potential for each role).
fn sample_networks() -> Vec<Vec<(String, String)>> {
    let plain = VelocityField::from_layers(
        2,
        TimeInput::Last,
        Activation::Selu,
        vec![dense(3, 16), dense(16, 16), dense(16, 2)],
    )
    .unwrap();
    let scalar = VelocityField {
        scalar: true,
        residual: true,
        time: TimeInput::First,
        activation: Activation::Silu,
        layers: vec![dense(3, 8), dense(8, 8), dense(8, 8), dense(8, 1)],
        ..plain.clone()
    };
    scalar.validate().unwrap();
    let wide = VelocityField::from_layers(
        2,
        TimeInput::Last,
        Activation::Silu,
        // Two 80 x 80 layers: one body in a loop over their table.
        vec![dense(3, 80), dense(80, 80), dense(80, 80), dense(80, 2)],
    )
    .unwrap();
    // The biome's banked grids: one window (a world within one binding), and three; its
    // agent networks for internal states of 2, 1 and 4 channels.
    vec![
        [
            ("flow/net".to_string(), network_source(&plain, 4).unwrap()),
            (
                "flow/roles".to_string(),
                roles_network_source([Some(&plain), None, None], 4).unwrap(),
            ),
            (
                "flow/integrate_state".to_string(),
                integrate_state_source(4, 3),
            ),
            ("flow/sde_state".to_string(), sde_state_source(4, 3)),
        ]
        .into_iter()
        .chain(banked_grid_sources(1))
        .chain([("biome/nets".to_string(), agent_nets_source(2))])
        .collect(),
        [
            ("flow/net".to_string(), network_source(&scalar, 1).unwrap()),
            (
                "flow/roles".to_string(),
                roles_network_source([Some(&scalar), Some(&scalar), Some(&scalar)], 1).unwrap(),
            ),
            (
                "flow/integrate_state".to_string(),
                integrate_state_source(1, 65),
            ),
            ("flow/sde_state".to_string(), sde_state_source(1, 65)),
        ]
        .into_iter()
        .chain(banked_grid_sources(3))
        .chain([("biome/nets".to_string(), agent_nets_source(1))])
        .collect(),
        // A wide layer (looped inputs) with its weights broadcast across 8 subgroup lanes,
        // with rows split over several private arrays (4 slots of 80 units, of 65
        // components, and 28 stages).
        [
            (
                "flow/net".to_string(),
                network_source_with_lanes(&wide, 4, 8).unwrap(),
            ),
            (
                "flow/roles".to_string(),
                roles_network_source([Some(&wide), None, Some(&plain)], 4).unwrap(),
            ),
            (
                "flow/integrate_state".to_string(),
                integrate_state_source(4, 65),
            ),
            ("flow/sde_state".to_string(), sde_state_source(4, 65)),
        ]
        .into_iter()
        .chain(banked_grid_sources(1))
        .chain([("biome/nets".to_string(), agent_nets_source(4))])
        .collect(),
    ]
}

/// The kernel's preprocessed source for every sample of its generated snippets.
fn preprocessed(name: &str, defines: &[&str]) -> Vec<morphogen::Result<String>> {
    let source = shader_source(name).unwrap();
    let imports = generated_imports(source);
    if imports.is_empty() {
        return vec![KernelDesc::new(name).defines(defines).source()];
    }
    sample_networks()
        .iter()
        .map(|samples| {
            let generated: Vec<(&str, &str)> = imports
                .iter()
                .map(|n| {
                    let (_, source) = samples
                        .iter()
                        .find(|(name, _)| name == n)
                        .unwrap_or_else(|| panic!("no sample for the generated import {n}"));
                    (n.as_str(), source.as_str())
                })
                .collect();
            KernelDesc::new(name)
                .defines(defines)
                .generated(&generated)
                .source()
        })
        .collect()
}

/// Kernels have a compute entry point; every other file is a snippet for `#import`.
fn is_kernel(name: &str) -> bool {
    shader_source(name).is_some_and(|s| s.contains("@compute"))
}

#[test]
fn every_kernel_variant_parses_and_validates() {
    let mut checked = 0;
    let mut failures = Vec::new();
    for name in shader_names().filter(|n| is_kernel(n)) {
        let source = shader_source(name).unwrap();
        for defines in variants(source) {
            let defs: Vec<&str> = defines.iter().map(String::as_str).collect();
            for source in preprocessed(name, &defs) {
                let result = source.and_then(|wgsl| validate_wgsl(name, &wgsl).map(|_| ()));
                if let Err(e) = result {
                    failures.push(format!("{name} {defs:?}:\n{e}"));
                }
                checked += 1;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} variants fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(checked >= 12, "only {checked} variants found");
}

#[test]
fn every_kernel_has_an_entry_point_main() {
    for name in shader_names().filter(|n| is_kernel(n)) {
        let source = shader_source(name).unwrap();
        let defs = variants(source).remove(0);
        let defs: Vec<&str> = defs.iter().map(String::as_str).collect();
        let wgsl = preprocessed(name, &defs).remove(0).unwrap();
        let module = validate_wgsl(name, &wgsl).unwrap();
        let entries: Vec<&str> = module
            .entry_points
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(
            entries,
            ["main"],
            "{name}: one kernel per file, entry point `main`"
        );
    }
}

#[test]
fn every_shared_snippet_is_imported_by_some_kernel() {
    let kernels: Vec<String> = shader_names()
        .filter(|n| is_kernel(n))
        .flat_map(|n| {
            variants(shader_source(n).unwrap())
                .into_iter()
                .flat_map(move |defs| {
                    let defs: Vec<&str> = defs.iter().map(String::as_str).collect();
                    preprocessed(n, &defs)
                        .into_iter()
                        .map(|s| s.unwrap_or_default())
                        .collect::<Vec<_>>()
                })
        })
        .collect();
    for snippet in shader_names().filter(|n| !is_kernel(n)) {
        // Its first declaration (function, struct or constant), as it appears in a kernel.
        let first = shader_source(snippet)
            .unwrap()
            .lines()
            .find_map(|l| {
                ["fn ", "struct ", "const "].iter().find_map(|kw| {
                    l.strip_prefix(kw).map(|rest| {
                        let name: String = rest
                            .chars()
                            .take_while(|c| c.is_alphanumeric() || *c == '_')
                            .collect();
                        format!("{kw}{name}")
                    })
                })
            })
            .unwrap_or_else(|| panic!("{snippet} declares nothing"));
        assert!(
            kernels.iter().any(|k| k.contains(&first)),
            "{snippet} is not imported by any kernel, so no test validates it"
        );
    }
}

#[test]
fn a_broken_shader_is_an_error_not_a_panic() {
    let err = validate_wgsl("broken", "fn main( { }")
        .unwrap_err()
        .to_string();
    assert!(err.contains("broken"), "{err}");
}

#[test]
fn every_kernel_is_in_its_engines_table() {
    // Kernels, drivers, CPU twins and tests find each other through a table in each
    // engine's module docs.
    let table = |module: &str| {
        std::fs::read_to_string(format!(
            "{}/src/{module}/mod.rs",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap()
    };
    let mut missing = Vec::new();
    for name in shader_names().filter(|n| is_kernel(n)) {
        let (dir, file) = name.split_once('/').unwrap_or(("", name));
        let (module, listed) = match dir {
            // The trainer's kernels are listed in its own module's table.
            "flow" if file.starts_with("train/") => {
                ("flow/train", format!("`{}.wgsl`", &file["train/".len()..]))
            }
            "transport" | "flow" => (dir, format!("`{name}.wgsl`")),
            "biome" | "coffee" => (dir, format!("`{file}.wgsl`")),
            _ => ("gpu", format!("`{name}.wgsl`")),
        };
        if !table(module).contains(&listed) {
            missing.push(format!("{name} (src/{module}/mod.rs)"));
        }
    }
    assert!(
        missing.is_empty(),
        "kernels missing from their engine's table: {missing:?}"
    );
}

/// Every biome kernel, in every variant its `//! variants:` lines name, binds at most the
/// storage buffers the browser page allows, with its grids in one window each (the first
/// sample of the generated snippets).
#[test]
fn every_biome_kernel_variant_fits_the_browsers_storage_bindings() {
    let mut checked = 0;
    for name in shader_names().filter(|n| n.starts_with("biome/") && is_kernel(n)) {
        for defines in variants(shader_source(name).unwrap()) {
            let defs: Vec<&str> = defines.iter().map(String::as_str).collect();
            let wgsl = preprocessed(name, &defs).remove(0).unwrap();
            let module = naga::front::wgsl::parse_str(&wgsl).unwrap();
            let storage = module
                .global_variables
                .iter()
                .filter(|(_, v)| matches!(v.space, naga::AddressSpace::Storage { .. }))
                .count();
            assert!(
                storage <= KERNEL_STORAGE_BINDINGS as usize,
                "{name} {defs:?} binds {storage} storage buffers; the browser page allows \
                 {KERNEL_STORAGE_BINDINGS}"
            );
            checked += 1;
        }
    }
    // Every biome kernel, plus the fused variants of whole steps.
    assert!(checked >= 25, "only {checked} biome kernel variants found");
}
