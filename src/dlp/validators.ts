/**
 * Offline validators for DLP candidates: checksums and structure rules that turn a pattern
 * match into a finding. Pure functions, no I/O, no network. Each is unit-tested against
 * published test values in validators.test.ts.
 */
import { Buffer } from 'node:buffer';
import { isIPv4, isIPv6 } from 'node:net';
import { crc32 } from 'node:zlib';
import { isWellFormedApiKey } from '../core/keys.js';

// ---------------------------------------------------------------------------------------------
// Helpers

/** Keeps the decimal digits only (separators in cards, IDs and phone numbers vary). */
export function digitsOnly(s: string): string {
  return s.replace(/\D/g, '');
}

function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

/** A real calendar date (month 1–12). */
export function isValidDate(year: number, month: number, day: number): boolean {
  if (month < 1 || month > 12 || day < 1) return false;
  const days = [31, isLeapYear(year) ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
  return day <= days[month - 1]!;
}

// ---------------------------------------------------------------------------------------------
// Payment cards

/** Luhn (mod 10) over a string of digits; false for anything that is not all digits. */
export function luhn(digits: string): boolean {
  if (!/^\d{2,}$/.test(digits)) return false;
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return sum % 10 === 0;
}

export type CardBrand =
  | 'visa'
  | 'mastercard'
  | 'amex'
  | 'discover'
  | 'jcb'
  | 'diners'
  | 'unionpay'
  | 'maestro'
  | 'mir';

interface IinRule {
  brand: CardBrand;
  /** [prefix length, lowest, highest] — the number's first `len` digits fall in [lo, hi]. */
  ranges: ReadonlyArray<readonly [number, number, number]>;
  lengths: readonly number[];
}

const range = (from: number, to: number): number[] =>
  Array.from({ length: to - from + 1 }, (_, i) => from + i);

/**
 * Issuer identification ranges. Order matters where ranges nest: Discover's co-branded
 * 622126–622925 sits inside UnionPay's 62, so Discover is tried first.
 */
const IIN_RULES: readonly IinRule[] = [
  { brand: 'amex', ranges: [[2, 34, 34], [2, 37, 37]], lengths: [15] },
  {
    brand: 'diners',
    ranges: [[3, 300, 305], [4, 3095, 3095], [2, 36, 36], [2, 38, 39]],
    lengths: range(14, 19),
  },
  { brand: 'jcb', ranges: [[4, 3528, 3589]], lengths: range(16, 19) },
  { brand: 'visa', ranges: [[1, 4, 4]], lengths: [13, 16, 19] },
  { brand: 'mir', ranges: [[4, 2200, 2204]], lengths: range(16, 19) },
  { brand: 'mastercard', ranges: [[2, 51, 55], [4, 2221, 2720]], lengths: [16] },
  {
    brand: 'discover',
    ranges: [[4, 6011, 6011], [6, 622126, 622925], [3, 644, 649], [2, 65, 65]],
    lengths: range(16, 19),
  },
  { brand: 'unionpay', ranges: [[2, 62, 62]], lengths: range(16, 19) },
  {
    brand: 'maestro',
    ranges: [
      [4, 5018, 5018], [4, 5020, 5020], [4, 5038, 5038], [4, 5893, 5893],
      [4, 6304, 6304], [4, 6759, 6759], [4, 6761, 6763],
    ],
    lengths: range(12, 19),
  },
];

/**
 * The card brand whose IIN range and length fit the number (spaces and dashes ignored), or null.
 * Does not check Luhn.
 */
export function cardIssuer(number: string): CardBrand | null {
  const d = number.replace(/[ -]/g, '');
  if (!/^\d{12,19}$/.test(d)) return null;
  for (const rule of IIN_RULES) {
    const inRange = rule.ranges.some(([len, lo, hi]) => {
      const p = Number(d.slice(0, len));
      return p >= lo && p <= hi;
    });
    if (inRange) return rule.lengths.includes(d.length) ? rule.brand : null;
  }
  return null;
}

/** Luhn plus a known issuer with a length valid for it. */
export function creditCardValid(number: string): boolean {
  const d = number.replace(/[ -]/g, '');
  return luhn(d) && cardIssuer(d) !== null;
}

// ---------------------------------------------------------------------------------------------
// IBAN (ISO 13616)

/** Total IBAN length per country, from the SWIFT IBAN registry (all participating countries). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29,
  BY: 28, CH: 21, CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29,
  ES: 24, FI: 18, FK: 18, FO: 18, FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28,
  HN: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26, IT: 27, JO: 30, KW: 30, KZ: 20,
  LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24, ME: 22, MK: 19,
  MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29,
  PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24,
  SM: 27, SO: 23, ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20,
  YE: 30,
};

/** The remainder mod 97 of a long digit string, in chunks so it never exceeds 2^53. */
function mod97(digits: string): number {
  let rem = 0;
  for (let i = 0; i < digits.length; i += 7) {
    rem = Number(String(rem) + digits.slice(i, i + 7)) % 97;
  }
  return rem;
}

/** ISO 13616: known country, that country's length, and the mod-97 check (remainder 1). */
export function ibanValid(iban: string): boolean {
  const s = iban.replace(/[ -]/g, '').toUpperCase();
  if (!/^[A-Z]{2}\d{2}[A-Z0-9]{11,30}$/.test(s)) return false;
  if (IBAN_LENGTHS[s.slice(0, 2)] !== s.length) return false;
  const rearranged = s.slice(4) + s.slice(0, 4);
  const numeric = rearranged.replace(/[A-Z]/g, (c) => String(c.charCodeAt(0) - 55));
  return mod97(numeric) === 1;
}

// ---------------------------------------------------------------------------------------------
// United States

/**
 * Numbers the SSA has published or that were famously misused, so they identify nobody:
 * 078-05-1120 (printed on sample cards in Woolworth wallets, 1938) and 219-09-9999 (an SSA
 * advertisement).
 */
const SSN_KNOWN_INVALID = new Set(['078051120', '219099999']);

/**
 * US SSN structure: area 001–899 except 666 (never issued; 900–999 is the ITIN range),
 * group 01–99, serial 0001–9999. Accepts `AAA-GG-SSSS`, `AAA GG SSSS` or nine digits.
 */
export function usSsnValid(ssn: string): boolean {
  const m = /^(\d{3})[- ]?(\d{2})[- ]?(\d{4})$/.exec(ssn.trim());
  if (!m) return false;
  const [, area, group, serial] = m as unknown as [string, string, string, string];
  if (area === '000' || area === '666' || area[0] === '9') return false;
  if (group === '00' || serial === '0000') return false;
  return !SSN_KNOWN_INVALID.has(area + group + serial);
}

/**
 * US ITIN: 9AA-GG-SSSS with group 50–65, 70–88, 90–92 or 94–99 (the IRS ranges; other
 * 9xx numbers are not ITINs).
 */
export function usItinValid(itin: string): boolean {
  const m = /^9\d{2}[- ]?(\d{2})[- ]?\d{4}$/.exec(itin.trim());
  if (!m) return false;
  const g = Number(m[1]);
  return (g >= 50 && g <= 65) || (g >= 70 && g <= 88) || (g >= 90 && g <= 92) || g >= 94;
}

/** EIN prefixes the IRS assigns (campus codes); 00, 07–09, 17–19, 28, 29, 49, 69, 70, 78, 79, 89, 96, 97 are unused. */
const EIN_PREFIXES = new Set(
  [
    ...range(1, 6), ...range(10, 16), ...range(20, 27), ...range(30, 48), ...range(50, 68),
    ...range(71, 77), ...range(80, 88), ...range(90, 95), 98, 99,
  ].map((n) => String(n).padStart(2, '0')),
);

/** US EIN `NN-NNNNNNN` (or 9 digits) with an assigned prefix. */
export function usEinValid(ein: string): boolean {
  const m = /^(\d{2})-?(\d{7})$/.exec(ein.trim());
  return m !== null && EIN_PREFIXES.has(m[1]!) && m[2] !== '0000000';
}

// ---------------------------------------------------------------------------------------------
// United Kingdom

/**
 * National Insurance number: two letters (first not D F I Q U V; second not D F I O Q U V;
 * BG GB KN NK NT TN ZZ never allocated), six digits, suffix A–D.
 */
export function ukNinoValid(nino: string): boolean {
  const s = nino.replace(/\s/g, '').toUpperCase();
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]\d{6}[A-D]$/.test(s)) return false;
  return !['BG', 'GB', 'KN', 'NK', 'NT', 'TN', 'ZZ'].includes(s.slice(0, 2));
}

