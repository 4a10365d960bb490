// The V8 flags every Sluice process runs with (bin/sluice.js; the benches start their Sluice
// peers with them too). The young generation is capped at 8 MiB semispaces: a runner allocates
// fast and keeps little (records live until their acks, a batch or so), and V8's default lets
// the young generation grow to several times that, which showed as 100+ MiB of resident memory
// at full speed for no gain in throughput (bench/topology.bench.ts, Step 9).
export const NODE_FLAGS = ['--max-semi-space-size=8'];
