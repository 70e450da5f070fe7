import { describe, expect, it } from 'vitest';
import {
  grpcTarget,
  parseServiceAddress,
  serviceAddressProblem,
  serviceInstances,
} from './address';

describe('service addresses', () => {
  it('takes one host:port, a list of instances by IP, and a DNS target', () => {
    for (const address of [
      'otp:50052',
      '127.0.0.1:50052',
      '[::1]:50052',
      '127.0.0.1:50052,127.0.0.1:50062',
      '[::1]:1,[::1]:2',
      'dns:///otp.vaxguard.svc.cluster.local:50052',
    ]) {
      expect(serviceAddressProblem(address), address).toBeUndefined();
    }
  });

  it('gives grpc-js a static target per list, one subchannel per instance', () => {
    expect(grpcTarget('127.0.0.1:1,127.0.0.1:2')).toBe('ipv4:127.0.0.1:1,127.0.0.1:2');
    expect(grpcTarget('[::1]:1,[::1]:2')).toBe('ipv6:[::1]:1,[::1]:2');
    expect(grpcTarget('otp:50052')).toBe('otp:50052');
    expect(grpcTarget('dns:///otp:50052')).toBe('dns:///otp:50052');
    expect(serviceInstances('127.0.0.1:1,127.0.0.1:2')).toEqual(['127.0.0.1:1', '127.0.0.1:2']);
  });

  it('names what is wrong precisely', () => {
    expect(serviceAddressProblem('nowhere')).toBe(
      'address must be host:port, a comma-separated list of ip:port (one per instance), or dns:///name:port (got "nowhere")',
    );
    expect(serviceAddressProblem('otp:0')).toMatch(/^address must be/);
    expect(serviceAddressProblem('dns://otp:50052')).toBe(
      'a DNS target must be dns:///name:port (got "dns://otp:50052")',
    );
    expect(serviceAddressProblem('otp-0:50052,otp-1:50052')).toBe(
      'each instance in a list must be ip:port or [ipv6]:port (a host name: use dns:///name:port): "otp-0:50052", "otp-1:50052" (got "otp-0:50052,otp-1:50052")',
    );
    expect(serviceAddressProblem('127.0.0.1:1,,127.0.0.1:2')).toMatch(/: "" \(got/);
    expect(serviceAddressProblem('300.0.0.1:1,127.0.0.1:2')).toMatch(/"300\.0\.0\.1:1"/);
    expect(serviceAddressProblem('127.0.0.1:1,127.0.0.1:70000')).toMatch(/"127\.0\.0\.1:70000"/);
    expect(serviceAddressProblem('127.0.0.1:1,[::1]:2')).toBe(
      'a list must be all IPv4 or all IPv6 (got "127.0.0.1:1,[::1]:2")',
    );
    expect(serviceAddressProblem('127.0.0.1:1,127.0.0.1:1')).toBe(
      'a list names an instance twice (got "127.0.0.1:1,127.0.0.1:1")',
    );
  });

  it('parses a configured value, spaces after the commas allowed, and refuses a bad one', () => {
    expect(parseServiceAddress('127.0.0.1:1, 127.0.0.1:2')).toBe('127.0.0.1:1,127.0.0.1:2');
    expect(() => parseServiceAddress('otp')).toThrow(/^address must be host:port/);
  });
});
