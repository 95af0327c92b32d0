// What a CRTC showed before a client took it over (mode, connectors,
// planes), to put back when the client is done: a console or compositor
// that was on the output gets its screen back instead of a dark one. The
// framebuffers are referred to by id; one its owner removed meanwhile
// leaves its plane off.
import { AtomicCommitError } from '../errors.js';
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
    this.connectorIds = card.connectorIds.filter((id) => card.connectorCrtc(id) === crtcId);
    this.planes = new Map(planeIds.map((id) => [id, card.planeState(id)]));
  }

  /** The state of `crtcId` and of `planeIds` (planes that can go on it) now. */
  static take(card: Card, crtcId: number, planeIds: readonly number[]): OutputSnapshot {
    return new OutputSnapshot(card, crtcId, planeIds);
  }

  /**
   * Puts the snapshot back (a blocking modeset where the mode differs).
   * 'planes off' where a framebuffer it showed is gone: the mode and
   * connectors are back, the planes are off.
   */
  restore(): RestoreResult {
    const card = this.#card;
    const { active, mode } = this.crtc;
    // Enabled (a mode) but maybe not active (blanked): both as they were.
    const blob = mode ? card.createModeBlob(mode) : undefined;
    try {
      const request = (withPlanes: boolean): AtomicRequest => {
        const r = card.atomic().setCrtc(this.crtcId, { active: active && blob !== undefined, modeId: blob?.id ?? 0 });
        for (const id of card.connectorIds) {
          const want = this.connectorIds.includes(id) ? this.crtcId : 0;
          const now = card.connectorCrtc(id);
          if (now !== want && (now === this.crtcId || want === this.crtcId)) r.setConnector(id, want);
        }
        for (const [id, state] of this.planes) {
          const shown = state.fbId !== 0 && state.crtcId !== 0 && (state.crtcId !== this.crtcId || blob !== undefined);
          if (withPlanes && shown) r.setPlane(id, state);
          else r.disablePlane(id);
        }
        return r;
      };
      try {
        card.commitBlocking(request(true), { allowModeset: true });
        return 'restored';
      } catch (err) {
        // A framebuffer its owner removed: FB_ID names nothing, and 6.12's
        // atomic check refuses the plane (EINVAL). Without the planes, then.
        if (!(err instanceof AtomicCommitError)) throw err;
        card.commitBlocking(request(false), { allowModeset: true });
        return 'planes off';
      }
    } finally {
      // The CRTC's state holds the mode blob's own reference.
      blob?.close();
    }
  }
}
