// Which TCP connections a process holds, from /proc (Linux): where a service really
// connects (through its fault proxy or not), and which process holds a database session
// PostgreSQL names by its client port.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

export interface TcpConnection {
  /** `ip:port` on this side. */
  readonly local: string;
  /** `ip:port` of the far side. */
  readonly remote: string;
}

/** An address from /proc/net/tcp: the IPv4 address in host (little-endian) order, the port in hex. */
function address(hex: string): string {
  const [ip = '', port = ''] = hex.split(':');
  const octets = [3, 2, 1, 0].map((i) => parseInt(ip.slice(i * 2, i * 2 + 2), 16));
  return `${octets.join('.')}:${parseInt(port, 16)}`;
}

/** The established IPv4 TCP connections process `pid` holds open now. */
export function tcpConnectionsOf(pid: number): TcpConnection[] {
  const sockets = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) sockets.add(inode);
    } catch {
      // closed meanwhile
    }
  }
  const connections: TcpConnection[] = [];
  for (const line of readFileSync(`/proc/${pid}/net/tcp`, 'utf8').split('\n').slice(1)) {
    const columns = line.trim().split(/\s+/);
    const [local, remote, state, inode] = [columns[1], columns[2], columns[3], columns[9]];
    // 01: ESTABLISHED.
    if (!local || !remote || state !== '01' || !inode || !sockets.has(inode)) continue;
    connections.push({ local: address(local), remote: address(remote) });
  }
  return connections;
}
