/**
 * Government identifiers: US SSN, IBAN, passport numbers, tax identifiers and EU national IDs.
 * Every format with a check digit is validated; formats without one need a context word.
 */
import type { Detector } from '../types.js';
import {
  beNationalNumberValid,
  deSteuerIdValid,
  digitsOnly,
  esDniValid,
  fiHetuValid,
  frNirValid,
  ibanValid,
  isPlaceholder,
  isValidDate,
  itCodiceFiscaleValid,
  nlBsnValid,
  plPeselValid,
  sePersonnummerValid,
  ukNinoValid,
  usEinValid,
  usItinValid,
  usSsnValid,
} from '../validators.js';
import { contextBoost, PLACEHOLDER_CONFIDENCE } from './shared.js';

/** `low`/`high` by context, and LOW for placeholder digits (123-45-6789, 111111111). */
function idConfidence(words: string[], low: number, high: number) {
  const boost = contextBoost(words, 40, low, high);
  return (value: string, text: string, start: number): number =>
    isPlaceholder(digitsOnly(value)) ? PLACEHOLDER_CONFIDENCE : boost(value, text, start);
}

// ---------------------------------------------------------------------------------------------
// US Social Security number

const SSN_WORDS = ['ssn', 'ssn#', 'ss#', 'social security', 'soc sec', 'social security number', 'social security no'];

const ssnSeparated: Detector = {
  class: 'gov.us_ssn',
  family: 'gov',
  severity: 'HIGH',
  variant: 'separated',
  description: 'US Social Security number AAA-GG-SSSS (dashes or spaces), valid area/group/serial only',
  pattern: String.raw`\b\d{3}-\d{2}-\d{4}\b|\b\d{3} \d{2} \d{4}\b`,
  validate: usSsnValid,
  confidence: (value, text, start) => {
    // Inside a longer dashed or spaced number (part numbers, card fragments).
    if (/\d[- ]$/.test(text.slice(Math.max(0, start - 2), start))) return 0;
    if (/^[- ]\d/.test(text.slice(start + value.length, start + value.length + 2))) return 0;
    return idConfidence(SSN_WORDS, 0.85, 0.95)(value, text, start);
  },
  examples: [
    { text: 'SSN: 536-22-8765', match: '536-22-8765' },
    { text: 'Her social security number is 401 55 2093.', match: '401 55 2093' },
    { text: '{"name":"R. Diaz","ssn":"318-72-4491","dob":"1988-04-12"}', match: '318-72-4491' },
  ],
  negatives: [
    'The card sample 078-05-1120 is the Woolworth number.',
    'SSN 000-12-3456 is not valid.',
    'SSN 666-45-1234 is never issued.',
    'ITIN-range 912-45-1234 is not an SSN.',
    'Placeholder SSN 123-45-6789 in the form template.',
    'Part 12-536-22-8765-01 was replaced.',
  ],
};

const ssnDigits: Detector = {
  class: 'gov.us_ssn',
  family: 'gov',
  severity: 'HIGH',
  variant: 'digits',
  description: 'US Social Security number as nine digits, with a context word (SSN, social security)',
  pattern: String.raw`\b\d{9}\b`,
  keywords: ['ssn', 'ss#', 'social security', 'soc sec'],
  context: { words: SSN_WORDS, window: 30 },
  validate: usSsnValid,
  confidence: idConfidence([], 0.9, 0.9),
  examples: [
    { text: 'SSN 536228765 on file', match: '536228765' },
    { text: 'social security no: 401552093', match: '401552093' },
    { text: 'applicant.ssn=318724491&state=TX', match: '318724491' },
  ],
  negatives: [
    'Order 536228765 shipped today.',
    'SSN 000123456 fails validation.',
    'SSN: 123456789 (sample)',
  ],
};

// ---------------------------------------------------------------------------------------------
// IBAN

