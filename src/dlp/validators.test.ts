import { describe, expect, it } from 'vitest';
import { generateApiKey } from '../core/keys.js';
import {
  base62Crc32,
  beNationalNumberValid,
  cardIssuer,
  creditCardValid,
  deSteuerIdValid,
  digitsOnly,
  esDniValid,
  fiHetuValid,
  frNirValid,
  githubTokenValid,
  IBAN_LENGTHS,
  ibanValid,
  ipv4Valid,
  ipv6Valid,
  isPlaceholder,
  isValidDate,
  itCodiceFiscaleValid,
  jwtValid,
  looksRandom,
  luhn,
  nanpValid,
  nlBsnValid,
  phoneNumberValid,
  plPeselValid,
  renlayerKeyValid,
  sePersonnummerValid,
  shannonEntropy,
  splitCallingCode,
  ukNinoValid,
  usEinValid,
  usItinValid,
  usSsnValid,
} from './validators.js';

describe('luhn', () => {
  it.each([
    '4111111111111111', // Visa test card
    '5555555555554444', // Mastercard test card
    '378282246310005', // Amex test card
    '6011111111111117', // Discover test card
    '3530111333300000', // JCB test card
    '36227206271667', // Diners Club (14 digits) test card
    '79927398713', // the Wikipedia worked example
  ])('accepts %s', (n) => expect(luhn(n)).toBe(true));
  it.each(['4111111111111112', '79927398710', '', '4111-1111-1111-1111', 'abcd'])('rejects %s', (n) =>
    expect(luhn(n)).toBe(false),
  );
});

describe('cardIssuer', () => {
  it.each([
    ['4111 1111 1111 1111', 'visa'],
    ['4222222222222', 'visa'], // 13-digit Visa
    ['5555-5555-5555-4444', 'mastercard'],
    ['2223003122003222', 'mastercard'], // 2-series
    ['2720990000000007', 'mastercard'],
    ['3782 822463 10005', 'amex'],
    ['6011111111111117', 'discover'],
    ['6445644564456445', 'discover'],
    ['6221260000000000', 'discover'], // co-branded range inside UnionPay's 62
    ['6200000000000005', 'unionpay'],
    ['3530111333300000', 'jcb'],
    ['36227206271667', 'diners'],
    ['3056930009020004', 'diners'],
    ['6759649826438453', 'maestro'],
    ['2200000000000004', 'mir'],
  ])('%s is %s', (n, brand) => expect(cardIssuer(n)).toBe(brand));
  it.each([
    ['1234567890123456', 'no issuer starts with 1'],
    ['9999999999999995', 'no issuer starts with 9'],
    ['37828224631000', 'Amex must have 15 digits'],
    ['555555555555444', 'Mastercard must have 16 digits'],
    ['2721000000000000', 'above the Mastercard 2-series'],
    ['41111111111', 'too short for any card'],
  ])('%s has no issuer (%s)', (n) => expect(cardIssuer(n)).toBeNull());
  it('creditCardValid needs both Luhn and an issuer', () => {
    expect(creditCardValid('4111 1111 1111 1111')).toBe(true);
    expect(creditCardValid('4111 1111 1111 1112')).toBe(false);
    expect(creditCardValid('9999999999999995')).toBe(false);
  });
});

describe('ibanValid', () => {
  it.each([
    'GB82 WEST 1234 5698 7654 32',
    'DE89 3704 0044 0532 0130 00',
    'FR14 2004 1010 0505 0001 3M02 606',
    'NL91ABNA0417164300',
    'BE68 5390 0754 7034',
    'CH93 0076 2011 6238 5295 7',
    'NO93 8601 1117 947',
    'MT84 MALT 0110 0001 2345 MTLC AST0 01S',
    'SA03 8000 0000 6080 1016 7519',
    'gb82west12345698765432',
  ])('accepts %s', (iban) => expect(ibanValid(iban)).toBe(true));
  it.each([
    ['GB82 WEST 1234 5698 7654 33', 'wrong check digits'],
    ['DE89 3704 0044 0532 0130 0', 'one character short for DE'],
    ['DE89 3704 0044 0532 0130 000', 'one character long for DE'],
    ['XX82 WEST 1234 5698 7654 32', 'unknown country'],
    ['GB82 WEST 1234 5698 7654 3!', 'not alphanumeric'],
    ['', 'empty'],
  ])('rejects %s (%s)', (iban) => expect(ibanValid(iban)).toBe(false));
  it('knows every registry country with a plausible length', () => {
    expect(Object.keys(IBAN_LENGTHS).length).toBeGreaterThanOrEqual(89);
    for (const [cc, len] of Object.entries(IBAN_LENGTHS)) {
      expect(cc).toMatch(/^[A-Z]{2}$/);
      expect(len).toBeGreaterThanOrEqual(15);
      expect(len).toBeLessThanOrEqual(34);
    }
  });
});

