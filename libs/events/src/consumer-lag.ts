import type { Admin, Kafka } from 'kafkajs';
import { Gauge, type Registry } from '@vaxguard/metrics';

/**
 * How far a consumer group is behind, per topic and partition: the partition's end
 * offset less the group's committed offset (the whole retained partition when the group
 * has committed nothing yet, since consumers start from the beginning). Read from the
 * brokers by an admin client each time `sample` runs, so a consumer that is stuck, or
 * not running at all, shows its lag growing; nothing is added to a consumer's own path.
 */
export class ConsumerLagMonitor {
  private readonly groups = new Map<string, readonly string[]>();
  private readonly lag: Gauge<'group' | 'topic' | 'partition'>;
  private admin: Admin | undefined;

  constructor(
    private readonly kafka: Kafka,
    registry: Registry,
  ) {
    this.lag = new Gauge({
      name: 'vaxguard_kafka_consumer_lag',
      help: "Messages a consumer group has yet to commit, by topic and partition (end offset less the group's committed offset).",
      labelNames: ['group', 'topic', 'partition'],
      registers: [registry],
    });
  }

  /** Watches a group's lag on its topics until the returned function is called. */
  watch(groupId: string, topics: readonly string[]): () => void {
    this.groups.set(groupId, topics);
    return () => {
      this.groups.delete(groupId);
      // Its series go; the other groups' come back at the next sample.
      this.lag.reset();
    };
  }

  async sample(): Promise<void> {
    if (this.groups.size === 0) return;
    const admin = await this.connected();
    try {
      const ends = new Map<string, Map<number, { high: bigint; low: bigint }>>();
      for (const topics of this.groups.values()) {
        for (const topic of topics) {
          if (ends.has(topic)) continue;
          const offsets = await admin.fetchTopicOffsets(topic);
          ends.set(
            topic,
            new Map(
              offsets.map((o) => [o.partition, { high: BigInt(o.high), low: BigInt(o.low) }]),
            ),
          );
        }
      }
      for (const [group, topics] of this.groups) {
        const committed = await admin.fetchOffsets({ groupId: group, topics: [...topics] });
        for (const { topic, partitions } of committed) {
          for (const { partition, offset } of partitions) {
            const end = ends.get(topic)?.get(partition);
            if (!end) continue;
            const at = BigInt(offset) < 0n ? end.low : BigInt(offset);
            const behind = end.high > at ? end.high - at : 0n;
            this.lag.set({ group, topic, partition: String(partition) }, Number(behind));
          }
        }
      }
    } catch (error) {
      // A broker that went away: reconnect from scratch next time.
      this.admin = undefined;
      await admin.disconnect().catch(() => undefined);
      throw error;
    }
  }

  async stop(): Promise<void> {
    const admin = this.admin;
    this.admin = undefined;
    await admin?.disconnect().catch(() => undefined);
  }

  private async connected(): Promise<Admin> {
    if (this.admin) return this.admin;
    const admin = this.kafka.admin();
    await admin.connect();
    this.admin = admin;
    return admin;
  }
}
