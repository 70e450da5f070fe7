// `npx vaxguard`: runs the command line on this process's arguments and streams.
import { runCli } from './cli';

// A reader that stops early (`npx vaxguard audit tail | head`) is no failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
    process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0);
  });
}

const abort = new AbortController();
process.once('SIGINT', () => abort.abort());
process.once('SIGTERM', () => abort.abort());

const readStdin = async (): Promise<string> => {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
};

const exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stderrIsTty: process.stderr.isTTY === true,
  stderrStream: process.stderr,
  cwd: process.cwd(),
  readStdin,
  signal: abort.signal,
});
// Open handles (a gRPC channel's timers, kafkajs) must not keep a finished command alive.
process.exitCode = exitCode;
setTimeout(() => process.exit(exitCode), 100).unref();