describe('US identifiers', () => {
  it.each(['536-22-8765', '536 22 8765', '536228765', '001-01-0001', '899-99-9999'])('SSN %s is valid', (s) =>
    expect(usSsnValid(s)).toBe(true),
  );
  it.each([
    ['000-12-3456', 'area 000'],
    ['666-12-3456', 'area 666'],
    ['900-12-3456', 'area 9xx (ITIN range)'],
    ['999-99-9999', 'area 9xx'],
    ['536-00-8765', 'group 00'],
    ['536-22-0000', 'serial 0000'],
    ['078-05-1120', 'Woolworth wallet card'],
    ['219-09-9999', 'SSA advertisement'],
    ['536-22-876', 'too short'],
  ])('SSN %s is invalid (%s)', (s) => expect(usSsnValid(s)).toBe(false));
  it('ITIN group ranges', () => {
    expect(usItinValid('912-78-4410')).toBe(true);
    expect(usItinValid('943 91 2876')).toBe(true);
    expect(usItinValid('912-45-1234')).toBe(false);
    expect(usItinValid('912-93-4410')).toBe(false);
    expect(usItinValid('812-78-4410')).toBe(false);
  });
  it('EIN prefixes', () => {
    expect(usEinValid('47-2918364')).toBe(true);
    expect(usEinValid('472918364')).toBe(true);
    for (const p of ['00', '07', '08', '09', '17', '18', '19', '28', '29', '49', '69', '70', '78', '79', '89', '96', '97']) {
      expect(usEinValid(`${p}-2918364`), p).toBe(false);
    }
  });
  it('NANP numbers', () => {
    expect(nanpValid('(415) 555-0132')).toBe(true);
    expect(nanpValid('1-800-555-0199')).toBe(true);
    expect(nanpValid('123-456-7890')).toBe(false); // NPA cannot start with 1
    expect(nanpValid('911-555-0199')).toBe(false); // N11 is a service code
    expect(nanpValid('415-011-0199')).toBe(false); // exchange cannot start with 0
  });
});

describe('UK National Insurance number', () => {
  it('accepts allocated prefixes', () => {
    expect(ukNinoValid('AB 12 34 56 C')).toBe(true);
    expect(ukNinoValid('NH482915B')).toBe(true);
  });
  it.each(['QQ123456C', 'GB123456A', 'NK123456A', 'DA123456A', 'AO123456A', 'AB123456E', 'AB12345C'])('rejects %s', (n) =>
    expect(ukNinoValid(n)).toBe(false),
  );
});

describe('EU national and tax identifiers', () => {
  it('Spanish DNI and NIE letters', () => {
    for (const v of ['12345678Z', '48291736-Q', 'X1234567L', 'Y-2094718-F', 'z5803621j']) expect(esDniValid(v), v).toBe(true);
    for (const v of ['12345678A', 'X1234567M', '1234567Z', 'W1234567L']) expect(esDniValid(v), v).toBe(false);
  });

  it('Italian codice fiscale', () => {
    expect(itCodiceFiscaleValid('RSSMRA85T10A562S')).toBe(true);
    expect(itCodiceFiscaleValid('rssmra85t10a562s')).toBe(true);
    expect(itCodiceFiscaleValid('MRTMTT91D08F205J')).toBe(true);
    // Omocodia: the last digit 2 replaced by N (L=0, M=1, N=2…), check character recomputed.
    expect(itCodiceFiscaleValid('RSSMRA85T10A56NH')).toBe(true);
    expect(itCodiceFiscaleValid('RSSMRA85T10A562T')).toBe(false);
    expect(itCodiceFiscaleValid('RSSMRA85T32A562S')).toBe(false); // day 32
    expect(itCodiceFiscaleValid('RSSMRA85Z10A562S')).toBe(false); // no month Z
  });

  it('Polish PESEL', () => {
    expect(plPeselValid('44051401359')).toBe(true); // 1944-05-14
    expect(plPeselValid('02270803624')).toBe(true); // 2002-07-08: month + 20
    expect(plPeselValid('44051401358')).toBe(false);
    expect(plPeselValid('44133101357')).toBe(false); // month 13
    expect(plPeselValid('4405140135')).toBe(false);
  });

  it('Dutch BSN 11-test', () => {
    for (const v of ['111222333', '123456782', '7049.15.200', '12345672']) expect(nlBsnValid(v), v).toBe(true);
    for (const v of ['123456789', '000000000', '11122233']) expect(nlBsnValid(v), v).toBe(false);
  });

  it('Finnish HETU (python-stdnum test values)', () => {
    for (const v of ['131052-308T', '131052+308T', '131052A308T', '131052a308t', '010594Y9021']) expect(fiHetuValid(v), v).toBe(true);
    for (const v of ['131052-308U', '131052/308T', '310252-308Y', '130052-308R', '131052-000V']) expect(fiHetuValid(v), v).toBe(false);
  });

  it('Swedish personnummer', () => {
    for (const v of ['811228-9874', '670919-9530', '19811228-9874', '198112289874', '701063-2391']) {
      expect(sePersonnummerValid(v), v).toBe(true);
    }
    for (const v of ['811228-9873', '811328-9874', '17811228-9874']) expect(sePersonnummerValid(v), v).toBe(false);
  });

  it('French NIR (python-stdnum test values, Corsica 2A/2B)', () => {
    for (const v of ['2 95 10 99 126 111 93', '253072B07300470', '253072A07300443', '2 55 08 14 168 025 38']) {
      expect(frNirValid(v), v).toBe(true);
    }
    for (const v of ['295109912611199', '253072C07300443', '6546546546546703', '555081416802538']) {
      expect(frNirValid(v), v).toBe(false);
    }
  });

  it('German Steuer-ID (python-stdnum test values)', () => {
    for (const v of ['36 574 261 809', '11234567890', '11123456786', '86095742719']) expect(deSteuerIdValid(v), v).toBe(true);
    for (const v of [
      '36574261890', // check digit
      '36554266806', // two digits repeated
      '12345678903', // no digit repeated
      '11112345678', // one digit four times
      '01234567896', // leading zero
      '116574261809', // 12 digits
    ]) {
      expect(deSteuerIdValid(v), v).toBe(false);
    }
  });

  it('Belgian national number, before and from 2000', () => {
    expect(beNationalNumberValid('85.07.30-033.28')).toBe(true);
    expect(beNationalNumberValid('85073003328')).toBe(true);
    expect(beNationalNumberValid('17073003384')).toBe(true); // born 2017: 2 prefixed before mod 97
    expect(beNationalNumberValid('85073003329')).toBe(false);
    expect(beNationalNumberValid('85133003328')).toBe(false); // month 13
  });
});

