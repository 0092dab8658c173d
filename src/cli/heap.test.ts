import { describe, expect, it } from 'vitest';
import { tuneHeap, workerExecArgv } from './heap.js';

describe('proxy worker flags', () => {
  it('adds an 8 MB young generation to the primary\u2019s flags', () => {
    expect(workerExecArgv(['--enable-source-maps'])).toEqual(['--enable-source-maps', '--max-semi-space-size=8']);
  });

  it('keeps the operator\u2019s own choice, on the command line or in NODE_OPTIONS', () => {
    expect(workerExecArgv(['--max-semi-space-size=32'])).toEqual(['--max-semi-space-size=32']);
    expect(workerExecArgv([], '--max-old-space-size=512 --max-semi-space-size=16')).toEqual([]);
    expect(workerExecArgv(['--max_semi_space_size=4'])).toEqual(['--max_semi_space_size=4']);
  });
});

describe('old generation growth', () => {
  it('is held to 50 % past what the last full collection kept, unless the operator chose', () => {
    const set: string[] = [];
    expect(tuneHeap(['--heap-growing-percent=80'], (f) => set.push(f))).toBeNull();
    expect(tuneHeap(['--heap_growing_percent=80'], (f) => set.push(f))).toBeNull();
    expect(set).toEqual([]);
    expect(tuneHeap(['--max-old-space-size=512'], (f) => set.push(f))).toBe('--heap-growing-percent=50');
    expect(set).toEqual(['--heap-growing-percent=50']);
  });
});
