// Linux ioctl request encoding (include/uapi/asm-generic/ioctl.h, as used
// on x86, arm64 and riscv): dir(2) | size(14) | type(8) | nr(8).
const NRBITS = 8;
const TYPEBITS = 8;
const SIZEBITS = 14;
const NRSHIFT = 0;
const TYPESHIFT = NRSHIFT + NRBITS;
const SIZESHIFT = TYPESHIFT + TYPEBITS;
const DIRSHIFT = SIZESHIFT + SIZEBITS;

const NONE = 0;
const WRITE = 1;
const READ = 2;

function ioc(dir: number, type: number, nr: number, size: number): number {
  if (size < 0 || size >= 1 << SIZEBITS) throw new RangeError(`ioctl argument size ${size} does not fit in ${SIZEBITS} bits`);
  // `>>> 0` keeps READ|WRITE requests (bit 31 set) positive.
  return ((dir << DIRSHIFT) | (size << SIZESHIFT) | (type << TYPESHIFT) | (nr << NRSHIFT)) >>> 0;
}

/** `_IO(type, nr)`: no argument is copied by the ioctl layer itself (VFIO passes argsz-sized structs this way). */
export const io = (type: number, nr: number): number => ioc(NONE, type, nr, 0);
/** `_IOR(type, nr, size)`: the kernel writes `size` bytes. */
export const ior = (type: number, nr: number, size: number): number => ioc(READ, type, nr, size);
/** `_IOW(type, nr, size)`: the kernel reads `size` bytes. */
export const iow = (type: number, nr: number, size: number): number => ioc(WRITE, type, nr, size);
/** `_IOWR(type, nr, size)`: both. */
export const iowr = (type: number, nr: number, size: number): number => ioc(READ | WRITE, type, nr, size);
