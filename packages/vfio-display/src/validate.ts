// Validation of what callers hand in (options, requests), with zod. zod takes
// 100-170 ms to load, so it is required on first use, not at import: a
// consumer that only queries planes never pays for it.
import { createRequire } from 'node:module';
import type * as Zod from 'zod';
import { InvalidArgumentError } from './errors.js';

type Z = typeof Zod.z;
let zod: Z | undefined;
function z(): Z {
  zod ??= (createRequire(import.meta.url)('zod') as typeof Zod).z;
  return zod;
}

/** A schema built on first use. */
export function lazySchema<T>(build: (z: Z) => Zod.ZodType<T>): () => Zod.ZodType<T> {
  let schema: Zod.ZodType<T> | undefined;
  return () => (schema ??= build(z()));
}

/** Parses `value` or throws InvalidArgumentError naming `what` and every problem. */
export function parse<T>(schema: () => Zod.ZodType<T>, value: unknown, what: string): T {
  const result = schema().safeParse(value);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`).join('; ');
  throw new InvalidArgumentError(`invalid ${what}: ${problems}`, { cause: result.error });
}

export const abortSignal = (z: Z): Zod.ZodType<AbortSignal> => z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'expected an AbortSignal');
