import { RenLayerError } from '../core/errors.js';

/** Turns constraint violations into answers a user can act on; rethrows anything else. */
export function translateDbError(err: unknown, what: string): never {
  const code = (err as { code?: string }).code;
  if (code === '23505') throw new RenLayerError('conflict', `${what} already exists`);
  if (code === '23514' || code === '22P02' || code === '23502') {
    throw new RenLayerError('validation_failed', `${what} is not valid: ${(err as Error).message}`);
  }
  if (code === '23503') throw new RenLayerError('not_found', `${what} refers to something that does not exist`);
  throw err;
}
