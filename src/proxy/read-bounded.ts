import type { Readable } from 'node:stream';

export interface BoundedRead {
  chunks: Buffer[];
  size: number;
  /** False when reading stopped first (over `max`, or `stop()`): the stream is paused, the rest unread. */
  ended: boolean;
  /** The stream failed, or closed before its end (the peer went away); `chunks` holds what came. */
  error?: Error;
}

/**
 * Reads a stream to its end, or until it has given more than `max` bytes or `stop()` says so,
 * leaving the rest unread (an async iterator left early destroys the stream, and with a request
 * its connection, before the answer could go out). Never rejects: a failure is in `error`.
 */
export function readBounded(stream: Readable, max: number, stop: () => boolean = () => false): Promise<BoundedRead> {
  // Gone already (the agent left while its key was looked up): no event is coming.
  if (stream.destroyed && !stream.readableEnded) {
    return Promise.resolve({ chunks: [], size: 0, ended: false, error: prematureClose() });
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // The error listener stays: an error after the read settled (the stream left paused, say)
    // must not go unhandled; the settled promise ignores it.
    const detach = () => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onClose);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size > max || stop()) {
        stream.pause();
        detach();
        resolve({ chunks, size, ended: false });
      }
    };
    const onEnd = () => {
      detach();
      resolve({ chunks, size, ended: true });
    };
    const onError = (error: Error) => {
      detach();
      resolve({ chunks, size, ended: false, error });
    };
    const onClose = () => onError(prematureClose());
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('the stream closed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/** The chunks as one buffer, without a copy when there is one chunk. */
export function joined(read: BoundedRead): Buffer {
  return read.chunks.length === 1 ? read.chunks[0]! : Buffer.concat(read.chunks, read.size);
}
