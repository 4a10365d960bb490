import { createRng, ZipfSampler, DailyRhythmSampler } from '../src/generate/random.ts';
const r = createRng(1); const z = new ZipfSampler(2000, 1.07); const d = new DailyRhythmSampler(Date.now()-30*864e5, Date.now());
let t = performance.now(); let s = 0;
for (let i = 0; i < 300000; i++) { s = z.sample(r) + d.sample(r); new Date(s).toISOString(); r.distinctInts(3, 2000, () => z.sample(r)); }
console.log(performance.now() - t);