const iban: Detector = {
  class: 'gov.iban',
  family: 'gov',
  severity: 'HIGH',
  description: 'IBAN (ISO 13616): country length and mod-97 check, compact or in groups of four',
  pattern: String.raw`\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b`,
  validate: ibanValid,
  examples: [
    { text: 'Please wire the deposit to DE89 3704 0044 0532 0130 00 by Monday.', match: 'DE89 3704 0044 0532 0130 00' },
    { text: 'IBAN: GB82WEST12345698765432', match: 'GB82WEST12345698765432' },
    { text: 'Virement sur FR14 2004 1010 0505 0001 3M02 606.', match: 'FR14 2004 1010 0505 0001 3M02 606' },
    { text: '"iban":"NL91ABNA0417164300"', match: 'NL91ABNA0417164300' },
  ],
  negatives: [
    'DE89 3704 0044 0532 0130 01 has a wrong check.',
    'GB82 WEST 1234 5698 7654 33',
    'XX12 3456 7890 1234 5678 90 is no country.',
    'Model US12 ABCD is discontinued.',
  ],
};

// ---------------------------------------------------------------------------------------------
// Passport

const PASSPORT_WORDS = [
  'passport*', 'passeport*', 'reisepass*', 'pasaporte*', 'passaporto*', 'paspoort*', 'paszport*',
  'passnummer', 'pass-nr', 'passnr',
];

function passportValid(value: string): boolean {
  const digits = digitsOnly(value).length;
  if (digits < 3) return false;
  if (digits === value.length) {
    // All-digit passports are 8–9 digits (US, UK, …); an 8-digit YYYYMMDD is a date.
    if (value.length < 8) return false;
    const y = Number(value.slice(0, 4));
    if (value.length === 8 && y >= 1900 && y <= 2099 && isValidDate(y, Number(value.slice(4, 6)), Number(value.slice(6, 8)))) return false;
  }
  return true;
}

const passport: Detector = {
  class: 'gov.passport',
  family: 'gov',
  severity: 'HIGH',
  description: 'Passport number (6–9 letters and digits) with a passport word nearby, in several languages',
  pattern: String.raw`\b[A-Z0-9]{6,9}\b`,
  keywords: ['passport', 'passeport', 'reisepass', 'pasaporte', 'passaporto', 'paspoort', 'paszport', 'passnummer', 'pass-nr', 'passnr'],
  context: { words: PASSPORT_WORDS, window: 40 },
  validate: passportValid,
  confidence: (value) => (isPlaceholder(value) ? PLACEHOLDER_CONFIDENCE : 0.85),
  examples: [
    { text: 'Passport No.: 533380006, expires 2031', match: '533380006' },
    { text: 'Reisepassnummer C01X00T47 bitte prüfen', match: 'C01X00T47' },
    { text: 'Numéro de passeport : 18AV45231', match: '18AV45231' },
    { text: '{"passport_number": "YA8472615", "nationality": "IT"}', match: 'YA8472615' },
  ],
  negatives: [
    'Order A1234567 shipped to the hotel.',
    'passport photo size 35x45 mm',
    'Passport renewal fee: 130 USD',
    'passport expires 20310512',
    'Passport number: 123456789 (placeholder)',
  ],
};

// ---------------------------------------------------------------------------------------------
// Tax identifiers

const einWords = ['ein', 'fein', 'employer identification*', 'tax id*', 'tax identification*', 'tin', 'federal id*'];

const usEin: Detector = {
  class: 'gov.tax_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'us_ein',
  description: 'US Employer Identification Number NN-NNNNNNN (assigned prefixes) with a context word',
  pattern: String.raw`\b\d{2}-\d{7}\b`,
  keywords: ['ein', 'employer identification', 'tax id', 'tax identification', 'tin', 'federal id'],
  context: { words: einWords, window: 40 },
  validate: usEinValid,
  confidence: idConfidence([], 0.9, 0.9),
  examples: [
    { text: 'EIN 47-2918364 (Acme Holdings LLC)', match: '47-2918364' },
    { text: 'Employer Identification Number (EIN): 84-1720593', match: '84-1720593' },
    { text: 'W-9 attached, federal tax ID 91-0646239.', match: '91-0646239' },
  ],
  negatives: [
    'EIN 07-1234567 uses an unassigned prefix.',
    'Reference 47-2918364 from the ledger.',
    'EIN: 12-3456789 (example)',
  ],
};

