// Struct layouts as data, and the one codec that reads and writes them.
// Field names are the C names, so the header test can check them with
// offsetof() (array elements as "handles[0]", members of a nested struct as
// "base.type"); u64 fields are bigint, char arrays string, embedded structs
// raw bytes, the rest number. Little-endian only (x86-64, arm64, riscv64 are
// what VFIO display devices live on).

export type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'u64' | 'chars' | 'bytes';

export interface Field<T extends FieldType = FieldType> {
  readonly offset: number;
  readonly type: T;
  /** sizeof() of the member. */
  readonly length: number;
}

export type Fields = Readonly<Record<string, Field>>;

export interface Layout<F extends Fields = Fields> {
  /** The C struct name, e.g. "vfio_region_info". */
  readonly name: string;
  /** sizeof() of the C struct. */
  readonly size: number;
  readonly fields: F;
}

export type Value<T extends FieldType> = T extends 'u64' ? bigint : T extends 'chars' ? string : T extends 'bytes' ? Uint8Array : number;
export type Decoded<F extends Fields> = { -readonly [K in keyof F]: Value<F[K]['type']> };

export const u8 = (offset: number): Field<'u8'> => ({ offset, type: 'u8', length: 1 });
export const u16 = (offset: number): Field<'u16'> => ({ offset, type: 'u16', length: 2 });
export const u32 = (offset: number): Field<'u32'> => ({ offset, type: 'u32', length: 4 });
export const s32 = (offset: number): Field<'s32'> => ({ offset, type: 's32', length: 4 });
export const u64 = (offset: number): Field<'u64'> => ({ offset, type: 'u64', length: 8 });
/** `char name[length]`: a NUL-terminated string (NUL-padded when written). */
export const chars = (offset: number, length: number): Field<'chars'> => ({ offset, type: 'chars', length });
/** An embedded struct, as its raw bytes (decode it with its own layout). */
export const bytes = (offset: number, length: number): Field<'bytes'> => ({ offset, type: 'bytes', length });

/** Scalars are naturally aligned; char arrays and embedded structs are checked for size only. */
const ALIGN: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8, chars: 1, bytes: 1 };

export function layout<const F extends Fields>(name: string, size: number, fields: F): Layout<F> {
  for (const [field, { offset, type, length }] of Object.entries(fields)) {
    if (offset % ALIGN[type] !== 0 || offset + length > size) {
      throw new Error(`${name}.${field}: ${type} at offset ${offset} is misaligned or beyond ${size} bytes`);
    }
  }
  return { name, size, fields };
}

/** A DataView over exactly the bytes of `bytes` (which may be a view into a larger buffer). */
export function viewOf(bytes: Uint8Array): DataView {
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

export function readField<T extends FieldType>(view: DataView, field: Field<T>, base = 0): Value<T> {
  const at = base + field.offset;
  switch (field.type) {
    case 'u8':
      return view.getUint8(at) as Value<T>;
    case 'u16':
      return view.getUint16(at, true) as Value<T>;
    case 'u32':
      return view.getUint32(at, true) as Value<T>;
    case 's32':
      return view.getInt32(at, true) as Value<T>;
    case 'chars': {
      const raw = new Uint8Array(view.buffer, view.byteOffset + at, field.length);
      const end = raw.indexOf(0);
      return Buffer.from(raw.subarray(0, end < 0 ? raw.length : end)).toString('latin1') as Value<T>;
    }
    case 'bytes':
      return new Uint8Array(view.buffer, view.byteOffset + at, field.length).slice() as Value<T>;
    default:
      return view.getBigUint64(at, true) as Value<T>;
  }
}

export function writeField<T extends FieldType>(view: DataView, field: Field<T>, value: Value<T>, base = 0): void {
  const at = base + field.offset;
  switch (field.type) {
    case 'u8':
      view.setUint8(at, value as number);
      break;
    case 'u16':
      view.setUint16(at, value as number, true);
      break;
    case 'u32':
      view.setUint32(at, value as number, true);
      break;
    case 's32':
      view.setInt32(at, value as number, true);
      break;
    case 'chars': {
      const text = Buffer.from(value as string, 'latin1');
      if (text.length > field.length) throw new RangeError(`"${value as string}" does not fit in char[${field.length}]`);
      const raw = new Uint8Array(view.buffer, view.byteOffset + at, field.length);
      raw.fill(0);
      raw.set(text);
      break;
    }
    case 'bytes': {
      const src = value as Uint8Array;
      if (src.length !== field.length) throw new RangeError(`expected ${field.length} bytes, got ${src.length}`);
      new Uint8Array(view.buffer, view.byteOffset + at, field.length).set(src);
      break;
    }
    default:
      view.setBigUint64(at, value as bigint, true);
  }
}

/** Reads every field of `layout` at `base`; throws RangeError if the bytes are too short. */
export function decode<F extends Fields>(layout: Layout<F>, view: DataView, base = 0): Decoded<F> {
  if (base < 0 || base + layout.size > view.byteLength) {
    throw new RangeError(`${layout.name}: needs ${layout.size} bytes at ${base}, have ${view.byteLength}`);
  }
  const out: Record<string, Value<FieldType>> = {};
  for (const [name, field] of Object.entries(layout.fields)) out[name] = readField(view, field, base);
  return out as Decoded<F>;
}

/** A zeroed buffer of `size` (default: the layout's) with the given fields written. */
export function encode<F extends Fields>(layout: Layout<F>, values: Partial<Decoded<F>>, size = layout.size): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = viewOf(bytes);
  for (const [name, value] of Object.entries(values) as [keyof F & string, Value<FieldType>][]) {
    writeField(view, layout.fields[name] as Field, value, 0);
  }
  return bytes;
}
