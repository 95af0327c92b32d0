// Bytes the kernel cannot read: a shared mapping of a file that was then
// truncated, so copy_from_user() on its pages fails and a write(2) from them
// gets EFAULT. This is how a test makes a driver refuse a region write that
// no argument check catches. The mapping is made with the library's addon
// (node has no mmap); nothing here touches the pages, which would SIGBUS.
import { closeSync, ftruncateSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

interface MmapAddon {
  mmap(fd: number, length: number, prot: number, flags: number, offset: number): ArrayBuffer;
}

const PAGE = 4096;
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;

function addon(): MmapAddon {
  const require = createRequire(import.meta.url);
  const pkg = dirname(require.resolve('vfio-display/package.json'));
  const load = createRequire(join(pkg, 'package.json'))('node-gyp-build') as (dir: string) => MmapAddon;
  return load(pkg);
}

/**
 * `readable` bytes the kernel can read, then `faulting` bytes it cannot:
 * write into the first part only. `readable` is at most a page.
 */
export function bytesThatFault(readable: number, faulting: number): Uint8Array {
  if (readable > PAGE) throw new RangeError('at most a page of readable bytes');
  const dir = mkdtempSync('/tmp/faulting-bytes-');
  const fd = openSync(join(dir, 'pages'), 'w+');
  try {
    ftruncateSync(fd, 2 * PAGE);
    const buffer = addon().mmap(fd, 2 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, 0);
    // The second page is past the end of the file now: reading it faults.
    ftruncateSync(fd, PAGE);
    return new Uint8Array(buffer, PAGE - readable, readable + faulting);
  } finally {
    closeSync(fd);
    rmSync(dir, { recursive: true });
  }
}
