// The Helm chart (deploy/vaxguard), offline: helm lint and helm template for both value
// sets, every rendered object decoded strictly against the Kubernetes API types (k8s.io/api,
// unknown fields refused), and the rendered services checked against the services' own
// configuration schemas: every variable the chart sets is one the service reads, every
// one it requires is set, secrets only by reference, and the network policies allow
// exactly the calls the services' configurations say they make.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, type Environment } from '@vaxguard/config';
import { PLATFORM_SERVICES, type PlatformServiceName } from '@vaxguard/dev-platform';
import { auditV1, identityV1, otpV1, vaccinationRecordV1 } from '@vaxguard/proto';
import { completeSecrets, serviceEnvironment, type PlatformLayout } from '@vaxguard/testing';
// The chart's contract is the services' configuration schemas: read them where they are
// declared, not from a copy.
/* eslint-disable @nx/enforce-module-boundaries */
import { readConfig as readAuditConfig } from '../../../services/audit/src/config';
import { readConfig as readIdentityConfig } from '../../../services/identity/src/config';
import { readConfig as readOtpConfig } from '../../../services/otp/src/config';
import { readConfig as readRecordConfig } from '../../../services/vaccination-record/src/config';
/* eslint-enable @nx/enforce-module-boundaries */
import { CHART_DIR, chartTools, REPO_ROOT, type ChartTools, type KubeObject } from './chart';

const VALUE_SETS = ['values-small.yaml', 'values-national.yaml'] as const;
const RELEASE = 'vaxguard';
const COMPONENT_LABEL = 'app.kubernetes.io/component';

const READ_CONFIG: Record<PlatformServiceName, (environment: Environment) => unknown> = {
  otp: readOtpConfig,
  identity: readIdentityConfig,
  'vaccination-record': readRecordConfig,
  audit: readAuditConfig,
};

/** Each service's gRPC service name, from its proto contract: what readiness asks for. */
const SERVED: Record<PlatformServiceName, { readonly [method: string]: { path: string } }> = {
  otp: otpV1.OtpServiceService,
  identity: identityV1.IdentityServiceService,
  'vaccination-record': vaccinationRecordV1.VaccinationRecordServiceService,
  audit: auditV1.AuditServiceService,
};
const servedName = (service: PlatformServiceName) =>
  (Object.values(SERVED[service])[0]?.path ?? '').split('/')[1];

/** Values for the variables a chart takes from Secrets: the test harness's platform's. */
const secrets = completeSecrets('audit.vaxguard.example.in/log');
const layout: PlatformLayout = {
  addresses: { otp: 'otp:1', identity: 'identity:1', 'vaccination-record': 'vr:1', audit: 'a:1' },
  databases: {
    otp: 'postgres://otp:otp-db-password@db:5432/otp',
    identity: 'postgres://identity:identity-db-password@db:5432/identity',
    'vaccination-record': 'postgres://vr:vr-db-password@db:5432/vaccination_record',
    audit: 'postgres://audit:audit-db-password@db:5432/audit',
  },
  brokers: 'kafka:9092',
  secrets,
  operatorClientId: 'partner-portal',
  smsSink: '/tmp/inbox.jsonl',
  auditStateDir: '/tmp/audit-state',
  admin: { username: 'admin', passwordHash: '$scrypt$ln=17,r=8,p=1$c2FsdA$aGFzaA' },
  issuer: { url: 'https://vaxguard.example.in/issuer', httpPort: 8443 },
  logLevel: 'info',
};
/** Secrets of an installation the development platform does not have: its SMS centre's. */
const INSTALLATION_SECRETS: Partial<Record<PlatformServiceName, Record<string, string>>> = {
  otp: { OTP_SMPP_PASSWORD: 'bind-pw1' },
};
/** A service's variables as the harness's platform (and the installation) would set them. */
const testEnvironment = (service: PlatformServiceName): Record<string, string> => ({
  ...serviceEnvironment(service, layout),
  ...INSTALLATION_SECRETS[service],
});
/** Every secret value of that platform: a variable whose value holds one is a secret. */
const SECRET_VALUES = [
  ...Object.values(secrets).flatMap((value) =>
    typeof value === 'string' ? [value] : Object.values(value as Record<string, string>),
  ),
  ...Object.values(layout.databases),
  ...Object.values(INSTALLATION_SECRETS).flatMap((values) => Object.values(values ?? {})),
];

interface SecretReference {
  readonly name: string;
  readonly key: string;
  readonly optional?: boolean;
}

/** What a service's pod is given: plain variables and references into Secrets. */
interface RenderedEnvironment {
  readonly plain: Record<string, string>;
  readonly secretRefs: Record<string, SecretReference>;
}

