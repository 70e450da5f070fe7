import type { Migration } from '@vaxguard/db';
import { eventsMigrations } from '@vaxguard/events';

/**
 * The audit service's schema: the shared outbox and processed-events tables for now;
 * its own tables arrive with its domain issue.
 */
export const auditMigrations: readonly Migration[] = [...eventsMigrations];
