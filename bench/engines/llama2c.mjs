// llama2c.mjs — llama2.c's run.c (https://github.com/karpathy/llama2.c, pure C, one thread) as a
// comparison engine for the LM-* workloads (bench/workloads/tiny-llama.mjs). Nothing is
// downloaded: the user provides a copy of run.c (LLAMA2C_RUN_C=/path/to/run.c), which the bench
// builds with `gcc -O3 -o run run.c -lm` (CC overrides gcc); without it the rows read
// "skipped (not measured: no run.c provided — …)". Each workload brings its own setup['llama2.c'].

export const engines = [
  {
    id: 'llama2.c/run.c/1t',
    family: 'llama2.c',
    short: 'run.c',
    label: "llama2.c's run.c (gcc -O3), 1 thread",
    threads: 1,
    supports(w) {
      return Boolean(w.setup?.['llama2.c']);
    },
    prepare(w, ctx) {
      return w.setup['llama2.c'](this, ctx);
    },
  },
];
