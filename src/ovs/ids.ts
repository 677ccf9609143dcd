// The numeric ids every layer prints and compares: OpenFlow cookies, recirculation ids, tunnel ids.
// One spelling each, so a cookie or a recirc_id read from a trace, a log line, the datapath or the
// store is the same string everywhere it is joined or shown.

/**
 * An OpenFlow cookie as the project stores it: `0x` + lower-case hex, 8 digits when it fits in 32 bits
 * (traces print it without leading zeros), else 16. Null for text that is not a cookie.
 *
 * Cookies are 64-bit. ovn-controller sets them to `uuid.parts[0]` of the southbound row (a uint32_t,
 * so the high 32 bits are always 0), and ovn-detrace looks a cookie up by its whole hex text, zero-
 * filled to 8, as a UUID prefix. A wider cookie therefore names no OVN row and must not be cut down to
 * its low 32 bits: kept whole and padded to 16 it never collides with one.
 */
export function normaliseCookie(raw: string): string | null {
  const m = /^(?:0x)?([0-9a-fA-F]{1,16})$/.exec(raw.trim());
  if (!m) return null;
  const digits = m[1].toLowerCase().replace(/^0+(?=.)/, '');
  return `0x${digits.padStart(digits.length > 8 ? 16 : 8, '0')}`;
}

/** The text normaliseCookie makes `0x00000000` of, read without building that string (every step is asked). */
const ZERO_COOKIE = /^(?:0x)?0{1,16}$/;

/**
 * Whether a rule's cookie is 0 (glue and conjunction flows: no OVN row owns it) or absent, in every
 * spelling: ovs-ofctl prints `0x0`, ofproto/trace and detrace omit it (their parsers give `0x00000000`),
 * a wider text pads it to 16 digits.
 */
export const isCookieZero = (cookie: string | null | undefined): boolean => !cookie || ZERO_COOKIE.test(cookie.trim());

/**
 * The first 8 hex digits of the southbound UUID that owns this cookie (`0xdd9b0a` → `00dd9b0a`), or
 * null when no OVN row can own it: cookie 0 (glue flows), a cookie wider than 32 bits, bad text.
 * This is ovn-detrace's rule (`cookie.zfill(8)` matched with `str(uuid).startswith`).
 */
export function cookieUuidPrefix(cookie: string | null | undefined): string | null {
  if (!cookie) return null;
  const c = normaliseCookie(cookie);
  if (!c || c.length !== 10 || c === '0x00000000') return null;
  return c.slice(2);
}

/**
 * A recirculation id as the datapath prints it in `recirc_id(0x1)` and `recirc(0x1)`: `0x` + lower-
 * case hex without padding. Takes the number, or its text in decimal (`recirc_id=1` on a Flow line)
 * or hex (`0x1`).
 */
export function recircIdHex(id: number | string): string {
  const n = typeof id === 'number' ? id : id.trim() === '' ? NaN : Number(id.trim());
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`not a recirculation id: ${String(id)}`);
  return '0x' + n.toString(16);
}

/**
 * A tunnel id (tun_id, a VNI, a GRE key) in one spelling: `0x` + lower-case hex without leading zeros,
 * as format_be64 prints tun_id. Takes that text or decimal; null for other text or more than 64 bits.
 * Text, as cookies are: tun_id is 64 bits (OVN's STT encapsulation sets bits up to 55), past what a
 * number holds exactly.
 */
export function tunnelIdHex(raw: string): string | null {
  if (!/^(?:0x[0-9a-fA-F]+|\d+)$/.test(raw)) return null;
  const n = BigInt(raw);
  return n > 0xffffffffffffffffn ? null : `0x${n.toString(16)}`;
}

/** The decimal spelling of a tunnel id, as the tunnel and push signatures (stored, sought) write it. */
export const tunnelIdDecimal = (hex: string): string => BigInt(hex).toString();

/**
 * A tunnel id as JSON carries it (verdicts stored and served): the number while it is exact (every
 * VNI, and what verdicts already stored hold), else its hex text: a bigint would throw in
 * JSON.stringify, a rounded number name another tunnel.
 */
export function tunnelIdForJson(hex: string): number | string {
  const n = BigInt(hex);
  return n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : hex;
}

/**
 * An address as one text whoever wrote it: IPv6 in one form (the WHATWG URL parser's RFC 5952 one),
 * so the northbound's `FD00:0::0001` and a key's `fd00::1` compare equal; IPv4 as given.
 */
export function canonicalIp(ip: string): string {
  if (!ip.includes(':')) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname.slice(1, -1);
  } catch {
    return ip.toLowerCase();
  }
}