describe('phone numbers', () => {
  it('splits the calling code', () => {
    expect(splitCallingCode('4930901820')).toEqual({ cc: '49', nsn: '30901820' });
    expect(splitCallingCode('14155552671')).toEqual({ cc: '1', nsn: '4155552671' });
    expect(splitCallingCode('353861234567')).toEqual({ cc: '353', nsn: '861234567' });
    expect(splitCallingCode('2812345678')).toBeNull(); // +28 is unassigned
  });
  it.each(['+44 (0)20 7946 0958', '+1 415 555 2671', '+49 30 901820', '+33 6 12 34 56 78', '0034 612 345 678', '06 12 34 56 78', '020 7946 0958', '(415) 555-0132'])(
    'accepts %s',
    (v) => expect(phoneNumberValid(v)).toBe(true),
  );
  it.each([
    ['+15', 'too short'],
    ['+44 20 7946 09581234', 'too long for the UK'],
    ['+1 123 555 0132', 'NANP area code starting with 1'],
    ['+28 1234 5678', 'unassigned calling code'],
    ['01.02.2023', 'a date'],
    ['2023-01-02 10', 'a date'],
    ['0042-17', 'too few digits'],
  ])('rejects %s (%s)', (v) => expect(phoneNumberValid(v)).toBe(false));
});

describe('network addresses', () => {
  it('IPv4 and IPv6', () => {
    expect(ipv4Valid('81.94.205.17')).toBe(true);
    expect(ipv4Valid('256.1.1.1')).toBe(false);
    expect(ipv6Valid('2606:4700:4700::1111')).toBe(true);
    expect(ipv6Valid('::ffff:81.94.205.17')).toBe(true);
    expect(ipv6Valid('00:1a:2b:3c:4d:5e')).toBe(false);
  });
});

