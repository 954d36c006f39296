/**
 * The vault's written forms that every question builder shares (the offline generator and the
 * synthetic vault): the napkin-math block and the three-part common mistake. The checks read the
 * same forms back (checks/run.ts: isThreePartMistake; the arithmetic check: the napkin lines).
 */

export interface NapkinParts {
  assumptions: readonly string[];
  calculations: readonly string[];
  /** The headline result, bold in the conclusion ("30.5 ms (Memory-Bound)"). */
  result: string;
  /** A sentence after the result, if any. */
  conclusion?: string;
}

/** The napkin-math block: assumptions, calculations, then the result (no trailing newline). */
export function napkinMath(p: NapkinParts): string {
  return [
    '**Assumptions & Constraints:**',
    ...p.assumptions.map((a) => `- ${a}`),
    '',
    '**Calculations:**',
    ...p.calculations.map((c) => `- ${c}`),
    '',
    '**Conclusion & Interpretation:**',
    `- **Result: ${p.result}**.${p.conclusion ? ` ${p.conclusion}` : ''}`,
  ].join('\n');
}

/** The common mistake in its three labelled lines (no trailing newline). */
export function threePartMistake(pitfall: string, rationale: string, consequence: string): string {
  return `**The Pitfall:** ${pitfall}\n**The Rationale:** ${rationale}\n**The Consequence:** ${consequence}`;
}
