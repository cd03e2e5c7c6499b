// Sizes of the flow kernels' private arrays, chosen by variant: MAX_W the widest layer,
// MAX_A the state components (dimension, plus one for a log-density or a weight).

#ifdef WIDTH_16
const MAX_W: u32 = 16u;
#endif
#ifdef WIDTH_32
const MAX_W: u32 = 32u;
#endif
#ifdef WIDTH_64
const MAX_W: u32 = 64u;
#endif
#ifdef WIDTH_128
const MAX_W: u32 = 128u;
#endif
#ifdef WIDTH_256
const MAX_W: u32 = 256u;
#endif
#ifdef WIDTH_512
const MAX_W: u32 = 512u;
#endif
#ifdef WIDTH_1024
const MAX_W: u32 = 1024u;
#endif
#ifdef DIM_4
const MAX_A: u32 = 5u;
#endif
#ifdef DIM_16
const MAX_A: u32 = 17u;
#endif
#ifdef DIM_64
const MAX_A: u32 = 65u;
#endif
