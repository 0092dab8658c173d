/**
 * Personal data: e-mail addresses, phone numbers, IP addresses, postal addresses and a person's
 * name next to an identifier.
 */
import type { Detector } from '../types.js';
import { hasContext, maxMatchLength } from '../match.js';
import { ipv4Valid, ipv6Valid, phoneNumberValid } from '../validators.js';
import { charAfter, charBefore, wordBefore } from './shared.js';

/**
 * Letters of names in Latin script (ASCII, Latin-1, Latin Extended-A: é, ü, ł, š, ő …). Explicit
 * ranges rather than \p{L}: Unicode classes inside counted repetitions blow up RE2's DFA and
 * push it onto the slow NFA path (measured 40–500 ms per MB instead of 2–5 ms).
 */
const UPPER = '[A-ZÀ-ÖØ-ÞĀ-ſ]';
const LETTERS = "[A-Za-zÀ-ÖØ-öø-ÿĀ-ſ'-]";

// ---------------------------------------------------------------------------------------------
// E-mail

/** File extensions that look like TLDs after an `@`: retina assets (`icon@2x.png`), bundles. */
const FILE_EXTENSIONS = new Set([
  'png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'ico', 'bmp', 'css', 'js', 'mjs', 'cjs', 'ts',
  'tsx', 'jsx', 'json', 'map', 'txt', 'md', 'html', 'xml', 'yml', 'yaml', 'pdf', 'zip', 'lock',
]);
/**
 * Names reserved for documentation and testing (RFC 2606, 6761) or for local networks (.local,
 * mDNS; .internal, ICANN 2024): nobody's mailbox on the Internet.
 */
const RESERVED_DOMAIN = /(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost|local|internal)$/i;

/** RFC 5321 limits: 64 characters before the @, 63 per domain label, 254 in all. */
const EMAIL_MAX = 254;

function emailValid(value: string): boolean {
  const at = value.lastIndexOf('@');
  const local = value.slice(0, at);
  const domain = value.slice(at + 1);
  if (local.endsWith('.') || local.includes('..') || value.length > EMAIL_MAX || local.length > 64) return false;
  if (domain.split('.').some((label) => label.length > 63)) return false;
  const tld = domain.slice(domain.lastIndexOf('.') + 1).toLowerCase();
  return !FILE_EXTENSIONS.has(tld);
}

function emailConfidence(value: string, text: string, start: number): number {
  const domain = value.slice(value.lastIndexOf('@') + 1);
  // `git@github.com:org/repo.git` is an SSH remote, not a mailbox.
  if (charAfter(text, start, value) === ':' && /^git@/i.test(value)) return 0;
  if (RESERVED_DOMAIN.test(domain)) return 0.2;
  // Role mailboxes that reach no person.
  if (/^(?:no-?reply|do-?not-?reply|mailer-daemon|postmaster)@/i.test(value)) return 0.2;
  return 0.9;
}

const email: Detector = {
  class: 'pii.email',
  family: 'pii',
  severity: 'MEDIUM',
  description: 'E-mail address',
  // Latin-1 letters are allowed in the local part and the domain labels (zoë@münchen.de). No
  // leading \b: the local-part class already holds every ASCII word character, and \b (ASCII
  // only in RE2) would cut "zoë.keller" down to "keller". The length limits are checked by the
  // validator, not counted in the pattern: counted repetitions of these classes ({0,63}, {0,61})
  // multiply RE2's DFA states and cost 40–80 ms per MB of base64 or code; unbounded ones do not.
  pattern: String.raw`(?i)[a-z0-9_À-ÖØ-öø-ÿ][a-z0-9._%+À-ÖØ-öø-ÿ-]*@(?:[a-z0-9À-ÖØ-öø-ÿ](?:[a-z0-9À-ÖØ-öø-ÿ-]*[a-z0-9À-ÖØ-öø-ÿ])?\.)+[a-z]{2,24}\b`,
  maxLength: EMAIL_MAX,
  keywords: ['@'],
  validate: emailValid,
  confidence: emailConfidence,
  examples: [
    { text: 'Please send the signed contract to jane.doe@acme-corp.com before Friday.', match: 'jane.doe@acme-corp.com' },
    { text: 'Contacto: MARIA.GARCIA+facturas@correo.gob.es.', match: 'MARIA.GARCIA+facturas@correo.gob.es' },
    { text: '{"customer":{"email":"t.nguyen_88@outlook.fr","plan":"pro"}}', match: 't.nguyen_88@outlook.fr' },
    { text: 'Von: Jürgen Müller <j.mueller@firma-beispiel.de>', match: 'j.mueller@firma-beispiel.de' },
    { text: 'Schreib an zoë.keller@münchen-verlag.de, danke', match: 'zoë.keller@münchen-verlag.de' },
  ],
  negatives: [
    'Use the retina asset icon@2x.png in the header.',
    'npm install lodash@4.17.21 --save',
    'git clone git@github.com:renlayer/renlayer.git',
    'Write to user@example.com for the demo account.',
    'Log in as admin@demo.local on the test box.',
    'Ping @channel and @here about the outage.',
    'Angular uses the @Injectable() decorator.',
  ],
};

