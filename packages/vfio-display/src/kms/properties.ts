// KMS properties: what each property is (cached per property id), which
// properties an object has (cached per object: name -> id, for building
// atomic requests), their current values, enum/bitmask names, and property
// blobs (read, create, destroy), including the IN_FORMATS blob of planes.
import { InvalidArgumentError, MalformedReplyError } from '../errors.js';
import { decode, encode, readField, viewOf, type Decoded } from '../uapi/codec.js';
import * as d from '../uapi/drm.js';
import { FileResource, type DrmFile } from './drm-file.js';

export type PropertyKind = 'range' | 'signed-range' | 'enum' | 'bitmask' | 'blob' | 'object';

export interface PropertyInfo {
  readonly id: number;
  readonly name: string;
  readonly kind: PropertyKind;
  /** Userspace cannot set it (IN_FORMATS, type, ...). */
  readonly immutable: boolean;
  /** Only visible to atomic clients (CRTC_ID, FB_ID, ...). */
  readonly atomic: boolean;
  /** range and signed-range: [min, max] (signed ones as two's complement u64); object: [object type]. */
  readonly values: readonly bigint[];
  /** enum: name -> value; bitmask: name -> bit number. */
  readonly enums: ReadonlyMap<string, bigint>;
}

/** The kind encoded in a property's flags: a legacy type bit or an extended type. */
export function propertyKind(flags: number): PropertyKind {
  switch (flags & d.DRM_MODE_PROP_EXTENDED_TYPE) {
    case d.DRM_MODE_PROP_OBJECT:
      return 'object';
    case d.DRM_MODE_PROP_SIGNED_RANGE:
      return 'signed-range';
    case 0:
      break;
    default:
      throw new MalformedReplyError(`unknown extended property type in flags 0x${flags.toString(16)}`);
  }
  switch (flags & d.DRM_MODE_PROP_LEGACY_TYPE) {
    case d.DRM_MODE_PROP_RANGE:
      return 'range';
    case d.DRM_MODE_PROP_ENUM:
      return 'enum';
    case d.DRM_MODE_PROP_BITMASK:
      return 'bitmask';
    case d.DRM_MODE_PROP_BLOB:
      return 'blob';
    default:
      throw new MalformedReplyError(`no single property type in flags 0x${flags.toString(16)}`);
  }
}

/** The enum name of `value`, or undefined for a value the property does not list. */
export function enumName(info: PropertyInfo, value: bigint): string | undefined {
  for (const [name, v] of info.enums) if (v === value) return name;
  return undefined;
}

/** The names of the bits set in a bitmask property's `value`. */
export function bitmaskNames(info: PropertyInfo, value: bigint): string[] {
  return [...info.enums].filter(([, bit]) => (value >> bit) & 1n).map(([name]) => name);
}

/** A property's value as a signed number where the property is signed (CRTC_X, CRTC_Y). */
export function signedValue(info: PropertyInfo, value: bigint): bigint {
  return info.kind === 'signed-range' ? BigInt.asIntN(64, value) : value;
}

/** IN_FORMATS: for each format of the plane, the modifiers it supports. */
export function decodeInFormats(blob: Uint8Array): Map<number, bigint[]> {
  if (blob.length < d.drm_format_modifier_blob.size) throw new MalformedReplyError(`IN_FORMATS blob of ${blob.length} bytes: shorter than its ${d.drm_format_modifier_blob.size}-byte header`);
  const view = viewOf(blob);
  const head = decode(d.drm_format_modifier_blob, view);
  if (head.version !== d.FORMAT_BLOB_CURRENT) throw new MalformedReplyError(`IN_FORMATS blob version ${head.version}, expected ${d.FORMAT_BLOB_CURRENT}`);
  const formatsEnd = head.formats_offset + 4 * head.count_formats;
  const modsEnd = head.modifiers_offset + d.drm_format_modifier.size * head.count_modifiers;
  if (formatsEnd > blob.length || modsEnd > blob.length || head.formats_offset % 4 !== 0 || head.modifiers_offset % 8 !== 0) {
    throw new MalformedReplyError(`IN_FORMATS blob of ${blob.length} bytes: formats or modifiers out of range`);
  }
  const formats: number[] = [];
  for (let i = 0; i < head.count_formats; i++) formats.push(view.getUint32(head.formats_offset + 4 * i, true));
  const out = new Map<number, bigint[]>(formats.map((f) => [f, []]));
  for (let i = 0; i < head.count_modifiers; i++) {
    const m = decode(d.drm_format_modifier, view, head.modifiers_offset + d.drm_format_modifier.size * i);
    // Each entry covers 64 formats starting at `offset`.
    for (let bit = 0; bit < 64; bit++) {
      if (!((m.formats >> BigInt(bit)) & 1n)) continue;
      const format = formats[m.offset + bit];
      if (format === undefined) throw new MalformedReplyError(`IN_FORMATS modifier 0x${m.modifier.toString(16)} names format #${m.offset + bit} of ${formats.length}`);
      const mods = out.get(format);
      // A format listed twice (a malformed blob) still gets each modifier once.
      if (mods && !mods.includes(m.modifier)) mods.push(m.modifier);
    }
  }
  return out;
}

