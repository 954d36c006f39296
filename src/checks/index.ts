export {
  arithmeticStatements,
  checkArithmetic,
  DEFAULT_REL_TOL,
  formatQuantity,
  repairArithmetic,
  type ArithmeticOptions,
  type ArithmeticResult,
  type ArithmeticStatement,
  type ArithmeticStatus,
} from './arithmetic.js';
export { jaccard, NearDupIndex, nearDupText, SHINGLE_SIZE, shingles, similarity, type NearDupDoc, type NearestMatch } from './neardup.js';
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
  type Finding,
} from './run.js';
export { unitScale, type UnitScale } from './units.js';
