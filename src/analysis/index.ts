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
export { analyzeRecords, analyzeRecordGroups, DEFAULT_ANALYZE_OPTIONS, pythonIsoUtc } from './analyze.js';
export { analyzeVault, clearVaultAnalyzerCache, listVaultQuestionFiles, VaultAnalyzer, INDEX_DIR, INDEX_FILE, INDEX_VERSION, RACY_MS, WRITE_DEBT, WATCH_DEFAULT } from './vault.js';
export type { AnalyzeVaultOptions, AnalyzeVaultResult, AnalyzeVaultStats, SkippedFile, SkippedLink } from './vault.js';
export { renderReportMarkdown, writeReport, claimReportDir, utcStamp } from './report.js';
export { parseCoverage, parseCoverageFull, scanCoverageFast, COVERAGE_KEYS } from './scan.js';
export type { CoverageParse, SkipReason } from './scan.js';
export { pyRound, pyFloatRepr } from './pyround.js';
export { DirWatchers, watchable } from './vault-watch.js';
export type { WatchBatch } from './vault-watch.js';
