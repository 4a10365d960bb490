import { z } from 'zod';
import { positiveInt, type Setting } from '../config/settingSchemas.ts';

/**
 * The live feed's settings (read by metricsFeed.ts and feedUpgrade.ts through the configuration),
 * declared beside the feed; `src/config/config.ts` joins them into the one settings table.
 */
export const FEED_SETTINGS = {
  feedToken: {
    env: 'SLUICE_FEED_TOKEN',
    description:
      'Bearer token the live feed (/ws) requires (or _FILE; unset: the one `dev up` or the first feed generates; ' +
      'set empty for none)',
    secret: true,
    schema: z.string().optional(),
  },
  feedAllowedOrigins: {
    env: 'SLUICE_FEED_ALLOWED_ORIGINS',
    description: 'Comma-separated Origins allowed to open /ws (empty: same origin and localhost only; * allows any)',
    default: '',
    schema: z.string(),
  },
  feedMaxConnections: {
    env: 'SLUICE_FEED_MAX_CONNECTIONS',
    description: 'Live feed connections at once; further upgrades get 503',
    default: '1000',
    schema: positiveInt,
  },
  feedMaxFrameBytes: {
    env: 'SLUICE_FEED_MAX_FRAME_BYTES',
    description: 'Largest WebSocket frame a feed client may send (bytes); larger closes the connection',
    default: '65536',
    schema: positiveInt,
  },
} as const satisfies Record<string, Setting>;
