/**
 * `${VAR}` in the configuration file (SPEC §13): replaced from the environment at apply time, in
 * string values only (never in keys, and after YAML parsing, so a value cannot inject structure).
 * `$${` writes a literal `${`. The one reserved form, `${RENLAYER_KEEP}`, is not a variable: as a
 * whole upstream header value it means "keep the value stored now" (what `renlayer export` writes
 * in place of credentials it must not print). RenLayer refuses to start with an unknown
 * RENLAYER_* variable set, so no real variable can ever take that name.
 */

export const KEEP_MARKER = '${RENLAYER_KEEP}';

export type PathSegment = string | number;

export interface EnvIssue {
  path: PathSegment[];
  message: string;
}

const REFERENCE = /\$\$(?=\{)|\$\{([^}]*)\}/g;
const VARIABLE = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** An upstream header value: `agents[i].upstream.headers.<name>`. */
export function isHeaderPath(path: readonly PathSegment[]): boolean {
  return path.length === 5 && path[0] === 'agents' && path[2] === 'upstream' && path[3] === 'headers';
}

/**
 * Returns a copy of the parsed file with every reference replaced, the issues found (a missing
 * or empty variable is named, its value never shown), and the paths whose value came from the
 * environment.
 */
export function substituteEnv(value: unknown, env: NodeJS.ProcessEnv): { value: unknown; issues: EnvIssue[]; fromEnv: Set<string> } {
  const issues: EnvIssue[] = [];
  const fromEnv = new Set<string>();
  const walk = (v: unknown, path: PathSegment[]): unknown => {
    if (typeof v === 'string') return substituteString(v, path);
    if (Array.isArray(v)) return v.map((x, i) => walk(x, [...path, i]));
    if (v !== null && typeof v === 'object') {
      return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, [...path, k])]));
    }
    return v;
  };
  const substituteString = (s: string, path: PathSegment[]): string => {
    if (s === KEEP_MARKER && isHeaderPath(path)) return s;
    return s.replace(REFERENCE, (whole, name: string | undefined) => {
      if (name === undefined) return '$';
      if (whole === KEEP_MARKER) {
        issues.push({ path, message: `${KEEP_MARKER} is only allowed as the whole value of an upstream header (it keeps the stored value)` });
        return whole;
      }
      if (!VARIABLE.test(name)) {
        issues.push({ path, message: `"\${${name.slice(0, 40)}}" is not a variable reference; write \${NAME} with letters, digits and _, or $\${ for a literal \${` });
        return whole;
      }
      const found = env[name];
      if (found === undefined) {
        issues.push({ path, message: `environment variable ${name} is not set` });
        return whole;
      }
      if (found === '') {
        issues.push({ path, message: `environment variable ${name} is empty` });
        return whole;
      }
      fromEnv.add(formatPath(path));
      return found;
    });
  };
  return { value: walk(value, []), issues, fromEnv };
}

/** `policies[1].conditions[0].op`; keys that are not plain words are quoted: `dlp.detectors["pii.email"]`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