// ---------------------------------------------------------------------------------------------
// EU national and tax identifiers

const DNI_LETTERS = 'TRWAGMYFPDXBNJZSQVHLCKE';

/** Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter): letter = table[n mod 23]. */
export function esDniValid(id: string): boolean {
  const s = id.replace(/[\s-]/g, '').toUpperCase();
  let m = /^(\d{8})([A-Z])$/.exec(s);
  if (!m) {
    const nie = /^([XYZ])(\d{7})([A-Z])$/.exec(s);
    if (!nie) return false;
    m = ['', String('XYZ'.indexOf(nie[1]!)) + nie[2]!, nie[3]!] as unknown as RegExpExecArray;
  }
  return DNI_LETTERS[Number(m[1]) % 23] === m[2];
}

// Italian codice fiscale: characters in odd positions (1st, 3rd, …) are weighted by this
// table (indexed by digit value or letter index), even positions by their plain value.
const CF_ODD = [1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23];
/** Omocodia: a clash of codes replaces digits from the right with these letters. */
const CF_OMOCODE = 'LMNPQRSTUV';

/** Italian codice fiscale: shape, birth month letter and day (1–31, women +40), check character. */
export function itCodiceFiscaleValid(cf: string): boolean {
  const s = cf.toUpperCase();
  const shape = /^[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]$/;
  if (!shape.test(s)) return false;
  const decode = (c: string): string => (/\d/.test(c) ? c : String(CF_OMOCODE.indexOf(c)));
  const day = Number(decode(s[9]!) + decode(s[10]!));
  if (!((day >= 1 && day <= 31) || (day >= 41 && day <= 71))) return false;
  let sum = 0;
  for (let i = 0; i < 15; i++) {
    const c = s[i]!;
    const v = /\d/.test(c) ? c.charCodeAt(0) - 48 : c.charCodeAt(0) - 65;
    sum += i % 2 === 0 ? CF_ODD[v]! : v;
  }
  return String.fromCharCode(65 + (sum % 26)) === s[15];
}

