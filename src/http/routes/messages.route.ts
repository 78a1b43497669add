import type { Readable } from 'node:stream';
import type { MultipartFile } from '@fastify/multipart';
import type { FastifyReply } from 'fastify';
import { Type } from 'typebox';
import type { Caller } from '../../domain/user/user.ts';
import { AppError, InvalidField } from '../../errors.ts';
import type { FileRow } from '../../files/file.repository.ts';
import { downloadHeaders } from '../../files/file-headers.ts';
import { isUuid } from '../../lib/ids.ts';
import { unstorableText } from '../../lib/text.ts';
import type { Platform } from '../../platform.ts';
import { type MessageTemplate, parseTemplate } from '../../providers/reply-window.ts';
import { callerOf } from '../plugins/auth.ts';
import type { App, RouteContext } from '../route-context.ts';
import { ErrorAnswer, FileBytes, IdParams, MessageSchema, Page, Uuid } from '../schemas.ts';

const FileSchema = Type.Object({
  id: Uuid,
  name: Type.Union([Type.String(), Type.Null()]),
  mimeType: Type.String(),
  size: Type.Integer(),
  sha256: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});

const MAX_TEXT = 10_000;

/** The JSON body of a send: {"text", "fileIds"} or {"template"}, checked by hand because the route also takes multipart. */
function jsonSendBody(body: unknown): { text: string | null; fileIds: string[]; template?: MessageTemplate } {
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new InvalidField('body', 'must be a JSON object');
  const { text, fileIds, template, ...rest } = body as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra) throw new InvalidField(`body.${extra}`, 'is not an allowed property');
  if (text !== undefined && text !== null && (typeof text !== 'string' || text.length > MAX_TEXT)) {
    throw new InvalidField('body.text', `must be a string of at most ${MAX_TEXT} characters`);
  }
  if (fileIds !== undefined && (!Array.isArray(fileIds) || fileIds.length > 10)) {
    throw new InvalidField('body.fileIds', 'must be an array of at most 10 file ids');
  }
  (fileIds ?? []).forEach((id: unknown, i: number) => {
    if (!isUuid(id)) throw new InvalidField(`body.fileIds[${i}]`, 'must be a UUID');
  });
  return {
    text: (text as string | undefined) ?? null,
    fileIds: (fileIds as string[] | undefined) ?? [],
    ...(template !== undefined && { template: parseTemplate(template) }),
  };
}

/** A body the multipart parser could not read is the caller's mistake: a 400, not a 500. */
export function malformedMultipart(err: unknown): unknown {
  if (err instanceof AppError || typeof (err as { statusCode?: unknown }).statusCode === 'number') return err;
  return new InvalidField(
    'body',
    `is not valid multipart/form-data (${(err as Error).message})`,
    'INVALID_MULTIPART',
  );
}

/** Refuses a multipart string the database could not store (NUL, unpaired surrogates). */
export function storable(value: string, path: string, what = ''): string {
  const reason = unstorableText(value);
  if (reason) throw new InvalidField(path, `${what}${reason}`);
  return value;
}

async function saveParts(
  platform: Platform,
  parts: AsyncIterableIterator<MultipartFile | { type: 'field'; fieldname: string; value: unknown }>,
  caller: Caller,
) {
  let text: string | null = null;
  const fileIds: string[] = [];
  for (;;) {
    let step: IteratorResult<MultipartFile | { type: 'field'; fieldname: string; value: unknown }>;
    try {
      step = await parts.next();
    } catch (err) {
      throw malformedMultipart(err);
    }
    if (step.done) break;
    const part = step.value;
    const path = `body.${storable(part.fieldname, 'body', 'a field name ')}`;
    if (part.type === 'file') {
      const upload = part as MultipartFile;
      const name = upload.filename ? storable(upload.filename, path, 'the file name ') : null;
      const mimeType = storable(upload.mimetype, path, 'the content type ');
      // A body cut short or garbled fails the file's stream (`errored`): the caller's mistake.
      const file = await platform.files
        .save(upload.file, { name, mimeType, uploadedBy: caller.id })
        .catch((err) => {
          throw upload.file.errored ? malformedMultipart(upload.file.errored) : err;
        });
      if (upload.file.truncated) throw new InvalidField(path, 'the file is too large');
      fileIds.push(file.id);
    } else if (part.fieldname === 'text') {
      if (typeof part.value !== 'string' || part.value.length > MAX_TEXT) {
        throw new InvalidField('body.text', `must be at most ${MAX_TEXT} characters`);
      }
      text = storable(part.value, 'body.text');
    } else {
      throw new InvalidField(path, 'is not an allowed field (use "text" and files)');
    }
  }
  return { text, fileIds };
}

