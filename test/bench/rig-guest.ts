// What the rig benchmarks flip with: an mbochs vGPU (800x600) whose two
// buffers are drawn, the test as its guest, and vkms as the host display.
import { openMbochsGuest, type MbochsGuest } from '../lib/bochs-guest.js';
import { openVkms, type VkmsOutput } from '../lib/vkms.js';

export interface FlipRig extends Disposable {
  readonly g: MbochsGuest;
  readonly vkms: VkmsOutput;
}

/** The guest alone, for a benchmark whose host side is another process (which must be vkms's DRM master). */
export function openFlipGuest(): MbochsGuest {
  const g = openMbochsGuest();
  try {
    g.guest.draw(1);
    g.guest.draw(2, g.guest.backBufferLine());
    return g;
  } catch (err) {
    g[Symbol.dispose]();
    throw err;
  }
}

export function openFlipRig(): FlipRig {
  const g = openFlipGuest();
  try {
    const vkms = openVkms();
    return {
      g,
      vkms,
      [Symbol.dispose]: () => {
        vkms[Symbol.dispose]();
        g[Symbol.dispose]();
      },
    };
  } catch (err) {
    g[Symbol.dispose]();
    throw err;
  }
}
