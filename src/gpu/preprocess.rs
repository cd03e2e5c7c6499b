//! The shader registry and a small preprocessor: `#import name` pulls in a shared snippet
//! (once per module), `#ifdef` / `#ifndef` / `#else` / `#endif` select variants.
//!
//! `#import lse` names `shaders/common/lse.wgsl`; a name with a slash (`#import transport/cost`)
//! is a path under `shaders/`. Lines are otherwise passed through untouched, so WGSL line
//! numbers in a kernel without imports match its file.

use std::collections::HashSet;

use crate::error::{Error, Result};

include!(concat!(env!("OUT_DIR"), "/shader_sources.rs"));

/// The source of the shader `name` (path under `shaders/` without `.wgsl`), as embedded.
pub fn shader_source(name: &str) -> Option<&'static str> {
    SHADER_SOURCES
        .binary_search_by(|(n, _)| n.cmp(&name))
        .ok()
        .map(|i| SHADER_SOURCES[i].1)
}

/// Names of every embedded shader.
pub fn shader_names() -> impl Iterator<Item = &'static str> {
    SHADER_SOURCES.iter().map(|(n, _)| *n)
}

fn import_target(name: &str) -> String {
    if name.contains('/') {
        name.to_string()
    } else {
        format!("common/{name}")
    }
}

struct Expander<'a, 's> {
    lookup: &'a dyn Fn(&str) -> Option<&'s str>,
    defines: &'a [&'a str],
    included: HashSet<String>,
    stack: Vec<String>,
    out: String,
}

/// Assembles the shader `name` with `defines` set, resolving imports.
pub fn preprocess(name: &str, defines: &[&str]) -> Result<String> {
    preprocess_with(name, defines, &|n: &str| shader_source(n))
}

/// [`preprocess`] over any source table (`lookup` maps a name to its source).
pub fn preprocess_with<'s>(
    name: &str,
    defines: &[&str],
    lookup: &dyn Fn(&str) -> Option<&'s str>,
) -> Result<String> {
    let mut expander = Expander {
        lookup,
        defines,
        included: HashSet::new(),
        stack: Vec::new(),
        out: String::new(),
    };
    expander.expand(name)?;
    Ok(expander.out)
}

impl Expander<'_, '_> {
    fn err(&self, file: &str, line: usize, message: impl std::fmt::Display) -> Error {
        Error::Preprocess {
            shader: self
                .stack
                .first()
                .cloned()
                .unwrap_or_else(|| file.to_string()),
            message: format!("{file}.wgsl:{line}: {message}"),
        }
    }

    fn expand(&mut self, name: &str) -> Result<()> {
        let source = (self.lookup)(name).ok_or_else(|| Error::Preprocess {
            shader: self
                .stack
                .first()
                .cloned()
                .unwrap_or_else(|| name.to_string()),
            message: format!(
                "no shader named {name:?} (looked for shaders/{name}.wgsl){}",
                self.stack
                    .last()
                    .map(|f| format!(", imported from {f}.wgsl"))
                    .unwrap_or_default()
            ),
        })?;
        self.stack.push(name.to_string());
        self.included.insert(name.to_string());
        // Each entry: (this branch is active, some branch of this #if was taken, line).
        let mut conditions: Vec<(bool, bool, usize)> = Vec::new();
        for (index, line) in source.lines().enumerate() {
            let number = index + 1;
            let trimmed = line.trim_start();
            let active = conditions.iter().all(|c| c.0);
            if let Some(directive) = trimmed.strip_prefix('#') {
                let mut words = directive.split_whitespace();
                let keyword = words.next().unwrap_or("");
                let arg = words.next();
                if words.next().is_some() {
                    return Err(self.err(name, number, format!("too many words in `{trimmed}`")));
                }
                let missing = || self.err(name, number, format!("`#{keyword}` needs a name"));
                match keyword {
                    "import" => {
                        let target = import_target(arg.ok_or_else(missing)?);
                        if !active {
                            continue;
                        }
                        if self.stack.contains(&target) {
                            return Err(self.err(
                                name,
                                number,
                                format!("import cycle: {} -> {target}", self.stack.join(" -> ")),
                            ));
                        }
                        if !self.included.contains(&target) {
                            self.expand(&target)?;
                        }
                    }
                    "ifdef" | "ifndef" => {
                        let set = self.defines.contains(&arg.ok_or_else(missing)?);
                        let on = if keyword == "ifdef" { set } else { !set };
                        conditions.push((on, on, number));
                    }
                    "else" => {
                        let Some(top) = conditions.last_mut() else {
                            return Err(self.err(name, number, "`#else` without `#ifdef`"));
                        };
                        top.0 = !top.1;
                        top.1 = true;
                    }
                    "endif" => {
                        if conditions.pop().is_none() {
                            return Err(self.err(name, number, "`#endif` without `#ifdef`"));
                        }
                    }
                    other => {
                        return Err(self.err(
                            name,
                            number,
                            format!("unknown directive `#{other}` (known: import, ifdef, ifndef, else, endif)"),
                        ))
                    }
                }
                continue;
            }
            if active {
                self.out.push_str(line);
                self.out.push('\n');
            }
        }
        if let Some((_, _, line)) = conditions.last() {
            return Err(self.err(name, *line, "`#ifdef` without `#endif`"));
        }
        self.stack.pop();
        Ok(())
    }
}

