/** The dashboard's public surface: start it (CLI, `run --dashboard`) or mount its app (tests). */
export { createDashboardApp, dashboardOptionsFromConfig, DashboardListenError, startDashboard, type DashboardDeps, type RunningDashboard, type StartDashboardOptions } from './app.js';
export { checkBindSecurity, COOKIE_NAME, DashboardConfigError, isLoopback, type Credentials, type Role } from './auth.js';
export { coverageGrid, listRuns, runDetail, type CoverageGrid, type FailedChunk, type IterationRow, type RunDetail, type RunSummary } from './data.js';
export { metricsText } from './metrics.js';
export { isSafeName, parseVerdictFilter, reviewItems, reviewPage, svgRoute, visualFile, type DraftText, type ReviewItem, type Verdict } from './review.js';
