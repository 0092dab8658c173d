import { monotonicFactory } from 'ulid';

const ulid = monotonicFactory();

/** Resource id prefixes. A prefixed ULID sorts by creation time and says what it names. */
export type IdPrefix = 'ten' | 'op' | 'agt' | 'key' | 'pol' | 'pat' | 'alw' | 'lim' | 'whk' | 'evt' | 'trace' | 'px' | 'otp' | 'rt';

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${ulid()}`;
}

export function newTraceId(): string {
  return newId('trace');
}
