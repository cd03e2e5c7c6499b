//! Codes the flow kernels and their drivers share, named as in `shaders/flow/codes.wgsl`
//! (and, for activations, `shaders/common/activations.wgsl`); a test reads the WGSL
//! constants with naga and checks that every one here agrees.

/// How t enters a network.
pub(crate) const TIME_LAST: u32 = 0;
pub(crate) const TIME_FIRST: u32 = 1;
pub(crate) const TIME_NONE: u32 = 2;

/// The log-density mode.
pub(crate) const LOGP_OFF: u32 = 0;
pub(crate) const LOGP_EXACT: u32 = 1;
pub(crate) const LOGP_HUTCHINSON: u32 = 2;
pub(crate) const LOGP_CENTRAL: u32 = 3;

/// A particle's status after a dispatch (the drivers read `STATUS_CAPPED`).
pub(crate) const STATUS_CAPPED: u32 = 3;

/// Phases of the shared-step mode.
pub(crate) const PHASE_START: u32 = 0;
pub(crate) const PHASE_PROBE: u32 = 1;
pub(crate) const PHASE_ATTEMPT: u32 = 2;
pub(crate) const PHASE_COMMIT: u32 = 3;

/// The SDE scheme and the weights' growth.
pub(crate) const SDE_EULER_MARUYAMA: u32 = 0;
pub(crate) const SDE_SRA1: u32 = 1;
pub(crate) const GROWTH_NONE: u32 = 0;
pub(crate) const GROWTH_LOG_WEIGHT: u32 = 1;
pub(crate) const GROWTH_ADDITIVE: u32 = 2;

/// Activation codes (`activate(code, x)` in the kernels).
pub(crate) const ACT_SELU: u32 = 0;
pub(crate) const ACT_ELU: u32 = 1;
pub(crate) const ACT_SILU: u32 = 2;
pub(crate) const ACT_RELU: u32 = 3;
pub(crate) const ACT_TANH: u32 = 4;
pub(crate) const ACT_GELU: u32 = 5;
pub(crate) const ACT_SOFTPLUS: u32 = 6;
pub(crate) const ACT_IDENTITY: u32 = 7;
pub(crate) const ACT_SQUARE: u32 = 8;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpu::preprocess::u32_constants;

    #[test]
    fn every_code_agrees_with_its_wgsl_constant() {
        let mirrored = [
            ("flow/codes", "TIME_LAST", TIME_LAST),
            ("flow/codes", "TIME_FIRST", TIME_FIRST),
            ("flow/codes", "TIME_NONE", TIME_NONE),
            ("flow/codes", "LOGP_OFF", LOGP_OFF),
            ("flow/codes", "LOGP_EXACT", LOGP_EXACT),
            ("flow/codes", "LOGP_HUTCHINSON", LOGP_HUTCHINSON),
            ("flow/codes", "LOGP_CENTRAL", LOGP_CENTRAL),
            ("flow/codes", "STATUS_CAPPED", STATUS_CAPPED),
            ("flow/codes", "PHASE_START", PHASE_START),
            ("flow/codes", "PHASE_PROBE", PHASE_PROBE),
            ("flow/codes", "PHASE_ATTEMPT", PHASE_ATTEMPT),
            ("flow/codes", "PHASE_COMMIT", PHASE_COMMIT),
            ("flow/codes", "SDE_EULER_MARUYAMA", SDE_EULER_MARUYAMA),
            ("flow/codes", "SDE_SRA1", SDE_SRA1),
            ("flow/codes", "GROWTH_NONE", GROWTH_NONE),
            ("flow/codes", "GROWTH_LOG_WEIGHT", GROWTH_LOG_WEIGHT),
            ("flow/codes", "GROWTH_ADDITIVE", GROWTH_ADDITIVE),
            ("common/activations", "ACT_SELU", ACT_SELU),
            ("common/activations", "ACT_ELU", ACT_ELU),
            ("common/activations", "ACT_SILU", ACT_SILU),
            ("common/activations", "ACT_RELU", ACT_RELU),
            ("common/activations", "ACT_TANH", ACT_TANH),
            ("common/activations", "ACT_GELU", ACT_GELU),
            ("common/activations", "ACT_SOFTPLUS", ACT_SOFTPLUS),
            ("common/activations", "ACT_IDENTITY", ACT_IDENTITY),
            ("common/activations", "ACT_SQUARE", ACT_SQUARE),
        ];
        for (snippet, name, value) in mirrored {
            let wgsl = u32_constants(snippet).unwrap();
            assert_eq!(
                wgsl.get(name),
                Some(&value),
                "{name} of {snippet}.wgsl and flow::codes"
            );
        }
    }
}
