#!/usr/bin/env node
import { main } from '../dist/cli/main.js';

// Exit as soon as the command is done: servers resolve only after their graceful shutdown, and a
// cluster worker's IPC channel (or an idle pool timer) must not keep a finished process alive.
// Logs are flushed on exit by the logger; stdout writes to pipes are synchronous on Linux.
main(process.argv.slice(2)).then(
  (code) => process.exit(typeof code === 'number' ? code : 0),
  (err) => {
    console.error(err?.stack ?? String(err));
    process.exit(1);
  },
);
