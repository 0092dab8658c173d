/**
 * Sliding-window arithmetic, shared by the in-process limiter and (line for line, in Lua) by the
 * Redis script. Pure: time is always passed in.
 *
 * A window is cut into fixed sub-buckets aligned to the Unix epoch. A counter keeps one amount per
 * bucket; what a rule has used at `now` is the sum of every bucket that overlaps the last window
 * [now − window, now] — the current bucket and the `buckets` before it. Counting the bucket that
 * holds `now − window` whole makes the limit conservative: no interval of one window's length
 * ever holds more than the limit (no burst at the edges, unlike fixed windows), at the price of
 * holding an amount up to one bucket longer than the window (at most 1 s on a minute).
 */
import type { LimitDimension, LimitWindow } from './types.js';

export interface WindowGeometry {
  /** Width of one sub-bucket. */
  bucketMs: number;
  /** Buckets per window: windowMs = bucketMs × buckets. */
  buckets: number;
  windowMs: number;
}

function geometry(bucketMs: number, buckets: number): WindowGeometry {
  return { bucketMs, buckets, windowMs: bucketMs * buckets };
}

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const DAY = 24 * 60 * MINUTE;

/**
 * Bucket sizes trade precision for memory: the finest useful granularity for a budget of that
 * length, and never more than 97 fields per counter. `month` is a rolling 30 days, not a calendar
 * month: a calendar reset would be exactly the edge burst sliding windows exist to prevent.
 */
export const WINDOW_GEOMETRY: Readonly<Record<LimitWindow, WindowGeometry>> = {
  minute: geometry(SECOND, 60),
  hour: geometry(MINUTE, 60),
  day: geometry(15 * MINUTE, 96),
  month: geometry(DAY, 30),
};

/** Epoch-aligned bucket index holding `now`. */
export function bucketOf(now: number, g: WindowGeometry): number {
  return Math.floor(now / g.bucketMs);
}

/** The oldest bucket still counted at `now`: the one holding `now − window`. */
export function oldestCounted(now: number, g: WindowGeometry): number {
  return bucketOf(now, g) - g.buckets;
}

/** When a bucket stops being counted: once `now − window` has left it. */
export function bucketExpiresAt(bucket: number, g: WindowGeometry): number {
  return (bucket + g.buckets + 1) * g.bucketMs;
}

/**
 * Whether a rule with `used` in its window lets this call through. A request counts itself, so it
 * needs room for one more; tokens and cost are not known until the call ends, so a call passes
 * while the budget is not yet spent (it may overshoot by what that one call uses).
 */
export function hasRoom(dimension: LimitDimension, used: number, limit: number): boolean {
  return dimension === 'requests' ? used + 1 <= limit : used < limit;
}

/**
 * A counter's live buckets, ascending by index, amounts beside them. Parallel arrays keep a
 * counter to two small arrays, however many calls it has seen.
 */
export interface Buckets {
  idx: number[];
  val: number[];
}

/**
 * Tail sums, newest first: tails[k] is the amount of the buckets after k. Summing from the newest
 * end gives the total and every tail the same rounding (cost amounts are fractional); the Redis
 * script sums in the same order.
 */
function tails(b: Buckets): { total: number; tails: number[] } {
  const out = new Array<number>(b.idx.length);
  let s = 0;
  for (let k = b.idx.length - 1; k >= 0; k--) {
    out[k] = s;
    s += b.val[k]!;
  }
  return { total: s, tails: out };
}

/**
 * Amount in the window at `now`, counting only buckets not yet expired. Summed from the newest
 * end, as `tails` does, without its arrays: every check of every call reads it.
 */
export function usedIn(b: Buckets, now: number, g: WindowGeometry): number {
  const oldest = oldestCounted(now, g);
  let s = 0;
  for (let k = b.idx.length - 1; k >= 0 && b.idx[k]! >= oldest; k--) s += b.val[k]!;
  return s;
}

/** The buckets still counted at `now` (a view; the counter itself is trimmed by its owner). */
export function live(b: Buckets, now: number, g: WindowGeometry): Buckets {
  const oldest = oldestCounted(now, g);
  let first = 0;
  while (first < b.idx.length && b.idx[first]! < oldest) first++;
  return first === 0 ? b : { idx: b.idx.slice(first), val: b.val.slice(first) };
}

/**
 * Whole seconds (at least 1) until the rule has room again: the oldest buckets leave the window
 * one by one, and the answer is the moment the first enough of them have left. A limit that no
 * emptying can satisfy (a request limit below 1) answers when the window is empty.
 */
export function retryAfterS(b: Buckets, now: number, g: WindowGeometry, dimension: LimitDimension, limit: number): number {
  const l = live(b, now, g);
  const { tails: after } = tails(l);
  let at = bucketExpiresAt(l.idx.length > 0 ? l.idx[l.idx.length - 1]! : bucketOf(now, g), g);
  for (let k = 0; k < l.idx.length; k++) {
    if (hasRoom(dimension, after[k]!, limit)) {
      at = bucketExpiresAt(l.idx[k]!, g);
      break;
    }
  }
  return Math.max(1, Math.ceil((at - now) / 1000));
}

/**
 * Adds `amount` to the bucket holding `now` and drops the buckets that left the window, in place.
 * Calls arrive in time order almost always (append); a caller whose clock stepped back lands in
 * an earlier bucket, inserted in order.
 */
export function addTo(b: Buckets, now: number, g: WindowGeometry, amount: number): void {
  const oldest = oldestCounted(now, g);
  let drop = 0;
  while (drop < b.idx.length && b.idx[drop]! < oldest) drop++;
  if (drop > 0) {
    b.idx.splice(0, drop);
    b.val.splice(0, drop);
  }
  const cur = bucketOf(now, g);
  let k = b.idx.length;
  while (k > 0 && b.idx[k - 1]! > cur) k--;
  if (k > 0 && b.idx[k - 1] === cur) b.val[k - 1] = b.val[k - 1]! + amount;
  else {
    b.idx.splice(k, 0, cur);
    b.val.splice(k, 0, amount);
  }
}
