import { describe, expect, it } from 'vitest';
import { synthetic1kDir } from '../helpers/fixtures.js';
import { expectReferenceCase, referenceCases } from '../helpers/reference-reports.js';

// The same comparison over the real vault sample is in the sample suite (test/sample/).
describe('reference strategy reproduces the original report.json', () => {
  const cases = referenceCases('synthetic-1k');
  it('has the 5 cases for synthetic-1k', () => {
    expect(cases).toEqual(['areas.json', 'default.json', 'published.json', 'total120.json', 'visual.json']);
  });
  for (const file of cases) it(`synthetic-1k/${file}`, () => expectReferenceCase('synthetic-1k', synthetic1kDir(), file));
});
