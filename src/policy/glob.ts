import RE2 from 're2';

/**
 * Globs as policies write them (`gpt-4o*`, `fs_?ead`): `*` any run, `?` one character, everything
 * else literal. They run as anchored RE2 patterns, so matching stays linear whatever is written.
 * Shared by validation (schema) and compilation (evaluate) so that a glob list accepted at save
 * time is exactly the program the proxy later builds.
 */

/** A glob as an anchored RE2 pattern; `(?s:…)` lets `*` cross newlines, every regex metacharacter is escaped. */
export function globToRegex(glob: string): string {
  let out = '';
  for (const ch of glob) {
    if (ch === '*') out += '.*';
    else if (ch === '?') out += '.';
    else out += ch.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
  }
  return `^(?s:${out})$`;
}

/** One program for a list of globs (any may match). Throws when RE2 refuses it, e.g. too large. */
export function compileGlobs(globs: readonly string[], flags = ''): RE2 {
  return new RE2(globs.map(globToRegex).join('|'), flags);
}
