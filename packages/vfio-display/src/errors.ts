// Error classes, one per kind of failure, each with a message that says what
// to do. Errors that come from the OS keep Node's SystemError fields
// (code, errno, syscall) and the ioctl or path involved.

/** The shape of errors the addon and node:fs throw (Node's SystemError). */
export interface NativeSystemError extends Error {
  code: string;
  /** Negative, as in Node: -22 for EINVAL. */
  errno: number;
  syscall: string;
}

export interface ErrorDetails {
  /** Node-style error code: "EACCES", or ERR_VFIO_* for the library's own. */
  code?: string | undefined;
  /** Negative errno, as Node reports it (-13 for EACCES). */
  errno?: number | undefined;
  syscall?: string | undefined;
  /** The ioctl's kernel name, e.g. "VFIO_DEVICE_QUERY_GFX_PLANE". */
  ioctl?: string | undefined;
  path?: string | undefined;
  cause?: unknown;
}

/** Base class of every error this library throws. */
export class VfioDisplayError extends Error {
  readonly code: string;
  readonly errno: number | undefined;
  readonly syscall: string | undefined;
  readonly ioctl: string | undefined;
  readonly path: string | undefined;

  constructor(message: string, details: ErrorDetails = {}, defaultCode = 'ERR_VFIO_DISPLAY') {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.code = details.code ?? defaultCode;
    this.errno = details.errno;
    this.syscall = details.syscall;
    this.ioctl = details.ioctl;
    this.path = details.path;
  }
}

/** A device, group, node or sysfs entry does not exist. */
export class NotFoundError extends VfioDisplayError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'ENOENT');
  }
}

/**
 * The kernel is removing the device (an mdev's `remove`, a driver unbind)
 * and waits for this process to let go of it.
 */
export class DeviceRemovedError extends NotFoundError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, { code: 'ERR_VFIO_DEVICE_REMOVED', ...details });
  }
}

/** The OS refused access. */
export class PermissionError extends VfioDisplayError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'EACCES');
  }
}

/** Someone else has the device (another process, QEMU). */
export class BusyError extends VfioDisplayError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'EBUSY');
  }
}

/** The device or kernel lacks a feature; the message says which. */
export class UnsupportedError extends VfioDisplayError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'ERR_VFIO_UNSUPPORTED');
  }
}

/** The caller passed something invalid (bad UUID, plane type, option). */
export class InvalidArgumentError extends VfioDisplayError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'ERR_INVALID_ARG_VALUE');
  }
}

/** The device answered with something malformed (bad capability chain, argsz). */
export class MalformedReplyError extends VfioDisplayError {
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details, 'ERR_VFIO_MALFORMED_REPLY');
  }
}

/** The object was closed before the call. */
export class ClosedError extends VfioDisplayError {
  constructor(what: string) {
    super(`${what} is closed`, {}, 'ERR_VFIO_CLOSED');
  }
}

export type HandoverFailure = 'not-started' | 'exited' | 'timeout';

const HANDOVER_CODES: Record<HandoverFailure, string> = {
  'not-started': 'ERR_VFIO_HANDOVER_NOT_STARTED',
  exited: 'ERR_VFIO_HANDOVER_EXITED',
  timeout: 'ERR_VFIO_HANDOVER_TIMEOUT',
};

/**
 * A device handed to another process (QEMU) was not bound: the process did
 * not start, exited first (with `exitCode` or `signal`), or did not bind it
 * within the time given.
 */
export class HandoverError extends VfioDisplayError {
  readonly failure: HandoverFailure;
  readonly exitCode: number | null;
  readonly signal: string | null;

  constructor(message: string, failure: HandoverFailure, exit: { code?: number | null; signal?: string | null } = {}, cause?: unknown) {
    super(message, { code: HANDOVER_CODES[failure], cause }, HANDOVER_CODES[failure]);
    this.failure = failure;
    this.exitCode = exit.code ?? null;
    this.signal = exit.signal ?? null;
  }
}

/** Any other refusal by the kernel, with its errno. */
export class KernelError extends VfioDisplayError {}

/** One object of a rejected atomic commit and the property values it set. */
export interface CommitObject {
  readonly id: number;
  /** "plane", "CRTC", "connector" or "object". */
  readonly kind: string;
  readonly properties: Readonly<Record<string, bigint>>;
}

/**
 * The kernel refused an atomic commit (or its TEST_ONLY check). `code` is
 * its errno name (EINVAL: the configuration is impossible; ERANGE: scaling
 * beyond the plane's limits; EBUSY: a previous non-blocking commit on the
 * same CRTC has not completed; ENOENT: an unknown object id); `objects` is
 * what the commit carried, also listed in the message.
 */
export class AtomicCommitError extends KernelError {
  readonly flags: readonly string[];
  readonly objects: readonly CommitObject[];

  constructor(message: string, details: ErrorDetails, flags: readonly string[], objects: readonly CommitObject[]) {
    super(message, details);
    this.flags = flags;
    this.objects = objects;
  }
}

export function isNativeSystemError(err: unknown): err is NativeSystemError {
  return err instanceof Error && typeof (err as Partial<NativeSystemError>).errno === 'number' && typeof (err as Partial<NativeSystemError>).code === 'string';
}

const PERMISSION_HINT =
  'run as root, or give your user the device: a udev rule such as SUBSYSTEM=="vfio", GROUP="kvm", MODE="0660" (and membership of that group)';

/**
 * Turns an OS error (from the addon or node:fs) into the typed error for it.
 * `what` names the operation in words, e.g. "open /dev/vfio/12".
 */
export function fromSystemError(err: unknown, what: string, extra: Omit<ErrorDetails, 'cause'> = {}): VfioDisplayError {
  if (err instanceof VfioDisplayError) return err;
  if (!isNativeSystemError(err)) {
    return new VfioDisplayError(`${what}: ${String(err)}`, { ...extra, cause: err });
  }
  const details: ErrorDetails = {
    code: err.code,
    errno: err.errno,
    syscall: err.syscall,
    ...extra,
    cause: err,
  };
  const reason = `${err.code}${extra.ioctl ? ` from ${extra.ioctl}` : ''}`;
  switch (err.code) {
    case 'ENOENT':
    case 'ENODEV':
    case 'ENXIO':
      return new NotFoundError(`${what}: no such device (${reason})`, details);
    case 'EACCES':
    case 'EPERM':
      return new PermissionError(`${what}: permission denied (${reason}); ${PERMISSION_HINT}`, details);
    case 'EBUSY':
      return new BusyError(`${what}: the device is in use by another process (${reason}), e.g. the QEMU that owns it`, details);
    case 'ESRCH':
      // i915/gvt refuses to open a vGPU from a process without its KVM (6.12: "KVM is required to use Intel vGPU").
      return new UnsupportedError(
        `${what}: the device refused to open without the VM's KVM (${reason}); for GVT-g, start QEMU through the vfio-display QEMU helper, which shares QEMU's device fd`,
        details,
      );
    default:
      return new KernelError(`${what}: ${err.message.replace(/^\S+( \S+)? failed: /, '')}`, details);
  }
}
