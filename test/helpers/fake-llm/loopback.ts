/**
 * What the fake services share: a real HTTP server on a free 127.0.0.1 port, the base URL an SDK of
 * its protocol is given, the connections it holds open, and a close that ends them all. What a
 * request is answered with (and every check made on it) stays each fake's own.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Protocol } from './server.js';

export abstract class LoopbackFake<Options extends { protocol: Protocol }> {
  protected readonly opts: Options;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  #url = '';

  /** Only through a fake's own `start`, which listens before handing it out. */
  protected constructor(opts: Options) {
    this.opts = opts;
    this.#server = createServer((req, res) => this.onRequest(req, res));
    this.#server.on('connection', (s) => {
      this.#sockets.add(s);
      s.on('close', () => this.#sockets.delete(s));
    });
  }

  /** Answers one request, as the service this fake stands for does. */
  protected abstract onRequest(req: IncomingMessage, res: ServerResponse): void;

  /** Starts listening on a free loopback port; this fake, started. */
  protected async listen(): Promise<this> {
    await new Promise<void>((res) => this.#server.listen(0, '127.0.0.1', res));
    this.#url = `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
    return this;
  }

  /** The base URL to give the SDK (OpenAI clients expect the /v1 in it). */
  get baseUrl(): string {
    return this.opts.protocol === 'openai' ? `${this.#url}/v1` : this.#url;
  }

  /** The server's own http:// URL, without any SDK path. */
  get url(): string {
    return this.#url;
  }

  /** Connections currently open (a hung request whose client gave up closes its socket). */
  get openConnections(): number {
    return this.#sockets.size;
  }

  /** Ends every open connection (a hung request's too) and stops listening. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await new Promise<void>((res) => this.#server.close(() => res()));
  }
}
