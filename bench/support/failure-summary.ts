/** The first line of a failure and, when a child's stderr follows, the line that names the error. */
export function failureSummary(message: string): string {
  const lines = message.split('\n');
  const first = lines[0]!;
  const error = lines.slice(1).find((line) => /\b\w*Error\b:/.test(line));
  return error === undefined ? first : `${first} … ${error.trim()}`;
}
