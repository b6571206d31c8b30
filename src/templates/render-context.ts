/**
 * The variables a template sees. Deliveries and previews both build them here, so a template
 * that previews cleanly renders the same way when sent.
 *
 * - `data.*`: the producer's message data (`{{ data.course }}`), as sent and never parsed as
 *   Liquid; namespaced so that no data field can shadow the names below
 * - `recipient.name`, `recipient.externalId`, `recipient.locale`
 * - `source.key`, `source.name`: the system that sent the message
 * - `message.id`, `message.category`, `message.locale`: `locale` is the template's
 */
export interface RenderContextInput {
  readonly data: Readonly<Record<string, unknown>>;
  readonly recipient: {
    readonly name: string;
    readonly externalId: string;
    readonly locale: string;
  };
  readonly source: { readonly key: string; readonly name: string };
  readonly message: { readonly id: string; readonly category: string; readonly locale: string };
}

export function renderContext(input: RenderContextInput): Record<string, unknown> {
  const { data, recipient, source, message } = input;
  return {
    data,
    // Picked field by field: a template cannot reach contact details or anything added later.
    recipient: { name: recipient.name, externalId: recipient.externalId, locale: recipient.locale },
    source: { key: source.key, name: source.name },
    message: { id: message.id, category: message.category, locale: message.locale },
  };
}
