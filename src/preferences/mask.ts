/** Masks personal contact data for display (PIPL / 等保: show enough to recognise, not to use). */

export function maskPhone(phone: string): string {
  const digits = phone.replace(/\D/g, '');
  if (digits.length < 7) return '*'.repeat(phone.length);
  const local = digits.length > 11 && digits.startsWith('86') ? digits.slice(2) : digits;
  return `${local.slice(0, 3)}****${local.slice(-4)}`;
}

export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '***';
  const name = email.slice(0, at);
  return `${name.slice(0, Math.min(2, name.length - 1) || 1)}***${email.slice(at)}`;
}
