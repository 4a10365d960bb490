import avro from 'avsc';

/**
 * Avro logical types as Sluice uses them in JavaScript.
 *
 * - `decimal` (on `bytes` or `fixed`) ↔ a string with exactly `scale` decimal places
 *   ("12.30", "-0.05", "0.00"). Encoded as the two's-complement big-endian unscaled integer,
 *   computed with BigInt so no float ever touches money. A value with more fractional digits than
 *   `scale`, or more digits than `precision`, is rejected: `type.isValid` is false, `toBuffer`
 *   throws, and decoding such bytes throws (the serde turns that into SERDE_INVALID_DATA).
 *   Accepted inputs are strings `-?\d+(\.\d+)?`; fewer fractional digits are padded ("12.3" is
 *   written as 12.30 and reads back as "12.30"). JS numbers are refused on purpose.
 * - `timestamp-millis` is deliberately NOT registered: it stays a plain number of epoch
 *   milliseconds (no Date objects). Other unregistered logical types (e.g. `uuid`) likewise decode
 *   as their underlying type.
 *
 * A decimal schema with invalid attributes (no precision, scale > precision) falls back to its
 * underlying type, as the Avro specification requires.
 */

type SchemaAttrs = Record<string, unknown>;

const DECIMAL_PATTERN = /^(-)?(\d+)(?:\.(\d+))?$/;

/** Minimal two's-complement big-endian bytes of `n` (0 is one zero byte, as Java's BigInteger). */
export function bigIntToTwosComplement(n: bigint): Buffer {
  const magnitude = n < 0n ? -n - 1n : n;
  const bits = magnitude === 0n ? 1 : magnitude.toString(2).length + 1; // + sign bit
  const len = Math.ceil(bits / 8);
  return Buffer.from(
    BigInt.asUintN(len * 8, n)
      .toString(16)
      .padStart(len * 2, '0'),
    'hex',
  );
}

/** Reads a two's-complement big-endian integer of any length. */
export function twosComplementToBigInt(buf: Buffer): bigint {
  if (buf.length === 0) throw new Error('decimal: empty byte string');
  const unsigned = BigInt(`0x${buf.toString('hex')}`);
  return (buf[0] & 0x80) !== 0 ? unsigned - (1n << BigInt(buf.length * 8)) : unsigned;
}

export class DecimalType extends avro.types.LogicalType {
  readonly precision: number;
  readonly scale: number;
  /** 10^precision: every unscaled value must be strictly smaller in magnitude. */
  private readonly limit: bigint;
  /** Largest byte string a valid value can need (fixed: its size); longer input is refused before BigInt work. */
  private readonly maxBytes: number;

  constructor(schema: avro.Schema, opts?: unknown) {
    super(schema, opts);
    const attrs = schema as unknown as SchemaAttrs;
    const precision = attrs.precision;
    const scale = attrs.scale ?? 0;
    if (typeof precision !== 'number' || !Number.isInteger(precision) || precision < 1) {
      throw new Error(`decimal: invalid precision ${JSON.stringify(precision)}`);
    }
    if (typeof scale !== 'number' || !Number.isInteger(scale) || scale < 0 || scale > precision) {
      throw new Error(`decimal: invalid scale ${JSON.stringify(scale)} for precision ${precision}`);
    }
    const underlying = this.underlyingType as avro.Type & { size?: number };
    const kind = underlying.typeName;
    if (kind !== 'bytes' && kind !== 'fixed')
      throw new Error(`decimal: underlying type must be bytes or fixed, not ${kind}`);
    this.precision = precision;
    this.scale = scale;
    this.limit = 10n ** BigInt(precision);
    const needed = bigIntToTwosComplement(-this.limit).length;
    if (kind === 'fixed') {
      if ((underlying.size ?? 0) < bigIntToTwosComplement(this.limit - 1n).length) {
        throw new Error(`decimal: fixed size ${underlying.size} cannot hold precision ${precision}`);
      }
      this.maxBytes = underlying.size!;
    } else {
      // Allow some sign-extension padding from writers that do not trim their output.
      this.maxBytes = needed + 16;
    }
  }

