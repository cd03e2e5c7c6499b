//! Embeds every `shaders/**/*.wgsl` file into the crate so the binary is self-contained.
//!
//! Generates `$OUT_DIR/shader_sources.rs` holding a sorted table of
//! `(name, source)` pairs, where `name` is the path under `shaders/` without the
//! `.wgsl` extension (`common/lse`, `reduce/reduce`, ...).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "wgsl") {
            out.push(path);
        }
    }
}

fn main() {
    let root =
        PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let shaders = root.join("shaders");
    println!("cargo:rerun-if-changed=shaders");
    let mut files = Vec::new();
    collect(&shaders, &mut files);
    files.sort();

    let mut table = String::from("/// Every WGSL file under `shaders/`, by name.\npub static SHADER_SOURCES: &[(&str, &str)] = &[\n");
    for path in &files {
        println!("cargo:rerun-if-changed={}", path.display());
        let rel = path
            .strip_prefix(&shaders)
            .expect("file lies under shaders/");
        let name = rel.with_extension("").to_string_lossy().replace('\\', "/");
        writeln!(
            table,
            "    ({name:?}, include_str!({:?})),",
            path.display().to_string()
        )
        .expect("write to String");
    }
    table.push_str("];\n");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("shader_sources.rs");
    std::fs::write(out, table).expect("write generated shader table");
}
