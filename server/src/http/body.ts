// Reads a JSON request body with a size limit. Errors are values with the
// status and `{error, detail}` the REST adapters answer.
import type { IncomingMessage } from 'node:http';

export type BodyResult = { ok: true; value: unknown } | { ok: false; status: 400 | 413 | 415; error: string; detail: string };

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<BodyResult> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) {
    req.resume();
    return { ok: false, status: 413, error: 'payload_too_large', detail: `body exceeds ${limitBytes} bytes` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > limitBytes) {
        req.resume();
        return { ok: false, status: 413, error: 'payload_too_large', detail: `body exceeds ${limitBytes} bytes` };
      }
      chunks.push(chunk as Buffer);
    }
  } catch {
    return { ok: false, status: 400, error: 'invalid_body', detail: 'the request body could not be read' };
  }
  const text = Buffer.concat(chunks).toString('utf8');
  if (text.trim() === '') return { ok: false, status: 400, error: 'invalid_json', detail: 'body must be JSON' };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false, status: 400, error: 'invalid_json', detail: 'body is not valid JSON' };
  }
}