// ---------------------------------------------------------------------------------------------
// Phone numbers

const PHONE_WORDS = [
  'tel', 'tel.', 'phone*', 'telephone', 'telefon*', 'téléphone', 'tél', 'telefono', 'teléfono',
  'mobile', 'mobil', 'cell*', 'handy', 'call', 'fax', 'whatsapp', 'sms', 'ring', 'portable',
];

/**
 * Words that name what the number right after them is, when that is not a phone number: order,
 * tracking, ticket, invoice and tax references in the languages of the other detectors.
 */
const NOT_PHONE_WORDS = new Set([
  'order', 'order:', 'order#', 'invoice', 'ticket', 'ref', 'ref.', 'reference', 'tracking', 'part', 'lot',
  'serial', 'sku', 'isbn', 'ein', 'ssn', 'iban', 'utr', 'steuer-id', 'steuer-id:', 'idnr', 'idnr.',
  'bestellung', 'bestellnummer', 'rechnung', 'sendungsnummer', 'commande', 'facture', 'pedido',
  'factura', 'ordine', 'fattura', 'tracciamento', 'zamówienie', 'faktura', 'factuur', 'bestelling',
  'tilaus', 'lasku', 'beställning', 'faktura', 'ärende',
]);

/**
 * 0 for a candidate that is part of a longer number or a reference: glued to a digit group on
 * its left (IBAN and Steuer-ID groups, version strings, parcel numbers), inside an IBAN written
 * in groups, or right after a word that says what else it is (order, tracking, EIN, …).
 */