export function messageRoutes(platform: Platform) {
  return (app: App, { auth }: RouteContext): void => {
    app.post(
      '/sessions/:id/messages',
      {
        preHandler: auth.any,
        schema: {
          tags: ['messages'],
          summary:
            'Send a message: JSON {"text","fileIds"}, JSON {"template":{"name","language","components"}} (WhatsApp, outside the 24-hour window) or multipart (field "text" and files); stored pending, sent by the worker',
          params: IdParams,
          response: {
            201: MessageSchema,
            409: ErrorAnswer(
              'It cannot be sent now: `SESSION_CLOSED`, `CHANNEL_NOT_ACTIVE`, `CHANNEL_CANNOT_SEND` (no provider), `CHANNEL_CANNOT_DELIVER` (the provider says why, e.g. no callbackUrl), `CLIENT_UNREACHABLE`, `WINDOW_CLOSED` (WhatsApp, Messenger, Instagram: more than 24 hours since the client last wrote; details say whether a template is offered), `TEMPLATES_NOT_SUPPORTED`.',
            ),
          },
        },
      },
      async (req, reply) => {
        const caller = callerOf(req);
        const input = req.isMultipart()
          ? await saveParts(platform, req.parts() as never, caller)
          : jsonSendBody(req.body);
        return reply.status(201).send(await platform.outbound.send(req.params.id, input, caller));
      },
    );

    app.patch(
      '/messages/:id',
      {
        preHandler: auth.any,
        schema: {
          tags: ['messages'],
          summary: 'Edit a sent message where the messenger can (else 409 EDIT_NOT_SUPPORTED)',
          params: IdParams,
          body: Type.Object(
            { text: Type.String({ minLength: 1, maxLength: MAX_TEXT }) },
            { additionalProperties: false },
          ),
          response: {
            200: MessageSchema,
            409: ErrorAnswer(
              'It cannot be edited: `MESSAGE_NOT_EDITABLE`, `EDIT_NOT_SUPPORTED` by the messenger, or the session or channel cannot send (as for a send).',
            ),
          },
        },
      },
      (req) => platform.outbound.edit(req.params.id, req.body.text, callerOf(req)),
    );

    app.post(
      '/files',
      {
        preHandler: auth.any,
        schema: {
          tags: ['files'],
          summary: 'Upload files (multipart) to send later by id',
          response: { 201: Page(FileSchema) },
        },
      },
      async (req, reply) => {
        if (!req.isMultipart()) throw new InvalidField('body', 'must be multipart/form-data with files');
        const caller = callerOf(req);
        const { fileIds } = await saveParts(platform, req.parts() as never, caller);
        if (fileIds.length === 0) throw new InvalidField('body', 'must hold at least one file');
        const files = await Promise.all(fileIds.map((id) => platform.files.open(id, caller)));
        for (const f of files) f.stream.destroy();
        const items = files.map(({ file }) => ({
          id: file.id,
          name: file.name,
          mimeType: file.mimeType,
          size: file.size,
          sha256: file.sha256,
          createdAt: file.createdAt.toISOString(),
        }));
        return reply.status(201).send({ items, total: items.length });
      },
    );

    app.get(
      '/files/:id',
      {
        preHandler: auth.any,
        schema: {
          tags: ['files'],
          summary: 'Download a file you may see',
          params: IdParams,
          response: { 200: FileBytes },
        },
      },
      async (req, reply) => sendFile(reply, await platform.files.open(req.params.id, callerOf(req))),
    );

    app.get(
      '/files/:id/download',
      {
        schema: {
          tags: ['files'],
          summary:
            'Download a file by a signed link (as sent in api channel callbacks): no token; 403 when the link is wrong or expired',
          params: IdParams,
          querystring: Type.Object({
            expires: Type.Optional(
              Type.String({ pattern: '^[0-9]{1,12}$', description: 'when the link expires (Unix seconds)' }),
            ),
            signature: Type.Optional(
              Type.String({
                pattern: '^[A-Za-z0-9_-]{43}$',
                description: 'the link’s signature (base64url)',
              }),
            ),
          }),
          response: {
            200: FileBytes,
            403: ErrorAnswer(
              'The link is not valid for this file (`INVALID_DOWNLOAD_LINK`: tampered, incomplete, or made with another key) or has expired (`DOWNLOAD_LINK_EXPIRED`).',
            ),
          },
        },
      },
      async (req, reply) => sendFile(reply, await platform.files.openLinked(req.params.id, req.query)),
    );
  };
}

/** A stored file as the answer: its type, size and name, never sniffed by the browser (file-headers.ts). */
function sendFile(reply: FastifyReply, { file, stream }: { file: FileRow; stream: Readable }) {
  return reply.headers(downloadHeaders(file)).send(stream);
}