/** The object of that kind and name, typed as the caller reads it. */
function find<T>(objects: readonly KubeObject[], kind: string, name: string): T {
  const found = objects.find((o) => o.kind === kind && o.name === name);
  if (!found) throw new Error(`no ${kind} ${name} rendered`);
  return found.object as T;
}

interface Container {
  ports: { containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: SecretReference } }[];
  envFrom?: { configMapRef?: { name: string } }[];
  readinessProbe: { grpc?: { port: number; service?: string } };
  livenessProbe: { grpc?: { port: number; service?: string | null } };
}

function containerOf(objects: readonly KubeObject[], component: string): Container {
  const deployment = find<{ spec: { template: { spec: { containers: Container[] } } } }>(
    objects,
    'Deployment',
    `${RELEASE}-${component}`,
  );
  const [container] = deployment.spec.template.spec.containers;
  if (!container) throw new Error(`${component}: no container`);
  return container;
}

function renderedEnvironment(
  objects: readonly KubeObject[],
  component: string,
): RenderedEnvironment {
  const container = containerOf(objects, component);
  const plain: Record<string, string> = {};
  const secretRefs: Record<string, SecretReference> = {};
  for (const source of container.envFrom ?? []) {
    if (!source.configMapRef) throw new Error(`${component}: envFrom other than a ConfigMap`);
    Object.assign(
      plain,
      find<{ data: Record<string, string> }>(objects, 'ConfigMap', source.configMapRef.name).data,
    );
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom?.secretKeyRef;
    if (ref) secretRefs[variable.name] = ref;
    else if (variable.value !== undefined) plain[variable.name] = variable.value;
    else throw new Error(`${component}: ${variable.name} is neither a value nor a Secret's`);
  }
  return { plain, secretRefs };
}

/** Runs a service's readConfig on `environment`, recording every variable it reads. */
function readRecorded(service: PlatformServiceName, environment: Record<string, string>) {
  const read = new Set<string>();
  const recording = new Proxy(environment, {
    get(target, variable) {
      if (typeof variable === 'string') read.add(variable);
      return Reflect.get(target, variable) as unknown;
    },
  });
  let problems: readonly string[] = [];
  try {
    READ_CONFIG[service](recording);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    problems = error.problems;
  }
  return { read, problems };
}

/** The environment a pod would have, the Secrets' keys holding the harness's values. */
function podEnvironment(
  service: PlatformServiceName,
  rendered: RenderedEnvironment,
  { withOptional }: { withOptional: boolean },
): Record<string, string> {
  const harness = testEnvironment(service);
  const environment = { ...rendered.plain };
  for (const [variable, ref] of Object.entries(rendered.secretRefs)) {
    if (ref.optional && !withOptional) continue;
    const value = harness[ref.key];
    if (value === undefined) throw new Error(`${service}: no test value for the secret ${ref.key}`);
    environment[variable] = value;
  }
  return environment;
}

interface Peer {
  podSelector?: { matchLabels?: Record<string, string> };
  namespaceSelector?: unknown;
  ipBlock?: unknown;
}

interface PolicySpec {
  policyTypes: string[];
  ingress?: { from?: Peer[] }[];
  egress?: { to?: Peer[]; ports?: { port: number }[] }[];
}

/** The components a policy's rules name by pod label (in the release's own namespace). */
function podPeers(rules: { to?: Peer[]; from?: Peer[] }[] | undefined): string[] {
  return (rules ?? [])
    .flatMap((rule) => rule.to ?? rule.from ?? [])
    .filter((peer) => !peer.namespaceSelector && !peer.ipBlock)
    .map((peer) => String(peer.podSelector?.matchLabels?.[COMPONENT_LABEL]))
    .sort();
}

/** What a service calls, by the address variables its configuration reads. */
function callsOf(read: ReadonlySet<string>): string[] {
  const calls = [...read]
    .map((variable) => /^([A-Z_]+)_GRPC_ADDRESS$/.exec(variable)?.[1])
    .filter((callee): callee is string => callee !== undefined)
    .map((callee) => callee.toLowerCase().replaceAll('_', '-'));
  if (read.has('AUDIT_WITNESSES')) calls.push('witness');
  return calls.sort();
}

let tools: ChartTools;

beforeAll(() => {
  const started = Date.now();
  tools = chartTools();
  console.log(`k8s-check built in ${Date.now() - started} ms`);
}, 600_000);

afterAll(() => tools?.[Symbol.asyncDispose]());

