/**
 * The built-in detector catalog (SPEC §6). Order is documentation order only; the engine
 * resolves overlapping findings by specificity, not by position in this list.
 */
import type { Detector } from '../types.js';
import { CODE_DETECTORS } from './code.js';
import { GOV_DETECTORS } from './gov.js';
import { PAYMENT_DETECTORS } from './payment.js';
import { PII_DETECTORS } from './pii.js';
import { SECRET_DETECTORS } from './secret.js';

export { CODE_DETECTORS, GOV_DETECTORS, PAYMENT_DETECTORS, PII_DETECTORS, SECRET_DETECTORS };

export const BUILTIN_DETECTORS: readonly Detector[] = Object.freeze([
  ...PII_DETECTORS,
  ...GOV_DETECTORS,
  ...PAYMENT_DETECTORS,
  ...SECRET_DETECTORS,
  ...CODE_DETECTORS,
]);

/** Every built-in class, each once, in catalog order. */
export const BUILTIN_CLASSES: readonly string[] = Object.freeze([...new Set(BUILTIN_DETECTORS.map((d) => d.class))]);
