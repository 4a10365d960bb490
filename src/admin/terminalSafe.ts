/**
 * Output the operator commands print, made safe for a terminal: a hostile or binary record must
 * not be able to move the cursor, change colours or reorder text on the operator's screen.
 */

/**
 * Text safe to print on a terminal: C0/C1 control characters, DEL and Unicode direction
 * overrides are shown as `\uXXXX` escapes (JSON escapes C0 itself but lets C1 and bidi through).
 *
 * @example terminalSafe('a\u001b[2Jb') // 'a\\u001b[2Jb'
 */
export function terminalSafe(text: string): string {
  return text.replace(
    /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u200b-\u200f\u2028-\u202e\u2066-\u2069\ufeff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

/**
 * Bytes as printable ASCII: printable characters as they are, `\n` `\r` `\t` `\\` escaped, any
 * other byte as `\xNN`. Long values are cut at `max` bytes with a note of what was left out.
 *
 * @example printableBytes(Buffer.from([0x00, 0x41])) // '\\x00A'
 */
export function printableBytes(bytes: Buffer, max = 256): string {
  let out = '';
  const n = Math.min(bytes.length, max);
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 0x5c) out += '\\\\';
    else if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\x${b.toString(16).padStart(2, '0')}`;
  }
  if (bytes.length > max) out += `…(+${bytes.length - max} bytes)`;
  return out;
}
