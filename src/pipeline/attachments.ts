/**
 * The attachment download job (IAttachmentsLoadWorker): fetches an inbound attachment through its
 * provider into the file store, then points the message's attachment at the stored file. Runs after
 * the message was acknowledged, so a slow file never delays a messenger.
 */
import { channelRepository } from '../domain/channel/channel.repository.ts';
import type { Deps } from '../domain/deps.ts';
import { messageRepository } from '../domain/message/message.repository.ts';
import { messageUpdates } from '../domain/message/message-updates.ts';
import { type FileService, MAX_FILE_BYTES } from '../files/file.service.ts';
import { FileTooLarge } from '../files/file-store.ts';
import type { JobOutcome } from '../jobs/worker.ts';
import { ProviderError } from '../providers/provider.ts';
import type { ProviderHost } from './provider-host.ts';

export class AttachmentLoader {
  constructor(
    private readonly deps: Deps,
    private readonly host: ProviderHost,
    private readonly files: FileService,
    /** Puts a channel whose credentials the messenger refuses in state `error`, saying why. */
    private readonly markChannelError: (
      channelId: string,
      reason: string,
    ) => Promise<unknown> = async () => {},
  ) {}

  async run(job: {
    payload: Record<string, unknown>;
    attempts: number;
    maxAttempts: number;
  }): Promise<JobOutcome | undefined> {
    const messageId = String(job.payload.messageId);
    const index = Number(job.payload.index);
    const message = await messageRepository.byId(this.deps.db, messageId);
    const attachment = message?.attachments[index];
    if (!message || !attachment || attachment.fileId || !attachment.ref) return undefined;
    const channel = await channelRepository.byId(this.deps.db, message.channelId);
    const provider = channel && this.host.providerFor(channel);
    if (!channel || !provider?.loadAttachment)
      return { fail: { error: 'the channel cannot load attachments' } };
    let file: Awaited<ReturnType<FileService['save']>>;
    try {
      const loaded = await provider.loadAttachment(this.host.context(channel), attachment.ref);
      if (loaded.size && loaded.size > MAX_FILE_BYTES) {
        // Announced too large: refused before a byte is stored (the store caps the rest as it streams).
        loaded.stream.destroy();
        throw new FileTooLarge(MAX_FILE_BYTES);
      }
      file = await this.files.save(loaded.stream, {
        name: attachment.name ?? loaded.name ?? null,
        mimeType: attachment.mimeType ?? loaded.mimeType ?? null,
        sessionId: message.sessionId,
      });
    } catch (err) {
      // For good: too large, or refused by the fetch guard (FETCH_REFUSED: a private address).
      if (err instanceof ProviderError && err.opts.channelError) {
        await this.markChannelError(channel.id, `${err.code}: ${err.message}`);
      }
      if (err instanceof FileTooLarge || (err instanceof ProviderError && !err.retryable)) {
        return { fail: { error: (err as Error).message } };
      }
      return {
        retry: {
          error: (err as Error).message,
          afterMs: err instanceof ProviderError ? err.opts.retryAfterMs : undefined,
        },
      };
    }
    await this.deps.uow.run((tx) =>
      messageUpdates.attachmentStored(tx, messageId, channel.lineId, index, file),
    );
    return undefined;
  }
}
