// What a CRTC showed before a client took it over (mode, connectors,
// planes), to put back when the client is done: a console or compositor
// that was on the output gets its screen back instead of a dark one. The
// framebuffers are referred to by id; one its owner removed meanwhile
// leaves its plane off.
import { AtomicCommitError, VfioDisplayError } from '../errors.js';
import type { AtomicRequest } from './atomic.js';
import type { Card, CrtcState, KmsPlaneState } from './card.js';

export type RestoreResult = 'restored' | 'planes off';

export class OutputSnapshot {
  readonly #card: Card;
  readonly crtcId: number;
  readonly crtc: CrtcState;
  /** The connectors the CRTC drove. */
  readonly connectorIds: readonly number[];
  readonly planes: ReadonlyMap<number, KmsPlaneState>;

  private constructor(card: Card, crtcId: number, planeIds: readonly number[]) {
    this.#card = card;
    this.crtcId = crtcId;
    this.crtc = card.crtcState(crtcId);
    this.connectorIds = card.connectorIds.filter((id) => this.#connectorCrtc(id) === crtcId);
    this.planes = new Map(planeIds.map((id) => [id, card.planeState(id)]));
  }

  /** The state of `crtcId` and of `planeIds` (planes that can go on it) now. */
  static take(card: Card, crtcId: number, planeIds: readonly number[]): OutputSnapshot {
    return new OutputSnapshot(card, crtcId, planeIds);
  }

  #connectorCrtc(id: number): number {
    return Number(this.#card.properties.values(id).get('CRTC_ID') ?? 0n);
  }

  /**
   * Puts the snapshot back (a blocking modeset where the mode differs).
   * 'planes off' where a framebuffer it showed is gone: the mode and
   * connectors are back, the planes are off.
   */
  restore(): RestoreResult {
    const card = this.#card;
    const { active, mode } = this.crtc;
    const blob = active && mode ? card.createModeBlob(mode) : undefined;
    try {
      const request = (withPlanes: boolean): AtomicRequest => {
        const r = card.atomic().setCrtc(this.crtcId, { active: blob !== undefined, modeId: blob?.id ?? 0 });
        for (const id of card.connectorIds) {
          const want = this.connectorIds.includes(id) ? this.crtcId : 0;
          const now = this.#connectorCrtc(id);
          if (now !== want && (now === this.crtcId || want === this.crtcId)) r.setConnector(id, want);
        }
        for (const [id, state] of this.planes) {
          if (withPlanes && blob && state.fbId !== 0 && state.crtcId === this.crtcId) r.setPlane(id, state);
          else r.disablePlane(id);
        }
        return r;
      };
      try {
        card.commitBlocking(request(true), { allowModeset: true });
        return 'restored';
      } catch (err) {
        // A framebuffer removed by its owner: ENOENT from the lookup (EINVAL from some drivers' checks).
        if (!(err instanceof AtomicCommitError || (err instanceof VfioDisplayError && err.code === 'ENOENT'))) throw err;
        card.commitBlocking(request(false), { allowModeset: true });
        return 'planes off';
      }
    } finally {
      // The CRTC's state holds the mode blob's own reference.
      blob?.close();
    }
  }
}
