/**
 * Payment card data: primary account numbers (Luhn + issuer range + length) and the card
 * verification code next to its label.
 */
import type { Detector } from '../types.js';
import { creditCardValid } from '../validators.js';

const creditCard: Detector = {
  class: 'payment.credit_card',
  family: 'payment',
  severity: 'CRITICAL',
  description: 'Payment card number: Luhn check, known issuer range (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro, Mir) and a length valid for it',
  // Each alternative uses one separator throughout (no backreferences in RE2): 4-4-4-4(-3) with
  // spaces or dashes, Amex 4-6-5 and Diners 4-6-4, or the digits run together.
  pattern:
    String.raw`\b(?:\d{4} \d{4} \d{4} \d{4}(?: \d{3})?|\d{4}-\d{4}-\d{4}-\d{4}(?:-\d{3})?` +
    String.raw`|\d{4} \d{6} \d{4,5}|\d{4}-\d{6}-\d{4,5}|\d{12,19})\b`,
  validate: creditCardValid,
  confidence: (value, text, start) => {
    // Glued to more dashed or spaced digit groups: part of a longer reference number.
    const after = text.slice(start + value.length, start + value.length + 2);
    const before = text.slice(Math.max(0, start - 2), start);
    if (/^[- ]\d/.test(after) || /\d[- ]$/.test(before)) return 0;
    return 0.9;
  },
  examples: [
    { text: 'Card: 4111 1111 1111 1111, exp 12/27', match: '4111 1111 1111 1111' },
    { text: 'please charge 5555-5555-5555-4444 for the renewal', match: '5555-5555-5555-4444' },
    { text: 'Amex 3782 822463 10005 on the corporate account', match: '3782 822463 10005' },
    { text: '{"pan":"6011111111111117","exp":"0926"}', match: '6011111111111117' },
    { text: 'JCB test card 3530111333300000 declined', match: '3530111333300000' },
    { text: 'Diners 3622 720627 1667 expires soon', match: '3622 720627 1667' },
    { text: 'new Mastercard range 2223003122003222', match: '2223003122003222' },
  ],
  negatives: [
    'Card 4111 1111 1111 1112 fails Luhn.',
    'Ref 1234 5678 9012 3456 is an internal id.',
    'Mixed 4111-1111 1111-1111 separators',
    'Timestamp 1699999999999 in ms',
    'Account 9999 9999 9999 9995 is not a card',
    'Tracking 4111 1111 1111 1111 2222 3333 is longer',
  ],
};

const cvv: Detector = {
  class: 'payment.cvv',
  family: 'payment',
  severity: 'HIGH',
  description: 'Card verification code (3–4 digits) right after its label: CVV, CVC, CID, CSC, security code',
  // The label is part of the pattern and the code must be the first number after it, within a
  // short gap, so an expiry date or amount later in the sentence is never taken for the code.
  pattern: String.raw`(?i)\b(?:cvv2?|cvc2?|cid|csc|security code|card verification (?:value|code)|card security code|código de seguridad|kartenprüfnummer|cryptogramme)\b[^0-9\n]{0,12}(?P<value>\d{3,4})\b`,
  keywords: ['cvv', 'cvc', 'cid', 'csc', 'security code', 'card verification', 'código de seguridad', 'kartenprüfnummer', 'cryptogramme'],
  confidence: (value) => (/^(?:19|20)\d\d$/.test(value) ? 0.5 : 0.9),
  examples: [
    { text: 'Card 4111 1111 1111 1111, exp 12/27, CVV: 123', match: '123' },
    { text: 'cvc=839&amount=4200', match: '839' },
    { text: 'The security code is 4821 (Amex).', match: '4821' },
    { text: '"cvv2": "077"', match: '077' },
  ],
  negatives: [
    'The CVV field is required.',
    'cvv length must be 3 or 4 digits',
    'CVV: 12 is too short',
    'Validate the CVC before charging 120 EUR',
  ],
};

export const PAYMENT_DETECTORS: readonly Detector[] = [creditCard, cvv];
