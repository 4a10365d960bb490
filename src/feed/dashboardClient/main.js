/* Sluice dashboard: plain browser modules, no build step. Feeds uPlot charts from the live
 * WebSocket feed (/ws) and polls /metrics for late records and consumer lag. */

import { connectFeed } from './feedConnection.js';
import { renderFeedPanels } from './feedPanels.js';
import { resizeChartsWithWindow } from './lineChart.js';
import { pollProcessMetrics } from './processMetrics.js';
import { connectIncidents, renderIncidents } from './incidentsPanel.js';

const RENDER_INTERVAL_MS = 250;

resizeChartsWithWindow();
setInterval(renderFeedPanels, RENDER_INTERVAL_MS);
renderFeedPanels();
connectFeed();
pollProcessMetrics();
renderIncidents();
connectIncidents();
