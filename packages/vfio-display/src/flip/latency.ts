// A latency histogram with bounded memory: logarithmic buckets, four per
// doubling (each about 19% wide) from 1 µs to about 17 s, so a soak of 10^5
// frames costs the same as ten. Percentiles are read off the buckets.

const PER_DOUBLING = 4;
const BUCKETS = 24 * PER_DOUBLING;

/** Bucket i holds latencies in [2^(i/4), 2^((i+1)/4)) µs; the last also everything above. */
const upperUs = (i: number): number => 2 ** ((i + 1) / PER_DOUBLING);

export interface LatencySummary {
  readonly count: number;
  readonly minMs: number;
  readonly meanMs: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Non-empty buckets: upper edge in ms, count. */
  readonly buckets: readonly { readonly leMs: number; readonly count: number }[];
}

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS);
  #count = 0;
  #sumUs = 0;
  #minUs = Infinity;
  #maxUs = 0;

  get count(): number {
    return this.#count;
  }

  /** Records one latency in nanoseconds (negative values count as 0). */
  record(ns: bigint | number): void {
    const us = Math.max(0, Number(ns) / 1000);
    const i = us < 1 ? 0 : Math.min(BUCKETS - 1, Math.floor(Math.log2(us) * PER_DOUBLING));
    this.#counts[i] = (this.#counts[i] ?? 0) + 1;
    this.#count++;
    this.#sumUs += us;
    this.#minUs = Math.min(this.#minUs, us);
    this.#maxUs = Math.max(this.#maxUs, us);
  }

  /** The latency (ms) below which a fraction `p` (0-1) of the samples lie; 0 without samples. */
  percentile(p: number): number {
    if (this.#count === 0) return 0;
    const rank = Math.max(1, Math.ceil(p * this.#count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.#counts[i] ?? 0;
      if (seen >= rank) return Math.min(this.#maxUs, Math.max(this.#minUs, upperUs(i))) / 1000;
    }
    return this.#maxUs / 1000;
  }

  summary(): LatencySummary {
    const buckets: { leMs: number; count: number }[] = [];
    this.#counts.forEach((count, i) => {
      if (count) buckets.push({ leMs: upperUs(i) / 1000, count });
    });
    return {
      count: this.#count,
      minMs: this.#count ? this.#minUs / 1000 : 0,
      meanMs: this.#count ? this.#sumUs / this.#count / 1000 : 0,
      p50Ms: this.percentile(0.5),
      p90Ms: this.percentile(0.9),
      p99Ms: this.percentile(0.99),
      maxMs: this.#maxUs / 1000,
      buckets,
    };
  }
}
