/**
 * Commands printed as the next step, written so they run exactly as shown from the project
 * folder: through `npx` (rk-sync is not installed globally), with `--data-dir` only when it is
 * not the default, quoted when it needs it.
 */
import { isAbsolute, relative, resolve } from 'node:path';
import { DEFAULTS } from './settings.ts';

function quote(arg: string): string {
  return /^[\w./:=@%+,-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** `npx rk-sync <command>` for this data directory (relative to the current folder when inside it). */
export function runnable(command: string, dataDir?: string): string {
  let dir = '';
  if (dataDir !== undefined && resolve(dataDir) !== resolve(DEFAULTS.dataDir)) {
    const rel = relative(process.cwd(), resolve(dataDir));
    dir = ` --data-dir ${quote(rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : resolve(dataDir))}`;
  }
  return `npx rk-sync ${command}${dir}`;
}

/** The command line this process was started with, as `npx rk-sync …` (to run it again). */
export function thisCommand(argv: readonly string[] = process.argv.slice(2)): string {
  return ['npx rk-sync', ...argv.map(quote)].join(' ');
}
