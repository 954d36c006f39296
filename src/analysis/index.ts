export type {
  AnalyzeOptions,
  CoverageRecord,
  CoverageReport,
  PlanCell,
  PlanReason,
  Strategy,
  TrackAreaGap,
  TrackZoneLevelGap,
} from './types.js';
export { analyzeRecords, DEFAULT_ANALYZE_OPTIONS, pythonIsoUtc } from './analyze.js';
export { analyzeVault, listVaultQuestionFiles, INDEX_DIR, INDEX_FILE, INDEX_VERSION } from './vault.js';
export type { AnalyzeVaultOptions, AnalyzeVaultStats, SkippedFile } from './vault.js';
export { renderReportMarkdown, writeReport, claimReportDir, utcStamp } from './report.js';
export { parseCoverage, parseCoverageFull, scanCoverageFast, COVERAGE_KEYS } from './scan.js';
export type { CoverageParse, SkipReason } from './scan.js';
export { pyRound, pyFloatRepr } from './pyround.js';
