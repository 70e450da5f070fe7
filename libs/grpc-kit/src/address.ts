// Where a service is, for a client that balances its calls over every instance of it
// (issue 19): one `host:port`; several instances as `host:port,host:port` (each by its IP,
// which grpc-js's static `ipv4:`/`ipv6:` resolvers take); or `dns:///name:port`, a DNS name
// whose addresses are the instances (a Kubernetes headless service), re-resolved when a
// connection drops. The channel picks an instance per call (`round_robin`, client.ts).

/**
 * Channel options that spread calls over every instance an address names: each call
 * goes to the next READY instance (`round_robin`); one that went away is in
 * TRANSIENT_FAILURE and passed over until it reconnects. The service config given here is
 * the one: no DNS TXT record may replace it.
 */
export const BALANCED_CHANNEL_OPTIONS = {
  'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
  'grpc.service_config_disable_resolution': 1,
} as const;

/** The form of a service address, as every error about one says it. */
export const SERVICE_ADDRESS_FORMS =
  'host:port, a comma-separated list of ip:port (one per instance), or dns:///name:port';

const HOST_PORT = /^(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\]):(\d{1,5})$/;
const IPV4_PORT = /^((?:\d{1,3}\.){3}\d{1,3}):(\d{1,5})$/;
const IPV6_PORT = /^\[([0-9A-Fa-f:.]+)\]:(\d{1,5})$/;
const DNS_TARGET = /^dns:\/\/\/[A-Za-z0-9.-]+:(\d{1,5})$/;

const isPort = (digits: string | undefined) => {
  const port = Number(digits);
  return Number.isInteger(port) && port > 0 && port <= 65_535;
};
const isIpv4 = (ip: string) => ip.split('.').every((octet) => Number(octet) <= 255);

/** What is wrong with a service address, in one sentence; undefined when it is usable. */
export function serviceAddressProblem(address: string): string | undefined {
  const shown = `(got "${address}")`;
  if (address.startsWith('dns:')) {
    const match = DNS_TARGET.exec(address);
    return match && isPort(match[1]) ? undefined : `a DNS target must be dns:///name:port ${shown}`;
  }
  const entries = address.split(',').map((entry) => entry.trim());
  if (entries.length === 1) {
    const match = HOST_PORT.exec(address);
    return match && isPort(match[1])
      ? undefined
      : `address must be ${SERVICE_ADDRESS_FORMS} ${shown}`;
  }
  const v4 = entries.map((entry) => IPV4_PORT.exec(entry));
  const v6 = entries.map((entry) => IPV6_PORT.exec(entry));
  const bad = entries.filter((entry, i) => {
    const match = v4[i] ?? v6[i];
    return !match || !isPort(match[2]) || (v4[i] && !isIpv4(match[1] as string));
  });
  if (bad.length > 0) {
    return `each instance in a list must be ip:port or [ipv6]:port (a host name: use dns:///name:port): ${bad.map((entry) => `"${entry}"`).join(', ')} ${shown}`;
  }
  if (v4.some(Boolean) && v6.some(Boolean)) {
    return `a list must be all IPv4 or all IPv6 ${shown}`;
  }
  if (new Set(entries).size < entries.length) return `a list names an instance twice ${shown}`;
  return undefined;
}

/** The address, checked: for a configuration field (`env.custom(name, parseServiceAddress)`). */
export function parseServiceAddress(raw: string): string {
  const address = raw
    .split(',')
    .map((entry) => entry.trim())
    .join(',');
  const problem = serviceAddressProblem(address);
  if (problem) throw new Error(problem);
  return address;
}

/** The instances an address names one by one (a DNS target is one name, so one). */
export function serviceInstances(address: string): string[] {
  return address.startsWith('dns:') ? [address] : address.split(',');
}

/**
 * The grpc-js target of a (checked) address: a list becomes `ipv4:a:p,b:q` (or `ipv6:`),
 * so that each instance is a subchannel of its own; the other forms are targets already.
 */
export function grpcTarget(address: string): string {
  const entries = address.split(',');
  if (entries.length === 1) return address;
  return IPV6_PORT.test(entries[0] as string) ? `ipv6:${address}` : `ipv4:${address}`;
}