const usItin: Detector = {
  class: 'gov.tax_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'us_itin',
  description: 'US Individual Taxpayer Identification Number 9XX-GG-XXXX (IRS group ranges) with a context word',
  pattern: String.raw`\b9\d{2}-\d{2}-\d{4}\b|\b9\d{2} \d{2} \d{4}\b|\b9\d{8}\b`,
  keywords: ['itin', 'taxpayer identification', 'tax id', 'tin'],
  context: { words: ['itin', 'taxpayer identification*', 'tax id*', 'tin'], window: 40 },
  validate: usItinValid,
  confidence: idConfidence([], 0.9, 0.9),
  examples: [
    { text: 'ITIN: 912-78-4410', match: '912-78-4410' },
    { text: 'Individual Taxpayer Identification Number 943 91 2876', match: '943 91 2876' },
    { text: '"itin": "970824471"', match: '970824471' },
  ],
  negatives: [
    'ITIN 912-93-4410 has an unused group.',
    'ref 912-78-4410 in the archive',
    'ITIN 912-45-1234 is outside the IRS ranges.',
  ],
};

const deSteuerId: Detector = {
  class: 'gov.tax_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'de_steuer_id',
  description: 'German Steuer-ID (11 digits, digit-repetition rule, ISO 7064 MOD 11,10) with a context word',
  pattern: String.raw`\b[1-9]\d(?: ?\d{3}){3}\b`,
  keywords: ['steuer', 'identifikationsnummer', 'idnr', 'tax id', 'tin'],
  context: {
    words: ['steuer-id', 'steuerid', 'steuer-identifikationsnummer', 'steueridentifikationsnummer', 'steuerliche identifikationsnummer', 'identifikationsnummer', 'idnr', 'steuer-idnr', 'tax id*', 'tin'],
    window: 50,
  },
  validate: deSteuerIdValid,
  examples: [
    { text: 'Steuer-ID: 86 095 742 719', match: '86 095 742 719' },
    { text: 'Meine Steueridentifikationsnummer lautet 65929970489.', match: '65929970489' },
    { text: 'IdNr. 47 036 892 816 laut Bescheid', match: '47 036 892 816' },
  ],
  negatives: [
    'Steuer-ID: 86 095 742 718',
    'Steuer-ID 11 111 111 111',
    'Kundennummer 65929970489',
  ],
};

const ukUtr: Detector = {
  class: 'gov.tax_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'uk_utr',
  description: 'UK Unique Taxpayer Reference (10 digits) with a context word',
  pattern: String.raw`\b\d{5} ?\d{5}\b`,
  keywords: ['utr', 'unique taxpayer reference', 'self assessment'],
  context: { words: ['utr', 'unique taxpayer reference', 'self assessment'], window: 40 },
  confidence: idConfidence([], 0.85, 0.85),
  examples: [
    { text: 'My UTR is 84927 10365.', match: '84927 10365' },
    { text: 'Unique Taxpayer Reference: 2918374650', match: '2918374650' },
    { text: 'Self Assessment UTR 5071938246 for 2023-24', match: '5071938246' },
  ],
  negatives: [
    'Order 8492710365 was refunded.',
    'UTR 00000 00000 (blank form)',
    'UTR: 1234567890',
  ],
};

