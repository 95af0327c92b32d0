// Struct layouts as data, and the one codec that reads and writes them.
// Field names are the C names, so the header test can check them with
// offsetof(); u64 fields are bigint, the rest number. Little-endian only
// (x86-64, arm64, riscv64 are what VFIO display devices live on).

export type FieldType = 'u8' | 'u16' | 'u32' | 's32' | 'u64';

export interface Field<T extends FieldType = FieldType> {
  readonly offset: number;
  readonly type: T;
}

export type Fields = Readonly<Record<string, Field>>;

export interface Layout<F extends Fields = Fields> {
  /** The C struct name, e.g. "vfio_region_info". */
  readonly name: string;
  /** sizeof() of the C struct. */
  readonly size: number;
  readonly fields: F;
}

export type Value<T extends FieldType> = T extends 'u64' ? bigint : number;
export type Decoded<F extends Fields> = { -readonly [K in keyof F]: Value<F[K]['type']> };

export const u8 = (offset: number): Field<'u8'> => ({ offset, type: 'u8' });
export const u16 = (offset: number): Field<'u16'> => ({ offset, type: 'u16' });
export const u32 = (offset: number): Field<'u32'> => ({ offset, type: 'u32' });
export const s32 = (offset: number): Field<'s32'> => ({ offset, type: 's32' });
export const u64 = (offset: number): Field<'u64'> => ({ offset, type: 'u64' });

const WIDTH: Record<FieldType, number> = { u8: 1, u16: 2, u32: 4, s32: 4, u64: 8 };

export function layout<const F extends Fields>(name: string, size: number, fields: F): Layout<F> {
  for (const [field, { offset, type }] of Object.entries(fields)) {
    if (offset % WIDTH[type] !== 0 || offset + WIDTH[type] > size) {
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
    default:
      view.setBigUint64(at, value as bigint, true);
  }
}

/** Reads every field of `layout` at `base`; throws RangeError if the bytes are too short. */
export function decode<F extends Fields>(layout: Layout<F>, view: DataView, base = 0): Decoded<F> {
  if (base < 0 || base + layout.size > view.byteLength) {
    throw new RangeError(`${layout.name}: needs ${layout.size} bytes at ${base}, have ${view.byteLength}`);
  }
  const out: Record<string, number | bigint> = {};
  for (const [name, field] of Object.entries(layout.fields)) out[name] = readField(view, field, base);
  return out as Decoded<F>;
}

/** A zeroed buffer of `size` (default: the layout's) with the given fields written. */
export function encode<F extends Fields>(layout: Layout<F>, values: Partial<Decoded<F>>, size = layout.size): Uint8Array {
  const bytes = new Uint8Array(size);
  const view = viewOf(bytes);
  for (const [name, value] of Object.entries(values) as [keyof F & string, number | bigint][]) {
    writeField(view, layout.fields[name] as Field, value, 0);
  }
  return bytes;
}
