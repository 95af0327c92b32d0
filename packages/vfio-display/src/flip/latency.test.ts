import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from './latency.js';

test('an empty histogram reads as zeros', () => {
  const h = new LatencyHistogram();
  assert.deepEqual(h.summary(), { count: 0, minMs: 0, meanMs: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, maxMs: 0, buckets: [] });
});

test('percentiles land within a bucket (19%) of the true value and inside [min, max]', () => {
  const h = new LatencyHistogram();
  // 1..1000 ms: p50 is 500 ms, p99 990 ms.
  for (let ms = 1; ms <= 1000; ms++) h.record(BigInt(ms) * 1_000_000n);
  const s = h.summary();
  assert.equal(s.count, 1000);
  assert.equal(s.minMs, 1);
  assert.equal(s.maxMs, 1000);
  assert.ok(Math.abs(s.meanMs - 500.5) < 1e-9);
  assert.ok(s.p50Ms >= 500 && s.p50Ms <= 500 * 1.19, `p50 ${s.p50Ms}`);
  assert.ok(s.p99Ms >= 990 && s.p99Ms <= 1000, `p99 ${s.p99Ms}`);
  assert.equal(s.buckets.reduce((n, b) => n + b.count, 0), 1000);
});

test('one value: every percentile is that value', () => {
  const h = new LatencyHistogram();
  h.record(7_300_000);
  assert.equal(h.percentile(0.5), 7.3);
  assert.equal(h.percentile(0.99), 7.3);
});

test('negative, sub-microsecond and huge values are kept in the end buckets', () => {
  const h = new LatencyHistogram();
  h.record(-5n);
  h.record(400);
  h.record(3600n * 1_000_000_000n);
  const s = h.summary();
  assert.equal(s.count, 3);
  assert.equal(s.minMs, 0);
  assert.equal(s.maxMs, 3_600_000);
  assert.equal(s.buckets.length, 2);
});
