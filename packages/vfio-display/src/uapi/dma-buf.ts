// include/uapi/linux/dma-buf.h (Linux 6.12): CPU access brackets for a mapped
// dma-buf. Checked against the header by test/rig/uapi-headers.
import { layout, u64 } from './codec.js';
import { iow } from './ioctl.js';

export const DMA_BUF_SYNC_READ = 1 << 0;
export const DMA_BUF_SYNC_WRITE = 2 << 0;
export const DMA_BUF_SYNC_RW = DMA_BUF_SYNC_READ | DMA_BUF_SYNC_WRITE;
export const DMA_BUF_SYNC_START = 0 << 2;
export const DMA_BUF_SYNC_END = 1 << 2;
export const DMA_BUF_BASE = 0x62; // 'b'

export const dma_buf_sync = layout('dma_buf_sync', 8, { flags: u64(0) });
export const DMA_BUF_IOCTL_SYNC = iow(DMA_BUF_BASE, 0, dma_buf_sync.size);
