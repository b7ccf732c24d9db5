/**
 * `--config <file>` for commands with many settings: a JSON object whose keys are the command's
 * long options in camelCase (`memberId` for `--member-id`) and whose values are what the flag
 * would take (numbers may be JSON numbers, switches booleans). Each value goes through the
 * option's own parser, so a bad value fails as it would on the command line, naming the file and
 * the key; an unknown key fails naming the keys there are. A flag given on the command line wins
 * over the file; the file wins over defaults. Errors are CONFIG_INVALID (a usage error, exit 2).
 */
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { ErrorCode, SkeinError } from '../util/errors.js';

function invalid(message: string): SkeinError {
  return new SkeinError(ErrorCode.CONFIG_INVALID, message);
}

export function applyConfigFile(command: Command, path: string): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw invalid(`--config ${path}: cannot read it: ${(error as Error).message}`);
  }
  let settings: unknown;
  try {
    settings = JSON.parse(text);
  } catch (error) {
    throw invalid(`--config ${path}: not JSON: ${(error as Error).message}`);
  }
  if (settings === null || typeof settings !== 'object' || Array.isArray(settings)) throw invalid(`--config ${path}: expected a JSON object of settings, got ${Array.isArray(settings) ? 'an array' : typeof settings}`);
  const options = command.options.filter((o) => o.long !== undefined && o.long !== '--config' && o.long !== '--help');
  for (const [key, value] of Object.entries(settings as Record<string, unknown>)) {
    const option = options.find((o) => o.attributeName() === key);
    if (option === undefined) {
      throw invalid(`--config ${path}: unknown setting '${key}'; the settings are ${options.map((o) => o.attributeName()).join(', ')}`);
    }
    if (command.getOptionValueSource(key) === 'cli') continue;
    let parsed: unknown;
    if (option.isBoolean()) {
      if (typeof value !== 'boolean') throw invalid(`--config ${path}: ${key} must be true or false, got ${JSON.stringify(value)}`);
      parsed = option.negate ? !value : value;
    } else {
      if (typeof value !== 'string' && typeof value !== 'number') throw invalid(`--config ${path}: ${key} must be a string or a number, got ${JSON.stringify(value)}`);
      try {
        parsed = option.parseArg === undefined ? String(value) : option.parseArg(String(value), undefined);
      } catch (error) {
        throw invalid(`--config ${path}: ${key}=${JSON.stringify(value)}: ${(error as Error).message}`);
      }
    }
    command.setOptionValueWithSource(key, parsed, 'config');
  }
}
