/**
 * A fake `gemini` executable for the gemini-cli provider: a node script written into a temp dir
 * as `gemini`, to be put first on PATH. Each run reports (model, prompt, argv/stdin violations,
 * pid) to a real HTTP endpoint here, which records it and answers with a scripted step or the
 * answer callback.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export type CliStep = { mode: 'answer'; text?: string } | { mode: 'fail'; code?: number; stderr?: string } | { mode: 'hang' };

export interface CliCall {
  model: string | undefined;
  prompt: string | undefined;
  violations: string[];
  pid: number;
}

export interface FakeGeminiCli {
  /** Directory holding the `gemini` executable. */
  binDir: string;
  /** process.env with binDir first on PATH and the endpoint set. */
  env: NodeJS.ProcessEnv;
  calls: CliCall[];
  script(...steps: CliStep[]): void;
  close(): Promise<void>;
}

export async function installFakeGeminiCli(answer: (call: CliCall) => string | Promise<string> = () => '[]'): Promise<FakeGeminiCli> {
  const binDir = mkdtempSync(join(tmpdir(), 'vl-fake-gemini-'));
  const stub = readFileSync(join(dirname(fileURLToPath(import.meta.url)), 'gemini-stub.mjs'), 'utf8');
  const exe = join(binDir, 'gemini');
  // The shebang names this node binary, so the stub runs whatever PATH the test gives it.
  writeFileSync(exe, `#!${process.execPath}\n${stub}`);
  chmodSync(exe, 0o755);

  const calls: CliCall[] = [];
  const steps: CliStep[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const call = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CliCall;
      calls.push(call);
      const step = steps.shift() ?? { mode: 'answer' };
      const reply = step.mode === 'answer' ? { mode: 'answer', text: step.text ?? (await answer(call)) } : step;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(reply));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    binDir,
    env: { ...process.env, PATH: `${binDir}${delimiter}${process.env.PATH ?? ''}`, FAKE_GEMINI_URL: url },
    calls,
    script: (...s) => void steps.push(...s),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      rmSync(binDir, { recursive: true, force: true });
    },
  };
}
