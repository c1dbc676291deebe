/** The idempotency key as receivers and the record of sent keys see it: hashed, or as a header value. */
import { createHash } from 'node:crypto';

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** The key as a header value: percent-encoded (any characters are legal in a key), hashed when very long. */
export function headerKey(key: string): string {
  const encoded = encodeURIComponent(key);
  return encoded.length <= 512 ? encoded : `sha256-${sha256(key)}`;
}
