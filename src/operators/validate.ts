import { filter, type MonoTypeOperatorFunction } from 'rxjs';
import type { DedupeStore } from '../engine/dedupeStore.ts';
import type { Envelope, Rule } from '../topology/types.ts';
import type { OperatorContext } from './operatorContext.ts';

/**
 * Runs the named rules in order; the first failure sends the record to the DLQ (`rule`, with the
 * rule's name and message). `unique` rules check the durable dedupe store, and record an id only
 * once its record passed every rule of this step.
 *
 * @example ops.validate(['customer_email_present', 'customer_email_format'])
 */
export function validate<T>(ctx: OperatorContext, names: string[]): MonoTypeOperatorFunction<Envelope<T>> {
  const selected = names.map((n) => {
    const rule = ctx.rule(n);
    return { rule, dedupe: rule.dedupe ? ctx.stores.dedupe(rule) : undefined };
  });
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
      for (const { rule, dedupe } of selected) {
        const outcome = check(ctx, rule, dedupe, env);
        if (outcome.problem !== undefined) {
          ctx.metrics.ruleFailure?.(rule.name);
          ctx.deadLetter(env, 'rule', outcome.problem, { rule: rule.name, schemaId: env.schemaId });
          return false;
        }
        if (dedupe && outcome.id !== undefined) (accepted ??= []).push([dedupe, outcome.id]);
      }
      if (accepted) for (const [store, id] of accepted) store.accept(env, id);
      return true;
    }),
  );
}

function check(
  ctx: OperatorContext,
  rule: Rule,
  dedupe: DedupeStore | undefined,
  env: Envelope<unknown>,
): { problem?: string; id?: string } {
  try {
    if (!dedupe) return { problem: rule.check(env.value, ctx.rules) };
    const id = rule.key!(env.value);
    return id === undefined ? {} : { problem: dedupe.check(env, id), id };
  } catch (err) {
    return { problem: `rule threw: ${(err as Error).message}` };
  }
}

function tableName(rule: Rule): string | undefined {
  return rule.kind === 'referential' ? (rule as { table?: string }).table : undefined;
}

function ruleLabel(ctx: OperatorContext, rule: Rule): string {
  const table = tableName(rule);
  return table ? `${rule.name}→${ctx.tableTopic(table)}` : rule.name;
}