/// Parses and validates `source` with naga (all capabilities), returning naga's own
/// formatted message on failure. Needs no GPU.
pub fn validate_wgsl(name: &str, source: &str) -> Result<naga::Module> {
    let module = naga::front::wgsl::parse_str(source).map_err(|e| Error::Shader {
        shader: name.to_string(),
        entry: String::new(),
        message: e.emit_to_string(source),
    })?;
    naga::valid::Validator::new(
        naga::valid::ValidationFlags::all(),
        naga::valid::Capabilities::all(),
    )
    .validate(&module)
    .map_err(|e| Error::Shader {
        shader: name.to_string(),
        entry: String::new(),
        message: e.emit_to_string(source),
    })?;
    Ok(module)
}

/// The `u32` constants a snippet declares, by name (for tests that check Rust mirrors of
/// shared codes).
#[cfg(test)]
pub(crate) fn u32_constants(name: &str) -> Result<std::collections::HashMap<String, u32>> {
    let source = preprocess(name, &[])?;
    let module = validate_wgsl(name, &source)?;
    Ok(module
        .constants
        .iter()
        .filter_map(|(_, c)| {
            let naga::Expression::Literal(naga::Literal::U32(v)) =
                module.global_expressions[c.init]
            else {
                return None;
            };
            Some((c.name.clone()?, v))
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(name: &str) -> Option<&'static str> {
        match name {
            "k" => Some("#import a\n#import b\nfn main() {}\n"),
            "common/a" => Some("#import b\nfn a() {}\n"),
            "common/b" => Some("fn b() {}\n"),
            "v" => {
                Some("#ifdef X\nx\n#ifndef Y\nnot_y\n#else\ny\n#endif\n#else\nno_x\n#endif\nend\n")
            }
            "cycle" => Some("#import cycle2\n"),
            "common/cycle2" => Some("#import cycle\n"),
            "bad" => Some("#include foo\n"),
            "open" => Some("#ifdef A\n"),
            _ => None,
        }
    }

    #[test]
    fn imports_are_included_once_in_dependency_order() {
        let out = preprocess_with("k", &[], &table).unwrap();
        assert_eq!(out, "fn b() {}\nfn a() {}\nfn main() {}\n");
    }

    #[test]
    fn conditionals_select_variants() {
        let run = |defs: &[&str]| preprocess_with("v", defs, &table).unwrap();
        assert_eq!(run(&[]), "no_x\nend\n");
        assert_eq!(run(&["X"]), "x\nnot_y\nend\n");
        assert_eq!(run(&["X", "Y"]), "x\ny\nend\n");
    }

    #[test]
    fn malformed_sources_are_errors_that_name_the_line() {
        let msg = |n: &str| preprocess_with(n, &[], &table).unwrap_err().to_string();
        assert!(msg("cycle").contains("cycle"), "{}", msg("cycle"));
        assert!(msg("bad").contains("bad.wgsl:1"), "{}", msg("bad"));
        assert!(msg("open").contains("without `#endif`"), "{}", msg("open"));
        assert!(
            msg("missing").contains("no shader named"),
            "{}",
            msg("missing")
        );
    }
}
