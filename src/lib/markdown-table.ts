/** A markdown table with padded columns (the README's generated tables: configuration, errors). */
export function markdownTable(rows: string[][]): string {
  const cells = rows.map((row) => row.map((cell) => cell.replaceAll('|', '\\|')));
  const columns = cells[0]?.length ?? 0;
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(3, ...cells.map((r) => [...r[i]!].length)),
  );
  const line = (row: string[]) =>
    `| ${row.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join(' | ')} |`;
  const [head, ...body] = cells;
  return [line(head!), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