/** A property blob this card created; destroyed on close() (the kernel keeps it while a commit uses it). */
export class PropertyBlob extends FileResource {
  readonly id: number;

  constructor(file: DrmFile, id: number) {
    super(file);
    this.id = id;
  }

  protected destroy(fileOpen: boolean): void {
    if (!fileOpen) return;
    this.file.ioctl(d.DRM_IOCTL_MODE_DESTROYPROPBLOB, encode(d.drm_mode_destroy_blob, { blob_id: this.id }), 'DRM_IOCTL_MODE_DESTROYPROPBLOB', `destroy property blob ${this.id}`);
  }
}

/** A counted array the kernel fills: call with the counts, grow, call again until they fit. */
function fetchCounted(fetch: (capacity: number) => number): number {
  let capacity = 0;
  for (let attempt = 0; attempt < 8; attempt++) {
    const needed = fetch(capacity);
    if (needed <= capacity) return needed;
    capacity = needed;
  }
  throw new MalformedReplyError('a KMS object list kept growing while it was read');
}

const objectNames: Record<number, string> = {
  [d.DRM_MODE_OBJECT_CRTC]: 'CRTC',
  [d.DRM_MODE_OBJECT_CONNECTOR]: 'connector',
  [d.DRM_MODE_OBJECT_PLANE]: 'plane',
};

/** The properties of a card's objects. One per Card. */
export class Properties {
  readonly #file: DrmFile;
  readonly #info = new Map<number, PropertyInfo>();
  readonly #byObject = new Map<number, ReadonlyMap<string, number>>();

  constructor(file: DrmFile) {
    this.#file = file;
  }

