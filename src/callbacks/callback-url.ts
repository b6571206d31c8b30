/**
 * Why a callback URL cannot be stored, or null when it can. Only the URL's shape is checked
 * here; where it points is checked at connect time by the outbound HTTP client (a name's DNS
 * answer may change after this check, so checking it now would prove nothing).
 */
export function callbackUrlProblem(text: string): string | null {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'url is not an absolute URL';
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `url must be http: or https:, not ${url.protocol}`;
  }
  if (url.username !== '' || url.password !== '') {
    return 'url must not contain user:password@ (credentials in URLs end up in logs)';
  }
  if (url.hash !== '') return 'url must not have a #fragment (it is never sent)';
  if (url.hostname === '') return 'url has no host';
  return null;
}
