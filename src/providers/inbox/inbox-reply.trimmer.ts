/**
 * The new part of an e-mail's text: the quoted history ("On … wrote:", "-----Original Message-----",
 * an Outlook "From: … Sent: …" block, trailing "> " lines) and the signature ("-- ") cut off. The full
 * text is kept beside it (message.txt), so nothing the client wrote is lost if this cuts too much.
 */
const CUT_LINES: RegExp[] = [
  /^-- ?$/, // the signature delimiter (RFC 3676)
  /^-{2,}\s*(original message|ursprüngliche nachricht|message d'origine)\s*-{2,}$/i,
  /^_{10,}$/, // Outlook's rule above a quoted message
  /^(on|am|le|el)\s.{4,200}\s(wrote|schrieb|a écrit|escribió)\s?:$/i,
  /^sent from my \w+/i,
];

export function trimReply(text: string): string {
  const lines = text.split('\n');
  let end = lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.trim();
    // "On Mon, 1 Jan 2026 at 10:00, Ann <ann@example.com>" + "wrote:" on the next line (wrapped).
    const joined = i + 1 < lines.length ? `${line} ${lines[i + 1]!.trim()}` : line;
    if (
      CUT_LINES.some((re) => re.test(line)) ||
      (/^(on|am|le)\s/i.test(line) && CUT_LINES[3]!.test(joined))
    ) {
      end = i;
      break;
    }
    if (/^from:\s.+/i.test(line) && /^(sent|date):\s.+/i.test(lines[i + 1]?.trim() ?? '')) {
      end = i;
      break;
    }
  }
  // Trailing quoted lines (and blank lines between them).
  while (end > 0 && /^(>.*|\s*)$/.test(lines[end - 1]!)) end--;
  const trimmed = lines.slice(0, end).join('\n').trim();
  return trimmed === '' ? text.trim() : trimmed;
}
