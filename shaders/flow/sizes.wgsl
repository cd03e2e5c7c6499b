// Sizes of the flow kernels' private state arrays, chosen by variant: MAX_A the state
// components (dimension, plus one for a log-density or a weight). The networks' arrays
// are sized by their generated code.

#ifdef DIM_4
const MAX_A: u32 = 5u;
#endif
#ifdef DIM_16
const MAX_A: u32 = 17u;
#endif
#ifdef DIM_64
const MAX_A: u32 = 65u;
#endif
