// A node:test reporter that writes the totals as one JSON line
// ({"passed":N,"failed":N,"skipped":N}) for test/run-all to add up.
// Use it beside a human reporter: --test-reporter=<this> --test-reporter-destination=FILE.
import type { TestEvent } from 'node:test/reporters';

export interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

interface TestResultData {
  skip?: string | boolean;
  todo?: string | boolean;
  details: { type?: string; error?: { failureType?: string } };
}

export default async function* countReporter(source: AsyncIterable<TestEvent>): AsyncGenerator<string> {
  const counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const data = event.data as TestResultData;
    const skipped = data.skip !== undefined && data.skip !== false;
    // Suites pass or fail through their tests, so count tests only, except
    // a skipped suite, whose tests never report, and a suite that failed by
    // itself (its body threw: no test of it ran to fail).
    const ownFailure = event.type === 'test:fail' && data.details.error?.failureType !== 'subtestsFailed';
    if (data.details.type === 'suite' && !skipped && !ownFailure) continue;
    if (skipped) counts.skipped++;
    else if (event.type === 'test:pass') counts.passed++;
    else counts.failed++;
  }
  yield `${JSON.stringify(counts)}\n`;
}
