// Stand-in for the `gemini` CLI (installed on PATH by installFakeGeminiCli). It checks its argv
// (`-m MODEL --prompt PROMPT`) and that stdin is empty, then asks the test's HTTP endpoint what to
// do: print an answer, fail with stderr, or hang. Plain .mjs: it runs without tsx.
import { Buffer } from 'node:buffer';
import { request } from 'node:http';
import process from 'node:process';
import { setInterval } from 'node:timers';

const args = process.argv.slice(2);
const violations = [];
const mi = args.indexOf('-m');
const pi = args.indexOf('--prompt');
if (mi < 0 || pi < 0 || args.length !== 4) violations.push(`unexpected argv ${JSON.stringify(args)}`);
const model = mi >= 0 ? args[mi + 1] : undefined;
const prompt = pi >= 0 ? args[pi + 1] : undefined;

const stdinChunks = [];
for await (const c of process.stdin) stdinChunks.push(c);
const stdin = Buffer.concat(stdinChunks).toString('utf8');
if (stdin.length > 0) violations.push('stdin was not empty');

const body = JSON.stringify({ model, prompt, violations, pid: process.pid });
const reply = await new Promise((resolve, reject) => {
  const req = request(process.env.FAKE_GEMINI_URL, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
    const chunks = [];
    res.on('data', (c) => chunks.push(c));
    res.on('end', () => resolve(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
  });
  req.on('error', reject);
  req.end(body);
});

if (reply.mode === 'hang') {
  setInterval(() => {}, 1000);
} else if (reply.mode === 'fail') {
  process.stderr.write(reply.stderr ?? 'error');
  process.exit(reply.code ?? 1);
} else {
  process.stdout.write(reply.text ?? '');
}
