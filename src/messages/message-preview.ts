import type { Db } from '../store/database.js';
import type { Channel } from '../channels/channel.js';
import { FALLBACK_LOCALES, localeChain } from '../templates/locale-chain.js';
import { renderContext } from '../templates/render-context.js';
import {
  TemplateRenderError,
  type RenderedParts,
  type TemplatePart,
  type TemplateRenderer,
} from '../templates/template-renderer.js';
import { listTemplates, resolveTemplate } from '../templates/templates-store.js';

/** The reader a preview renders for: a real user, or a sample person. */
export interface PreviewReader {
  readonly name: string;
  readonly externalId: string;
  readonly locale: string;
  /** IANA zone for `date`; undefined → the renderer's default (the campus zone). */
  readonly timezone?: string;
}

export interface PreviewRequest {
  readonly category: string;
  readonly data: Readonly<Record<string, unknown>>;
  readonly channels: readonly Channel[];
  /** The message's `locale` (forces the language), as in a send. */
  readonly messageLocale: string | null;
  readonly source: { readonly key: string; readonly name: string };
  /** One entry per reader locale to preview. */
  readonly readers: readonly PreviewReader[];
}

export interface PreviewError {
  readonly kind: string;
  readonly message: string;
  readonly part?: TemplatePart;
  readonly line?: number;
  readonly col?: number;
}

export interface PreviewItem {
  readonly channel: Channel;
  /** The reader's locale this item is for. */
  readonly locale: string;
  /** The template's locale after the fallback chain; null when none exists on it. */
  readonly templateLocale: string | null;
  readonly version: number | null;
  readonly rendered: RenderedParts | null;
  readonly error: PreviewError | null;
}

/**
 * Renders a message as its deliveries would: per channel and reader, the template found along
 * the same locale chain (`localeChain`), with the same variables (`renderContext`) and the
 * reader's time zone. A template that is missing or does not render is an item's error, so
 * the console shows every problem at once.
 */
export async function previewMessage(
  db: Db,
  renderer: TemplateRenderer,
  req: PreviewRequest,
): Promise<PreviewItem[]> {
  const items: PreviewItem[] = [];
  for (const channel of req.channels) {
    for (const reader of req.readers) {
      const chain = localeChain(reader.locale, req.messageLocale);
      const template = await resolveTemplate(db, req.category, channel, chain);
      const base = { channel, locale: reader.locale };
      if (!template) {
        items.push({
          ...base,
          templateLocale: null,
          version: null,
          rendered: null,
          error: {
            kind: 'no-template',
            message: `no ${channel} template for ${req.category} in ${chain.join(', ')}`,
          },
        });
        continue;
      }
      const found = { ...base, templateLocale: template.locale, version: template.version };
      try {
        const rendered = await renderer.render(
          `${template.category}/${template.channel}/${template.locale} v${template.version}`,
          {
            subject: template.subject ?? undefined,
            title: template.title ?? undefined,
            body: template.body,
          },
          renderContext({
            data: req.data,
            recipient: reader,
            source: req.source,
            message: { id: 'preview', category: req.category, locale: template.locale },
          }),
          {
            locale: template.locale,
            ...(reader.timezone !== undefined ? { timezone: reader.timezone } : {}),
          },
        );
        items.push({ ...found, rendered, error: null });
      } catch (err) {
        if (!(err instanceof TemplateRenderError)) throw err;
        items.push({ ...found, rendered: null, error: templateError(err) });
      }
    }
  }
  return items;
}

export function templateError(err: TemplateRenderError): PreviewError {
  return {
    kind: err.kind,
    message: err.message,
    part: err.part,
    ...(err.line !== undefined ? { line: err.line, col: err.col } : {}),
  };
}

/**
 * The reader locales worth previewing for a category when none are named: those its
 * templates exist in, platform defaults (zh-CN, en) first.
 */
export async function templateLocales(
  db: Db,
  category: string,
  channels: readonly Channel[],
): Promise<string[]> {
  const found = new Set(
    (await listTemplates(db, { category }))
      .filter((t) => (channels as readonly string[]).includes(t.channel))
      .map((t) => t.locale),
  );
  const first = FALLBACK_LOCALES.filter((l) => found.has(l));
  const rest = [...found].filter((l) => !(FALLBACK_LOCALES as readonly string[]).includes(l));
  return [...first, ...rest.sort()];
}
