// Every session the service opens runs without JIT compilation. Its statements are short, but
// some are estimated as costly for a user with a long history (a year of minute samples puts a
// score recompute past jit_above_cost), and compiling one took 400 ms where running it took
// under 1 ms.
export const SESSION_OPTIONS = '-c jit=off'
