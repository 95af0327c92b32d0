// include/uapi/asm-generic/mman-common.h and linux/mman.h (Linux 6.12): the
// mmap(2) protection and sharing bits the library maps with. Checked against
// the header by test/rig/uapi-headers.
export const PROT_READ = 0x1;
export const PROT_WRITE = 0x2;
export const MAP_SHARED = 0x01;
