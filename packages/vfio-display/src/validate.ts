// Validation of what callers hand in (options, requests), with zod. zod takes
// 100-170 ms to load, so it is required on first use, not at import: a
// consumer that only queries planes never pays for it.
import { createRequire } from 'node:module';
import type * as Zod from 'zod';
import { InvalidArgumentError } from './errors.js';

export type Z = typeof Zod.z;
let zod: Z | undefined;
function z(): Z {
  zod ??= (createRequire(import.meta.url)('zod') as typeof Zod).z;
  return zod;
}

/** A schema (or a set of them) built on first use. */
export function lazySchema<S>(build: (z: Z) => S): () => S {
  let schema: S | undefined;
  return () => (schema ??= build(z()));
}

/** Parses `value` or throws InvalidArgumentError naming `what` and every problem. */
export function parse<T>(schema: () => Zod.ZodType<T>, value: unknown, what: string): T {
  const result = schema().safeParse(value);
  if (result.success) return result.data;
  throw new InvalidArgumentError(`invalid ${what}: ${describeIssues(result.error)}`, { cause: result.error });
}

/** A zod error's problems on one line; `name` says how a path is written (default: dotted). */
export function describeIssues(error: Zod.ZodError, name: (path: readonly PropertyKey[]) => string = (path) => path.map(String).join('.')): string {
  return error.issues.map((i) => `${i.path.length ? `${name(i.path)}: ` : ''}${i.message}`).join('; ');
}

export const abortSignal = (z: Z): Zod.ZodType<AbortSignal> => z.custom<AbortSignal>((v) => v instanceof AbortSignal, 'expected an AbortSignal');
