import type { Readable } from 'node:stream';
import type { Deps } from '../domain/deps.ts';
import type { SessionService } from '../domain/session/session.service.ts';
import type { Caller } from '../domain/user/user.ts';
import { AppError, Forbidden, NotFound } from '../errors.ts';
import { type FileRow, fileRepository } from './file.repository.ts';
import { FileLinks } from './file-links.ts';
import type { FileStore } from './file-store.ts';
import { SNIFF_BYTES, sniffMimeType } from './sniff.ts';

export interface FileView {
  id: string;
  name: string | null;
  mimeType: string;
  size: number;
  sha256: string;
  createdAt: string;
}

export function fileView(f: FileRow): FileView {
  return {
    id: f.id,
    name: f.name,
    mimeType: f.mimeType,
    size: f.size,
    sha256: f.sha256,
    createdAt: f.createdAt.toISOString(),
  };
}

export const MAX_FILE_BYTES = 50 * 1024 * 1024;

/** Files of the file store: stored with their hash, readable by whoever may see their session. */
export class FileService {
  /** Signed download links to this store's files (for receivers outside, e.g. api callbacks). */
  readonly links: FileLinks;

  constructor(
    private readonly deps: Deps,
    readonly store: FileStore,
    private readonly sessions: SessionService,
  ) {
    this.links = new FileLinks(deps.secrets);
  }

  async save(
    source: Readable,
    meta: {
      name?: string | null;
      mimeType?: string | null;
      sessionId?: string | null;
      uploadedBy?: string | null;
      /** A smaller cap than MAX_FILE_BYTES (the store throws FileTooLarge past it). */
      maxBytes?: number;
      /** The types (as sniffed) to keep; another is refused (415 FILE_TYPE_NOT_ALLOWED), no row stored. */
      accept?: readonly string[];
    },
    db = this.deps.db,
  ): Promise<FileRow> {
    const blob = await this.store.put(source, {
      maxBytes: Math.min(meta.maxBytes ?? MAX_FILE_BYTES, MAX_FILE_BYTES),
      headBytes: SNIFF_BYTES,
    });
    // What the bytes are, not what the sender said they are.
    const mimeType = sniffMimeType(blob.head, meta.mimeType);
    if (meta.accept && !meta.accept.includes(mimeType))
      throw new AppError('FILE_TYPE_NOT_ALLOWED', `files of type ${mimeType} are not accepted here`, {
        mimeType,
        accepted: meta.accept,
      });
    return fileRepository.insert(db, {
      sha256: blob.sha256,
      size: blob.size,
      storageKey: blob.key,
      mimeType,
      name: meta.name ?? null,
      sessionId: meta.sessionId ?? null,
      uploadedBy: meta.uploadedBy ?? null,
    });
  }

  /** The file and its bytes, if the caller may read it (404 otherwise). */
  async open(id: string, caller: Caller): Promise<{ file: FileRow; stream: Readable }> {
    const file = await fileRepository.byId(this.deps.db, id);
    if (!file || !(await this.#mayRead(file, caller))) throw new NotFound('File', id);
    return { file, stream: this.store.open(file.storageKey) };
  }

  /**
   * The file and its bytes for a signed download link, whoever calls: 403 when the link's signature
   * is not ours (`INVALID_DOWNLOAD_LINK`) or it has expired (`DOWNLOAD_LINK_EXPIRED`).
   */
  async openLinked(
    id: string,
    link: { expires?: string; signature?: string },
  ): Promise<{ file: FileRow; stream: Readable }> {
    const check = this.links.check(id, link.expires, link.signature, this.deps.clock.now());
    if (check === 'invalid')
      throw new Forbidden('the download link is not valid for this file', 'INVALID_DOWNLOAD_LINK');
    if (check === 'expired') throw new Forbidden('the download link has expired', 'DOWNLOAD_LINK_EXPIRED');
    const file = await fileRepository.byId(this.deps.db, id);
    if (!file) throw new NotFound('File', id);
    return { file, stream: this.store.open(file.storageKey) };
  }

  async #mayRead(file: FileRow, caller: Caller): Promise<boolean> {
    if (caller.role === 'admin' || file.uploadedBy === caller.id) return true;
    if (!file.sessionId) return false;
    return this.sessions.visible(file.sessionId, caller).then(
      () => true,
      () => false,
    );
  }
}