/** Polish PESEL: weights 1 3 7 9 …, check digit, and a birth date whose month encodes the century. */
export function plPeselValid(pesel: string): boolean {
  if (!/^\d{11}$/.test(pesel)) return false;
  const d = [...pesel].map(Number);
  const w = [1, 3, 7, 9, 1, 3, 7, 9, 1, 3];
  const sum = w.reduce((acc, wi, i) => acc + wi * d[i]!, 0);
  if ((10 - (sum % 10)) % 10 !== d[10]) return false;
  const yy = d[0]! * 10 + d[1]!;
  const mm = d[2]! * 10 + d[3]!;
  const dd = d[4]! * 10 + d[5]!;
  // 81–92 → 1800s, 01–12 → 1900s, 21–32 → 2000s, 41–52 → 2100s, 61–72 → 2200s.
  const centuries: Record<number, number> = { 80: 1800, 0: 1900, 20: 2000, 40: 2100, 60: 2200 };
  const base = mm > 80 ? 80 : Math.floor(mm / 20) * 20;
  const century = centuries[base];
  if (century === undefined) return false;
  return isValidDate(century + yy, mm - base, dd);
}

/** Dutch BSN: 9 digits (8 with an implied leading zero), 11-test with weights 9…2, −1. */
export function nlBsnValid(bsn: string): boolean {
  let s = bsn.replace(/[.\s]/g, '');
  if (/^\d{8}$/.test(s)) s = '0' + s;
  if (!/^\d{9}$/.test(s) || /^0+$/.test(s)) return false;
  let sum = 0;
  for (let i = 0; i < 8; i++) sum += (9 - i) * (s.charCodeAt(i) - 48);
  sum -= s.charCodeAt(8) - 48;
  return sum % 11 === 0;
}

const HETU_CHECK = '0123456789ABCDEFHJKLMNPRSTUVWXY';
/** Century signs; since 2023 Y X W V U also mean 1900s and B C D E F also mean 2000s. */
const HETU_CENTURY: Record<string, number> = {
  '+': 1800, '-': 1900, Y: 1900, X: 1900, W: 1900, V: 1900, U: 1900,
  A: 2000, B: 2000, C: 2000, D: 2000, E: 2000, F: 2000,
};

