// The per-step uniform block of the trainer (twin: flow::train::shared::StepBlock), bound
// at a dynamic offset: one 256-byte block per recorded step.

struct StepBlock {
    // The draws' step index (0-based).
    step: u32,
    // Where this step's loss goes in the submission's loss table.
    slot: u32,
    // lr / (1 - beta1^k).
    step_size: f32,
    // 1 / sqrt(1 - beta2^k).
    inverse_root_correction: f32,
    // 1 - lr * weight_decay.
    decay: f32,
}
