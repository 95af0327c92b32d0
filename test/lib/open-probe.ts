// Child process of the access tests: tries what another user or process
// would, and prints what happened as one JSON line, one entry per attempt
// (the error's class, code and message; its fd count before and after).
//   node open-probe.js 'display UUID [auto|iommufd|type1]' 'create PARENT TYPE' 'card PATH' ...
import { createInstance, openCard, openDisplay } from 'vfio-display';
import { openFds } from './vkms.js';

export interface ProbeResult {
  readonly ok: boolean;
  readonly error: string | null;
  readonly code: string | null;
  /** The kernel's errno and the system call that refused, where the OS refused. */
  readonly errno: number | null;
  readonly syscall: string | null;
  readonly message: string | null;
  readonly fdsBefore: number;
  readonly fdsAfter: number;
}

const attempts: Record<string, (a: string, b: string) => void> = {
  display: (uuid, via) => {
    openDisplay(uuid, { via: via as 'auto' | 'iommufd' | 'type1' }).close();
  },
  create: (parent, type) => {
    createInstance(parent, type);
  },
  card: (path) => {
    openCard(path).close();
  },
};

const results = process.argv.slice(2).map((spec): ProbeResult => {
  const [what = '', a = '', b = 'auto'] = spec.split(' ');
  const attempt = attempts[what];
  if (!attempt) throw new Error(`unknown probe ${what}`);
  const fdsBefore = openFds();
  try {
    attempt(a, b);
    return { ok: true, error: null, code: null, errno: null, syscall: null, message: null, fdsBefore, fdsAfter: openFds() };
  } catch (err) {
    const e = err as Error & { code?: string; errno?: number; syscall?: string };
    return { ok: false, error: e.constructor.name, code: e.code ?? null, errno: e.errno ?? null, syscall: e.syscall ?? null, message: e.message, fdsBefore, fdsAfter: openFds() };
  }
});
console.log(JSON.stringify(results));
