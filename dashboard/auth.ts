/**
 * Who is asking, and may they act.
 *
 * Credentials: `DASHBOARD_TOKEN` (config dashboardToken) makes an operator, `DASHBOARD_VIEWER_TOKEN`
 * (dashboardViewerToken) a viewer. A client presents one of them as
 *   - `Authorization: Bearer <token>` (scripts, curl),
 *   - basic auth with any user name and the token as the password (a browser's own login prompt), or
 *   - `?token=<token>` once: the dashboard answers with an HttpOnly, SameSite=Strict cookie and a
 *     redirect to the same URL without the token, so it leaves the address bar and history.
 * Basic-auth credentials of their own, `DASHBOARD_BASIC_AUTH` (dashboardBasicAuth) for an operator and
 * `DASHBOARD_VIEWER_BASIC_AUTH` (dashboardViewerBasicAuth) for a viewer, each `user:password`, match
 * a basic-auth login on both the user name and the password.
 * With no credential configured the dashboard only listens on a loopback address and the local user
 * is an operator; requests then must also name a loopback Host, so a DNS-rebinding page cannot reach
 * it. Every request that changes something (any method but GET/HEAD) needs the operator role and
 * must not come from another origin (Origin / Sec-Fetch-Site), so a cookie or cached basic-auth
 * credential cannot be used by another site.
 */
import { timingSafeEqual, createHash } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';

export type Role = 'operator' | 'viewer';

export interface Credentials {
  token?: string | undefined;
  viewerToken?: string | undefined;
  /** `user:password` of a basic-auth login: an operator's, a viewer's. */
  basicAuth?: string | undefined;
  viewerBasicAuth?: string | undefined;
}

const hasCredentials = (c: Credentials): boolean => Boolean(c.token || c.viewerToken || c.basicAuth || c.viewerBasicAuth);

export const COOKIE_NAME = 'vault_loop_dashboard';

export class DashboardConfigError extends Error {
  override readonly name = 'DashboardConfigError';
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1', '[::1]']);

export function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Throws a clear DashboardConfigError when `host` would expose an unauthenticated dashboard. */
export function checkBindSecurity(host: string, creds: Credentials): void {
  if (isLoopback(host)) return;
  if (!creds.token && !creds.basicAuth) {
    throw new DashboardConfigError(
      `dashboard: refusing to listen on ${host} without an operator token: set DASHBOARD_TOKEN (config key dashboardToken, at least 8 characters) or DASHBOARD_BASIC_AUTH (config key dashboardBasicAuth, user:password), or keep --host 127.0.0.1`,
    );
  }
  if (creds.viewerToken && creds.viewerToken === creds.token) {
    throw new DashboardConfigError('dashboard: DASHBOARD_VIEWER_TOKEN must differ from DASHBOARD_TOKEN');
  }
  if (creds.viewerBasicAuth && creds.viewerBasicAuth === creds.basicAuth) {
    throw new DashboardConfigError('dashboard: DASHBOARD_VIEWER_BASIC_AUTH must differ from DASHBOARD_BASIC_AUTH');
  }
}

const digest = (s: string): Buffer => createHash('sha256').update(s).digest();
/** Constant-time comparison (hashing first makes the lengths equal). */
const same = (a: string, b: string): boolean => timingSafeEqual(digest(a), digest(b));

function cookieValue(req: Request, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) {
      // A value that is not valid percent-encoding is no credential (a 401, not a crash).
      try {
        return decodeURIComponent(part.slice(i + 1).trim());
      } catch {
        return undefined;
      }
    }
  }
  return undefined;
}

/** The `user:password` of a basic-auth login, if the request carries one. */
export function presentedBasic(req: Request): string | undefined {
  const basic = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
  return basic ? Buffer.from(basic[1]!, 'base64').toString('utf8') : undefined;
}

/** The secret a request presents, if any. */
export function presentedSecret(req: Request): string | undefined {
  const auth = req.headers.authorization ?? '';
  const bearer = /^Bearer\s+(.+)$/i.exec(auth);
  if (bearer) return bearer[1]!.trim();
  const basic = /^Basic\s+(.+)$/i.exec(auth);
  if (basic) {
    const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
    const i = decoded.indexOf(':');
    return i >= 0 ? decoded.slice(i + 1) : decoded;
  }
  return cookieValue(req, COOKIE_NAME);
}

export function roleOf(secret: string | undefined, creds: Credentials, basic?: string): Role | null {
  if (!hasCredentials(creds)) return 'operator';
  if (basic !== undefined) {
    if (creds.basicAuth && same(basic, creds.basicAuth)) return 'operator';
    if (creds.viewerBasicAuth && same(basic, creds.viewerBasicAuth)) return 'viewer';
  }
  if (!secret) return null;
  if (creds.token && same(secret, creds.token)) return 'operator';
  if (creds.viewerToken && same(secret, creds.viewerToken)) return 'viewer';
  return null;
}

/** Is the request from this page's own origin (or from a non-browser client, which sends neither header)? */
export function sameOrigin(req: Request): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (!host) return false;
  try {
    const u = new URL(origin);
    return u.host === host && (u.protocol === 'http:' || u.protocol === 'https:');
  } catch {
    return false;
  }
}

const wantsHtml = (req: Request): boolean => (req.headers.accept ?? '').includes('text/html');

function deny(req: Request, res: Response, status: 401 | 403, message: string): void {
  if (status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="vault-loop dashboard", charset="UTF-8"');
  if (wantsHtml(req)) {
    res
      .status(status)
      .type('html')
      .send(
        `<!doctype html><meta charset="utf-8"><title>${status}</title><body style="font-family:sans-serif;margin:2rem"><h1>${status}</h1><p>${message}</p>` +
          (status === 401 ? '<p>Open the dashboard with <code>?token=YOUR_TOKEN</code> once, or log in with your user name and password (or any user name and the token as the password).</p>' : '') +
          '</body>',
      );
    return;
  }
  res.status(status).json({ error: message });
}

declare module 'express-serve-static-core' {
  interface Request {
    dashboardRole?: Role;
  }
}

/** Resolves the role of every request; rejects the unauthenticated and the unsafe. */
export function authMiddleware(creds: Credentials): (req: Request, res: Response, next: NextFunction) => void {
  const open = !hasCredentials(creds);
  return (req, res, next) => {
    if (open) {
      const hostName = (req.headers.host ?? '').replace(/:\d+$/, '');
      if (!isLoopback(hostName)) return deny(req, res, 403, 'this dashboard has no credentials configured and only answers on a loopback host name');
    }
    // `?token=` → cookie, then the same URL without the token.
    const queryToken = typeof req.query.token === 'string' ? req.query.token : undefined;
    if (queryToken !== undefined && (req.method === 'GET' || req.method === 'HEAD')) {
      if (!roleOf(queryToken, creds)) return deny(req, res, 401, 'invalid token');
      res.setHeader('Set-Cookie', `${COOKIE_NAME}=${encodeURIComponent(queryToken)}; HttpOnly; SameSite=Strict; Path=/`);
      const url = new URL(req.originalUrl, 'http://x');
      url.searchParams.delete('token');
      res.redirect(303, `${url.pathname}${url.search}`);
      return;
    }
    const role = roleOf(presentedSecret(req), creds, presentedBasic(req));
    if (!role) return deny(req, res, 401, 'authentication required');
    req.dashboardRole = role;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      if (role !== 'operator') return deny(req, res, 403, 'viewers cannot change anything');
      if (!sameOrigin(req)) return deny(req, res, 403, 'cross-origin request refused');
    }
    next();
  };
}
