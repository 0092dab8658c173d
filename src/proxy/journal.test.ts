import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Journal } from './journal.js';

const line = (text: string) => Buffer.from(text + '\n');
const lines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean);

describe('trace journal', () => {
  it('writes the lines of one turn together, before written() settles', async () => {
    const journal = new Journal(mkdtempSync(join(tmpdir(), 'renlayer-journal-')), 1024 * 1024);
    const segment = journal.append(line('{"n":1}'))!;
    journal.append(line('{"n":2}'));
    const written = journal.written();
    // Nothing on disk until the end of the turn: one write for the whole turn.
    expect(lines(segment.path)).toEqual([]);
    await written;
    expect(lines(segment.path)).toEqual(['{"n":1}', '{"n":2}']);
    expect(journal.bytes).toBe(16);
    journal.close();
  });

  it('writes pending lines into a segment before closing it, so a replay finds them', () => {
    const dir = mkdtempSync(join(tmpdir(), 'renlayer-journal-'));
    const journal = new Journal(dir, 1024 * 1024);
    const first = journal.append(line('{"n":1}'))!;
    expect(journal.rotate()).toBe(first);
    expect(Journal.readLines(first)).toEqual(['{"n":1}']);
    const second = journal.append(line('{"n":2}'))!;
    journal.close();
    expect(Journal.readLines(second)).toEqual(['{"n":2}']);
    expect(readdirSync(dir)).toHaveLength(2);
  });

  it('leaves out a last line without its newline: a write cut short by a crash', () => {
    const path = join(mkdtempSync(join(tmpdir(), 'renlayer-journal-')), 'traces-1-1.journal');
    writeFileSync(path, 'one\ntwo\nthr');
    expect(Journal.readLines({ path, bytes: 11 })).toEqual(['one', 'two']);
  });

  it('starts every segment with its header line', async () => {
    const journal = new Journal(mkdtempSync(join(tmpdir(), 'renlayer-journal-')), 1024 * 1024, { header: '#what the lines hold' });
    const segment = journal.append(line('a'))!;
    await journal.written();
    expect(Journal.readLines(segment)).toEqual(['#what the lines hold', 'a']);
    journal.close();
  });

  it('reports, never throws, when the disk refuses a segment', () => {
    const dir = mkdtempSync(join(tmpdir(), 'renlayer-journal-'));
    const refused: number[] = [];
    const journal = new Journal(dir, 1024 * 1024, { onWriteError: (_err, lines) => void refused.push(lines) });
    rmSync(dir, { recursive: true });
    expect(journal.append(line('a'))).toBeNull();
    expect(refused).toEqual([1]);
  });
});
