// The GVT-g hardware tier's configuration, from the environment. The tier
// runs on a host with an Intel GPU in GVT-g mode when VFIO_DISPLAY_GVT_MDEV
// names a vGPU; anywhere else it reports itself skipped with this reason.
import { z } from 'zod';

export const SKIP_REASON =
  'no GVT-g vGPU named: set VFIO_DISPLAY_GVT_MDEV=<vGPU uuid> and VFIO_DISPLAY_GVT_IMAGE=<guest disk image> on a GVT-g host (README: "On GVT-g hardware")';

export interface GvtConfig {
  /** The vGPU (an mdev of the i915 parent). */
  readonly mdev: string;
  /** A disk image of a guest whose i915 driver sets a mode on boot (a console is enough). */
  readonly image: string;
  readonly qemu: string;
  /** Guest memory, as QEMU's -m takes it. */
  readonly memory: string;
  /** The host card to flip onto; null: the vGPU's parent GPU. */
  readonly card: string | null;
  /** More QEMU arguments (whitespace-separated in the environment). */
  readonly qemuArgs: readonly string[];
  /** How long the guest may take to show its first plane. */
  readonly bootTimeoutMs: number;
}

const schema = z.object({
  VFIO_DISPLAY_GVT_MDEV: z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, 'VFIO_DISPLAY_GVT_MDEV must be a vGPU UUID'),
  VFIO_DISPLAY_GVT_IMAGE: z.string({ error: 'VFIO_DISPLAY_GVT_IMAGE must name the guest disk image' }).min(1, 'VFIO_DISPLAY_GVT_IMAGE must name the guest disk image'),
  VFIO_DISPLAY_GVT_QEMU: z.string().min(1).default('qemu-system-x86_64'),
  VFIO_DISPLAY_GVT_MEMORY: z.string().regex(/^\d+[MG]$/, 'VFIO_DISPLAY_GVT_MEMORY is a size such as 2G or 1536M').default('2G'),
  VFIO_DISPLAY_GVT_CARD: z.string().regex(/^\/dev\/dri\/card\d+$/, 'VFIO_DISPLAY_GVT_CARD is a DRM card node such as /dev/dri/card0').optional(),
  VFIO_DISPLAY_GVT_QEMU_ARGS: z.string().default(''),
  VFIO_DISPLAY_GVT_BOOT_TIMEOUT: z.coerce.number().int().positive('VFIO_DISPLAY_GVT_BOOT_TIMEOUT is seconds').max(3600).default(180),
});

/** The tier's configuration, the reason it is skipped, or (for a named vGPU with bad settings) an Error saying what is wrong. */
export function gvtConfig(env: NodeJS.ProcessEnv = process.env): { config: GvtConfig } | { skip: string } {
  if (!env.VFIO_DISPLAY_GVT_MDEV) return { skip: SKIP_REASON };
  const r = schema.safeParse(env);
  if (!r.success) throw new Error(`GVT-g hardware tier: ${r.error.issues.map((i) => i.message).join('; ')}`);
  const e = r.data;
  return {
    config: {
      mdev: e.VFIO_DISPLAY_GVT_MDEV.toLowerCase(),
      image: e.VFIO_DISPLAY_GVT_IMAGE,
      qemu: e.VFIO_DISPLAY_GVT_QEMU,
      memory: e.VFIO_DISPLAY_GVT_MEMORY,
      card: e.VFIO_DISPLAY_GVT_CARD ?? null,
      qemuArgs: e.VFIO_DISPLAY_GVT_QEMU_ARGS.split(/\s+/).filter(Boolean),
      bootTimeoutMs: e.VFIO_DISPLAY_GVT_BOOT_TIMEOUT * 1000,
    },
  };
}

/**
 * QEMU's arguments for the guest after the vGPU hand-over's own: KVM (GVT-g
 * needs the VM's KVM), the guest disk as a throw-away snapshot, no emulated
 * display, the serial console on stdio. x-igd-opregion gives the guest's
 * i915 the OpRegion it looks for on an Intel GPU.
 */
export function gvtQemuArgs(config: GvtConfig, handoverArgs: readonly string[]): string[] {
  return [
    ...handoverArgs,
    '-global', 'vfio-pci.x-igd-opregion=on',
    '-machine', 'q35', '-accel', 'kvm', '-cpu', 'host', '-smp', '2', '-m', config.memory,
    '-nodefaults', '-no-user-config', '-vga', 'none', '-display', 'none', '-serial', 'stdio',
    '-drive', `file=${config.image},if=virtio,snapshot=on`,
    ...config.qemuArgs,
  ];
}
