import type { Admin } from '../../kafka/kafkaTypes.ts';

/** The topics a replay writes to, looked up once each through the run's admin client. */
export class ReplayTopics {
  private readonly admin: Admin;
  private readonly existing: Set<string>;
  private readonly partitionCounts = new Map<string, number>();

  constructor(admin: Admin, existing: Iterable<string>) {
    this.admin = admin;
    this.existing = new Set(existing);
  }

  /** Known to exist (listed at the start, or created or found since). */
  has(topic: string): boolean {
    return this.existing.has(topic);
  }

  add(topic: string): void {
    this.existing.add(topic);
  }

  /** Whether the topic exists now; the producer retries a missing topic forever, so destinations are checked first. */
  async exists(topic: string): Promise<boolean> {
    if (!this.existing.has(topic) && (await this.admin.listTopics()).includes(topic)) this.existing.add(topic);
    return this.existing.has(topic);
  }

  /** The topic's partition count (0 when it has none). */
  async partitionsOf(topic: string): Promise<number> {
    let n = this.partitionCounts.get(topic);
    if (n === undefined) {
      const meta = await this.admin.fetchTopicMetadata({ topics: [topic] });
      n = meta.topics[0]?.partitions.length ?? 0;
      this.partitionCounts.set(topic, n);
    }
    return n;
  }
}
