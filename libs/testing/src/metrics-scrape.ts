// Reading a service's /metrics as Prometheus would: a strict parse of the text
// exposition format (0.0.4), so a line Prometheus would refuse fails the test that
// scrapes it, and the checks every scrape must pass (no person's data in a label).

/** One sample of a scrape: its series name, labels and value. */
export interface MetricSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A parsed scrape: the samples, and each family's declared type. */
export interface Scrape {
  readonly samples: readonly MetricSample[];
  readonly types: ReadonlyMap<string, string>;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
/** Suffixes a histogram's or summary's series add to the family's name. */
const SUFFIXES = ['_bucket', '_sum', '_count'];

/** A value as Prometheus reads it (Go's ParseFloat): NaN and Inf in any case (prom-client writes `Nan`). */
function parseValue(raw: string, line: string): number {
  if (/^[+]?inf(inity)?$/i.test(raw)) return Infinity;
  if (/^-inf(inity)?$/i.test(raw)) return -Infinity;
  if (/^nan$/i.test(raw)) return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(raw)) {
    throw new Error(`not a sample value: ${JSON.stringify(raw)} in ${JSON.stringify(line)}`);
  }
  return Number(raw);
}

/** `{a="x",b="y"}` from `at` (the `{`): the labels and where the text after them starts. */
function parseLabels(line: string, at: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = at + 1;
  const fail = (why: string): never => {
    throw new Error(`${why} in ${JSON.stringify(line)}`);
  };
  while (line[i] !== '}') {
    const eq = line.indexOf('=', i);
    if (eq < 0) fail('a label without a value');
    const name = line.slice(i, eq);
    if (!LABEL_NAME.test(name)) fail(`a bad label name ${JSON.stringify(name)}`);
    if (name in labels) fail(`label ${name} twice`);
    if (line[eq + 1] !== '"') fail('a label value not in quotes');
    let value = '';
    let j = eq + 2;
    for (; j < line.length && line[j] !== '"'; j++) {
      if (line[j] === '\\') {
        const escaped = line[++j];
        if (escaped === 'n') value += '\n';
        else if (escaped === '\\' || escaped === '"') value += escaped;
        else fail('a bad escape');
      } else {
        value += line[j];
      }
    }
    if (j >= line.length) fail('an unterminated label value');
    labels[name] = value;
    i = j + 1;
    if (line[i] === ',') i++;
    else if (line[i] !== '}') fail('labels not separated by commas');
  }
  return { labels, end: i + 1 };
}

/**
 * Parses a scrape in the text format, strictly: every line a comment, a HELP or TYPE
 * line, or a sample of a family whose TYPE came first (prom-client always writes it),
 * with valid names, quoted and escaped label values and a number. Throws naming the
 * first line that is not.
 */
export function parseExposition(text: string): Scrape {
  const samples: MetricSample[] = [];
  const types = new Map<string, string>();
  if (!text.endsWith('\n')) throw new Error('a scrape ends with a newline');
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const [, keyword, name, rest] = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line) ?? [];
      if (!keyword) continue; // a plain comment
      if (!NAME.test(name ?? '')) throw new Error(`a bad metric name in ${JSON.stringify(line)}`);
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest ?? '')) throw new Error(`an unknown type in ${JSON.stringify(line)}`);
        if (types.has(name as string)) throw new Error(`TYPE twice for ${name}`);
        types.set(name as string, rest as string);
      }
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`not a sample: ${JSON.stringify(line)}`);
    const name = line.slice(0, nameEnd);
    if (!NAME.test(name)) throw new Error(`a bad metric name in ${JSON.stringify(line)}`);
    const { labels, end } =
      line[nameEnd] === '{' ? parseLabels(line, nameEnd) : { labels: {}, end: nameEnd };
    const [value, timestamp, extra] = line.slice(end).trim().split(/\s+/);
    if (line[end] !== ' ' || value === undefined || extra !== undefined) {
      throw new Error(`not a sample: ${JSON.stringify(line)}`);
    }
    if (timestamp !== undefined && !/^-?\d+$/.test(timestamp)) {
      throw new Error(`a bad timestamp in ${JSON.stringify(line)}`);
    }
    const family =
      types.has(name) || !SUFFIXES.some((suffix) => name.endsWith(suffix))
        ? name
        : name.slice(0, name.lastIndexOf('_'));
    if (!types.has(family)) throw new Error(`a sample of ${name} before its TYPE`);
    samples.push({ name, labels, value: parseValue(value, line) });
  }
  return { samples, types };
}

/** GETs `url` (a service's /metrics) and parses it strictly. */
export async function scrapeMetrics(url: string): Promise<Scrape> {
  const response = await fetch(url);
  if (response.status !== 200) throw new Error(`${url}: HTTP ${response.status}`);
  const type = response.headers.get('content-type') ?? '';
  if (!type.startsWith('text/plain')) throw new Error(`${url}: content-type ${type}`);
  return parseExposition(await response.text());
}

/** The samples of one series name whose labels include `labels`. */
export function samplesOf(
  scrape: Scrape,
  name: string,
  labels: Readonly<Record<string, string>> = {},
): MetricSample[] {
  return scrape.samples.filter(
    (sample) =>
      sample.name === name &&
      Object.entries(labels).every(([key, value]) => sample.labels[key] === value),
  );
}

/**
 * Label values that could be a person's data: a run of ten or more digits (a mobile, an
 * identity number), or a token's shape (a JWT, or a long base64url string). Empty for a
 * clean scrape.
 */
export function suspiciousLabelValues(scrape: Scrape): string[] {
  const suspicious = (value: string) =>
    /\d{10,}/.test(value) ||
    /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/.test(value) ||
    /[A-Za-z0-9_-]{32,}/.test(value);
  const found = new Set<string>();
  for (const sample of scrape.samples) {
    for (const [label, value] of Object.entries(sample.labels)) {
      if (suspicious(value)) found.add(`${sample.name}{${label}="${value}"}`);
    }
  }
  return [...found];
}
