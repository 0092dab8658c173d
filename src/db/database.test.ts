import { describe, expect, it } from 'vitest';
import { isRetryableError } from './database.js';

const sqlError = (code: string) => Object.assign(new Error('refused'), { code });

describe('retryable database errors', () => {
  it('counts the unreachable and the passing refusals as worth retrying', () => {
    for (const code of ['ECONNREFUSED', '08006', '53300', '57014', '57P01', '40001', '40P01', '25006', '55P03']) {
      expect(isRetryableError(sqlError(code)), code).toBe(true);
    }
  });

  it('does not retry what is wrong with the data itself', () => {
    for (const code of ['23505', '23514', '22P02', '42703']) expect(isRetryableError(sqlError(code)), code).toBe(false);
    expect(isRetryableError('not an error')).toBe(false);
  });
});
