//! Per-invocation arrays of the flow kernels (states, stages, network activations),
//! declared in WGSL as rows of floats split over several private arrays so that none
//! holds more than [`ARRAY_LIMIT`] values (or one group of rows that must stay
//! together: a slot's seven stages, 455 floats at d = 64).
//!
//! Why: shader compilers initialise a private array element by element (WGSL zeroes it),
//! and lavapipe's LLVM back end spends time quadratic in one array's length on that:
//! measured on lavapipe (Mesa 25.0.7), one array of 2,048 floats took 4.0 s to compile
//! and one of 8,192 took 32 s, while eight arrays of 256 took 0.5 s and the number of
//! places that index an array made no difference. A two-slot d = 64 integrator held its
//! seven Runge-Kutta stages in one array of 910 floats; split per slot, its cold compile
//! with a 4x256 network fell from about 12.5 s to 8 s.
//!
//! Kernels reach a row set through `{name}_at(row, i)` and `{name}_put(row, i, v)`; when
//! the rows span several arrays these pick the array with a `switch` on the row, whose
//! value is the same in every invocation of a loop over slots or stages. Generated code
//! that knows the row reads the right array directly ([`PrivateRows::cell`]).

use std::fmt::Write as _;

/// Most floats one private array holds.
pub(crate) const ARRAY_LIMIT: usize = 256;

/// `rows` rows of `len` floats under one name.
#[derive(Clone, Debug)]
pub(crate) struct PrivateRows {
    name: String,
    rows: usize,
    /// Floats per row, as a number (to plan the split) and as WGSL (a constant's name
    /// or a literal).
    len: usize,
    len_expr: String,
    /// Rows that always share an array (an array boundary falls only between groups).
    group: usize,
}

impl PrivateRows {
    /// Rows whose length is the literal `len`.
    pub(crate) fn new(name: &str, rows: usize, len: usize) -> Self {
        Self::named_len(name, rows, len, &format!("{len}u"))
    }

    /// Rows whose length is the WGSL constant `len_expr`, whose value is `len`.
    pub(crate) fn named_len(name: &str, rows: usize, len: usize, len_expr: &str) -> Self {
        Self {
            name: name.to_string(),
            rows: rows.max(1),
            len: len.max(1),
            len_expr: len_expr.to_string(),
            group: 1,
        }
    }

    /// Keeps every `group` consecutive rows in one array even where that array exceeds
    /// [`ARRAY_LIMIT`]: rows that a kernel walks in an inner loop (the stages of one
    /// slot) then need no `switch` between arrays there.
    pub(crate) fn grouped(mut self, group: usize) -> Self {
        self.group = group.max(1);
        self
    }

    /// Rows per array.
    fn per_array(&self) -> usize {
        let fit = ARRAY_LIMIT / self.len;
        ((fit / self.group).max(1) * self.group).clamp(1, self.rows)
    }

    fn arrays(&self) -> usize {
        self.rows.div_ceil(self.per_array())
    }

    /// The array that holds `row`, and the offset of the row in it, as WGSL.
    fn array_name(&self, array: usize) -> String {
        if self.arrays() == 1 {
            self.name.clone()
        } else {
            format!("{}_{array}", self.name)
        }
    }

    /// A reference to element `index` (WGSL) of the constant row `row`.
    pub(crate) fn cell(&self, row: usize, index: &str) -> String {
        let g = self.per_array();
        let array = self.array_name(row / g);
        if g == 1 {
            format!("{array}[{index}]")
        } else {
            format!("{array}[{}][{index}]", row % g)
        }
    }

