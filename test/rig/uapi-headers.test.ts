// Every constant and struct layout in the library's uapi/ tables, checked
// against the rig kernels' own uAPI headers (make headers_install) compiled
// with gcc: values, sizeof, offsetof, member widths and signedness.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { dmaBuf, drm, drmFourcc, iommufd, mman, vfio, vfioExt, type Layout } from 'vfio-display/uapi';

const repo = join(import.meta.dirname, '..', '..', '..');
const stockModules = { vfio, iommufd, drm, drmFourcc, dmaBuf, mman };
/** The patched kernel has the extension too (where vfio_irq_info and the plane info are larger). */
const patchedModules = { iommufd, drm, drmFourcc, dmaBuf, mman, vfio: Object.fromEntries(Object.entries(vfio).filter(([name]) => !(name in vfioExt))), vfioExt };

function isLayout(v: unknown): v is Layout {
  return typeof v === 'object' && v !== null && 'fields' in v && 'size' in v && 'name' in v;
}

/** Exported numbers named like C macros (VFIO_TYPE1v2_IOMMU); helpers are camelCase. */
const isMacroName = (name: string): boolean => /^[A-Z]/.test(name);

interface Expectation {
  /** The test this belongs to: a module's constants or one struct. */
  group: string;
  key: string;
  expected: string;
}

function cProgram(modules: Record<string, object>): { source: string; expectations: Expectation[] } {
  const lines: string[] = [];
  const expectations: Expectation[] = [];
  const emit = (group: string, key: string, cExpr: string, expected: string): void => {
    lines.push(`  printf("%s %llu\\n", ${JSON.stringify(key)}, (unsigned long long)(${cExpr}));`);
    expectations.push({ group, key, expected });
  };
  for (const [mod, exports] of Object.entries(modules)) {
    for (const [name, value] of Object.entries(exports)) {
      if ((typeof value === 'number' || typeof value === 'bigint') && isMacroName(name)) {
        // number constants are 32-bit quantities (flags, types, ioctl requests);
        // compare them as u32, as `(1 << 31)` in a u32 field is meant.
        const cExpr = typeof value === 'number' ? `(unsigned int)(${name})` : name;
        emit(`${mod} constants`, name, cExpr, BigInt.asUintN(typeof value === 'number' ? 32 : 64, BigInt(value)).toString());
      } else if (isLayout(value)) {
        const s = `struct ${value.name}`;
        emit(s, `sizeof(${s})`, `sizeof(${s})`, String(value.size));
        for (const [field, { offset, type, length }] of Object.entries(value.fields)) {
          const member = `((${s} *)0)->${field}`;
          emit(s, `offsetof(${s}, ${field})`, `offsetof(${s}, ${field})`, String(offset));
          emit(s, `sizeof(${s}.${field})`, `sizeof(${member})`, String(length));
          // char arrays and embedded structs have no signedness to compare.
          if (type !== 'chars' && type !== 'bytes') emit(s, `signed(${s}.${field})`, `(__typeof__(${member}))-1 < 0`, type === 's32' ? '1' : '0');
        }
      }
    }
  }
  const source = [
    // DRM_CLOEXEC is O_CLOEXEC: drm.h leaves its definition to <fcntl.h>.
    '#include <fcntl.h>',
    '#include <stddef.h>',
    '#include <stdio.h>',
    '#include <linux/vfio.h>',
    '#include <linux/iommufd.h>',
    '#include <drm/drm.h>',
    '#include <drm/drm_mode.h>',
    '#include <drm/drm_fourcc.h>',
    '#include <linux/dma-buf.h>',
    '#include <linux/mman.h>',
    'int main(void) {',
    ...lines,
    '  return 0;',
    '}',
  ].join('\n');
  return { source, expectations };
}

for (const kernel of ['stock', 'patched'] as const) {
  describe(`uapi tables vs the ${kernel} kernel's headers`, () => {
    const kdir = execFileSync(join(repo, 'test', 'vm', 'setup'), ['--kernel', kernel, '--print'], { encoding: 'utf8' }).trim();
    const { source, expectations } = cProgram(kernel === 'stock' ? stockModules : patchedModules);
    const dir = mkdtempSync(join(tmpdir(), 'uapi-'));
    writeFileSync(join(dir, 'check.c'), source);
    execFileSync('gcc', ['-Wall', '-Werror', '-isystem', join(kdir, 'usr', 'include'), '-o', join(dir, 'check'), join(dir, 'check.c')]);
    const actual = new Map(
      execFileSync(join(dir, 'check'), { encoding: 'utf8' })
        .trim()
        .split('\n')
        .map((line) => {
          const at = line.lastIndexOf(' ');
          return [line.slice(0, at), line.slice(at + 1)] as const;
        }),
    );

    const groups = new Map<string, Expectation[]>();
    for (const e of expectations) groups.set(e.group, [...(groups.get(e.group) ?? []), e]);
    test('covers every table', () => {
      assert.ok(groups.size >= 46, [...groups.keys()].join(', '));
    });
    for (const [group, items] of groups) {
      test(`${group} (${items.length} values)`, () => {
        const wrong = items.filter((e) => actual.get(e.key) !== e.expected).map((e) => `${e.key}: table ${e.expected}, header ${actual.get(e.key) ?? 'missing'}`);
        assert.deepEqual(wrong, []);
      });
    }
  });
}
