import type { IncidentChange } from './incidentTracker.ts';
import type { WebhookTarget } from './alertRules.ts';

/**
 * The bodies POSTed to webhooks: the incident as JSON (`{"event":"incident.opened","incident":{...}}`)
 * for anything that reads JSON, or Slack-compatible `{"text": ...}` (Slack incoming webhooks,
 * Mattermost, Rocket.Chat, Teams' Slack-compatible connectors).
 */

const VERB = { opened: 'OPENED', updated: 'UPDATED', resolved: 'RESOLVED' } as const;
const ICON = { opened: ':rotating_light:', updated: ':warning:', resolved: ':white_check_mark:' } as const;

/** One line of text for chats: what, where, since when, and the dashboard link. */
export function incidentText(change: IncidentChange): string {
  const i = change.incident;
  const since = change.kind === 'resolved' ? `after ${since_(i.startedAt, i.resolvedAt)}` : `since ${i.startedAt}`;
  return (
    `${ICON[change.kind]} ${VERB[change.kind]} [${i.severity}] ${i.rule} on ${i.subject}: ${i.summary} ` +
    `(${since}) <${i.dashboardUrl}|dashboard>`
  );
}

function since_(from: string, to: string | null): string {
  const s = Math.max(0, Math.round((Date.parse(to ?? from) - Date.parse(from)) / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${Math.round(s / 360) / 10} h`;
}

/** The request body for a webhook of this format. */
export function webhookBody(change: IncidentChange, format: WebhookTarget['format']): string {
  if (format === 'slack') return JSON.stringify({ text: incidentText(change) });
  return JSON.stringify({ event: `incident.${change.kind}`, incident: change.incident });
}