describe.each(VALUE_SETS)('the chart with %s', (valuesFile) => {
  let objects: readonly KubeObject[];

  beforeAll(async () => {
    const rendered = tools.render(valuesFile);
    if (!rendered.ok) throw new Error(`helm template failed:\n${rendered.stderr}`);
    const decoded = await tools.decodeStrictly(rendered.stdout);
    if (!decoded.ok) throw new Error(`strict decoding refused objects:\n${decoded.stderr}`);
    objects = decoded.objects;
  });

  it('passes helm lint --strict', () => {
    const lint = tools.helm(['lint', CHART_DIR, '--strict', '-f', join(CHART_DIR, valuesFile)]);
    expect(lint.stderr + lint.stdout).toMatch(/1 chart\(s\) linted, 0 chart\(s\) failed/);
    expect(lint.ok).toBe(true);
  });

  it('renders, per service, objects that all decode strictly against k8s.io/api', () => {
    const names = (kind: string) =>
      objects
        .filter((o) => o.kind === kind)
        .map((o) => o.name)
        .sort();
    const all = [...PLATFORM_SERVICES, 'witness'].map((c) => `${RELEASE}-${c}`).sort();
    const services = PLATFORM_SERVICES.map((c) => `${RELEASE}-${c}`).sort();
    expect(names('Deployment')).toEqual(all);
    expect(names('Service')).toEqual(all);
    expect(names('ConfigMap')).toEqual(all);
    expect(names('NetworkPolicy')).toEqual(all);
    expect(names('PodDisruptionBudget')).toEqual(services);
    // The audit log's single writer is never autoscaled; the others scale on CPU.
    expect(names('HorizontalPodAutoscaler')).toEqual(
      services.filter((name) => name !== `${RELEASE}-audit`),
    );
    for (const name of names('HorizontalPodAutoscaler')) {
      const { metrics } = find<{ spec: { metrics: unknown } }>(
        objects,
        'HorizontalPodAutoscaler',
        name,
      ).spec;
      expect(metrics).toEqual([
        expect.objectContaining({
          type: 'Resource',
          resource: expect.objectContaining({ name: 'cpu' }) as unknown,
        }),
      ]);
    }
    expect(names('PersistentVolumeClaim')).toEqual([
      `${RELEASE}-audit-state`,
      `${RELEASE}-witness-state`,
    ]);
    // Secrets are the installation's: the chart only refers to them.
    expect(names('Secret')).toEqual([]);
  });

  it.each(PLATFORM_SERVICES)(
    '%s: probes on grpc.health.v1 at its gRPC port, readiness for its own service; serves metrics',
    (service) => {
      const container = containerOf(objects, service);
      const { plain } = renderedEnvironment(objects, service);
      const port = Number(plain['GRPC_PORT']);
      const metricsPort = Number(plain['METRICS_PORT']);
      expect(container.ports.map((p) => p.containerPort)).toEqual([port, metricsPort]);
      expect(plain['HTTP_BIND_HOST']).toBe('0.0.0.0');
      expect(container.readinessProbe.grpc).toEqual({ port, service: servedName(service) });
      // No service name: the whole server's status (the decoded type writes it as null).
      expect(container.livenessProbe.grpc?.port).toBe(port);
      expect(container.livenessProbe.grpc?.service ?? '').toBe('');
    },
  );

  it.each(PLATFORM_SERVICES)(
    '%s: sets only variables its configuration reads, and every one it requires',
    (service) => {
      const rendered = renderedEnvironment(objects, service);
      for (const withOptional of [true, false]) {
        const environment = podEnvironment(service, rendered, { withOptional });
        const { read, problems } = readRecorded(service, environment);
        expect(problems).toEqual([]);
        expect(Object.keys(environment).filter((variable) => !read.has(variable))).toEqual([]);
      }
    },
  );

  it.each(PLATFORM_SERVICES)('%s: every secret comes from its Secret, by reference', (service) => {
    const rendered = renderedEnvironment(objects, service);
    const harness = testEnvironment(service);
    const secretVariables = Object.keys(harness).filter((variable) =>
      SECRET_VALUES.some((secret) => (harness[variable] ?? '').includes(secret)),
    );
    expect(secretVariables.length).toBeGreaterThan(0);
    for (const variable of secretVariables) {
      if (!(variable in rendered.plain) && !(variable in rendered.secretRefs)) continue;
      expect(rendered.secretRefs[variable], variable).toEqual(
        expect.objectContaining({ name: `${RELEASE}-${service}`, key: variable }),
      );
    }
    expect(Object.keys(rendered.plain).filter((v) => secretVariables.includes(v))).toEqual([]);
  });

  it('network policies allow exactly the calls the services make, and the public APIs', () => {
    const calls = new Map<string, string[]>();
    for (const service of PLATFORM_SERVICES) {
      const rendered = renderedEnvironment(objects, service);
      calls.set(
        service,
        callsOf(
          readRecorded(service, podEnvironment(service, rendered, { withOptional: true })).read,
        ),
      );
    }
    calls.set('witness', []);
    // The architecture as the configurations state it (a change there must show here).
    expect(Object.fromEntries(calls)).toEqual({
      otp: [],
      identity: ['otp'],
      'vaccination-record': ['identity', 'otp'],
      audit: ['identity', 'otp', 'witness'],
      witness: [],
    });
    for (const [component, callees] of calls) {
      const { spec } = find<{ spec: PolicySpec }>(
        objects,
        'NetworkPolicy',
        `${RELEASE}-${component}`,
      );
      expect(spec.policyTypes.sort()).toEqual(['Egress', 'Ingress']);
      // A rule without peers would admit everyone.
      for (const rule of spec.ingress ?? []) expect(rule.from?.length).toBeGreaterThan(0);
      for (const rule of spec.egress ?? []) expect(rule.to?.length).toBeGreaterThan(0);
      const callers = [...calls].filter(([, c]) => c.includes(component)).map(([name]) => name);
      expect(podPeers(spec.egress), `${component} egress`).toEqual(callees);
      expect(podPeers(spec.ingress), `${component} ingress`).toEqual(callers.sort());
      // The public APIs' callers (the installation's gateway) reach the four services only.
      const outsidePeers = (spec.ingress ?? []).flatMap((rule) => rule.from ?? []).length;
      if (component === 'witness') expect(outsidePeers).toBe(callers.length);
      else expect(outsidePeers).toBeGreaterThan(callers.length);
    }
  });

  it("witness: sets exactly the variables its image's entrypoint requires", () => {
    const entrypoint = readFileSync(
      join(REPO_ROOT, 'tools', 'images', 'witness', 'entrypoint.sh'),
      'utf8',
    );
    const required = [...entrypoint.matchAll(/\$\{(WITNESS_[A-Z_]+):\?\}/g)].map(
      ([, name]) => name,
    );
    expect(required.length).toBeGreaterThan(0);
    const { data } = find<{ data: Record<string, string> }>(
      objects,
      'ConfigMap',
      `${RELEASE}-witness`,
    );
    expect(Object.keys(data).sort()).toEqual(required.sort());
  });

  it('only the OTP service reaches the SMS centre, at the port it binds to', () => {
    const smppPort = Number(renderedEnvironment(objects, 'otp').plain['OTP_SMPP_PORT']);
    expect(smppPort).toBeGreaterThan(0);
    const reachesSmppPort = (component: string) =>
      (
        find<{ spec: PolicySpec }>(objects, 'NetworkPolicy', `${RELEASE}-${component}`).spec
          .egress ?? []
      ).some(
        (rule) =>
          rule.ports?.some((port) => port.port === smppPort) &&
          rule.to?.every((peer) => peer.ipBlock !== undefined),
      );
    expect(PLATFORM_SERVICES.filter(reachesSmppPort)).toEqual(['otp']);
  });
});

