/**
 * A start-up configuration problem. The message is always one line naming the variable, the
 * problem and what is expected, and never contains a secret's value, so the CLI can print it
 * as is and exit.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** `unknown_variable` for a misspelt or retired name, `invalid_value` for a malformed value. */
  readonly code: 'unknown_variable' | 'invalid_value';
  /** The environment variable at fault, e.g. `RENLAYER_LISTEN_ADDR`. */
  readonly variable: string;

  constructor(variable: string, message: string, code: ConfigError['code'] = 'invalid_value') {
    super(message);
    this.variable = variable;
    this.code = code;
  }
}

/** Throws `NAME: problem; expected what` — the shape of every malformed-value message. */
export function invalid(variable: string, problem: string, expected: string): never {
  throw new ConfigError(variable, `${variable}: ${problem}; expected ${expected}`);
}

/**
 * Quotes a (non-secret) value for a message: JSON escaping keeps control characters and
 * newlines from breaking the one-line rule, and long values are shortened.
 */
export function quote(value: string): string {
  const shown = value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return JSON.stringify(shown);
}
