/** Counts of answers per status per RPC, and the table `fuzz:full` prints. */
export class Tally {
  private readonly counts = new Map<string, Map<string, number>>();
  private readonly reasons = new Map<string, number>();
  total = 0;

  add(rpc: string, status: string, reason?: string): void {
    const refusal = `${status} ${reason ?? '(no reason)'}`;
    if (status !== 'OK') this.reasons.set(refusal, (this.reasons.get(refusal) ?? 0) + 1);
    const byStatus = this.counts.get(rpc) ?? new Map<string, number>();
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
    this.counts.set(rpc, byStatus);
    this.total++;
  }

  /** The RPCs that received at least one request, sorted. */
  rpcs(): string[] {
    return [...this.counts.keys()].sort();
  }

  /** The refusals' statuses and reasons over all RPCs, most frequent first. */
  refusals(): string {
    return [...this.reasons.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([refusal, count]) => `${String(count).padStart(7)}  ${refusal}`)
      .join('\n');
  }

  /** One row per RPC, one column per status seen, and a total column. */
  table(): string {
    const statuses = [...new Set([...this.counts.values()].flatMap((m) => [...m.keys()]))].sort();
    const header = ['RPC', ...statuses, 'total'];
    const rows = this.rpcs().map((rpc) => {
      const byStatus = this.counts.get(rpc) ?? new Map<string, number>();
      const total = [...byStatus.values()].reduce((sum, n) => sum + n, 0);
      return [rpc, ...statuses.map((s) => String(byStatus.get(s) ?? '')), String(total)];
    });
    const widths = header.map((cell, column) =>
      Math.max(cell.length, ...rows.map((row) => (row[column] ?? '').length)),
    );
    const line = (cells: readonly string[]) =>
      cells
        .map((cell, column) =>
          column === 0 ? cell.padEnd(widths[0] ?? 0) : cell.padStart(widths[column] ?? 0),
        )
        .join('  ');
    return [line(header), ...rows.map(line)].join('\n');
  }
}