    /// The declarations and the accessors `{name}_at(row, i)` and `{name}_put(row, i, v)`.
    pub(crate) fn declare(&self) -> String {
        let (g, arrays, len) = (self.per_array(), self.arrays(), &self.len_expr);
        let name = &self.name;
        let mut s = String::new();
        let ty = if g == 1 {
            format!("array<f32, {len}>")
        } else {
            format!("array<array<f32, {len}>, {g}>")
        };
        for a in 0..arrays {
            let _ = writeln!(s, "var<private> {}: {ty};", self.array_name(a));
        }
        // Where the row lies: its array, and the element's offset inside it.
        let (select, offset) = match (arrays, g) {
            (_, 1) if arrays > 1 => (Some("r".to_string()), "[i]".to_string()),
            (1, 1) => (None, "[i]".to_string()),
            (1, _) => (None, "[r][i]".to_string()),
            _ => (Some(format!("r / {g}u")), format!("[r % {g}u][i]")),
        };
        let body = |access: &dyn Fn(&str) -> String| -> String {
            match &select {
                None => format!("    {}\n", access(&self.array_name(0))),
                Some(sel) => {
                    let mut b = format!("    switch ({sel}) {{\n");
                    for a in 0..arrays {
                        let label = if a + 1 == arrays {
                            "default".to_string()
                        } else {
                            format!("case {a}u")
                        };
                        let _ =
                            writeln!(b, "        {label}: {{ {} }}", access(&self.array_name(a)));
                    }
                    b.push_str("    }\n");
                    b
                }
            }
        };
        let _ = write!(
            s,
            "fn {name}_at(r: u32, i: u32) -> f32 {{\n{}}}\n",
            body(&|a| format!("return {a}{offset};"))
        );
        let _ = write!(
            s,
            "fn {name}_put(r: u32, i: u32, v: f32) {{\n{}}}\n",
            body(&|a| format!("{a}{offset} = v;"))
        );
        s
    }
}

/// Stages the integrator keeps per slot (`MAX_STAGES` in `flow/integrate_state`).
const MAX_STAGES: usize = 7;

/// The flow kernels' state variants: the define that selects one and its `MAX_A` in
/// `flow/sizes` (state components: the dimension, plus one for a log-density or weight).
const STATE_VARIANTS: [(&str, usize); 3] = [("DIM_4", 5), ("DIM_16", 17), ("DIM_64", 65)];

/// The smallest state variant that holds `aug` components, as (define, `MAX_A`).
pub(crate) fn state_variant(aug: usize) -> Option<(&'static str, usize)> {
    STATE_VARIANTS.into_iter().find(|&(_, a)| aug <= a)
}

/// Components of the state arrays of a kernel variant (`MAX_A` of `flow/sizes`).
fn max_components(aug: usize) -> usize {
    state_variant(aug).map_or(STATE_VARIANTS[2].1, |(_, a)| a)
}

/// The `flow/integrate_state` snippet: each slot's stage input `y_in`, output `f_out`,
/// Hutchinson probe `probe`, state `y` and candidate `y_new` (row = slot), and the
/// Runge-Kutta stages `k` (row = slot x MAX_STAGES + stage, reached as stage j of slot s
/// through `stage_at(s, j, c)` and `stage_put(s, j, c, v)`), for `slots` slots of
/// states of `aug` components (for reading, or for validating the kernel).
#[doc(hidden)]
pub fn integrate_state_source(slots: usize, aug: usize) -> String {
    let a = max_components(aug);
    let mut s = String::from("// Generated by flow::private_rows for the integrator.\n");
    let _ = write!(
        s,
        "const MAX_STAGES: u32 = {MAX_STAGES}u;\n\
         fn stage_at(s: u32, j: u32, c: u32) -> f32 {{\n    return k_at(s * MAX_STAGES + j, c);\n}}\n\
         fn stage_put(s: u32, j: u32, c: u32, v: f32) {{\n    k_put(s * MAX_STAGES + j, c, v);\n}}\n"
    );
    for name in ["y_in", "f_out", "probe", "y", "y_new"] {
        s.push_str(&PrivateRows::named_len(name, slots, a, "MAX_A").declare());
    }
    s.push_str(
        &PrivateRows::named_len("k", slots * MAX_STAGES, a, "MAX_A")
            .grouped(MAX_STAGES)
            .declare(),
    );
    s
}

