/** Redis discovery: explicit URL, the local default, an embedded redis-server on a unix socket, or one clear message. */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { EmbeddedRedis, embeddedSocketOf, freePort, noRedisMessage, optionsFromUrl, pingRedis, resolveRedis, RedisUnavailableError } from '../../src/redis/index.js';

describe('redis discovery', () => {
  it('parses redis://, rediss:// and unix:// URLs', () => {
    expect(optionsFromUrl('redis://u:p%40ss@h:6380/2')).toEqual({ host: 'h', port: 6380, username: 'u', password: 'p@ss', db: 2 });
    expect(optionsFromUrl('rediss://h')).toMatchObject({ host: 'h', port: 6379, tls: {} });
    expect(optionsFromUrl('unix:///tmp/r.sock')).toEqual({ path: '/tmp/r.sock' });
    expect(() => optionsFromUrl('http://h')).toThrow(/unsupported Redis URL scheme/);
  });

  it('probes the explicit URL: one line when nothing listens there, with the password hidden', async () => {
    const port = await freePort();
    await expect(resolveRedis({ url: `redis://user:secret@127.0.0.1:${port}` })).rejects.toThrow(new RedisUnavailableError(`Redis at redis://user:***@127.0.0.1:${port} refused the connection (nothing listens there)`));
  });

  it('uses the local Redis when it answers, and starts nothing', async () => {
    const local = await EmbeddedRedis.start({ dir: mkdtempSync(join(tmpdir(), 'vl-local-')), mode: 'tcp', appendOnly: false });
    try {
      const localUrl = `redis://127.0.0.1:${local.options.port!}`;
      const dir = join(mkdtempSync(join(tmpdir(), 'vl-emb-')), '.vault-loop', 'redis');
      const t = await resolveRedis({ embeddedDir: dir, localUrl });
      expect(t.describe).toBe(localUrl);
      expect(t.embedded).toBeUndefined();
      expect(t.options.port).toBe(local.options.port);
      expect(existsSync(dir)).toBe(false);
    } finally {
      await local.stop();
    }
  });

  it('starts an embedded redis-server on a unix socket with AOF when nothing answers, and stops it', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const dir = join(mkdtempSync(join(tmpdir(), 'vl-emb-')), '.vault-loop', 'redis');
    const t = await resolveRedis({ embeddedDir: dir, localUrl: closed });
    try {
      expect(t.embedded).toBeInstanceOf(EmbeddedRedis);
      expect(t.options.path).toBe(join(dir, 'redis.sock'));
      const c = new Redis(t.options);
      await c.set('k', 'v');
      expect(await c.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      expect(await c.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
      c.disconnect();
    } finally {
      await t.embedded!.stop();
    }
    expect(await pingRedis(t.options, 300)).toBe(false);
    expect(existsSync(join(dir, 'appendonlydir')) || existsSync(join(dir, 'appendonly.aof'))).toBe(true);
  });

  it('a vault too deep for a unix socket path gets its socket in a temp folder, and the vault says where', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const dir = join(mkdtempSync(join(tmpdir(), 'vl-deep-')), 'a-rather-long-folder-name-for-a-vault'.repeat(3), '.vault-loop', 'redis');
    expect(Buffer.byteLength(join(dir, 'redis.sock'))).toBeGreaterThan(100);
    const t = await resolveRedis({ embeddedDir: dir, localUrl: closed });
    try {
      expect(t.options.path).not.toBe(join(dir, 'redis.sock'));
      expect(embeddedSocketOf(dir)).toBe(t.options.path);
      expect(await pingRedis({ path: embeddedSocketOf(dir) })).toBe(true);
    } finally {
      await t.embedded!.stop();
    }
    // A folder without a pointer: the socket is in the folder itself.
    expect(embeddedSocketOf('/nowhere/redis')).toBe('/nowhere/redis/redis.sock');
  });

  it('an embedded server restarted on the same folder keeps its data (AOF)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vl-aof-'));
    const a = await EmbeddedRedis.start({ dir, mode: 'tcp' });
    const c = new Redis(a.options);
    await c.set('survives', '1');
    c.disconnect();
    await a.stop();
    const b = await EmbeddedRedis.start({ dir, mode: 'tcp' });
    const d = new Redis(b.options);
    expect(await d.get('survives')).toBe('1');
    d.disconnect();
    await b.stop();
  });

  it('says how to get a Redis when there is none and no embedded folder', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    await expect(resolveRedis({ localUrl: closed })).rejects.toThrow(RedisUnavailableError);
    await expect(resolveRedis({ localUrl: closed })).rejects.toThrow(/REDIS_URL/);
    expect(noRedisMessage()).toMatch(/apt-get install redis-server/);
  });
});
