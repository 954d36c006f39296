export {
  corruptArithmetic,
  generateAnswer,
  generateItem,
  OFFLINE_DEFECTS,
  offlineDefectFor,
  type GenerateOptions,
  type OfflineCell,
  type OfflineDefect,
  type OfflineItem,
} from './generate.js';
export { HARDWARE, hwClassFor, type HwClass, type HwProfile } from '../../corpus/hardware.js';
export { draftToDoc, judgeDrafts, reviseDraft, type JudgeOptions, type OfflineVerdict, type RevisionRequest } from './judge.js';
export { createOfflineProvider, OFFLINE_MODEL, offlineAnswer, type OfflineProviderOptions } from './provider.js';
export { repairAnswer } from './repair.js';
export { extractTaggedJson, findJsonArray, maybeTaggedJson } from './tags.js';
export { AREA_TEMPLATES, TEMPLATES, type QuestionParts, type TemplateKind } from './templates.js';
export { buildVisual, type OfflineVisual } from './visual.js';
