export {
  arithmeticStatements,
  checkArithmetic,
  DEFAULT_REL_TOL,
  formatQuantity,
  repairArithmetic,
  type ArithmeticOptions,
  type ArithmeticProblem,
  fixesByteConvention,
  type MismatchKind,
  type ArithmeticResult,
  type ArithmeticStatement,
  type ArithmeticStatus,
} from './arithmetic.js';
export { contentWords, jaccard, NearDupIndex, similarity, similarityScores, type NearDupDoc, type NearestMatch } from './neardup.js';
export { findInjections, injectionSkeleton, stringFields, type InjectionHit } from './injection.js';
export { bloomMismatch, bloomOfQuestion, hardwareMismatch } from './fit.js';
export { callsSaved, prejudge, type PrejudgeFindings, type PrejudgeOptions, type PrejudgeResult, type VaultNearest } from './prejudge.js';
export {
  CRITERIA,
  criterionFor,
  DEFAULT_NEAR_DUP_THRESHOLD,
  hasPromptInjection,
  isThreePartMistake,
  MAX_TITLE_WORDS,
  napkinFormProblems,
  runChecks,
  summarize,
  withFindings,
  type CheckCell,
  type CheckContext,
  type CheckReport,
  type Criteria,
  type Criterion,
  type CriterionGrade,
  type DraftDoc,
  type CheckKind,
  type Finding,
  type FindingLevel,
} from './run.js';
export { unitScale, type UnitScale } from './units.js';
