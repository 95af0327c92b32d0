/**
 * vfio-display: typed access to the Linux VFIO display uAPI.
 * @packageDocumentation
 */
export { io, ior, iow, iowr } from './uapi/ioctl.js';