  /** What property `id` is (cached). */
  info(id: number): PropertyInfo {
    const cached = this.#info.get(id);
    if (cached) return cached;
    const arg = encode(d.drm_mode_get_property, { prop_id: id });
    let values = new BigUint64Array(0);
    let enums = new Uint8Array(0);
    const fetch = (): Decoded<typeof d.drm_mode_get_property.fields> => {
      this.#file.ioctl(d.DRM_IOCTL_MODE_GETPROPERTY, arg, 'DRM_IOCTL_MODE_GETPROPERTY', `get property ${id}`, [
        [arg, d.drm_mode_get_property.fields.values_ptr.offset, new Uint8Array(values.buffer)],
        [arg, d.drm_mode_get_property.fields.enum_blob_ptr.offset, enums],
      ]);
      return decode(d.drm_mode_get_property, viewOf(arg));
    };
    let reply = fetch();
    for (let attempt = 0; reply.count_values > values.length || reply.count_enum_blobs * d.drm_mode_property_enum.size > enums.length; attempt++) {
      if (attempt === 8) throw new MalformedReplyError(`property ${id}: its value list kept growing while it was read`);
      values = new BigUint64Array(reply.count_values);
      enums = new Uint8Array(reply.count_enum_blobs * d.drm_mode_property_enum.size);
      reply = fetch();
    }
    const kind = propertyKind(reply.flags);
    const enumView = viewOf(enums);
    const enumMap = new Map<string, bigint>();
    // Blob properties report their blob ids through the enum array (legacy); only enums and bitmasks have names.
    if (kind === 'enum' || kind === 'bitmask') {
      for (let i = 0; i < reply.count_enum_blobs; i++) {
        const e = decode(d.drm_mode_property_enum, enumView, i * d.drm_mode_property_enum.size);
        enumMap.set(e.name, e.value);
      }
    }
    const info: PropertyInfo = {
      id,
      name: reply.name,
      kind,
      immutable: (reply.flags & d.DRM_MODE_PROP_IMMUTABLE) !== 0,
      atomic: (reply.flags & d.DRM_MODE_PROP_ATOMIC) !== 0,
      values: kind === 'enum' || kind === 'bitmask' ? [] : [...values.subarray(0, reply.count_values)],
      enums: enumMap,
    };
    this.#info.set(id, info);
    return info;
  }

  /** The current values of every property of an object, by name (ids are cached as a side effect). */
  values(objectId: number): Map<string, bigint> {
    const arg = encode(d.drm_mode_obj_get_properties, { obj_id: objectId, obj_type: d.DRM_MODE_OBJECT_ANY });
    let ids = new Uint32Array(0);
    let vals = new BigUint64Array(0);
    const count = fetchCounted((capacity) => {
      ids = new Uint32Array(capacity);
      vals = new BigUint64Array(capacity);
      arg.set(encode(d.drm_mode_obj_get_properties, { obj_id: objectId, obj_type: d.DRM_MODE_OBJECT_ANY, count_props: capacity }));
      this.#file.ioctl(d.DRM_IOCTL_MODE_OBJ_GETPROPERTIES, arg, 'DRM_IOCTL_MODE_OBJ_GETPROPERTIES', `get the properties of object ${objectId}`, [
        [arg, d.drm_mode_obj_get_properties.fields.props_ptr.offset, new Uint8Array(ids.buffer)],
        [arg, d.drm_mode_obj_get_properties.fields.prop_values_ptr.offset, new Uint8Array(vals.buffer)],
      ]);
      return readField(viewOf(arg), d.drm_mode_obj_get_properties.fields.count_props);
    });
    const out = new Map<string, bigint>();
    const names = new Map<string, number>();
    for (let i = 0; i < count; i++) {
      const info = this.info(ids[i] ?? 0);
      out.set(info.name, vals[i] ?? 0n);
      names.set(info.name, info.id);
    }
    this.#byObject.set(objectId, names);
    return out;
  }

  /** Property name -> id of an object (cached after the first call). */
  ids(objectId: number): ReadonlyMap<string, number> {
    const cached = this.#byObject.get(objectId);
    if (cached) return cached;
    this.values(objectId);
    return this.#byObject.get(objectId) ?? new Map<string, number>();
  }

  /** The id of `name` on the object; InvalidArgumentError, listing what it has, if it has none. */
  id(objectId: number, name: string, objectType?: number): number {
    const id = this.ids(objectId).get(name);
    if (id === undefined) {
      const what = objectType === undefined ? 'object' : (objectNames[objectType] ?? 'object');
      throw new InvalidArgumentError(`${what} ${objectId} has no property ${name} (it has ${[...this.ids(objectId).keys()].join(', ') || 'none'})`);
    }
    return id;
  }

  /** The current value of one property of an object. */
  get(objectId: number, name: string): bigint {
    const value = this.values(objectId).get(name);
    if (value === undefined) this.id(objectId, name);
    return value ?? 0n;
  }

  /** The bytes of blob `id` (GETPROPBLOB). */
  blob(id: number): Uint8Array {
    const arg = encode(d.drm_mode_get_blob, { blob_id: id });
    let data = new Uint8Array(0);
    const length = fetchCounted((capacity) => {
      data = new Uint8Array(capacity);
      arg.set(encode(d.drm_mode_get_blob, { blob_id: id, length: capacity }));
      this.#file.ioctl(d.DRM_IOCTL_MODE_GETPROPBLOB, arg, 'DRM_IOCTL_MODE_GETPROPBLOB', `read property blob ${id}`, [
        [arg, d.drm_mode_get_blob.fields.data.offset, data],
      ]);
      return readField(viewOf(arg), d.drm_mode_get_blob.fields.length);
    });
    return data.subarray(0, length);
  }

  /** A new blob holding `bytes` (e.g. a mode for MODE_ID), owned by the card. */
  createBlob(bytes: Uint8Array): PropertyBlob {
    const arg = encode(d.drm_mode_create_blob, { length: bytes.length });
    this.#file.ioctl(d.DRM_IOCTL_MODE_CREATEPROPBLOB, arg, 'DRM_IOCTL_MODE_CREATEPROPBLOB', `create a property blob of ${bytes.length} bytes`, [
      [arg, d.drm_mode_create_blob.fields.data.offset, bytes],
    ]);
    return this.#file.own(new PropertyBlob(this.#file, readField(viewOf(arg), d.drm_mode_create_blob.fields.blob_id)));
  }
}
