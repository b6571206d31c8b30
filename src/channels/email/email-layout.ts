const ESCAPES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text → HTML text or attribute value. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

export interface EmailLayoutInput {
  readonly lang: string;
  readonly title?: string;
  /** Plain text (a rendered Liquid template): escaped here, line breaks kept. */
  readonly body: string;
  /** Small print under the message, e.g. the sending office. */
  readonly footer?: string;
}

/**
 * The HTML part of an email: the plain-text body escaped and laid out in one narrow column
 * with inline styles (mail clients drop <style> blocks and external CSS). Nothing from the
 * message is ever interpreted as markup.
 */
export function emailHtml({ lang, title, body, footer }: EmailLayoutInput): string {
  const heading = title
    ? `<h1 style="margin:0 0 16px;font-size:20px;line-height:1.4;">${escapeHtml(title)}</h1>\n`
    : '';
  const small = footer
    ? `<p style="margin:16px 0 0;font-size:12px;color:#888;">${escapeHtml(footer)}</p>\n`
    : '';
  return (
    `<!doctype html>\n<html lang="${escapeHtml(lang)}">\n<head>\n<meta charset="utf-8">\n` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<title>${escapeHtml(title ?? '')}</title>\n</head>\n` +
    `<body style="margin:0;padding:0;background:#f4f4f5;">\n` +
    `<div style="max-width:600px;margin:0 auto;padding:24px 16px;color:#1f2328;` +
    `font-family:-apple-system,'Segoe UI','PingFang SC','Microsoft YaHei',Arial,sans-serif;">\n` +
    `<div style="background:#fff;border-radius:8px;padding:24px;">\n` +
    heading +
    `<p style="margin:0;font-size:15px;line-height:1.6;">${paragraph(body)}</p>\n` +
    `</div>\n` +
    small +
    `</div>\n</body>\n</html>\n`
  );
}

function paragraph(text: string): string {
  return escapeHtml(text).replace(/\r\n|\r|\n/g, '<br>\n');
}