describe('a misspelled field', () => {
  let chartCopy: string;

  beforeAll(() => {
    chartCopy = mkdtempSync(join(tmpdir(), 'vaxguard-chart-'));
    cpSync(CHART_DIR, chartCopy, { recursive: true });
  });

  afterAll(() => rmSync(chartCopy, { recursive: true, force: true }));

  it('in a template renders and lints, and is refused by the strict decoding', async () => {
    const template = join(chartCopy, 'templates', 'deployment.yaml');
    const source = readFileSync(template, 'utf8');
    expect(source).toContain('readinessProbe:');
    writeFileSync(template, source.replace('readinessProbe:', 'readinesProbe:'));

    const rendered = tools.render('values-small.yaml', { chartDir: chartCopy });
    expect(rendered.ok).toBe(true);
    expect(rendered.stdout).toContain('readinesProbe:');
    // helm's own checks let it through: only the API types know the field does not exist.
    const lint = tools.helm([
      'lint',
      chartCopy,
      '--strict',
      '-f',
      join(CHART_DIR, 'values-small.yaml'),
    ]);
    expect(lint.ok).toBe(true);
    const decoded = await tools.decodeStrictly(rendered.stdout);
    expect(decoded.ok).toBe(false);
    for (const service of PLATFORM_SERVICES) {
      expect(decoded.stderr).toContain(`Deployment ${RELEASE}-${service} (document`);
    }
    expect(decoded.stderr).toContain(
      'unknown field "spec.template.spec.containers[0].readinesProbe"',
    );
  });

  it('in the values is refused too', async () => {
    const rendered = tools.render('values-national.yaml', {
      set: ['podSecurityContext.runAsNonRot=true'],
    });
    expect(rendered.ok).toBe(true);
    const decoded = await tools.decodeStrictly(rendered.stdout);
    expect(decoded.ok).toBe(false);
    expect(decoded.stderr).toContain(
      'unknown field "spec.template.spec.securityContext.runAsNonRot"',
    );
  });
});