const ukNino: Detector = {
  class: 'gov.tax_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'uk_nino',
  description: 'UK National Insurance number (allocated prefixes, suffix A–D) with a context word',
  pattern: String.raw`\b[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D]\b`,
  keywords: ['national insurance', 'ni number', 'nino', 'ni no', 'nin'],
  context: { words: ['national insurance', 'ni number', 'nino', 'ni no', 'ni no.', 'nin'], window: 40 },
  validate: ukNinoValid,
  examples: [
    { text: 'National Insurance number: JG 10 37 42 A', match: 'JG 10 37 42 A' },
    { text: 'NINO: NH482915B', match: 'NH482915B' },
    { text: 'Her NI number is SP 42 91 73 D.', match: 'SP 42 91 73 D' },
  ],
  negatives: [
    'NINO: QQ123456C is the HMRC example.',
    'NINO GB482915B is never allocated.',
    'Part number AB482915C is in stock.',
  ],
};

// ---------------------------------------------------------------------------------------------
// EU national identifiers

const esDni: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'es_dni',
  description: 'Spanish DNI: 8 digits and the mod-23 control letter',
  pattern: String.raw`\b\d{8}[- ]?[A-HJ-NP-TV-Z]\b`,
  validate: esDniValid,
  confidence: idConfidence(['dni', 'nif', 'documento nacional*'], 0.85, 0.95),
  examples: [
    { text: 'DNI: 48291736Q', match: '48291736Q' },
    { text: 'Con NIF 73015428-L, residente en Sevilla', match: '73015428-L' },
    { text: 'titular 50872319E', match: '50872319E' },
  ],
  negatives: [
    'DNI 48291736A has the wrong letter.',
    'Referencia 12345678Z del formulario',
    'Lote 48291736 sin letra',
  ],
};

const esNie: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'es_nie',
  description: 'Spanish NIE: X/Y/Z, 7 digits and the mod-23 control letter',
  pattern: String.raw`\b[XYZ][- ]?\d{7}[- ]?[A-HJ-NP-TV-Z]\b`,
  validate: esDniValid,
  confidence: idConfidence(['nie'], 0.9, 0.95),
  examples: [
    { text: 'NIE Y2094718F', match: 'Y2094718F' },
    { text: 'número de extranjero: Z-5803621-J', match: 'Z-5803621-J' },
    { text: '"nie":"X7429105J"', match: 'X7429105J' },
  ],
  negatives: [
    'NIE Y2094718G has the wrong letter.',
    'Model X1000000A of the range',
    'Product Z5803621 without letter',
  ],
};

const itCf: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'it_codice_fiscale',
  description: 'Italian codice fiscale: 16 characters with birth month/day and the check character (omocodia allowed)',
  pattern: String.raw`(?i)\b[A-Z]{6}[0-9LMNPQRSTUV]{2}[ABCDEHLMPRST][0-9LMNPQRSTUV]{2}[A-Z][0-9LMNPQRSTUV]{3}[A-Z]\b`,
  validate: itCodiceFiscaleValid,
  examples: [
    { text: 'Codice fiscale: RSSMRA85T10A562S', match: 'RSSMRA85T10A562S' },
    { text: 'C.F. BNCLRA92M45F205O, residente a Milano', match: 'BNCLRA92M45F205O' },
    { text: 'cf=vrdgpp81c12h501f', match: 'vrdgpp81c12h501f' },
  ],
  negatives: [
    'RSSMRA85T10A562X has a wrong check character.',
    'RSSMRA85T99A562S has no such day.',
    'ABCDEFGHIJKLMNOP is just letters.',
  ],
};

const plPesel: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'pl_pesel',
  description: 'Polish PESEL: 11 digits, birth date with century in the month, check digit; with the word PESEL',
  pattern: String.raw`\b\d{11}\b`,
  keywords: ['pesel'],
  context: { words: ['pesel'], window: 40 },
  validate: plPeselValid,
  examples: [
    { text: 'PESEL: 44051401359', match: '44051401359' },
    { text: 'nr PESEL 90122405816, Warszawa', match: '90122405816' },
    { text: '"pesel": "03221503921"', match: '03221503921' },
  ],
  negatives: [
    'PESEL: 44051401358',
    'Zamówienie 44051401359 wysłane',
    'PESEL 44139901351 has no such month.',
  ],
};