/** Finnish henkilötunnus DDMMYYCZZZQ: real date, individual number 002–999, check = table[n mod 31]. */
export function fiHetuValid(hetu: string): boolean {
  const m = /^(\d{2})(\d{2})(\d{2})([-+A-FU-Y])(\d{3})([0-9A-Y])$/.exec(hetu.toUpperCase());
  if (!m) return false;
  const [, dd, mm, yy, sign, ind, check] = m as unknown as string[];
  const century = HETU_CENTURY[sign!];
  if (century === undefined) return false;
  if (!isValidDate(century + Number(yy), Number(mm), Number(dd))) return false;
  const n = Number(ind);
  // 000 and 001 are never issued (900–999 are temporary codes, but still name a person).
  if (n < 2) return false;
  return HETU_CHECK[Number(dd! + mm! + yy! + ind!) % 31] === check;
}

/**
 * Swedish personnummer (YYMMDD-NNNC or YYYYMMDDNNNC): Luhn over the ten digits YYMMDDNNNC and
 * a real date; samordningsnummer (coordination numbers) add 60 to the day.
 */
export function sePersonnummerValid(pnr: string): boolean {
  const m = /^(\d{2})?(\d{2})(\d{2})(\d{2})[-+]?(\d{4})$/.exec(pnr.trim());
  if (!m) return false;
  const [, cc, yy, mm, ddRaw, tail] = m as unknown as [string, string | undefined, string, string, string, string];
  let day = Number(ddRaw);
  if (day > 60) day -= 60;
  // With a two-digit year the century is unknown; 2000 keeps 29 February of every 4th year.
  const year = cc ? Number(cc + yy) : 2000 + Number(yy);
  if (cc && cc !== '19' && cc !== '20' && cc !== '18') return false;
  if (!isValidDate(year, Number(mm), day)) return false;
  return luhn(yy + mm + ddRaw + tail);
}

/**
 * French NIR (numéro de sécurité sociale), 13 digits + 2-digit key = 97 − (n mod 97).
 * Corsica's départements 2A and 2B count as 19 and 18 in n.
 */
export function frNirValid(nir: string): boolean {
  const s = nir.replace(/[\s.]/g, '').toUpperCase();
  const m = /^([1-478])(\d{2})(\d{2})(\d{2}|2A|2B)(\d{3})(\d{3})(\d{2})$/.exec(s);
  if (!m) return false;
  const month = Number(m[3]);
  // 01–12, or 20–42 / 50–99 for people whose birth month is unknown (pseudo-months).
  if (!((month >= 1 && month <= 12) || (month >= 20 && month <= 42) || month >= 50)) return false;
  const dept = m[4] === '2A' ? '19' : m[4] === '2B' ? '18' : m[4]!;
  const n = m[1]! + m[2]! + m[3]! + dept + m[5]! + m[6]!;
  return 97 - mod97(n) === Number(m[7]);
}

/**
 * German Steuerliche Identifikationsnummer: 11 digits, no leading 0; in the first ten exactly
 * one digit repeats (twice, or three times since 2016) and the others appear at most once; check
 * digit by ISO 7064 MOD 11,10. Whether a triple may be adjacent is not enforced (python-stdnum
 * does not either): a DLP validator errs on the side of recall.
 */
export function deSteuerIdValid(id: string): boolean {
  const s = id.replace(/[\s/]/g, '');
  if (!/^[1-9]\d{10}$/.test(s)) return false;
  const body = s.slice(0, 10);
  const counts = new Map<string, number>();
  for (const c of body) counts.set(c, (counts.get(c) ?? 0) + 1);
  const repeated = [...counts.entries()].filter(([, n]) => n > 1);
  if (repeated.length !== 1) return false;
  if (repeated[0]![1] > 3) return false;
  let product = 10;
  for (const c of body) {
    let sum = (Number(c) + product) % 10;
    if (sum === 0) sum = 10;
    product = (sum * 2) % 11;
  }
  let check = 11 - product;
  if (check === 10) check = 0;
  return check === Number(s[10]);
}

/**
 * Belgian national number YYMMDD-SSS-CC: CC = 97 − (YYMMDDSSS mod 97), or for people born from
 * 2000 on, 97 − ((2000000000 + YYMMDDSSS) mod 97). Month may be 0 (unknown date) or +20/+40 for
 * bis numbers.
 */
