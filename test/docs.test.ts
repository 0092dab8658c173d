import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { renderConfigMarkdown } from '../src/config/index.js';

describe('README', () => {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

  it('shows the two commands a new user runs', () => {
    expect(readme).toContain('npm install && npm start');
    expect(readme).toContain('npm install && npm test');
  });

  it('carries the configuration table generated from the schema the program validates with', () => {
    expect(readme).toContain(renderConfigMarkdown().trim());
  });
});
