/**
 * Money formatted for people, with `Intl.NumberFormat`: `€92.59`, `$5.00`, `¥1,500`. Shared by the error messages
 * (which may not import `budget/`) and the currency module, so every message formats money the same way.
 */

const formats = new Map<string, Intl.NumberFormat>()

/** Money formatted for people in its currency, e.g. `€92.59` or `$5.00`; amounts under one cent show up to 6 decimals. */
export function formatMoney(amount: number, currency: string, locale = 'en-US'): string {
  const small = Math.abs(amount) < 0.01 && amount !== 0
  const key = `${locale}|${currency}|${small ? 's' : 'n'}`
  let format = formats.get(key)
  if (format === undefined) {
    // The currency's own digits (2 for EUR, 0 for JPY, 3 for BHD); up to 6 for amounts under one cent.
    format = new Intl.NumberFormat(
      locale,
      small ? { style: 'currency', currency, maximumFractionDigits: 6 } : { style: 'currency', currency },
    )
    if (formats.size >= 64) formats.clear()
    formats.set(key, format)
  }
  return format.format(amount)
}