  /** Unscaled integer of a decimal string; throws when it does not fit scale or precision. */
  parse(value: unknown): bigint {
    if (typeof value !== 'string') throw new Error(`decimal: expected a string, got ${typeof value}`);
    const m = DECIMAL_PATTERN.exec(value);
    if (!m) throw new Error(`decimal: not a decimal number: ${JSON.stringify(value)}`);
    const [, sign, int, frac = ''] = m;
    if (frac.length > this.scale) throw new Error(`decimal: ${value} has more than ${this.scale} fractional digits`);
    const magnitude = BigInt(int + frac.padEnd(this.scale, '0'));
    this.checkRange(magnitude);
    return sign ? -magnitude : magnitude;
  }

  /** Decimal string with exactly `scale` fractional digits for an unscaled integer. */
  format(unscaled: bigint): string {
    this.checkRange(unscaled < 0n ? -unscaled : unscaled);
    const negative = unscaled < 0n;
    const digits = (negative ? -unscaled : unscaled).toString().padStart(this.scale + 1, '0');
    const body = this.scale === 0 ? digits : `${digits.slice(0, -this.scale)}.${digits.slice(-this.scale)}`;
    return negative ? `-${body}` : body;
  }

  private checkRange(magnitude: bigint): void {
    if (magnitude >= this.limit) throw new Error(`decimal: more than ${this.precision} digits`);
  }

  private toBytes(unscaled: bigint): Buffer {
    const minimal = bigIntToTwosComplement(unscaled);
    const size = (this.underlyingType as avro.Type & { size?: number }).size;
    if (this.underlyingType.typeName !== 'fixed' || size === undefined) return minimal;
    const out = Buffer.alloc(size, unscaled < 0n ? 0xff : 0x00); // sign extension
    minimal.copy(out, size - minimal.length);
    return out;
  }

  protected override _fromValue(val: unknown): string {
    if (!Buffer.isBuffer(val)) throw new Error('decimal: expected bytes');
    if (val.length > this.maxBytes)
      throw new Error(`decimal: ${val.length} bytes is too long for precision ${this.precision}`);
    return this.format(twosComplementToBigInt(val));
  }

  protected override _toValue(any: unknown): Buffer {
    // Not a string (null, when avsc tries the decimal branch of a nullable union first): answer
    // "not mine" without the cost of an exception; avsc treats undefined as invalid.
    if (typeof any !== 'string') return undefined as unknown as Buffer;
    return this.toBytes(this.parse(any));
  }

  /** Reads decimals written with the same scale (any precision; checked on read) or as plain bytes. */
  protected override _resolve(type: avro.Type): ((val: unknown) => string) | undefined {
    if (type instanceof DecimalType) {
      if (type.scale !== this.scale) return undefined;
      return (val) => this.format(type.parse(val));
    }
    if (type.typeName === this.underlyingType.typeName) return (val) => this._fromValue(val);
    return undefined;
  }

  protected override _export(schema: avro.Schema): void {
    const attrs = schema as unknown as SchemaAttrs;
    attrs.precision = this.precision;
    attrs.scale = this.scale;
  }

  override compare(a: unknown, b: unknown): number {
    const x = this.parse(a);
    const y = this.parse(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }

  override random(): any {
    const digits = Math.max(1, Math.floor(Math.random() * this.precision) + 1);
    let s = '';
    for (let i = 0; i < digits; i++) s += Math.floor(Math.random() * 10);
    const unscaled = BigInt(s);
    return this.format(Math.random() < 0.5 ? -unscaled : unscaled);
  }
}

/** The `logicalTypes` option for avsc: only decimal is mapped (timestamp-millis stays a number). */
export const LOGICAL_TYPES: { [logicalType: string]: new (schema: avro.Schema, opts?: any) => avro.types.LogicalType } =
  Object.freeze({
    decimal: DecimalType,
  });

/** Builds an avsc Type the way all of Sluice does: unwrapped unions, Sluice logical types. */
export function forSchema(schema: avro.Schema): avro.Type {
  // A fresh options object per call: avsc keeps its name registry on it.
  return avro.Type.forSchema(schema, { wrapUnions: false, logicalTypes: LOGICAL_TYPES });
}
