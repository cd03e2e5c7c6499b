//! What the flow drivers and their CPU twins take from the caller, checked and read the
//! same way: particles, conditioning vectors and populations, log-density modes, and
//! the fixed Rademacher probes of Hutchinson's estimator.

use crate::error::{Error, Result};
use crate::flow::config::LogDensity;
use crate::flow::model::VelocityField;

/// Fixed Rademacher probe of particle `p` (component k), shared with the GPU kernel.
pub fn probe(seed: u64, particle: usize, dim: usize) -> Vec<f64> {
    let key = crate::rng::seed_key(seed);
    (0..dim)
        .map(|k| {
            let words =
                crate::rng::philox4x32_10([particle as u32, (k / 4) as u32, 0x6875_7463, 0], key);
            if words[k % 4] & 1 == 0 {
                1.0
            } else {
                -1.0
            }
        })
        .collect()
}

/// The conditioning vector particle `p` reads.
pub(crate) fn population_cond<'a>(
    cond: &'a [f64],
    population: &[u32],
    cond_dim: usize,
    p: usize,
) -> &'a [f64] {
    let k = population.get(p).map_or(0, |&k| k as usize);
    &cond[k * cond_dim..(k + 1) * cond_dim]
}

/// Refuses log-density modes that need tangents of a gradient field (second derivatives).
pub(crate) fn validate_mode(field: &VelocityField, mode: LogDensity) -> Result<()> {
    if field.scalar && matches!(mode, LogDensity::Exact | LogDensity::Hutchinson) {
        return Err(Error::invalid(
            "the field is the gradient of a scalar network; its divergence needs second \
             derivatives, which the exact and Hutchinson modes do not take: use the central \
             log-density (LogDensity::Central, --logp central)",
        ));
    }
    Ok(())
}

/// Checks particles, conditioning vectors and populations against the field.
pub(crate) fn validate_particles(
    field: &VelocityField,
    particles: &[f32],
    cond: &[f32],
    population: &[u32],
) -> Result<()> {
    let d = field.dim;
    if particles.is_empty() {
        return Err(Error::invalid("no particles to integrate"));
    }
    if !particles.len().is_multiple_of(d) {
        return Err(Error::invalid(format!(
            "{} coordinates do not form particles of dimension {d} (the model's dimension)",
            particles.len()
        )));
    }
    if let Some(k) = particles.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "particle {} has a non-finite coordinate ({})",
            k / d,
            particles[k]
        )));
    }
    if population.is_empty() {
        if cond.len() != field.cond_dim {
            return Err(Error::invalid(format!(
                "the model takes a conditioning vector of length {} but {} values were given",
                field.cond_dim,
                cond.len()
            )));
        }
        return Ok(());
    }
    let c = field.cond_dim;
    if c == 0 {
        return Err(Error::invalid(
            "populations were given but the model takes no conditioning vector",
        ));
    }
    if cond.is_empty() || !cond.len().is_multiple_of(c) {
        return Err(Error::invalid(format!(
            "{} conditioning values do not form vectors of length {c} (one per population)",
            cond.len()
        )));
    }
    let n = particles.len() / d;
    if population.len() != n {
        return Err(Error::invalid(format!(
            "{} population indices for {n} particles; give one per particle",
            population.len()
        )));
    }
    let count = cond.len() / c;
    if count > 1 << 24 {
        return Err(Error::invalid(format!(
            "{count} populations; at most 2^24 are supported"
        )));
    }
    if let Some(p) = population.iter().position(|&k| k as usize >= count) {
        return Err(Error::invalid(format!(
            "particle {p} belongs to population {} but only {count} conditioning vectors were given",
            population[p]
        )));
    }
    if let Some(k) = cond.iter().position(|v| !v.is_finite()) {
        return Err(Error::invalid(format!(
            "conditioning vector {} has a non-finite value",
            k / c
        )));
    }
    Ok(())
}