const nlBsn: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'nl_bsn',
  description: 'Dutch BSN: 9 digits passing the 11-test, with a context word (BSN, burgerservicenummer)',
  pattern: String.raw`\b\d{9}\b|\b\d{4}\.\d{2}\.\d{3}\b`,
  keywords: ['bsn', 'burgerservicenummer', 'sofinummer', 'sofi-nummer', 'citizen service number'],
  context: { words: ['bsn', 'burgerservicenummer', 'sofinummer', 'sofi-nummer', 'citizen service number'], window: 40 },
  validate: nlBsnValid,
  confidence: idConfidence([], 0.9, 0.9),
  examples: [
    { text: 'BSN: 231847002', match: '231847002' },
    { text: 'Burgerservicenummer 7049.15.200', match: '7049.15.200' },
    { text: 'bsn=562030402', match: '562030402' },
  ],
  negatives: [
    'BSN: 231847003',
    'Factuur 231847002 betaald',
    'BSN 111111110 (test)',
  ],
};

const fiHetu: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'fi_hetu',
  description: 'Finnish henkilötunnus DDMMYYCZZZQ: real date, century sign, mod-31 check character',
  pattern: String.raw`\b\d{6}[-+A-FU-Y]\d{3}[0-9A-FHJ-NPR-Y]\b`,
  validate: fiHetuValid,
  examples: [
    { text: 'Henkilötunnus: 131052-308T', match: '131052-308T' },
    { text: 'HETU 010594Y9021 (uusi välimerkki)', match: '010594Y9021' },
    { text: 'hetu=250389-476V', match: '250389-476V' },
    { text: 'syntynyt 2012: 070412A3183', match: '070412A3183' },
  ],
  negatives: [
    '131052-308X has a wrong check character.',
    '311352-308T has no such date.',
    'Order 123456-7890 was delivered.',
  ],
};

const sePnr: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'se_personnummer',
  description: 'Swedish personnummer YYMMDD-NNNC (or with century), real date and Luhn check',
  pattern: String.raw`\b(?:19|20)?\d{6}[-+]\d{4}\b`,
  validate: sePersonnummerValid,
  confidence: idConfidence(['personnummer', 'personnr', 'samordningsnummer', 'pnr'], 0.8, 0.95),
  examples: [
    { text: 'Personnummer: 811228-9874', match: '811228-9874' },
    { text: 'personnr 19670919-9530', match: '19670919-9530' },
    { text: 'kund 900514-3822 ringde', match: '900514-3822' },
  ],
  negatives: [
    '811228-9875 fails the Luhn check.',
    'Ticket 991399-1234 was closed.',
    'Range 201301-2024 in the report',
  ],
};

const sePnrCompact: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'se_personnummer_compact',
  description: 'Swedish personnummer as 12 digits YYYYMMDDNNNC, with a context word',
  pattern: String.raw`\b(?:19|20)\d{10}\b`,
  keywords: ['personnummer', 'personnr', 'samordningsnummer'],
  context: { words: ['personnummer', 'personnr', 'samordningsnummer'], window: 40 },
  validate: sePersonnummerValid,
  examples: [
    { text: 'Personnummer 198112289874', match: '198112289874' },
    { text: 'personnr: 196709199530', match: '196709199530' },
    { text: '"personnummer":"197708236711"', match: '197708236711' },
  ],
  negatives: [
    'Personnummer 198112289875',
    'Order 198112289874 shipped',
    'personnummer 201399991234',
  ],
};

