// Codes the flow kernels share with their drivers; flow::codes mirrors each by name and a
// test checks that the two agree.

// How t enters a network (InputLayout.time_pos).
const TIME_LAST: u32 = 0u;
const TIME_FIRST: u32 = 1u;
const TIME_NONE: u32 = 2u;

// The log-density mode (Flow.logp, and the LOGP override).
const LOGP_OFF: u32 = 0u;
const LOGP_EXACT: u32 = 1u;
const LOGP_HUTCHINSON: u32 = 2u;
const LOGP_CENTRAL: u32 = 3u;

// A particle's status (Meta.status).
const STATUS_NEW: u32 = 0u;
const STATUS_RUNNING: u32 = 1u;
const STATUS_DONE: u32 = 2u;
const STATUS_CAPPED: u32 = 3u;

// Phases of the shared-step mode (Flow.phase): the derivative at t0 and the norms of the
// initial step, its probe step, a step attempt, its commit.
const PHASE_START: u32 = 0u;
const PHASE_PROBE: u32 = 1u;
const PHASE_ATTEMPT: u32 = 2u;
const PHASE_COMMIT: u32 = 3u;

// The SDE scheme (Sde.solver) and how growth heads change weights (Sde.growth).
const SDE_EULER_MARUYAMA: u32 = 0u;
const SDE_SRA1: u32 = 1u;
const GROWTH_NONE: u32 = 0u;
const GROWTH_LOG_WEIGHT: u32 = 1u;
const GROWTH_ADDITIVE: u32 = 2u;
