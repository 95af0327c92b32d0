// The vfio-display command (bin/vfio-display.js runs it). The library (and
// its native addon) loads inside the try: if it cannot, that too is one
// line and a status.

let interrupt: AbortController | undefined;

/** The first SIGINT/SIGTERM aborts (the command ends cleanly); the next one ends the process. */
function interruptSignal(): AbortSignal {
  if (!interrupt) {
    const controller = new AbortController();
    interrupt = controller;
    const onSignal = (signal: NodeJS.Signals): void => {
      if (controller.signal.aborted) process.exit(128 + (signal === 'SIGINT' ? 2 : 15));
      controller.abort(new Error(`interrupted by ${signal}`));
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  return interrupt.signal;
}

try {
  const { runCli } = await import('./run.js');
  process.exitCode = await runCli(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, interruptSignal });
} catch (err) {
  process.stderr.write(`vfio-display: ${process.argv.includes('--debug') || !(err instanceof Error) ? String((err as Error | undefined)?.stack ?? err) : err.message}\n`);
  process.exitCode = 1;
}
