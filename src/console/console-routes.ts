import type { Db } from '../store/database.js';
import type { Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import type { TemplateRenderer } from '../templates/template-renderer.js';
import { DashboardStats } from '../stats/dashboard-stats.js';
import { statsRoutes } from '../stats/stats-routes.js';
import { audienceRoutes } from '../recipients/audience-routes.js';
import { messagePreviewRoutes } from '../messages/message-preview-routes.js';
import { groupsImportRoutes } from '../recipients/groups-import-routes.js';

/** What the operator console's routes need from the composition root. */
export interface ConsoleRoutesDeps {
  readonly db: Db;
  readonly clock: Clock;
  readonly guards: AuthGuards;
  readonly queue: Queue;
  readonly renderer: TemplateRenderer;
}

/**
 * The routes the operator console (/admin) needs beyond the resource routes: dashboard
 * figures, audience previews, the org tree, message previews. One registration in app.ts;
 * the modules they come from are listed here.
 */
export function consoleRoutes(app: Server, deps: ConsoleRoutesDeps): void {
  const { db, clock, guards, queue, renderer } = deps;
  statsRoutes(app, { guards, stats: new DashboardStats(db, queue, clock) });
  audienceRoutes(app, { db, guards });
  messagePreviewRoutes(app, { db, guards, renderer });
  groupsImportRoutes(app, { db, clock, guards });
}
