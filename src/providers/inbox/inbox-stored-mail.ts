/**
 * Readers of the originals SMTP in stored (by file id), for attachment loads on any node; each
 * platform registers its file store. Returns null when no store has the file.
 */
const storedMailReaders = new Set<(fileId: string) => Promise<Buffer | null>>();

export function registerStoredMailReader(read: (fileId: string) => Promise<Buffer | null>): () => void {
  storedMailReaders.add(read);
  return () => storedMailReaders.delete(read);
}

export async function readStoredMail(fileId: string): Promise<Buffer | null> {
  for (const read of storedMailReaders) {
    const raw = await read(fileId).catch(() => null);
    if (raw) return raw;
  }
  return null;
}
