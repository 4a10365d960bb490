/**
 * Seeded randomness for the data generators: the same seed gives the same stream of numbers on
 * every machine and every run, so generated data (and its ground truth) is reproducible.
 *
 * The generator is xoshiro128** (32-bit state words, period 2^128 - 1), seeded from a string or
 * number through cyrb128 + splitmix32. Everything here is pure arithmetic: no Math.random, no clock.
 */

/** A seed: any string or number; the same seed gives the same numbers. */
export type Seed = string | number;

/** cyrb128: a string hash spreading any seed into four 32-bit words. */
function cyrb128(str: string): [number, number, number, number] {
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762;
  for (let i = 0; i < str.length; i++) {
    const k = str.charCodeAt(i);
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213);
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179);
  h1 ^= h2 ^ h3 ^ h4;
  h2 ^= h1;
  h3 ^= h1;
  h4 ^= h1;
  return [h1 >>> 0, h2 >>> 0, h3 >>> 0, h4 >>> 0];
}

/** splitmix32 step, used to turn the hash into a well-mixed, never all-zero xoshiro state. */
function splitmix32(a: number): () => number {
  return () => {
    a = (a + 0x9e3779b9) | 0;
    let t = a ^ (a >>> 16);
    t = Math.imul(t, 0x21f0aaad);
    t ^= t >>> 15;
    t = Math.imul(t, 0x735a2d97);
    return (t ^ (t >>> 15)) >>> 0;
  };
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** A seeded xoshiro128** generator with the draws the data generators need. */
export class Rng {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;
  private spareNormal: number | undefined;
  readonly seed: string;

  constructor(seed: Seed) {
    this.seed = String(seed);
    const h = cyrb128(this.seed);
    const mix = splitmix32(h[0] ^ h[1] ^ h[2] ^ h[3]);
    this.s0 = (h[0] ^ mix()) >>> 0;
    this.s1 = (h[1] ^ mix()) >>> 0;
    this.s2 = (h[2] ^ mix()) >>> 0;
    this.s3 = (h[3] ^ mix()) >>> 0;
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** An independent stream derived from this one's seed and a label (does not advance this one). */
  fork(label: string): Rng {
    return new Rng(`${this.seed}/${label}`);
  }

  /** Next 32-bit unsigned integer (xoshiro128**). */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [min, max] (both inclusive). */
  int(min: number, max: number): number {
    if (max < min) throw new RangeError(`int(${min}, ${max}): max < min`);
    return min + Math.floor(this.next() * (max - min + 1));
  }

  /** Uniform float in [min, max). */
  float(min: number, max: number): number {
    return min + this.next() * (max - min);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.next() < p;
  }

  /** One of the items, uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[Math.floor(this.next() * items.length)];
  }

  /** Picks by relative weights (need not sum to 1). For repeated picks use WeightedSampler. */
  weighted<T>(items: readonly T[], weights: readonly number[]): T {
    let total = 0;
    for (const w of weights) total += w;
    let r = this.next() * total;
    for (let i = 0; i < items.length; i++) {
      r -= weights[i];
      if (r < 0) return items[i];
    }
    return items[items.length - 1];
  }

  /** Standard normal (Box–Muller, caching the second value) scaled to mean and sd. */
  normal(mean = 0, sd = 1): number {
    let z: number;
    if (this.spareNormal !== undefined) {
      z = this.spareNormal;
      this.spareNormal = undefined;
    } else {
      let u = 0;
      while (u === 0) u = this.next();
      const v = this.next();
      const r = Math.sqrt(-2 * Math.log(u));
      z = r * Math.cos(2 * Math.PI * v);
      this.spareNormal = r * Math.sin(2 * Math.PI * v);
    }
    return mean + sd * z;
  }

  /** Normal clamped into [min, max]. */
  normalClamped(mean: number, sd: number, min: number, max: number): number {
    return Math.min(max, Math.max(min, this.normal(mean, sd)));
  }

  /** Exponential with the given mean. */
  exponential(mean: number): number {
    return -Math.log(1 - this.next()) * mean;
  }

  /** An RFC 4122 version-4 UUID built from this generator (deterministic for a seed). */
  uuid(): string {
    const b = new Array<number>(16);
    for (let i = 0; i < 16; i += 4) {
      const x = this.nextU32();
      b[i] = x & 0xff;
      b[i + 1] = (x >>> 8) & 0xff;
      b[i + 2] = (x >>> 16) & 0xff;
      b[i + 3] = x >>> 24;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = b.map((x) => HEX[x]);
    return (
      `${h[0]}${h[1]}${h[2]}${h[3]}-${h[4]}${h[5]}-${h[6]}${h[7]}-${h[8]}${h[9]}-` +
      `${h[10]}${h[11]}${h[12]}${h[13]}${h[14]}${h[15]}`
    );
  }

  /** Fisher–Yates shuffle of a copy. */
  shuffled<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      const t = out[i];
      out[i] = out[j];
      out[j] = t;
    }
    return out;
  }

  /** `k` distinct indexes in [0, n) (k <= n), in pick order. */
  distinctInts(k: number, n: number, draw: () => number = () => Math.floor(this.next() * n)): number[] {
    const seen = new Set<number>();
    const out: number[] = [];
    let guard = 0;
    while (out.length < Math.min(k, n) && guard++ < k * 50) {
      const v = draw();
      if (!seen.has(v)) {
        seen.add(v);
        out.push(v);
      }
    }
    return out;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/**
 * A generator for the seed.
 *
 * @example const rng = createRng('demo'); rng.int(1, 6);
 */
export function createRng(seed: Seed): Rng {
  return new Rng(seed);
}

/** Binary search: first index whose cumulative value exceeds r. */
function searchCdf(cdf: Float64Array, r: number): number {
  let lo = 0,
    hi = cdf.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (cdf[mid] > r) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/** Repeated weighted picks in O(log n) through a precomputed CDF. */
export class WeightedSampler<T> {
  private readonly cdf: Float64Array;
  readonly items: readonly T[];

  constructor(items: readonly T[], weights: readonly number[]) {
    if (items.length === 0 || items.length !== weights.length)
      throw new RangeError('WeightedSampler needs as many weights as items, at least one');
    this.items = items;
    this.cdf = new Float64Array(items.length);
    let total = 0;
    for (let i = 0; i < weights.length; i++) {
      if (!(weights[i] >= 0)) throw new RangeError(`weight ${i} is ${weights[i]}`);
      total += weights[i];
      this.cdf[i] = total;
    }
    if (total <= 0) throw new RangeError('weights sum to zero');
    for (let i = 0; i < this.cdf.length; i++) this.cdf[i] /= total;
    this.cdf[this.cdf.length - 1] = 1;
  }

  /** The index of a weighted pick. */
  index(rng: Rng): number {
    return searchCdf(this.cdf, rng.next());
  }

  /** A weighted pick. */
  sample(rng: Rng): T {
    return this.items[this.index(rng)];
  }
}

/**
 * Zipf over ranks 1..n with exponent s: P(rank k) ∝ 1 / k^s. `sample` returns a 0-based rank
 * (0 is the most popular); map ranks onto items through a (shuffled) list.
 */
export class ZipfSampler {
  private readonly cdf: Float64Array;
  readonly n: number;
  readonly s: number;

  constructor(n: number, s = 1.07) {
    if (!(n >= 1)) throw new RangeError(`Zipf needs n >= 1, got ${n}`);
    this.n = n;
    this.s = s;
    this.cdf = new Float64Array(n);
    let total = 0;
    for (let k = 1; k <= n; k++) {
      // biome-ignore lint/style/useExponentiationOperator: the seeded data's weights stay computed exactly as they were
      total += 1 / Math.pow(k, s);
      this.cdf[k - 1] = total;
    }
    for (let i = 0; i < n; i++) this.cdf[i] /= total;
    this.cdf[n - 1] = 1;
  }

  /** Probability of the 0-based rank. */
  probability(rank: number): number {
    return rank === 0 ? this.cdf[0] : this.cdf[rank] - this.cdf[rank - 1];
  }

  /** A 0-based rank, drawn by its probability. */
  sample(rng: Rng): number {
    return searchCdf(this.cdf, rng.next());
  }
}

/**
 * Relative activity of a web shop per hour of the day (UTC): quiet nights, a morning ramp, a
 * lunch bump and an evening peak around 20:00.
 */
export const DAILY_RHYTHM: readonly number[] = [
  0.25, 0.15, 0.1, 0.08, 0.08, 0.12, 0.25, 0.45, 0.65, 0.75, 0.8, 0.9, 1.0, 0.95, 0.85, 0.8, 0.8, 0.85, 0.95, 1.1, 1.2,
  1.1, 0.8, 0.45,
];

const HOUR_MS = 3_600_000;

/**
 * Timestamps (epoch ms) in [startMs, endMs) whose hour-of-day follows a daily rhythm, by rejection
 * sampling against the hourly weights: deterministic for a given Rng.
 */
export class DailyRhythmSampler {
  private readonly max: number;
  readonly startMs: number;
  readonly endMs: number;
  readonly weights: readonly number[];

  constructor(startMs: number, endMs: number, weights: readonly number[] = DAILY_RHYTHM) {
    if (weights.length !== 24) throw new RangeError('a daily rhythm has 24 hourly weights');
    if (!(endMs > startMs)) throw new RangeError('endMs must be after startMs');
    this.startMs = startMs;
    this.endMs = endMs;
    this.weights = weights;
    this.max = Math.max(...weights);
  }

  /** A timestamp in the range, more likely in busy hours. */
  sample(rng: Rng): number {
    for (let i = 0; i < 1000; i++) {
      const t = this.startMs + Math.floor(rng.next() * (this.endMs - this.startMs));
      const hour = Math.floor((((t % 86_400_000) + 86_400_000) % 86_400_000) / HOUR_MS);
      if (rng.next() * this.max < this.weights[hour]) return t;
    }
    return this.startMs + Math.floor(rng.next() * (this.endMs - this.startMs));
  }
}