export function beNationalNumberValid(nn: string): boolean {
  const s = digitsOnly(nn);
  if (s.length !== 11) return false;
  const month = Number(s.slice(2, 4)) % 20;
  const day = Number(s.slice(4, 6));
  if (Number(s.slice(2, 4)) > 52 || month > 12 || day > 31) return false;
  const base = Number(s.slice(0, 9));
  const check = Number(s.slice(9));
  return 97 - (base % 97) === check || 97 - ((2_000_000_000 + base) % 97) === check;
}

// ---------------------------------------------------------------------------------------------
// Phone numbers

/**
 * National significant number lengths for common calling codes. Codes not listed fall back to
 * 4–12 digits; ITU codes are a prefix code, so the code is read unambiguously from the left.
 */
const PHONE_NSN: Readonly<Record<string, readonly [number, number]>> = {
  '1': [10, 10], '7': [10, 10], '20': [8, 10], '27': [9, 9], '30': [10, 10], '31': [9, 9],
  '32': [8, 9], '33': [9, 9], '34': [9, 9], '36': [8, 9], '39': [6, 11], '40': [9, 9],
  '41': [9, 9], '43': [4, 13], '44': [9, 10], '45': [8, 8], '46': [7, 10], '47': [8, 8],
  '48': [9, 9], '49': [6, 13], '51': [8, 9], '52': [10, 10], '53': [8, 8], '54': [10, 11],
  '55': [10, 11], '56': [9, 9], '57': [8, 10], '58': [10, 10], '60': [8, 10], '61': [9, 9],
  '62': [8, 12], '63': [8, 10], '64': [8, 10], '65': [8, 8], '66': [8, 9], '81': [9, 10],
  '82': [8, 10], '84': [9, 10], '86': [10, 11], '90': [10, 10], '91': [10, 10], '92': [9, 10],
  '94': [9, 9], '98': [10, 10], '234': [8, 10], '254': [9, 9], '351': [9, 9], '352': [4, 11],
  '353': [7, 9], '354': [7, 9], '356': [8, 8], '357': [8, 8], '358': [5, 12], '359': [7, 9],
  '370': [8, 8], '371': [8, 8], '372': [7, 8], '380': [9, 9], '385': [8, 9], '386': [8, 8],
  '420': [9, 9], '421': [9, 9], '852': [8, 8], '886': [8, 9], '966': [9, 9], '971': [8, 9],
  '972': [8, 9],
};

/** Two-digit calling codes (every other code starting with 2–9 has three digits). */
const PHONE_CC2 = new Set([
  '20', '27', '30', '31', '32', '33', '34', '36', '39', '40', '41', '43', '44', '45', '46',
  '47', '48', '49', '51', '52', '53', '54', '55', '56', '57', '58', '60', '61', '62', '63',
  '64', '65', '66', '81', '82', '84', '86', '90', '91', '92', '93', '94', '95', '98',
]);
/** Two-digit zones whose codes are three digits long; other unlisted pairs (e.g. 28, 83) are unassigned. */
const PHONE_CC3_ZONES = new Set([
  '21', '22', '23', '24', '25', '26', '29', '35', '37', '38', '42', '50', '59', '67', '68',
  '69', '80', '85', '87', '88', '96', '97', '99',
]);

/** Splits E.164 digits (no `+`) into calling code and national number, or null if no code fits. */
export function splitCallingCode(digits: string): { cc: string; nsn: string } | null {
  if (!/^[1-9]\d+$/.test(digits)) return null;
  let cc: string;
  if (digits[0] === '1' || digits[0] === '7') cc = digits[0];
  else if (PHONE_CC2.has(digits.slice(0, 2))) cc = digits.slice(0, 2);
  else if (PHONE_CC3_ZONES.has(digits.slice(0, 2))) cc = digits.slice(0, 3);
  else return null;
  return { cc, nsn: digits.slice(cc.length) };
}

/** NANP (US, Canada, …): NPA [2-9][0-8]X, not N11; exchange [2-9]XX, not N11. */
export function nanpValid(number: string): boolean {
  let d = digitsOnly(number);
  if (d.length === 11 && d[0] === '1') d = d.slice(1);
  if (d.length !== 10) return false;
  const npa = d.slice(0, 3);
  const nxx = d.slice(3, 6);
  if (!/^[2-9][0-8]\d$/.test(npa) || !/^[2-9]\d\d$/.test(nxx)) return false;
  return !/^[2-9]11$/.test(npa) && !/^[2-9]11$/.test(nxx);
}

