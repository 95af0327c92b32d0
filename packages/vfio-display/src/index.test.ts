// What the package's entry points offer: the library at the root, the CLI's
// JSON schemas on a subpath of their own (they describe the CLI's output,
// not the library's API).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as root from './index.js';

test('the root exports no CLI schemas; vfio-display/cli-schemas does', async () => {
  for (const name of ['planesReportSchema', 'watchLineSchema']) assert.equal(name in root, false, name);
  const schemas = await import('vfio-display/cli-schemas');
  assert.equal(typeof schemas.planesReportSchema().parse, 'function');
  assert.equal(typeof schemas.watchLineSchema().parse, 'function');
});