function notAPhoneNumber(text: string, start: number): boolean {
  const before = text.slice(Math.max(0, start - 40), start);
  if (/\d[ .-]$/.test(before)) return true;
  if (/\b[A-Z]{2}\d{2}(?: [A-Z0-9]{4})+ $/.test(before)) return true;
  return NOT_PHONE_WORDS.has(wordBefore(text, start).replace(/[:#]+$/, ''));
}

const phoneInternational: Detector = {
  class: 'pii.phone',
  family: 'pii',
  severity: 'MEDIUM',
  variant: 'international',
  description: 'Phone number in international form (+ or 00, calling code, national length per country)',
  // Calling code, an optional "(0)" trunk hint, then up to six digit groups with one separator
  // each; the country's national number length is checked by the validator.
  // The national number: 4 to 15 elements, each a digit or an area code in parentheses, with
  // an optional separator before each. No country's national number is shorter than four
  // digits, so "+49 (0)30" is no candidate at all (1 MB of them took 300 ms to reject one by
  // one); the trunk "(0)" has its own optional place before it.
  pattern: String.raw`(?:\+|\b00)[1-9]\d{0,2}(?:[ .-]?\(0\))?[ .-]?(?:\(\d{2,5}\)|\d)(?:[ .-]?(?:\(\d{2,5}\)|\d)){3,14}\b`,
  validate: phoneNumberValid,
  confidence: (value, text, start) => {
    if (notAPhoneNumber(text, start)) return 0;
    return value.startsWith('00') ? 0.7 : 0.9;
  },
  examples: [
    { text: 'You can reach me on +44 (0)20 7946 0958 during office hours.', match: '+44 (0)20 7946 0958' },
    { text: 'WhatsApp: +49 151 23456789', match: '+49 151 23456789' },
    { text: '"phone": "+14155552671"', match: '+14155552671' },
    { text: 'Teléfono de contacto 0034 612 345 678, pregunte por Ana.', match: '0034 612 345 678' },
    { text: 'Call +1 (415) 555-0132 to confirm.', match: '+1 (415) 555-0132' },
  ],
  negatives: [
    'Score improved by +15 points since 2023.',
    'Expected +1 2345 items in the next batch',
    'Temperature range +12.5 to +30.1 degrees',
    'Order 00123 456 789 is on its way',
    'DE89 3704 0044 0532 0130 01 was rejected by the bank.',
  ],
};

const phoneNanp: Detector = {
  class: 'pii.phone',
  family: 'pii',
  severity: 'MEDIUM',
  variant: 'nanp',
  description: 'North American phone number (NPA-NXX-XXXX with separators)',
  pattern: String.raw`(?:\b1[ .-]?)?(?:\(\d{3}\)[ .-]?|\b\d{3}[ .-])\d{3}[ .-]\d{4}\b`,
  validate: phoneNumberValid,
  confidence: (value, text, start) => {
    // A dashed run that goes on (part numbers like 415-555-0132-77) is not a phone number.
    if (/^[-.]\d/.test(text.slice(start + value.length, start + value.length + 2))) return 0;
    if (notAPhoneNumber(text, start)) return 0;
    return 0.9;
  },
  examples: [
    { text: 'Call me at (415) 555-0132 after 5pm.', match: '(415) 555-0132' },
    { text: 'Cell: 212.555.0187', match: '212.555.0187' },
    { text: 'Reach the front desk on 1-800-555-0199.', match: '1-800-555-0199' },
    { text: 'customer phone 646 555 0143, prefers texts', match: '646 555 0143' },
  ],
  negatives: [
    'Invoice 123-456-7890 is overdue.',
    'SSN on file: 536-22-8765',
    'Ticket 911-555-0199 was closed.',
    'Released on 2023-10-12 as build 2023.10.1234',
    'Part 415-555-0132-77 is back-ordered.',
    'Tracking 415 555 0132 via UPS.',
  ],
};

/** Dotted quads are IP addresses, not phone numbers, whatever their digit count. */
const DOTTED_QUAD = /^\d{1,3}(?:\.\d{1,3}){3}$/;
/** AAA-GG-SSSS is the US SSN layout; no national numbering plan groups a phone number that way. */
const SSN_SHAPE = /^\d{3}-\d{2}-\d{4}$/;

const phoneNational: Detector = {
  class: 'pii.phone',
  family: 'pii',
  severity: 'MEDIUM',
  variant: 'national',
  description: 'Phone number in national form with a trunk 0 and separators (UK, FR, DE, NL, …)',
  pattern: String.raw`(?:\(0\d{1,4}\)[ ]?|\b0\d{1,4}[ ./-])\d{2,8}(?:[ ./-]\d{2,8}){0,3}\b`,
  validate: (value) => phoneNumberValid(value) && !DOTTED_QUAD.test(value) && !SSN_SHAPE.test(value),
  // Without a word like "tel" or "phone" nearby a national number is less certain.
  confidence: (_value, text, start) => {
    if (notAPhoneNumber(text, start)) return 0;
    return hasContext(text, start, { words: PHONE_WORDS, window: 40 }) ? 0.9 : 0.7;
  },
  examples: [
    { text: 'Tél. : 06 12 34 56 78', match: '06 12 34 56 78' },
    { text: 'Ring the office on 020 7946 0958 tomorrow.', match: '020 7946 0958' },
    { text: 'Telefon: 030 90182042', match: '030 90182042' },
    { text: 'Mobile: 07700 900123', match: '07700 900123' },
    { text: 'Bel ons: (010) 456 7890', match: '(010) 456 7890' },
  ],
  negatives: [
    'Meeting on 01.02.2023 at 10:00.',
    'Version 0.12.3 released today.',
    'Ticket 0042-17 was reopened.',
    'Gateway 010.001.002.003 is deprecated',
    'Shipped on 04/05/2024 via DHL',
    'The Woolworth wallet card number 078-05-1120 was misused for decades.',
    'Steuer-ID: 86 095 742 718 wurde abgelehnt.',
    'Version 10.02.03-001.02 of the firmware is out.',
    'Ordine 120045, numero di tracciamento 0589 3321 7710.',
    'Package 1Z 999 AA1 01 2345 6784 arrives Thursday.',
    'NL91 ABNA 0417 1643 01 returned "invalid account".',
    'EIN 07-1234567 uses a prefix the IRS never assigned.',
  ],
};

// ---------------------------------------------------------------------------------------------
// IP addresses

/** Networks that identify nobody: documentation (RFC 5737), loopback, unspecified, broadcast. */
function ipv4Reserved(ip: string): boolean {
  return /^(?:192\.0\.2|198\.51\.100|203\.0\.113)\.|^127\.|^0\.0\.0\.0$|^255\.255\.255\.255$/.test(ip);
}
/** Private and shared ranges: an internal host, still worth recording but less identifying. */
function ipv4Private(ip: string): boolean {
  return /^(?:10|192\.168|169\.254)\.|^172\.(?:1[6-9]|2\d|3[01])\.|^100\.(?:6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./.test(ip);
}

const ipv4: Detector = {
  class: 'pii.ip_address',
  family: 'pii',
  severity: 'LOW',
  variant: 'ipv4',
  description: 'IPv4 address (each octet 0–255)',
  // Not after a '.' (part of a longer dotted number): excluded in the pattern rather than by the
  // confidence, so that "1.1.1.1.1.…" is one candidate, not one per octet (1 MB took 120 ms).
  pattern: String.raw`(?:^|[^.0-9A-Za-z_])(?P<value>(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d))\b`,
  validate: ipv4Valid,
  confidence: (value, text, start) => {
    // Part of a longer dotted number (OIDs, 5-part versions) or named as a version.
    if (/^\.\d/.test(text.slice(start + value.length, start + value.length + 2))) return 0;
    if (/^(?:v|version|ver\.?|release|build|firmware|fw|section|paragraph|para\.?|§|clause|chapter|article|art\.|item|step|oid)$/.test(wordBefore(text, start))) return 0;
    if (ipv4Reserved(value)) return 0.2;
    return ipv4Private(value) ? 0.6 : 0.9;
  },
  examples: [
    { text: 'Failed login for admin from 81.94.205.17 at 02:14 UTC', match: '81.94.205.17' },
    { text: '{"client_ip":"203.45.117.9","ua":"curl/8.4.0"}', match: '203.45.117.9' },
    { text: 'ssh deploy@10.20.30.40 -p 2222', match: '10.20.30.40' },
  ],
  negatives: [
    'Upgrade to version 1.2.3.4 today.',
    'OID 1.3.6.1.4.1.311 identifies Microsoft.',
    'The dev server listens on 127.0.0.1:8080',
    'Example host 192.0.2.10 from the RFC',
    'semver 1.2.3 and 10.0.19041',
    'Paragraph 4.2.1.3 of the contract covers the termination rights.',
  ],
};

function ipv6Plausible(value: string): boolean {
  if (!ipv6Valid(value)) return false;
  // Short forms such as `bad::cafe` or `a::b` turn up in code; keep them only when well known.
  // An IPv4 tail (::ffff:192.0.2.1) stands for two groups.
  const groups = value.split(':').filter((g) => g !== '').length + (value.includes('.') ? 1 : 0);
  return groups >= 3 || /^(?:::1?|fe80::[0-9a-f]{1,4})$/i.test(value);
}

const ipv6: Detector = {
  class: 'pii.ip_address',
  family: 'pii',
  severity: 'LOW',
  variant: 'ipv6',
  description: 'IPv6 address, full or compressed (::), with an optional IPv4 tail',
  pattern: String.raw`(?i)(?:^|[^0-9a-z:.])(?P<value>(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:\.\d{1,3}){0,3})`,
  keywords: [':'],
  validate: ipv6Plausible,
  confidence: (value, text, start) => {
    if (/[g-z0-9_]/i.test(charAfter(text, start, value))) return 0;
    // 2001:db8::/32 is the documentation prefix (RFC 3849); ::1 and :: are loopback/unspecified.
    if (/^2001:0?db8:/i.test(value) || /^::1?$/.test(value)) return 0.2;
    return /^fe[89ab][0-9a-f]:/i.test(value) ? 0.6 : 0.9;
  },
  examples: [
    { text: 'Blocked request from 2a02:8108:1a40:4e2c:9d3f:7b21:c0a8:15e2 (rate limit)', match: '2a02:8108:1a40:4e2c:9d3f:7b21:c0a8:15e2' },
    { text: 'The AAAA record points to 2606:4700:4700::1111.', match: '2606:4700:4700::1111' },
    { text: 'client [2a00:1450:4001:81b::200e]:443 reset the connection', match: '2a00:1450:4001:81b::200e' },
    { text: 'mapped peer ::ffff:81.94.205.17 connected', match: '::ffff:81.94.205.17' },
  ],
  negatives: [
    'MAC address 00:1a:2b:3c:4d:5e on eth0',
    'The meeting starts at 12:30:45 sharp.',
    'Use std::vector<int> and bad::cafe in C++.',
    'Bind to ::1 only.',
    'The docs use 2001:db8::1 as the example address.',
  ],
};

// ---------------------------------------------------------------------------------------------
// Postal addresses

/** A number preceded by one of these is a year or a count, not a house number ("In 2019 Wall Street …", "En 2020 avenue …"). */
const NOT_HOUSE_NUMBER = new Set([
  'in', 'since', 'by', 'from', 'until', 'till', 'of', 'during', 'after', 'before', 'circa', 'top',
  'chapter', 'season', 'episode', 'page', 'en', 'depuis', 'dès', 'avant', 'après', 'vers', 'seit',
  'im', 'bis', 'desde', 'hasta', 'nel', 'dal', 'fino',
]);

const addressConfidence = (_value: string, text: string, start: number): number =>
  NOT_HOUSE_NUMBER.has(wordBefore(text, start)) ? 0 : 0.85;

const EN_SUFFIX = '(?i:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Court|Ct|Place|Pl|Way|Terrace|Parkway|Pkwy|Square|Sq|Highway|Hwy|Circle|Cir|Close|Crescent|Row|Trail)';

const addressEnglish: Detector = {
  class: 'pii.postal_address',
  family: 'pii',
  severity: 'MEDIUM',
  variant: 'en',
  description: 'Street address, number first (US, UK, CA, AU): number, name, street suffix, optional unit, city, state and ZIP or postcode',
  pattern:
    String.raw`\b\d{1,6}[A-Za-z]?(?:-\d{1,4})? (?:(?:N|S|E|W|North|South|East|West)\.? )?(?:(?:[A-Z][A-Za-z'-]{1,24}|\d{1,3}(?:st|nd|rd|th)) ){1,3}` +
    EN_SUFFIX +
    String.raw`\b(?: (?:NW|NE|SW|SE)\b)?` +
    String.raw`(?:\.?,? (?:Apt|Apartment|Suite|Ste|Unit|Flat|Floor|#)\.? ?#?[A-Za-z0-9-]{1,6})?` +
    String.raw`(?:\.?,?\s{1,2}[A-Z][A-Za-z]{1,24}(?: [A-Z][A-Za-z]{1,24}){0,2},? (?:[A-Z]{2} \d{5}(?:-\d{4})?|[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}))?`,
  confidence: addressConfidence,
  examples: [
    { text: 'Ship it to 742 Evergreen Terrace, Springfield, IL 62704 please.', match: '742 Evergreen Terrace, Springfield, IL 62704' },
    { text: 'Our office moved to 1600 Amphitheatre Parkway last year.', match: '1600 Amphitheatre Parkway' },
    { text: 'Deliver to 221B Baker Street, London NW1 6XE', match: '221B Baker Street, London NW1 6XE' },
    { text: 'Billing address: 350 5th Ave, Suite 7100, New York, NY 10118', match: '350 5th Ave, Suite 7100, New York, NY 10118' },
  ],
  negatives: [
    'We hired 3 New Developers for the Platform Team.',
    'Meet me on Main Street at noon.',
    'In 2019 Wall Street rallied for a week.',
    'Route 66 was built in 1926.',
  ],
};

const NOT_STREETS = /^(?:Park|Stell|Sitz|Arbeits|Camping|Zelt|Abstell|Liege|Flug|Spiel|Sport|Tennis|Golf)platz |^(?:Rück|Heim|Hin|Aus|Um|Lösungs|Rechts|Dienst)weg /;

const addressGermanic: Detector = {
  class: 'pii.postal_address',
  family: 'pii',
  severity: 'MEDIUM',
  variant: 'de_nl_nordic',
  description: 'Street address, name first (DE, AT, CH, NL, Nordics): compound street name, house number, optional postcode and city',
  pattern:
    String.raw`\b(?:[A-ZÄÖÜ][a-zäöüß]{1,30}(?:straße|strasse|str\.|weg|gasse|platz|allee|straat|laan|gracht|plein|vej|gatan|vägen|katu|tie|kuja|polku)|[A-ZÄÖÜ][a-zäöüß]{1,30}er (?:Straße|Strasse|Str\.|Weg|Allee|Platz|Ring|Damm))` +
    String.raw` \d{1,4}[a-z]?\b(?:,\s?(?:\d{4,5}|\d{4} ?[A-Z]{2}|\d{3} \d{2}) [A-ZÄÖÜ][a-zäöüß]{2,30})?`,
  // Compounds of -platz and -weg that are places but not streets: "Parkplatz 12" is a parking space.
  validate: (value) => !NOT_STREETS.test(value),
  examples: [
    { text: 'Lieferadresse: Hauptstraße 5, 10115 Berlin', match: 'Hauptstraße 5, 10115 Berlin' },
    { text: 'Bitte an Berliner Straße 112 schicken.', match: 'Berliner Straße 112' },
    { text: 'Ons adres is Kerkstraat 12, 1017 GJ Amsterdam.', match: 'Kerkstraat 12, 1017 GJ Amsterdam' },
    { text: 'Rechnung an Musterstr. 7a', match: 'Musterstr. 7a' },
    { text: 'Toimitusosoite: Mannerheimintie 12, 00100 Helsinki', match: 'Mannerheimintie 12, 00100 Helsinki' },
    { text: 'Leveransadress: Drottninggatan 53, 111 21 Stockholm', match: 'Drottninggatan 53, 111 21 Stockholm' },
  ],
  negatives: [
    'Ich habe 3 Straßen weiter geparkt, Parkplatz 12.',
    'Die Hauptstraße ist heute gesperrt.',
    'Die Straße 5 Kilometer weiter ist frei.',
    'Im Jahr 2024 war die Allee voll.',
    'Der Weg 3 ist kürzer.',
  ],
};

const addressRomance: Detector = {
  class: 'pii.postal_address',
  family: 'pii',
  severity: 'MEDIUM',
  variant: 'fr',
  description: 'French street address: number, rue/avenue/boulevard…, name, optional postcode and city',
  pattern:
    String.raw`\b\d{1,4}(?: ?(?:bis|ter))?,? (?:rue|avenue|boulevard|bd|place|chemin|allée|impasse|quai|cours) (?:(?:de la|de l'|du|des|de|d')\s?)?${UPPER}${LETTERS}{1,30}(?: (?:de |du |des |la )?${UPPER}${LETTERS}{1,30}){0,3}` +
    String.raw`(?:,? \d{4,5} ${UPPER}${LETTERS}{1,30}(?:[ -]${UPPER}${LETTERS}{1,30}){0,2})?`,
  confidence: addressConfidence,
  examples: [
    { text: 'Livraison au 12 rue de la Paix, 75002 Paris.', match: '12 rue de la Paix, 75002 Paris' },
    { text: 'Le siège est au 8 bis avenue Victor Hugo à Lyon.', match: '8 bis avenue Victor Hugo' },
    { text: 'Adresse : 45 boulevard Haussmann, 75009 Paris', match: '45 boulevard Haussmann, 75009 Paris' },
    { text: 'Adresse : 22 rue Royale, 1000 Bruxelles', match: '22 rue Royale, 1000 Bruxelles' },
  ],
  negatives: [
    'Il habite rue de la Paix depuis longtemps.',
    'Nous avons 3 rues à traverser.',
    'En 2020 avenue des Champs fermée',
  ],
};

const addressSouthern: Detector = {
  class: 'pii.postal_address',
  family: 'pii',
  severity: 'MEDIUM',
  variant: 'it_es_pt',
  description: 'Street address, street type first (IT, ES, PT): Via/Calle/Rua…, name, number, optional postcode and city',
  pattern:
    String.raw`\b(?:Via|Viale|Piazza|Corso|Vicolo|Calle|Avenida|Avda\.|Plaza|Paseo|Carrer|Rua|Travessa|Largo) (?:(?:del|della|dei|de la|de|do|da|dos|das)\s)?${UPPER}${LETTERS}{1,30}(?: (?:de |del |di |da )?${UPPER}${LETTERS}{1,30}){0,3},? (?:n\.? ?|nº ?)?\d{1,4}[a-zA-Z]?\b` +
    String.raw`(?:,? \d{5} ${UPPER}${LETTERS}{1,30})?`,
  examples: [
    { text: 'Spedire a Via Roma 10, 00184 Roma.', match: 'Via Roma 10, 00184 Roma' },
    { text: 'Dirección: Calle Mayor, 5, Madrid', match: 'Calle Mayor, 5' },
    { text: 'Morada: Rua Augusta 274, Lisboa', match: 'Rua Augusta 274' },
  ],
  negatives: [
    'Ti scrivo via email, 3 volte al giorno.',
    'Sent via Slack at 10.',
    'La piazza era piena di 300 persone.',
  ],
};

// ---------------------------------------------------------------------------------------------
// A person's name next to an identifier

/** Capitalised words that are not names: "Customer Success Team, ID 2023" is not a person. */
const NOT_NAME_WORDS = new Set([
  'team', 'service', 'services', 'support', 'success', 'department', 'dept', 'account', 'accounts',
  'order', 'ticket', 'project', 'version', 'group', 'inc', 'ltd', 'llc', 'corp', 'company',
  'center', 'centre', 'portal', 'system', 'report', 'number', 'name', 'status', 'update', 'record',
  'records', 'portal', 'manager', 'management', 'desk', 'office', 'unit', 'ward', 'room', 'case',
  'request', 'form', 'the', 'and', 'of', 'for', 'new', 'old', 'lab', 'results', 'please', 'dear',
]);

const NAME_WORD = new RegExp(`${UPPER}${LETTERS}+`, 'g');

function personWithIdValid(value: string): boolean {
  const words = value.match(NAME_WORD) ?? [];
  const nameWords = words.slice(0, 3);
  if (nameWords.some((w) => NOT_NAME_WORDS.has(w.toLowerCase()) || w.length > NAME_WORD_MAX)) return false;
  // The identifier is the last token: it needs at least three digits.
  const id = value.replace(/\)$/, '').split(/[\s:#]+/).pop() ?? '';
  return (id.match(/\d/g) ?? []).length >= 3 || /\d{3}/.test(value.slice(-14));
}

/**
 * A name of two or three capitalised words (and an optional initial). Words are unbounded in the
 * pattern and limited to NAME_WORD_MAX characters by the validator: {1,20} over these classes
 * made RE2's DFA blow up on base64 and mixed text (about 100 ms per MB).
 */
const NAME_WORD_MAX = 21;
const nameOf = (word: string) => String.raw`${UPPER}${word}(?:\s${UPPER}\.)?(?:\s${UPPER}${word}){1,2}`;
const NAME = nameOf(`${LETTERS}+`);
/** The same name with bounded words: only to compute the longest value (the validator enforces it). */
const NAME_BOUNDED = nameOf(`${LETTERS}{1,${NAME_WORD_MAX - 1}}`);
const ID_VALUE = String.raw`\s?[:#]?\s?[A-Z0-9](?:[A-Z0-9/-]|\s\d){3,15}\)?`;

const rolePattern = (name: string) =>
  String.raw`(?i:patient|employee|customer|client|member|student|resident|applicant|policyholder|insured|beneficiary|account holder|cardholder|claimant|passenger|guest|subscriber)(?:\s(?i:name))?\s?[:=-]?\s{1,3}` +
  String.raw`(?P<value>${name},?\s{1,3}\(?(?i:MRN|ID|ID#|ID no\.?|employee ID|emp(?:loyee)? no\.?|member ID|patient ID|student ID|customer ID|acct\.?|account(?: no\.?| number)?|case(?: no\.?)?|NHS(?: no\.?| number)?|record(?: no\.?)?|badge|policy(?: no\.?| number)?|#)${ID_VALUE})`;

const labelledPattern = (name: string) =>
  String.raw`(?P<value>${name},?\s{1,3}\(?(?i:MRN|patient ID|employee ID|member ID|student ID|NHS number|NHS no\.?|medical record(?: number| no\.?)?)${ID_VALUE})`;

const personWithRole: Detector = {
  class: 'pii.person_with_id',
  family: 'pii',
  severity: 'HIGH',
  variant: 'role',
  description: 'A role word (patient, employee, customer, …), a name and an identifier next to it',
  pattern: rolePattern(NAME),
  maxLength: maxMatchLength(rolePattern(NAME_BOUNDED)),
  validate: personWithIdValid,
  examples: [
    { text: 'Patient: John Smith, MRN 12345678, admitted 03/02 with chest pain.', match: 'John Smith, MRN 12345678' },
    { text: 'Please update employee Maria Lopez (ID 48213) in payroll.', match: 'Maria Lopez (ID 48213)' },
    { text: 'Customer name: Aisha Khan, account no. 00417729', match: 'Aisha Khan, account no. 00417729' },
    { text: 'student Chloé Dubois, student ID 2021-04417, missed the exam', match: 'Chloé Dubois, student ID 2021-04417' },
  ],
  negatives: [
    'Patient: stable, MRN pending review.',
    'See the Employee Handbook (ID 4821) for details.',
    'Customer Success Team, ID 20231 handles escalations.',
    'Customer John Smith called about his order.',
  ],
};

const personWithStrongId: Detector = {
  class: 'pii.person_with_id',
  family: 'pii',
  severity: 'HIGH',
  variant: 'labelled_id',
  description: 'A name followed by a personal record identifier (MRN, patient/employee/member ID, NHS number)',
  pattern: labelledPattern(NAME),
  maxLength: maxMatchLength(labelledPattern(NAME_BOUNDED)),
  validate: personWithIdValid,
  examples: [
    { text: 'Lab results for Hannah Becker (MRN: 77120934) are ready.', match: 'Hannah Becker (MRN: 77120934)' },
    { text: 'Referral: Tomás Ruiz, NHS number 943 476 5919', match: 'Tomás Ruiz, NHS number 943 476 5919' },
    { text: 'Assigned to Priya R. Natarajan employee ID E-20417.', match: 'Priya R. Natarajan employee ID E-20417' },
  ],
  negatives: [
    'Contact John Smith about the MRN migration.',
    'Ticket Status Update (MRN field) is broken',
    'Support Team, employee ID ranges start at 1000',
  ],
};

export const PII_DETECTORS: readonly Detector[] = [
  email,
  phoneInternational,
  phoneNanp,
  phoneNational,
  ipv4,
  ipv6,
  addressEnglish,
  addressGermanic,
  addressRomance,
  addressSouthern,
  personWithRole,
  personWithStrongId,
];
