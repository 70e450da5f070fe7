// CPU accounting for the benchmarks, from Linux /proc: each process's share of a core over
// a phase, the whole machine's busy time per call, and where a call's CPU went.
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';

const CLOCK_TICKS_PER_SECOND = 100;

/** CPU seconds a process has used so far (Linux /proc), or undefined elsewhere. */
export function cpuSecondsOf(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The fields after the command name: state is the first, utime the 12th, stime the 13th.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** CPU seconds the whole machine has spent busy so far (every process, the kernel). */
export function machineBusySeconds(): number | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1);
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    const ticks = cpu.map(Number);
    const busy =
      ticks.slice(0, 8).reduce((total, value) => total + value, 0) - ticks[3]! - ticks[4]!;
    return busy / CLOCK_TICKS_PER_SECOND;
  } catch {
    return undefined;
  }
}

/** The bench process's own CPU since `before`, as a share of one core over `seconds`. */
export function benchCpuShare(before: NodeJS.CpuUsage, seconds: number): number {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6 / seconds;
}

/**
 * Each process's CPU over a phase, as a share of one core, and the whole machine's CPU
 * per call (PostgreSQL, Kafka and the kernel included): the figure a rate goal is made of.
 */
export function cpuMeter(processes: Record<string, number | undefined>): (calls: number) => string {
  const pids = Object.entries(processes);
  const before = pids.map(([, pid]) => cpuSecondsOf(pid));
  const machineBefore = machineBusySeconds();
  const benchBefore = process.cpuUsage();
  const start = performance.now();
  return (calls) => {
    const seconds = (performance.now() - start) / 1000;
    const share = (used: number) => `${((used / seconds) * 100).toFixed(0)}%`;
    const bench = process.cpuUsage(benchBefore);
    const parts = pids.map(([name, pid], i) => {
      const now = cpuSecondsOf(pid);
      const then = before[i];
      return `${name} ${now === undefined || then === undefined ? '?' : share(now - then)}`;
    });
    const benchSeconds = (bench.user + bench.system) / 1e6;
    parts.push(`bench ${share(benchSeconds)}`);
    const machineNow = machineBusySeconds();
    const machine =
      machineNow === undefined || machineBefore === undefined || calls === 0
        ? ''
        : `; machine ${share(machineNow - machineBefore)} of ${availableParallelism() * 100}%, ${(
            ((machineNow - machineBefore) / calls) *
            1000
          ).toFixed(2)} ms of CPU per call`;
    // Where a call's CPU went: each process, then the rest of the machine (PostgreSQL,
    // Kafka, the kernel, and whatever else ran on it meanwhile).
    const perCall = (used: number) => `${((used / Math.max(calls, 1)) * 1000).toFixed(2)} ms`;
    const spent = pids.map(([, pid], i) => {
      const now = cpuSecondsOf(pid);
      const then = before[i];
      return now === undefined || then === undefined ? undefined : now - then;
    });
    const breakdown = pids.map(([name], i) => {
      const used = spent[i];
      return `${name} ${used === undefined ? '?' : perCall(used)}`;
    });
    breakdown.push(`bench client ${perCall(benchSeconds)}`);
    if (machineNow !== undefined && machineBefore !== undefined) {
      const known = spent.reduce<number>((total, used) => total + (used ?? 0), benchSeconds);
      breakdown.push(
        `rest (PostgreSQL, Kafka, kernel) ${perCall(machineNow - machineBefore - known)}`,
      );
    }
    return [
      `  CPU (one core = 100%): ${parts.join(', ')}${machine}`,
      `  CPU per call: ${breakdown.join(', ')}`,
    ].join('\n');
  };
}
