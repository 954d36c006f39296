import { createLogger } from '../../util/log.js';
import { configFromOptions, connectRedis, onSignals } from '../common.js';
import { UserError } from '../output.js';

export async function dashboard(opts: Record<string, unknown>): Promise<void> {
  const cfg = configFromOptions(opts, { dashboardHost: opts.host, dashboardPort: opts.port });
  const log = createLogger(cfg.logLevel);
  const target = await connectRedis(cfg, { ...(typeof opts.vault === 'string' ? { vault: opts.vault } : {}), mayStart: false });
  // Loaded here: Express and Bull Board are only paid for by the command that serves them.
  const { DashboardConfigError, DashboardListenError, dashboardOptionsFromConfig, startDashboard } = await import('../../../dashboard/index.js');
  let dash;
  try {
    dash = await startDashboard({ ...dashboardOptionsFromConfig(cfg), target, log });
  } catch (e) {
    if (e instanceof DashboardConfigError || e instanceof DashboardListenError) throw new UserError(e.message);
    throw e;
  }
  process.stderr.write(`vault-loop: Redis at ${target.describe}, prefix ${cfg.prefix}\n`);
  process.stdout.write(`vault-loop: dashboard at ${dash.url} (Bull Board at ${dash.url}queues)\n`);
  const running = dash;
  await new Promise<void>((resolve) => {
    const off = onSignals(
      () => {
        off();
        void running.close().finally(resolve);
      },
      () => process.exit(130),
    );
  });
}
