/** Visuals: dot via WASM Graphviz, sandboxed matplotlib, the SVG normalizer/checker, and the vault renderer. */
export { renderVisual, type RenderVisualInput, type RenderVisualResult, type VisualKind } from './render.js';
export { renderDot, screenDot, loadGraphviz, FORBIDDEN_DOT_ATTRIBUTES, DEFAULT_MAX_DOT_BYTES, type DotOptions, type RenderOutcome } from './dot.js';
export {
  renderMatplotlib,
  screenPythonScript,
  PYTHON_DISABLED,
  ALLOWED_IMPORTS,
  DEFAULT_PYTHON_TIMEOUT_MS,
  DEFAULT_MAX_OUTPUT_BYTES,
  type MatplotlibOptions,
  type PythonOutcome,
  DEFAULT_MAX_MEMORY_BYTES,
} from './python.js';
export { sandboxFor, findExecutable, DEFAULT_SANDBOX_COMMAND, DEFAULT_PYTHON, type SandboxStatus } from './sandbox.js';
export { sanitizeSvg, DEFAULT_MAX_SVG_BYTES, VIEWBOX_WIDTH_RANGE, type SanitizeOptions, type SanitizeResult, type SvgSource } from './sanitize.js';
export { SEMANTIC_PALETTE, ROOT_FONT_FAMILY, normalizeColour, isAllowedColour } from './palette.js';
export { visualPaths, visualFile, assertSafeName, assertInside, type VisualPaths } from './paths.js';
export {
  renderVault,
  readRenderIndex,
  RENDER_INDEX_FILE,
  type RenderVaultOptions,
  type RenderVaultReport,
  type RenderItem,
  type RenderItemStatus,
  type RenderIndex,
  type RenderIndexEntry,
} from './vault.js';
export { tokenizeXml, checkWellFormed, localName, XmlSyntaxError, type XmlToken, type XmlAttr } from './xml.js';