/** Shapes that look like a phone number but are dates (`01.02.2023`, `2023-01-02 …`). */
const DATE_LIKE = /^(?:\d{1,2}([./-])\d{1,2}\1(?:19|20)?\d{2}|(?:19|20)\d{2}([./-])\d{1,2}\2\d{1,2})(?:\D|$)/;

/**
 * A plausible phone number: international (`+` or `00`, calling code, national length per
 * country, the `(0)` trunk hint allowed), NANP, or a national number with a trunk `0` and 9–12
 * digits. Dates are rejected.
 */
export function phoneNumberValid(value: string): boolean {
  const v = value.trim();
  if (DATE_LIKE.test(v)) return false;
  if (v.startsWith('+') || v.startsWith('00')) {
    const intl = digitsOnly(v.replace(/\(0\)/, '')).replace(/^00/, '');
    const split = splitCallingCode(intl);
    if (!split || intl.length > 15) return false;
    const [min, max] = PHONE_NSN[split.cc] ?? [4, 12];
    if (split.nsn.length < min || split.nsn.length > max) return false;
    return split.cc !== '1' || nanpValid(split.nsn);
  }
  const d = digitsOnly(v);
  if (d[0] === '0') return d[1] !== '0' && d.length >= 9 && d.length <= 12;
  return nanpValid(d);
}

// ---------------------------------------------------------------------------------------------
// Network

export function ipv4Valid(s: string): boolean {
  return isIPv4(s);
}

export function ipv6Valid(s: string): boolean {
  return isIPv6(s);
}

// ---------------------------------------------------------------------------------------------
// Secrets

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** CRC32 of `s`, written as 6 base62 digits (0-9A-Za-z), most significant first. */
export function base62Crc32(s: string): string {
  let n = crc32(s);
  let out = '';
  for (let i = 0; i < 6; i++) {
    out = BASE62[n % 62]! + out;
    n = Math.floor(n / 62);
  }
  return out;
}

/**
 * GitHub tokens in the 2021 format (`ghp_`, `gho_`, `ghu_`, `ghs_`, `ghr_`): 30 random base62
 * characters then the base62 CRC32 of those 30, so a match can be confirmed offline.
 */
export function githubTokenValid(token: string): boolean {
  if (!/^gh[pousr]_[0-9A-Za-z]{36}$/.test(token)) return false;
  return base62Crc32(token.slice(4, 34)) === token.slice(34);
}

/** RenLayer's own API keys (`rl_live_…` / `rl_test_…`) carry a CRC32 too; see core/keys.ts. */
export function renlayerKeyValid(key: string): boolean {
  return isWellFormedApiKey(key);
}

