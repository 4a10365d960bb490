import { type McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { readFileSync } from 'node:fs';
import { SCHEMA_FILES, SCHEMAS_DIR } from '../domain/schemas.ts';

/**
 * `sluice://schemas/{topic}`: the Avro value schema of every topic with one (schemas/*.avsc, as
 * registered under `<topic>-value`): record and field docs, logical types, `sluice.pii` marks.
 */
export function registerSchemaResources(server: McpServer): void {
  const topics = Object.keys(SCHEMA_FILES).sort();
  server.registerResource(
    'schemas',
    new ResourceTemplate('sluice://schemas/{topic}', {
      list: () => ({
        resources: topics.map((topic) => ({
          uri: `sluice://schemas/${topic}`,
          name: `${topic} schema`,
          description: `Avro value schema of the ${topic} topic (${SCHEMA_FILES[topic]})`,
          mimeType: 'application/json',
        })),
      }),
      complete: { topic: (prefix) => topics.filter((t) => t.startsWith(prefix)) },
    }),
    {
      title: 'Avro schemas of the topics',
      description: 'The Avro value schema of a topic, with field docs and personal-data marks',
      mimeType: 'application/json',
    },
    (uri, { topic }) => {
      const name = String(topic);
      const file = Object.hasOwn(SCHEMA_FILES, name) ? SCHEMA_FILES[name] : undefined;
      if (!file) throw new Error(`no schema for topic ${name}; known: ${topics.join(', ')}`);
      return {
        contents: [
          { uri: uri.href, mimeType: 'application/json', text: readFileSync(`${SCHEMAS_DIR}${file}`, 'utf8') },
        ],
      };
    },
  );
}
