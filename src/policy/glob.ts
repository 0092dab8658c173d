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

/** A glob with at most one `*` and no `?`: a prefix and a suffix test, no regex engine call. */
function simpleGlob(glob: string, caseInsensitive: boolean): ((s: string) => boolean) | null {
  if (glob.includes('?')) return null;
  const star = glob.indexOf('*');
  if (star !== glob.lastIndexOf('*')) return null;
  const norm = caseInsensitive ? (s: string) => s.toLowerCase() : (s: string) => s;
  const g = norm(glob);
  if (star === -1) return (s) => norm(s) === g;
  const prefix = g.slice(0, star);
  const suffix = g.slice(star + 1);
  const min = prefix.length + suffix.length;
  return (s) => {
    const v = norm(s);
    return v.length >= min && v.startsWith(prefix) && v.endsWith(suffix);
  };
}

/**
 * A matcher for a list of globs (any may match). The common shapes (`gpt-4o*`, `*.internal`,
 * `team-*-bot`) are plain string tests, several times faster than a call into RE2 on the hot
 * path; anything else runs as one RE2 program.
 */
export function globMatcher(globs: readonly string[], caseInsensitive = false): (s: string) => boolean {
  const simple = globs.map((g) => simpleGlob(g, caseInsensitive));
  if (simple.every((m) => m !== null)) {
    const tests = simple as ((s: string) => boolean)[];
    return tests.length === 1 ? tests[0]! : (s) => tests.some((t) => t(s));
  }
  const re = compileGlobs(globs, caseInsensitive ? 'i' : '');
  return (s) => re.test(s);
}
