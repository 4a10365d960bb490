import { SluiceError } from '../core/errors.ts';
import type { TopologyDefinition } from './types.ts';

/**
 * Declares a topology. Pure: checks the definition's shape and returns it; no I/O, no
 * environment. The runner and the test driver run it.
 *
 * @example
 *   export default defineTopology({ name: 'customers', sources: [{ topic: 'oltp.customers' }], ... });
 */
export function defineTopology(def: TopologyDefinition): TopologyDefinition {
  if (!/^[a-z][a-z0-9_-]*$/.test(def.name))
    throw new SluiceError('CONFIG_INVALID', `topology name "${def.name}" must be lower-case letters, digits, _ or -`);
  if (def.owner && !def.owner.team.trim())
    throw new SluiceError('CONFIG_INVALID', `topology ${def.name}: owner.team is empty; name the team that owns it`);
  if (def.sources.length === 0) throw new SluiceError('CONFIG_INVALID', `topology ${def.name} has no sources`);
  const ruleNames = new Set<string>();
  for (const r of def.rules ?? []) {
    if (ruleNames.has(r.name))
      throw new SluiceError('CONFIG_INVALID', `topology ${def.name}: rule "${r.name}" is declared twice`);
    ruleNames.add(r.name);
  }
  for (const r of def.rules ?? []) {
    const table = (r as { table?: string }).table;
    if (r.kind === 'referential' && table && !def.references?.[table]) {
      throw new SluiceError(
        'CONFIG_INVALID',
        `topology ${def.name}: rule "${r.name}" uses reference table "${table}", which is not declared in references`,
      );
    }
  }
  return Object.freeze({ ...def });
}

export function dlqTopicOf(source: { topic: string; dlq?: string }): string {
  return source.dlq ?? `${source.topic}.dlq`;
}
