// The JSON text of a stored event's envelope, made once per envelope object.
// The ingest sends it to Postgres (one JSON array for a whole batch) and the
// fan-out splices the same text into its message, instead of serialising
// each envelope (the bulk of an event's bytes) twice more per event.
// Envelopes are immutable once validated, so an envelope object's text never
// changes; the memo holds it only while the object lives.
const memo = new WeakMap<object, string>();

/** `JSON.stringify(envelope)`, made once per envelope object. */
export function envelopeJson(envelope: object): string {
  let text = memo.get(envelope);
  if (text === undefined) {
    text = JSON.stringify(envelope);
    memo.set(envelope, text);
  }
  return text;
}

/**
 * Records `text` as this envelope's JSON: the payload it was validated from,
 * when that holds exactly its members and values (NormalisedEvent.envelopeText).
 * Member order and number spelling may differ from JSON.stringify's, which
 * neither the database (jsonb) nor a JSON reader sees.
 */
export function rememberEnvelopeJson(envelope: object, text: string): void {
  memo.set(envelope, text);
}

/** The text `envelopeJson` made for this envelope, if it made one. */
export function knownEnvelopeJson(envelope: object): string | undefined {
  return memo.get(envelope);
}

/** A JSON array of these envelopes' texts (one parameter for a batch). */
export function envelopesJsonArray(envelopes: readonly object[]): string {
  let out = '[';
  for (let i = 0; i < envelopes.length; i++) out += (i === 0 ? '' : ',') + envelopeJson(envelopes[i]!);
  return `${out}]`;
}
