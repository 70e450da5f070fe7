import { GenericContainer, getContainerRuntimeClient } from 'testcontainers';
import { describe, expect, it } from 'vitest';
import { OWNER_LABEL, sweepOrphanContainers, TEST_LABEL } from './containers';
import { ensureImage } from './images';
import { startKafka } from './kafka';
import { startPostgres } from './postgres';

async function containersOwnedBy(pid: number): Promise<string[]> {
  const client = await getContainerRuntimeClient();
  const all = await client.container.list();
  return all.filter((info) => info.Labels[OWNER_LABEL] === String(pid)).map((info) => info.Id);
}

describe('test fixtures', () => {
  it('leave no container behind once disposed', async (context) => {
    if (process.env['TEST_DATABASE_URL'] || process.env['TEST_KAFKA_BROKERS']) context.skip();
    {
      await using postgres = await startPostgres();
      await using kafka = await startKafka();
      expect(postgres.url).toMatch(/^postgres:\/\/.*\/vg_test_[0-9a-f]{12}$/);
      expect(kafka.brokers).toHaveLength(1);
      expect(await containersOwnedBy(process.pid)).toHaveLength(2);
    }
    expect(await containersOwnedBy(process.pid)).toEqual([]);
  });

  it('sweep away containers whose test process died without cleaning up', async (context) => {
    if (process.env['TEST_DATABASE_URL']) context.skip();
    // A pid far above the kernel's default pid_max is never alive.
    const deadPid = 9_999_999;
    const orphan = await new GenericContainer(await ensureImage('postgres'))
      .withLabels({ [TEST_LABEL]: 'true', [OWNER_LABEL]: String(deadPid) })
      .start();
    try {
      expect(await containersOwnedBy(deadPid)).toEqual([orphan.getId()]);
      expect(await sweepOrphanContainers()).toBeGreaterThanOrEqual(1);
      expect(await containersOwnedBy(deadPid)).toEqual([]);
    } finally {
      await orphan.stop({ remove: true }).catch(() => undefined);
    }
  });
});
