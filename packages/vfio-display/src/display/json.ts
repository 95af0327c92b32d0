// JSON forms of what the display layer returns, as zod codecs: one schema
// checks JSON that tools read or write, decodes it to the library's values
// (`schema().parse(json)`) and encodes values to JSON (`schema().encode(v)`).
// u64 fields become strings: JSON numbers lose integers beyond 2^53, and
// I915 modifiers lie beyond it. A modifier is "0x" and 16 hex digits, as
// drm_fourcc.h spells them; counters and times are decimal. BigInt() reads
// both forms back.
import type * as Zod from 'zod';
import { lazySchema } from '../validate.js';
import type { DisplayChange } from './changes.js';
import type { PlaneInfo } from './plane.js';

/** `T` as JSON carries it: every bigint a string (see the u64 rules above). */
export type Jsonified<T> = T extends bigint
  ? string
  : T extends readonly (infer E)[]
    ? readonly Jsonified<E>[]
    : T extends object
      ? { readonly [K in keyof T]: Jsonified<T[K]> }
      : T;

/** A PlaneInfo as JSON: `modifier` "0x0000000000000000", `flipSeq` decimal. */
export type PlaneInfoJson = Jsonified<PlaneInfo>;
/** A DisplayChange as JSON: its planes as PlaneInfoJson, `seenAt` decimal nanoseconds. */
export type DisplayChangeJson = Jsonified<DisplayChange>;

/** Zod schemas with an input (JSON) and an output (library) type. */
export type JsonCodec<T, J> = Zod.ZodType<T, J>;

const U64_MAX = (1n << 64n) - 1n;

/** The schemas, built on first use (zod is loaded then). */
const jsonParts = lazySchema((z) => {
  const u32 = z.int().min(0).max(0xffffffff);
  const u64 = z.bigint().min(0n).max(U64_MAX);
  const hexU64 = z.codec(z.string().regex(/^0x[0-9a-f]{16}$/, 'expected "0x" and 16 lower-case hex digits'), u64, {
    decode: (s) => BigInt(s),
    encode: (v) => `0x${v.toString(16).padStart(16, '0')}`,
  });
  const decU64 = z.codec(z.string().regex(/^(0|[1-9][0-9]{0,19})$/, 'expected a decimal integer'), u64, {
    decode: (s) => BigInt(s),
    encode: (v) => v.toString(),
  });
  const common = {
    type: z.enum(['primary', 'cursor']),
    drmFormat: u32,
    fourcc: z.string().regex(/^([\x20-\x7e]|\\x[0-9a-f]{2}){4}$/, 'expected a fourcc such as "XR24"'),
    modifier: hexU64,
    width: u32,
    height: u32,
    stride: u32,
    size: u32,
    x: u32,
    y: u32,
    hotspot: z.strictObject({ x: u32, y: u32 }).nullable(),
    head: u32.optional(),
    numHeads: u32.optional(),
    srcX: u32.optional(),
    srcY: u32.optional(),
    flipSeq: decU64.optional(),
  };
  const plane = z.discriminatedUnion('mode', [
    z.strictObject({ ...common, mode: z.literal('dmabuf'), dmabufId: u32 }),
    z.strictObject({ ...common, mode: z.literal('region'), regionIndex: u32 }),
  ]);
  const count = z.int().min(0);
  const change = z.strictObject({
    seq: z.int().min(1),
    source: z.enum(['event', 'timer']),
    primary: plane.nullable(),
    cursor: plane.nullable(),
    changed: z.strictObject({ primary: z.boolean(), cursor: z.boolean(), mode: z.boolean() }),
    events: z.strictObject({ primary: count, cursor: count, mode: count, any: count }).nullable(),
    seenAt: decU64,
  });
  return { plane, change };
});

/**
 * PlaneInfo <-> PlaneInfoJson. `planeInfoSchema().encode(display.query())`
 * gives what `JSON.stringify` can write; `.parse(json)` checks it and gives
 * the PlaneInfo back, bigints included.
 */
export function planeInfoSchema(): JsonCodec<PlaneInfo, PlaneInfoJson> {
  return jsonParts().plane as unknown as JsonCodec<PlaneInfo, PlaneInfoJson>;
}

/** DisplayChange <-> DisplayChangeJson, as planeInfoSchema. */
export function displayChangeSchema(): JsonCodec<DisplayChange, DisplayChangeJson> {
  return jsonParts().change as unknown as JsonCodec<DisplayChange, DisplayChangeJson>;
}