/// The `flow/sde_state` snippet: each slot's network input `y_in`, drift `drift_out`,
/// state `y`, noise increments `xi1` and `xi2` and first-stage drift `a1` (row = slot),
/// for `slots` slots of states of `aug` components.
#[doc(hidden)]
pub fn sde_state_source(slots: usize, aug: usize) -> String {
    let a = max_components(aug);
    let mut s = String::from("// Generated by flow::private_rows for the SDE kernel.\n");
    for name in ["y_in", "drift_out", "y", "xi1", "xi2", "a1"] {
        s.push_str(&PrivateRows::named_len(name, slots, a, "MAX_A").declare());
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The element count of every declared array.
    fn sizes(src: &str, len: usize) -> Vec<usize> {
        src.lines()
            .filter_map(|l| l.strip_prefix("var<private> "))
            .map(|l| {
                // `array<f32, LEN>` or `array<array<f32, LEN>, ROWS>`.
                let rows = l
                    .strip_suffix(">;")
                    .and_then(|t| t.rsplit_once(">, "))
                    .map_or(1, |(_, r)| r.parse::<usize>().unwrap());
                let inner = l.rsplit("array<f32, ").next().unwrap();
                let inner = inner.split('>').next().unwrap();
                let row = inner.trim_end_matches('u').parse::<usize>().unwrap_or(len);
                rows * row
            })
            .collect()
    }

    #[test]
    fn rows_split_into_arrays_within_the_limit_and_cover_every_row() {
        for (rows, len) in [
            (1, 5),
            (4, 5),
            (28, 5),
            (2, 65),
            (14, 65),
            (8, 256),
            (3, 512),
        ] {
            let r = PrivateRows::named_len("k", rows, len, "MAX_A");
            let src = r.declare();
            let sizes = sizes(&src, len);
            assert_eq!(sizes.len(), r.arrays(), "{rows}x{len}:\n{src}");
            assert!(
                sizes.iter().all(|&n| n <= ARRAY_LIMIT.max(len)),
                "{rows}x{len}: {sizes:?}"
            );
            assert!(sizes.iter().sum::<usize>() >= rows * len, "{rows}x{len}");
            // Every row's first element is in an array that exists.
            for row in 0..rows {
                let cell = r.cell(row, "0u");
                let array = cell.split('[').next().unwrap();
                assert!(
                    src.contains(&format!("var<private> {array}: ")),
                    "{rows}x{len} row {row}: {cell}"
                );
            }
        }
    }

    #[test]
    fn grouped_rows_split_only_between_groups() {
        // One slot's seven stages of 65 floats stay one array; two slots take one each.
        let one = PrivateRows::named_len("k", 7, 65, "MAX_A").grouped(7);
        assert_eq!(one.arrays(), 1);
        assert!(!one.declare().contains("switch"));
        let two = PrivateRows::named_len("k", 14, 65, "MAX_A").grouped(7);
        assert_eq!(two.arrays(), 2);
        assert_eq!(two.cell(6, "c"), "k_0[6][c]");
        assert_eq!(two.cell(7, "c"), "k_1[0][c]");
        // Short rows pack whole groups up to the limit: 14 rows of 17 floats.
        let short = PrivateRows::named_len("k", 28, 17, "MAX_A").grouped(7);
        assert_eq!(short.per_array(), 14);
        assert_eq!(short.arrays(), 2);
    }

    #[test]
    fn state_variants_cover_every_state_the_kernels_take() {
        assert_eq!(state_variant(3), Some(("DIM_4", 5)));
        assert_eq!(state_variant(17), Some(("DIM_16", 17)));
        assert_eq!(state_variant(65), Some(("DIM_64", 65)));
        assert_eq!(state_variant(66), None);
        // The integrator's stages: a slot's seven rows stay in one array at d = 64.
        let src = integrate_state_source(2, 65);
        assert!(src.contains("const MAX_STAGES: u32 = 7u;"), "{src}");
        assert!(src.contains("return k_at(s * MAX_STAGES + j, c);"), "{src}");
        assert!(
            src.contains("var<private> k_1: array<array<f32, MAX_A>, 7>;"),
            "{src}"
        );
    }

    #[test]
    fn small_row_sets_stay_one_array_indexed_by_row() {
        let src = PrivateRows::new("act", 4, 64).declare();
        assert!(
            src.contains("var<private> act: array<array<f32, 64u>, 4>;"),
            "{src}"
        );
        assert!(src.contains("return act[r][i];"), "{src}");
        assert!(!src.contains("switch"), "{src}");
        assert_eq!(PrivateRows::new("act", 4, 64).cell(3, "i"), "act[3][i]");
    }

    #[test]
    fn wide_rows_take_an_array_each() {
        let r = PrivateRows::new("act", 2, 256);
        let src = r.declare();
        assert!(
            src.contains("var<private> act_1: array<f32, 256u>;"),
            "{src}"
        );
        assert!(src.contains("default: { return act_1[i]; }"), "{src}");
        assert_eq!(r.cell(1, "o"), "act_1[o]");
    }
}
