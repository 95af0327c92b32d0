// Writeback: what a CRTC scans out, written into a framebuffer by the
// driver (vkms has a writeback connector), for tests and screenshots. The
// request sets the connector's CRTC_ID, WRITEBACK_FB_ID and
// WRITEBACK_OUT_FENCE_PTR; the kernel writes a sync_file fd through that
// pointer, and the pixels are there once it signals.
import type { WaitOptions } from '../wait.js';
import type { AtomicRequest, OutFence } from './atomic.js';
import type { DumbBuffer } from './framebuffer.js';

/** Adds a writeback job to `request`: connector `connectorId` on `crtcId`, writing into framebuffer `fbId`. */
export function attachWriteback(request: AtomicRequest, connectorId: number, crtcId: number, fbId: number): OutFence {
  request.setConnector(connectorId, crtcId).set(connectorId, 'WRITEBACK_FB_ID', fbId);
  return request.outFence(connectorId, 'WRITEBACK_OUT_FENCE_PTR');
}

/** A writeback connector with a capture buffer the size of the CRTC's mode. */
export class WritebackCapture implements Disposable {
  readonly connectorId: number;
  readonly buffer: DumbBuffer;

  constructor(connectorId: number, buffer: DumbBuffer) {
    this.connectorId = connectorId;
    this.buffer = buffer;
  }

  /** Adds this capture to `request` (the connector goes on `crtcId`); commit it, then read(). */
  attach(request: AtomicRequest, crtcId: number): OutFence {
    return attachWriteback(request, this.connectorId, crtcId, this.buffer.framebuffer.id);
  }

  /** Waits for the fence of a committed capture, then returns the pixels, rows packed (width x bytes per pixel). */
  async read(fence: OutFence, options?: WaitOptions): Promise<Uint8Array> {
    await fence.wait(options);
    return this.buffer.read();
  }

  close(): void {
    this.buffer.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
