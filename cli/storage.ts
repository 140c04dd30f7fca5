/** A full or read-only disk as one clear line with what to do (exit 1, no stack trace). */
import { storageFault } from '../functions/core/storage-fault.ts';
import { CliError, EXIT } from './errors.ts';

export function storageCliError(e: unknown, dataDir?: string): CliError | undefined {
  const fault = storageFault(e);
  if (!fault) return undefined;
  const where = dataDir ?? (e as { path?: unknown }).path ?? 'the data directory';
  return new CliError(
    fault === 'full'
      ? `the disk holding ${where} is full (no space left or quota exceeded); everything stored so far is kept. Free some space and run the command again: the next sync completes the missing files and index`
      : `cannot write to ${where} (read-only file system or no permission); nothing more was changed. Make it writable, or use another --data-dir`,
    EXIT.failed,
  );
}