describe('secret checksums', () => {
  it('base62Crc32 matches the published GitHub token checksum test vector', () => {
    // CredSweeper's test token gh?_ + 31 zeros + 4WZ4EQ (CRC32 of the part after the prefix).
    expect(base62Crc32('0'.repeat(31))).toBe('4WZ4EQ');
  });
  it('githubTokenValid checks the prefix, length and CRC32', () => {
    const random = 'xI7OuhTo6zG5ycaMhxJPmRB7ctzIkw';
    const token = `ghp_${random}${base62Crc32(random)}`;
    expect(githubTokenValid(token)).toBe(true);
    expect(githubTokenValid(token.replace('ghp_', 'ghs_'))).toBe(true);
    expect(githubTokenValid(`${token.slice(0, -1)}${token.endsWith('a') ? 'b' : 'a'}`)).toBe(false);
    expect(githubTokenValid(token.replace('ghp_', 'ghx_'))).toBe(false);
    // GitHub's documentation example is not a real token: its checksum does not match.
    expect(githubTokenValid('gho_16C7e42F292c6912E7710c838347Ae178B4a')).toBe(false);
  });
  it('renlayerKeyValid reuses the core key checksum', () => {
    const key = generateApiKey('live');
    expect(renlayerKeyValid(key)).toBe(true);
    expect(renlayerKeyValid(generateApiKey('test'))).toBe(true);
    const broken = key.slice(0, 20) + (key[20] === 'A' ? 'B' : 'A') + key.slice(21);
    expect(renlayerKeyValid(broken)).toBe(false);
    expect(renlayerKeyValid(key.replace('rl_live_', 'rl_prod_'))).toBe(false);
  });
  it('jwtValid', () => {
    const sample =
      'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';
    expect(jwtValid(sample)).toBe(true);
    expect(jwtValid('eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.')).toBe(true); // alg none, empty signature
    expect(jwtValid('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.')).toBe(false); // signed alg, no signature
    expect(jwtValid('eyJub3QiOiJqd3QifQ.eyJhIjoxfQ.c2ln')).toBe(false); // header without alg
    expect(jwtValid('eyJhbGciOiJIUzI1NiJ9.bm90IGpzb24.c2ln')).toBe(false); // payload not JSON
    expect(jwtValid(`${sample}.extra`)).toBe(false);
    expect(jwtValid('a.b.c')).toBe(false);
  });
});

describe('entropy and placeholders', () => {
  it('shannonEntropy', () => {
    expect(shannonEntropy('')).toBe(0);
    expect(shannonEntropy('aaaa')).toBe(0);
    expect(shannonEntropy('ab')).toBe(1);
    expect(shannonEntropy('abcd')).toBe(2);
    expect(shannonEntropy('0123456789abcdef')).toBe(4);
  });
  it('looksRandom', () => {
    expect(looksRandom('wKWhTWIpjszbg7EaU8oaiwOHBEoSq5SM')).toBe(true);
    expect(looksRandom('bert-base-multilingual-cased')).toBe(true); // the generic detector rules words out separately
    expect(looksRandom('aaaaaaaaaaaaaaaaaaaa')).toBe(false);
    expect(looksRandom('short7')).toBe(false);
    expect(looksRandom('CorrectHorseBatteryStaple')).toBe(false); // letters only
  });
  it.each([
    'AKIAIOSFODNN7EXAMPLE',
    'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    'AKIAXXXXXXXXXXXXXXXX',
    'sk-xxxxxxxxxxxxxxxxxxxxxxxx',
    'your-api-key-here',
    'YOUR_API_KEY',
    'INSERT_TOKEN_HERE',
    '<your-token>',
    '${API_KEY}',
    'sk-****************',
    '1234567890abcdef',
    'abababababababab',
    '0000000000000000',
    'changeme-changeme',
    'sk-proj-REPLACE_WITH_YOUR_KEY',
  ])('%s is a placeholder', (v) => expect(isPlaceholder(v)).toBe(true));
  it.each([
    'AKIAPKWXVY2VALZGQ2LM',
    '2pdBNmmymB28MQshBJJdi1CD9qYPJhPKcM4AhfWP',
    'sk_test_JFr17X0mgT67H8mabcJakYcgsfoRSUWQWFpjXhTobaiK4dxogW7yvbHHN8uVY0rOhBWZlO8H9TnuTxcNgaGk7VqRvexRkDP5GK8',
    'rl_test_QXyIRT7PzjcUlAIWcxsyFhiNxaFLxwx03d27U2',
    'emso9N2y#vQTtL3we1PQ',
  ])('%s is not a placeholder', (v) => expect(isPlaceholder(v)).toBe(false));
  it('keeps almost all random keys (no false placeholders in 20,000 random base62 and base64url keys)', () => {
    const alphabet = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-_';
    let seed = 42;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let flagged = 0;
    for (let i = 0; i < 20_000; i++) {
      const len = 32 + Math.floor(next() * 130);
      let key = 'sk-proj-';
      for (let j = 0; j < len; j++) key += alphabet[Math.floor(next() * (i % 2 ? 62 : 64))];
      if (isPlaceholder(key)) flagged++;
    }
    expect(flagged / 20_000).toBeLessThan(0.002);
  });
});

describe('digitsOnly', () => {
  it('drops separators', () => expect(digitsOnly('+44 (0)20-7946.0958')).toBe('440207946' + '0958'));
});

describe('isValidDate', () => {
  it('knows leap years', () => {
    expect(isValidDate(2024, 2, 29)).toBe(true);
    expect(isValidDate(2000, 2, 29)).toBe(true);
    expect(isValidDate(1900, 2, 29)).toBe(false);
    expect(isValidDate(2023, 2, 29)).toBe(false);
    expect(isValidDate(2023, 4, 31)).toBe(false);
    expect(isValidDate(2023, 13, 1)).toBe(false);
  });
});
