import { log, sweepOrphanContainers } from './containers';
import { ensureImage, type LocalImage } from './images';

/**
 * Runs once before the integration tests: removes containers orphaned by killed runs
 * and builds (or reuses) the local images the run needs, so test files never race to
 * build them.
 */
export default async function setup(): Promise<void> {
  const needed: LocalImage[] = [];
  if (!process.env['TEST_DATABASE_URL']) needed.push('postgres');
  if (!process.env['TEST_KAFKA_BROKERS']) needed.push('kafka');
  if (needed.length === 0) return;
  const swept = await sweepOrphanContainers();
  if (swept > 0) log(`removed ${swept} containers left by earlier runs`);
  const started = Date.now();
  const refs = await Promise.all(needed.map((image) => ensureImage(image)));
  log(`images ready in ${Date.now() - started} ms: ${refs.join(', ')}`);
}
