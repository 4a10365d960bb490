import { filter, type MonoTypeOperatorFunction } from 'rxjs';
import type { DedupeStore } from '../engine/dedupeStore.ts';
import type { Envelope, Rule } from '../topology/types.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Runs the named rules in order; the first failure sends the record to the DLQ (`rule`, with the
 * rule's name and message). `unique` rules check the durable dedupe store, and record an id only
 * once its record passed every rule of this step. Delete records (op d) pass without being checked.
 *
 * @example ops.validate(['customer_email_present', 'customer_email_format'])
 */
export function validate<T>(ctx: OperatorContext, names: string[]): MonoTypeOperatorFunction<Envelope<T>> {
  const selected = names.map((n, i) => {
    const rule = ctx.rule(n);
    return { rule, i, dedupe: rule.dedupe ? ctx.stores.dedupe(rule) : undefined };
  });
  // Quality scores: a slot per source topic, incremented in place (see src/quality/qualityCounts.ts).
  const counts = ctx.metrics.quality?.step(names);
  const tables = selected.flatMap(({ rule }) => (tableName(rule) ? [ctx.tableTopic(tableName(rule)!)] : []));
  const label = `validate(${selected.map(({ rule }) => ruleLabel(ctx, rule)).join(', ')})`;
  return ctx.graph.operator(
    {
      operator: 'validate',
      label,
      deadLetters: true,
      reads: [...new Set(tables)],
      state: selected.flatMap(({ dedupe }) => (dedupe ? [dedupe.changelog] : [])),
    },
    filter((env: Envelope<T>) => {
      let accepted: [DedupeStore, string][] | undefined;
      const slot = counts?.of(env.source.topic);
      if (slot) slot.entered++;
      // A delete (op d, from CDC) says the row is gone: its last image is not judged. A referential
      // rule would reject an order deleted together with its customer, and a rule rejecting the
      // image of a row whose earlier version reached silver would leave that row there forever.
      if ((env.value as { op?: unknown } | null)?.op === 'd') return true;
      for (const { rule, i, dedupe } of selected) {
        let problem: string | undefined;
        try {
          if (!dedupe) problem = rule.check(env.value, ctx.rules);
          else {
            const id = rule.key!(env.value);
            problem = id === undefined ? undefined : dedupe.check(env, id);
            if (id !== undefined && problem === undefined) (accepted ??= []).push([dedupe, id]);
          }
        } catch (err) {
          problem = `rule threw: ${(err as Error).message}`;
        }
        if (problem !== undefined) {
          ctx.metrics.ruleFailure?.(rule.name);
          if (slot) slot.failed[i]++;
          ctx.deadLetter(env, 'rule', problem, { rule: rule.name, schemaId: env.schemaId });
          return false;
        }
      }
      if (accepted) for (const [store, id] of accepted) store.accept(env, id);
      return true;
    }),
  );
}

function tableName(rule: Rule): string | undefined {
  return rule.kind === 'referential' ? (rule as { table?: string }).table : undefined;
}

function ruleLabel(ctx: OperatorContext, rule: Rule): string {
  const table = tableName(rule);
  return table ? `${rule.name}→${ctx.tableTopic(table)}` : rule.name;
}