function base64UrlJson(part: string): unknown {
  if (!/^[A-Za-z0-9_-]+$/.test(part) || part.length % 4 === 1) return undefined;
  try {
    return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * A JWS compact JWT: three base64url parts; the header is a JSON object with a string `alg`;
 * the payload is a JSON object; the signature is base64url and empty only for `alg: none`.
 */
export function jwtValid(token: string): boolean {
  const parts = token.split('.');
  if (parts.length !== 3) return false;
  const [h, p, sig] = parts as [string, string, string];
  const header = base64UrlJson(h);
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return false;
  const alg = (header as Record<string, unknown>).alg;
  if (typeof alg !== 'string') return false;
  const payload = base64UrlJson(p);
  if (typeof payload !== 'object' || payload === null) return false;
  if (sig === '') return alg.toLowerCase() === 'none';
  return /^[A-Za-z0-9_-]+$/.test(sig) && sig.length % 4 !== 1;
}

/** Shannon entropy in bits per character. */
export function shannonEntropy(s: string): number {
  if (s.length === 0) return 0;
  const freq = new Map<string, number>();
  for (const c of s) freq.set(c, (freq.get(c) ?? 0) + 1);
  let h = 0;
  const n = [...s].length;
  for (const count of freq.values()) {
    const p = count / n;
    h -= p * Math.log2(p);
  }
  return h;
}

/**
 * Looks like machine-generated key material rather than words: long enough, entropy at least
 * `minEntropy` bits/char, and mixing letters with digits or symbols.
 */
export function looksRandom(value: string, minEntropy = 3.5, minLength = 16): boolean {
  if (value.length < minLength || shannonEntropy(value) < minEntropy) return false;
  const hasLetter = /[A-Za-z]/.test(value);
  const hasDigitOrSymbol = /[^A-Za-z]/.test(value);
  return hasLetter && hasDigitOrSymbol;
}

/** Words that mark a value as a stand-in when they start or end one of its alphanumeric runs. */
// Only words of four letters or more: shorter ones (my, foo, abc) begin or end a run of random
// base64url material too often (sk-proj keys have many short runs between - and _), and `test`
// is part of real prefixes (sk_test_, rl_test_).
const PLACEHOLDER_EDGE_WORDS = ['your', 'here', 'fake', 'demo', 'dummy', 'sample', 'xxxx'];
/** Words long enough that finding them anywhere is no coincidence in random key material. */
const PLACEHOLDER_ANYWHERE = /example|placeholder|changeme|change_me|redacted|replace|insert|dummy|sample/i;
/** How many different characters a string of 0-9a-z has (a bit per character; no Set). */
function distinctAlnum(alnum: string): number {
  let lo = 0;
  let hi = 0;
  for (let i = 0; i < alnum.length; i++) {
    const k = orderIndex(alnum.charCodeAt(i));
    if (k < 30) lo |= 1 << k;
    else hi |= 1 << (k - 30);
  }
  let n = 0;
  for (let b = lo; b !== 0; b &= b - 1) n++;
  for (let b = hi; b !== 0; b &= b - 1) n++;
  return n;
}

/** Position in 0-9a-z (digits, then lower-case letters), or -1. */
const orderIndex = (c: number): number => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 122 ? c - 87 : -1);

/**
 * A value that stands in for a secret rather than being one: documentation keys
 * (`AKIAIOSFODNN7EXAMPLE`), masks (`AKIAXXXXXXXXXXXXXXXX`, `sk-xxxx…`, `****`), template
 * text (`your-api-key-here`, `<token>`, `${KEY}`), and runs of one character, of a short
 * repeated unit or of consecutive characters (`123456`, `abcdef`). Random key material almost
 * never has these features (a run of five equal base62 characters in a 40-character key has a
 * probability of about 1 in 100,000), so treating them as placeholders costs next to no recall.
 */
export function isPlaceholder(value: string): boolean {
  const v = value.trim();
  if (v === '') return true;
  if (PLACEHOLDER_ANYWHERE.test(v)) return true;
  if (/[<>{}]|\$\{|%s|\.\.\.|…|\*{3}|•{3}/.test(v)) return true;
  const lower = v.toLowerCase();
  // A run of five equal characters: xxxxx, 00000, XXXXX.
  if (/(.)\1{4}/.test(lower)) return true;
  // Six consecutive characters, up or down: 123456, abcdef, 987654 (one pass, no allocation:
  // this runs on every generic-secret candidate, up to 256 characters each).
  let up = 1;
  let down = 1;
  for (let i = 1, prev = orderIndex(lower.charCodeAt(0)); i < lower.length; i++) {
    const cur = orderIndex(lower.charCodeAt(i));
    up = prev >= 0 && cur === prev + 1 ? up + 1 : 1;
    down = prev >= 0 && cur >= 0 && cur === prev - 1 ? down + 1 : 1;
    if (up >= 6 || down >= 6) return true;
    prev = cur;
  }
  const runs = lower.split(/[^a-z0-9]+/).filter((r) => r.length > 0);
  for (const run of runs) {
    for (const w of PLACEHOLDER_EDGE_WORDS) {
      // Edge words only count on a run made mostly of words, not inside random material.
      if (run === w || ((run.startsWith(w) || run.endsWith(w)) && !/\d/.test(run) && run.length <= 24)) {
        return true;
      }
    }
  }
  const alnum = lower.replace(/[^a-z0-9]/g, '');
  if (alnum.length >= 10) {
    if (distinctAlnum(alnum) <= 4) return true;
    // A short unit repeated: abcabcabcabc, 12341234…
    for (let k = 2; k <= 8 && k * 3 <= alnum.length; k++) {
      const unit = alnum.slice(0, k);
      if (unit.repeat(Math.ceil(alnum.length / k)).startsWith(alnum)) return true;
    }
  }
  return false;
}
