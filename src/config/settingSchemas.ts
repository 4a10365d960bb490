import { z } from 'zod';

/** The building blocks of the settings table: its row type and the schemas settings share. */

/** true/false, 1/0, yes/no, or a boolean from the config file. */
export const bool = z
  .union([z.boolean(), z.enum(['true', 'false', '1', '0', 'yes', 'no'])])
  .transform((v) => v === true || v === 'true' || v === '1' || v === 'yes');
/** A TCP port. */
export const port = z.coerce.number().int().min(1).max(65535);
/** A whole number above zero, from text or a number. */
export const positiveInt = z.coerce.number().int().positive();

/** A comma-separated list in a variable, or a list in the config file. */
export const commaList = (v: unknown) =>
  typeof v === 'string'
    ? v
        .split(',')
        .map((t) => t.trim())
        .filter(Boolean)
    : v;

/** One row of the settings table: its variable, what it means, its default and its validation. */
export interface Setting {
  env: string;
  description: string;
  default?: string;
  secret?: boolean;
  /** An empty value counts as not set (the default applies). */
  emptyIsUnset?: boolean;
  schema: z.ZodType;
}
