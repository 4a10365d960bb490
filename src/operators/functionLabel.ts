/**
 * A short name for a function in the topology graph: its own name, else the field an arrow
 * function reads (`(c) => String(c.customer_id)` → `customer_id`), else `fn`.
 */
export function functionLabel(fn: (...args: never[]) => unknown): string {
  if (fn.name && !/^(anonymous|fn)$/.test(fn.name)) return fn.name;
  const field = /=>\s*(?:String\()?\s*[A-Za-z_$][\w$]*\.([A-Za-z_$][\w$]*)\s*\)?\s*;?\s*}?\s*$/.exec(fn.toString());
  return field ? field[1] : 'fn';
}