const frNirSpaced: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'fr_nir',
  description: 'French NIR (social security number) as printed, 1 85 05 78 006 084 36, with the 97 − n mod 97 key (Corsica 2A/2B)',
  pattern: String.raw`\b[1-478] \d{2} \d{2} (?:\d{2}|2[AB]) \d{3} \d{3} \d{2}\b`,
  validate: frNirValid,
  examples: [
    { text: 'N° de sécurité sociale : 2 55 08 14 168 025 38', match: '2 55 08 14 168 025 38' },
    { text: 'Assuré 1 84 12 76 451 089 46, régime général', match: '1 84 12 76 451 089 46' },
    { text: 'né en Corse : 1 80 01 2A 004 123 43', match: '1 80 01 2A 004 123 43' },
  ],
  negatives: [
    '2 55 08 14 168 025 39 has a wrong key.',
    '5 55 08 14 168 025 38 has no such sex digit.',
    'Tirage 1 23 45 67 890 123 45',
  ],
};

const frNirCompact: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'fr_nir_compact',
  description: 'French NIR as 15 characters without spaces, with a context word (sécurité sociale, NIR, INSEE)',
  pattern: String.raw`\b[1-478]\d{4}(?:\d{2}|2[AB])\d{8}\b`,
  keywords: ['nir', 'sécurité sociale', 'securite sociale', 'sécu', 'secu', 'insee', 'carte vitale', 'social security'],
  context: {
    words: ['nir', 'sécurité sociale', 'securite sociale', 'sécu', 'secu', 'insee', 'carte vitale', 'social security'],
    window: 50,
  },
  validate: frNirValid,
  examples: [
    { text: 'Numéro de sécurité sociale 255081416802538', match: '255081416802538' },
    { text: 'NIR: 184127645108946', match: '184127645108946' },
    { text: '"nir":"180012A00412343"', match: '180012A00412343' },
  ],
  negatives: [
    'NIR: 255081416802539',
    'IMEI 255081416802538 registered',
    'NIR 955081416802538',
  ],
};

const beNn: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'be_national_number',
  description: 'Belgian national number YY.MM.DD-SSS.CC, mod-97 check (born before or from 2000)',
  pattern: String.raw`\b\d{2}\.\d{2}\.\d{2}-\d{3}\.\d{2}\b`,
  validate: beNationalNumberValid,
  examples: [
    { text: 'Rijksregisternummer: 85.07.30-033.28', match: '85.07.30-033.28' },
    { text: 'numéro national 17.07.30-033.84', match: '17.07.30-033.84' },
    { text: 'NN 91.06.11-127.41 (carte d\'identité)', match: '91.06.11-127.41' },
  ],
  negatives: [
    '85.07.30-033.29 has a wrong check.',
    '85.13.30-033.28 has no such month.',
    'Version 10.02.03-001.02 released',
  ],
};

const beNnCompact: Detector = {
  class: 'gov.eu_national_id',
  family: 'gov',
  severity: 'HIGH',
  variant: 'be_national_number_compact',
  description: 'Belgian national number as 11 digits, with a context word (rijksregisternummer, numéro national, INSZ, NISS)',
  pattern: String.raw`\b\d{11}\b`,
  keywords: ['rijksregister', 'national', 'insz', 'niss', 'registre national'],
  context: {
    words: ['rijksregisternummer', 'rijksregister', 'numéro national', 'numero national', 'national number', 'registre national', 'insz', 'niss'],
    window: 40,
  },
  validate: beNationalNumberValid,
  examples: [
    { text: 'INSZ 90022742191', match: '90022742191' },
    { text: 'Rijksregisternummer: 85073003328', match: '85073003328' },
    { text: 'numéro national 05032238184', match: '05032238184' },
  ],
  negatives: [
    'INSZ 90022742192',
    'Factuur 90022742191',
    'national number 85133003328',
  ],
};

export const GOV_DETECTORS: readonly Detector[] = [
  ssnSeparated,
  ssnDigits,
  iban,
  passport,
  usEin,
  usItin,
  deSteuerId,
  ukUtr,
  ukNino,
  esDni,
  esNie,
  itCf,
  plPesel,
  nlBsn,
  fiHetu,
  sePnr,
  sePnrCompact,
  frNirSpaced,
  frNirCompact,
  beNn,
  beNnCompact,
];
