import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { joined, readBounded } from './read-bounded.js';

describe('bounded body reading', () => {
  it('reads to the end, or stops past the bound with the stream left paused', async () => {
    const whole = await readBounded(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 10);
    expect([whole.ended, joined(whole).toString()]).toEqual([true, 'abcd']);
    const cut = await readBounded(Readable.from([Buffer.from('ab'), Buffer.from('cd'), Buffer.from('ef')]), 3);
    expect([cut.ended, cut.size]).toEqual([false, 4]);
  });

  it('says so when the stream was already gone before reading began', async () => {
    const gone = new Readable({ read() {} });
    gone.destroy();
    const read = await readBounded(gone, 10);
    expect(read.ended).toBe(false);
    expect(read.error?.message).toMatch(/closed before its end/);
  });
});
