/**
 * Credentials: cloud and SaaS API keys, tokens, private keys, JWTs, RenLayer's own keys and
 * generic `key = value` secrets. Every example key below is fake and is written in pieces with
 * `join()` (see shared.ts) so that no secret scanner mistakes the catalog for a leak.
 *
 * Placeholders and documentation keys (AKIAIOSFODNN7EXAMPLE, sk-xxxx…, your-api-key-here) are
 * kept as candidates at confidence 0.1, which the engine reports at LOW: visible in traces, never
 * blocking. They sit in `negatives` (must not fire above 0.3); the catalog test also checks that
 * they do come out at LOW rather than disappear.
 */
import type { Detector } from '../types.js';
import {
  githubTokenValid,
  isPlaceholder,
  jwtValid,
  looksRandom,
  renlayerKeyValid,
  shannonEntropy,
} from '../validators.js';
import { charAfter, join, PLACEHOLDER_CONFIDENCE, secretConfidence } from './shared.js';

// ---------------------------------------------------------------------------------------------
// AWS

const awsAccessKey: Detector = {
  class: 'secret.aws_access_key',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'AWS access key ID: AKIA (long-term) or ASIA (temporary) and 16 base32 characters',
  pattern: String.raw`\b(?:AKIA|ASIA)[A-Z2-7]{16}\b`,
  keywords: ['akia', 'asia'],
  confidence: secretConfidence({ body: (v) => v.slice(4), minEntropy: 2.5, lowEntropy: 0.2 }),
  examples: [
    { text: join('[default]\naws_access_key_id = ', 'AKIAPKWXVY2', 'VALZGQ2LM\nregion = eu-west-1'), match: join('AKIAPKWXVY2', 'VALZGQ2LM') },
    { text: join('export AWS_ACCESS_KEY_ID=', 'AKIA3REXRYSG', 'ZE5RBNJU'), match: join('AKIA3REXRYSG', 'ZE5RBNJU') },
    { text: join('{"AccessKeyId": "', 'ASIATRE657K6', '26AIFEXB", "Expiration": "2024-06-01T12:00:00Z"}'), match: join('ASIATRE657K6', '26AIFEXB') },
  ],
  negatives: [
    join('aws_access_key_id = ', 'AKIAIOSFODNN7', 'EXAMPLE'),
    join('AWS_ACCESS_KEY_ID=', 'AKIAXXXXXXXX', 'XXXXXXXX'),
    join('key ', 'AKIA1234567890', 'ABCDEF', ' uses digits outside base32'),
    join('token ', 'AKIAPKWXVY2VAL', 'ZGQ2LMX', ' is one character too long'),
  ],
};

const awsSecretKey: Detector = {
  class: 'secret.aws_secret_key',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'AWS secret access key: 40 base64 characters with an AWS/secret word nearby and an entropy floor',
  // The value must stand alone: not glued to more base64 on either side ('=' may precede it,
  // as in KEY=value, but only pads the end of base64).
  pattern: String.raw`(?:^|[^A-Za-z0-9/+])(?P<value>[A-Za-z0-9/+]{40})(?:$|[^A-Za-z0-9/+=])`,
  keywords: ['aws', 'secret'],
  // "aws" or the AWS field names: a bare "secret" (Flask's SECRET_KEY, client_secret) names some
  // other secret, which the generic detector reports.
  context: { words: ['aws*', 'secretaccesskey', 'secret_access_key', 'secret-access-key', 'secret access key'], window: 60 },
  // Random base64 of 40 characters carries about 5 bits/char; hex digests (git SHAs) at most 4.
  validate: (v) =>
    isPlaceholder(v) || (shannonEntropy(v) >= 4.2 && /[a-z]/.test(v) && /[A-Z]/.test(v) && /[\d/+]/.test(v)),
  confidence: secretConfidence({ base: 0.85 }),
  examples: [
    { text: join('aws_secret_access_key = ', '2pdBNmmymB28MQshBJJdi1CD', '9qYPJhPKcM4AhfWP'), match: join('2pdBNmmymB28MQshBJJdi1CD', '9qYPJhPKcM4AhfWP') },
    { text: join('export AWS_SECRET_ACCESS_KEY=', 'CunpRLOUBNFI+lJpvoB897Os', 'm3dPNIhJQRi0dRwX'), match: join('CunpRLOUBNFI+lJpvoB897Os', 'm3dPNIhJQRi0dRwX') },
    { text: join('{"SecretAccessKey":"', '/NmWKXR3MMPL6uUDc+1sp2nP', 'MWCRYAQ71m5Fd7Q7', '","SessionToken":"…"}'), match: join('/NmWKXR3MMPL6uUDc+1sp2nP', 'MWCRYAQ71m5Fd7Q7') },
  ],
  negatives: [
    'aws-cdk bumped to commit 36ebb9f6104da46a10e6f9715b56574d65bbc415',
    join('aws_secret_access_key = ', 'wJalrXUtnFEMI/K7MDENG/bPxRfiCY', 'EXAMPLEKEY'),
    join('checksum ', '2pdBNmmymB28MQshBJJdi1CD', '9qYPJhPKcM4AhfWP', ' for the tarball'),
    'AWS secret: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    join("app.config['SECRET_KEY'] = '", 'mmYgqTkRUrE2Bnw8ELi3B6rc', 'U4E6wJvz9LYX62DE', "'"),
  ],
};

// ---------------------------------------------------------------------------------------------
// Google Cloud

const gcpApiKey: Detector = {
  class: 'secret.gcp_api_key',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'Google API key: AIza and 35 base64url characters',
  pattern: String.raw`\bAIza[0-9A-Za-z_-]{35}`,
  keywords: ['aiza'],
  confidence: secretConfidence({ tokenChars: /[0-9A-Za-z_-]/, body: (v) => v.slice(4), minEntropy: 3.5, lowEntropy: 0.2 }),
  examples: [
    { text: join('const MAPS_KEY = "', 'AIzahJxPw5M1iEBWX3ANm40', 'rZMbrOfsxJP_ItdY', '";'), match: join('AIzahJxPw5M1iEBWX3ANm40', 'rZMbrOfsxJP_ItdY') },
    { text: join('https://maps.googleapis.com/maps/api/geocode/json?key=', 'AIzaXknOij_sA0MhsdeyY6s', '3Dwjw0AchNXuJrk3', '&address=Berlin'), match: join('AIzaXknOij_sA0MhsdeyY6s', '3Dwjw0AchNXuJrk3') },
    { text: join('GOOGLE_API_KEY=', 'AIzaD-7mr9u8iLQjO6NOzsA', '4xMGX29svMnrk6sq'), match: join('AIzaD-7mr9u8iLQjO6NOzsA', '4xMGX29svMnrk6sq') },
  ],
  negatives: [
    join('key=', 'AIzaSyXXXXXXXXXXXXXXXX', 'XXXXXXXXXXXXXXXXX'),
    join('short ', 'AIzahJxPw5M1iEBWX3ANm40', 'rZMbrOfsxJP_Itd', ' is 34 characters'),
    join('long ', 'AIzahJxPw5M1iEBWX3ANm40', 'rZMbrOfsxJP_ItdYQ', ' is 36 characters'),
  ],
};

// ---------------------------------------------------------------------------------------------
// Stripe

const stripeKey: Detector = {
  class: 'secret.stripe_key',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'Stripe secret or restricted key (sk_live_, rk_live_, sk_test_, rk_test_) or webhook signing secret (whsec_)',
  pattern: String.raw`\b(?:(?:sk|rk)_(?:live|test)_[0-9A-Za-z]{20,247}|whsec_[0-9A-Za-z]{24,64})\b`,
  keywords: ['sk_live_', 'rk_live_', 'sk_test_', 'rk_test_', 'whsec_'],
  confidence: secretConfidence({ body: (v) => v.replace(/^(?:[a-z]+_(?:live|test)_|whsec_)/, ''), minEntropy: 3.5, lowEntropy: 0.2 }),
  examples: [
    { text: join('STRIPE_SECRET_KEY=', 'sk_live_', 'tup4OD5jZaUpQnroXL1k9JJk'), match: join('sk_live_', 'tup4OD5jZaUpQnroXL1k9JJk') },
    { text: join("stripe.api_key = '", 'rk_live_', 'AXVZW9pywyEKCDrWfWQKdeV5Twiwzx2ulywxLfOxMdzYjE62qlZL5Dum8EW7Dxgjs9kWgVL8p3harf5YmLC7Yfg9QQXStPzrv0R', "'"), match: join('rk_live_', 'AXVZW9pywyEKCDrWfWQKdeV5Twiwzx2ulywxLfOxMdzYjE62qlZL5Dum8EW7Dxgjs9kWgVL8p3harf5YmLC7Yfg9QQXStPzrv0R') },
    { text: join('curl https://api.stripe.com/v1/charges -u ', 'sk_test_', 'JFr17X0mgT67H8mabcJakYcgsfoRSUWQWFpjXhTobaiK4dxogW7yvbHHN8uVY0rOhBWZlO8H9TnuTxcNgaGk7VqRvexRkDP5GK8', ':'), match: join('sk_test_', 'JFr17X0mgT67H8mabcJakYcgsfoRSUWQWFpjXhTobaiK4dxogW7yvbHHN8uVY0rOhBWZlO8H9TnuTxcNgaGk7VqRvexRkDP5GK8') },
    { text: join('endpoint_secret = "', 'whsec_', 'wKWhTWIpjszbg7EaU8oaiwOHBEoSq5SM', '"'), match: join('whsec_', 'wKWhTWIpjszbg7EaU8oaiwOHBEoSq5SM') },
  ],
  negatives: [
    join('publishable key ', 'pk_live_', 'tup4OD5jZaUpQnroXL1k9JJk', ' is public'),
    join('STRIPE_SECRET_KEY=', 'sk_live_', 'xxxxxxxxxxxxxxxxxxxxxxxx'),
    'Keys start with sk_live_ or sk_test_ followed by random characters.',
  ],
};

// ---------------------------------------------------------------------------------------------
// Slack

const slackToken: Detector = {
  class: 'secret.slack_token',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'Slack token (xoxb-, xoxp-, xoxa-, xoxr-, xoxs-, xoxe-, xapp-) or incoming webhook URL',
  pattern:
    String.raw`\b(?:xox[abeoprs]-(?:\d{1,14}-){1,3}[0-9A-Za-z]{8,64}|xapp-\d-[A-Z0-9]{9,12}-\d{10,14}-[a-f0-9]{64})\b` +
    String.raw`|https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]{20,120}`,
  keywords: ['xox', 'xapp-', 'hooks.slack.com'],
  validate: (v) => !v.startsWith('https://') || v.split('/').filter((s) => s !== '').length >= 6,
  confidence: secretConfidence({ minEntropy: 3, lowEntropy: 0.2 }),
  examples: [
    { text: join('SLACK_BOT_TOKEN=', 'xoxb-', '278271370259-8192699093596-lkP6goDxkaF71BI9e6EQlSR5'), match: join('xoxb-', '278271370259-8192699093596-lkP6goDxkaF71BI9e6EQlSR5') },
    { text: join('"token": "', 'xoxp-', '135040122452-235565957425-3721947880692-4786eae5d0f853cec287f2464d975f41', '"'), match: join('xoxp-', '135040122452-235565957425-3721947880692-4786eae5d0f853cec287f2464d975f41') },
    { text: join('curl -X POST -d @payload.json ', 'https://hooks.slack.com/services/', 'TWNAUHIFM/BCAVS3YQJ4L/LVwLuMSEoEYL0kq8rJLWqmLF'), match: join('https://hooks.slack.com/services/', 'TWNAUHIFM/BCAVS3YQJ4L/LVwLuMSEoEYL0kq8rJLWqmLF') },
  ],
  negatives: [
    'Set SLACK_BOT_TOKEN to your xoxb-your-bot-token value.',
    join('token: ', 'xoxb-', '000000000000-0000000000000-xxxxxxxxxxxxxxxxxxxxxxxx'),
    join('Webhook docs: ', 'https://hooks.slack.com/services/', 'T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX'),
    'Docs live at https://api.slack.com/apps',
  ],
};

// ---------------------------------------------------------------------------------------------
// GitHub

const githubClassic: Detector = {
  class: 'secret.github_token',
  family: 'secret',
  severity: 'CRITICAL',
  variant: 'prefixed',
  description: 'GitHub token in the 2021 format (ghp_, gho_, ghu_, ghs_, ghr_): 30 base62 characters and their CRC32 checksum',
  pattern: String.raw`\bgh[pousr]_[0-9A-Za-z]{36}\b`,
  keywords: ['ghp_', 'gho_', 'ghu_', 'ghs_', 'ghr_'],
  // A token whose checksum does not add up was typed or invented, not issued: dropped.
  // Placeholders pass so that they are reported at LOW.
  validate: (v) => githubTokenValid(v) || isPlaceholder(v),
  confidence: (v) => (isPlaceholder(v) ? PLACEHOLDER_CONFIDENCE : 0.95),
  examples: [
    { text: join('git remote set-url origin https://', 'ghp_', 'xI7OuhTo6zG5ycaMhxJPmRB7ctzIkw', '16HNch', '@github.com/acme/api.git'), match: join('ghp_', 'xI7OuhTo6zG5ycaMhxJPmRB7ctzIkw', '16HNch') },
    { text: join('GITHUB_TOKEN=', 'gho_', 'duVWZSKXzCByA9gSrwMJFQlP1luoC1', '4GYUJ4'), match: join('gho_', 'duVWZSKXzCByA9gSrwMJFQlP1luoC1', '4GYUJ4') },
    { text: join('Authorization: token ', 'ghs_', 'dzzbk21uOYQk8tPjsjNxpP43CzQAs7', '2o3bmo'), match: join('ghs_', 'dzzbk21uOYQk8tPjsjNxpP43CzQAs7', '2o3bmo') },
    { text: join('{"access_token":"', 'ghu_', 'glR4k0PogC2dEHt3RcQg1KEGC8k2b5', '311Q6Z', '"}'), match: join('ghu_', 'glR4k0PogC2dEHt3RcQg1KEGC8k2b5', '311Q6Z') },
  ],
  negatives: [
    join('GITHUB_TOKEN=', 'ghp_', 'xI7OuhTo6zG5ycaMhxJPmRB7ctzIkw', '16HNci'),
    join('GITHUB_TOKEN=', 'ghp_', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
    join('The docs show ', 'gho_', '16C7e42F292c6912E7710c838347Ae178B4a', ' as an example.'),
  ],
};

const githubFineGrained: Detector = {
  class: 'secret.github_token',
  family: 'secret',
  severity: 'CRITICAL',
  variant: 'fine_grained',
  description: 'GitHub fine-grained personal access token: github_pat_, 22 and 59 base62 characters',
  pattern: String.raw`\bgithub_pat_[0-9A-Za-z]{22}_[0-9A-Za-z]{59}\b`,
  keywords: ['github_pat_'],
  confidence: secretConfidence({ body: (v) => v.slice(11), minEntropy: 4, lowEntropy: 0.2 }),
  examples: [
    { text: join('export GH_TOKEN=', 'github_pat_', '7l6HIn0WMgK1jbvfNBe8zB_WJnInMO0hUuVpIjEiU9sjCspNCMWo8WDjhEoOFq9Y0HyF35LpXdtm1QjKs2'), match: join('github_pat_', '7l6HIn0WMgK1jbvfNBe8zB_WJnInMO0hUuVpIjEiU9sjCspNCMWo8WDjhEoOFq9Y0HyF35LpXdtm1QjKs2') },
    { text: join('token: "', 'github_pat_', 'k4XDoNUP1YYomS4BDuFQAg_', 'BxAmHXWjvbMcFG1iWqiVa5o4I7ngx1YAljEi5426pTCYZwmvczRhgouVCom', '"'), match: join('github_pat_', 'k4XDoNUP1YYomS4BDuFQAg_', 'BxAmHXWjvbMcFG1iWqiVa5o4I7ngx1YAljEi5426pTCYZwmvczRhgouVCom') },
    { text: join('Use ', 'github_pat_', 'CjLCesHxLHGvb7y0bLkxgV_', 'Vh5Dt1fXuVVFOmFIqcuusnqoTjTHWdOSDrk6Mx0qYtvdFtS78LJAYU3rYfB', ' for the CI job'), match: join('github_pat_', 'CjLCesHxLHGvb7y0bLkxgV_', 'Vh5Dt1fXuVVFOmFIqcuusnqoTjTHWdOSDrk6Mx0qYtvdFtS78LJAYU3rYfB') },
  ],
  negatives: [
    join('GH_TOKEN=', 'github_pat_', 'xxxxxxxxxxxxxxxxxxxxxx_', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
    'Fine-grained tokens start with github_pat_ and are shown once.',
    join('short ', 'github_pat_', '7l6HIn0WMgK1jbvfNBe8zB_WJnInMO0hUuVpIjEiU9sj'),
  ],
};

// ---------------------------------------------------------------------------------------------
// OpenAI and Anthropic

const OPENAI_PREFIX = /^sk-(?:proj-|svcacct-|admin-|None-)?/;

const openaiKey: Detector = {
  class: 'secret.openai_key',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'OpenAI API key (sk-, sk-proj-, sk-svcacct-, sk-admin-) with an entropy floor',
  pattern: String.raw`\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{16,200}`,
  prefilter: String.raw`\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{16}`,
  keywords: ['sk-'],
  // Anthropic keys share the sk- prefix; they have their own detector.
  validate: (v) => !v.startsWith('sk-ant-'),
  // Kebab-case words after "sk-" (sk-learn-…) are not random: dropped, not reported.
  confidence: secretConfidence({
    tokenChars: /[A-Za-z0-9_-]/,
    body: (v) => v.replace(OPENAI_PREFIX, ''),
    minEntropy: 4,
    mixedCase: true,
    lowEntropy: 0,
  }),
  examples: [
    { text: join('OPENAI_API_KEY=', 'sk-', '2Kg1bY0zExU8kQeTBTip', 'T3BlbkFJ', 'kZITRbPeo7n8EfwdAJSu'), match: join('sk-', '2Kg1bY0zExU8kQeTBTip', 'T3BlbkFJ', 'kZITRbPeo7n8EfwdAJSu') },
    { text: join('client = OpenAI(api_key="', 'sk-proj-', 'hilWi7FMt-45e4DUZkc69USEAGoNhqrGco10ybCIe3QTXeyULQZRXibemkvRllOZFl0oYJ6FE4sj-SIYrKgaCTvWgyERixnnviMazeWnlKh5GwWu6yc4pDRFi3pcAz322GANam5e6K8PFUGrQmUX6moRb5Wg', '")'), match: join('sk-proj-', 'hilWi7FMt-45e4DUZkc69USEAGoNhqrGco10ybCIe3QTXeyULQZRXibemkvRllOZFl0oYJ6FE4sj-SIYrKgaCTvWgyERixnnviMazeWnlKh5GwWu6yc4pDRFi3pcAz322GANam5e6K8PFUGrQmUX6moRb5Wg') },
    { text: join('Authorization: Bearer ', 'sk-svcacct-', '3WHReKr7tHwAoPADwPdJLJI5rv_y7apWBEPqmS--0-9CMqbkmYv9pQvcDxQ_21K8Ug_WBSsqQuZaOKzyodUjLMto2yIC7rmkV17Pw2xDnieKVyT9lY1lEfJB'), match: join('sk-svcacct-', '3WHReKr7tHwAoPADwPdJLJI5rv_y7apWBEPqmS--0-9CMqbkmYv9pQvcDxQ_21K8Ug_WBSsqQuZaOKzyodUjLMto2yIC7rmkV17Pw2xDnieKVyT9lY1lEfJB') },
  ],
  negatives: [
    join('ANTHROPIC_API_KEY=', 'sk-ant-api03-', 'LWBodQ-aggfx9TxPlDg_G0C9xf8YgovCukBhFgDUBEwOEZc0SQgi8p_iAW547eQ9XVOeIz1vdRny2orucn-rdCwem-mzZAA'),
    join('OPENAI_API_KEY=', 'sk-', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
    'OPENAI_API_KEY=sk-your-openai-key-here',
    'pip install sk-learn-preprocessing-pipeline',
    'the task-runner-config-defaults-v2 file',
  ],
};

const anthropicKey: Detector = {
  class: 'secret.anthropic_key',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'Anthropic API or admin key (sk-ant-api03-…, sk-ant-admin01-…)',
  pattern: String.raw`\bsk-ant-(?:api|admin|oat|ort)\d{2}-[A-Za-z0-9_-]{16,200}`,
  prefilter: String.raw`\bsk-ant-(?:api|admin|oat|ort)\d{2}-[A-Za-z0-9_-]{16}`,
  keywords: ['sk-ant-'],
  confidence: secretConfidence({
    tokenChars: /[A-Za-z0-9_-]/,
    body: (v) => v.replace(/^sk-ant-[a-z]+\d{2}-/, ''),
    minEntropy: 4,
    mixedCase: true,
    lowEntropy: 0.2,
  }),
  examples: [
    { text: join('ANTHROPIC_API_KEY=', 'sk-ant-api03-', 'LWBodQ-aggfx9TxPlDg_G0C9xf8YgovCukBhFgDUBEwOEZc0SQgi8p_iAW547eQ9XVOeIz1vdRny2orucn-rdCwem-mzZAA'), match: join('sk-ant-api03-', 'LWBodQ-aggfx9TxPlDg_G0C9xf8YgovCukBhFgDUBEwOEZc0SQgi8p_iAW547eQ9XVOeIz1vdRny2orucn-rdCwem-mzZAA') },
    { text: join('client = Anthropic(api_key="', 'sk-ant-admin01-', 'UDL1iE1dVQvRxAGNTHAdswNUZqiCCCWqgy1ph2J1SEpCgw-HmC-vseJtZ2l-NFz9rV6ruidwZcqYfqsSvtt-dcc8Umil2AA', '")'), match: join('sk-ant-admin01-', 'UDL1iE1dVQvRxAGNTHAdswNUZqiCCCWqgy1ph2J1SEpCgw-HmC-vseJtZ2l-NFz9rV6ruidwZcqYfqsSvtt-dcc8Umil2AA') },
    { text: join('-H "x-api-key: ', 'sk-ant-api03-', 'Qw8vN4Jd6HsT1uYb9GkRe5Fc2MxPa7LzWq3OiUn0VhBt8DyCg4KjSe6XrAo1TmFpNl5Ru9Ew2Zt7Y0nXKr3pLm2ABCDEx', 'AA"'), match: join('sk-ant-api03-', 'Qw8vN4Jd6HsT1uYb9GkRe5Fc2MxPa7LzWq3OiUn0VhBt8DyCg4KjSe6XrAo1TmFpNl5Ru9Ew2Zt7Y0nXKr3pLm2ABCDEx', 'AA') },
  ],
  negatives: [
    join('ANTHROPIC_API_KEY=', 'sk-ant-api03-', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
    'Anthropic keys start with sk-ant-api03- and are shown once.',
    join('sk-ant-api03-', 'your-anthropic-key-here'),
  ],
};

// ---------------------------------------------------------------------------------------------
// Private keys

// A line break as written in a file, or escaped inside a JSON string (once or twice).
const NL = String.raw`(?:\r?\n|(?:\\{1,2}r)?\\{1,2}n)`;
const KEY_LABEL = String.raw`(?:(?:RSA|DSA|EC|OPENSSH|ENCRYPTED|PGP|SSH2) )?PRIVATE KEY(?: BLOCK)?`;

/** The key's base64 material, without armour lines, headers and escaped line breaks. */
function pemBody(value: string): string {
  return value
    .replace(/\\+r\\+n|\\+[rn]/g, '\n')
    .replace(/-----(?:BEGIN|END)[^-]{0,40}-----/g, '')
    .replace(/^[A-Za-z0-9-]+: .*$/gm, '')
    .replace(/[^A-Za-z0-9+/=]/g, '');
}

function privateKeyConfidence(value: string): number {
  const body = pemBody(value);
  // DER and OpenSSH encodings contain runs of 'A' (zero bytes), so the general placeholder
  // rules do not apply; a stand-in body is masked, elided or made of a few characters.
  if (new Set(body).size < 10 || /x{8,}|example|redacted|placeholder/i.test(body) || /\.\.\.|…/.test(value)) {
    return PLACEHOLDER_CONFIDENCE;
  }
  // Less key material than the smallest real key (Ed25519 PKCS#8 is 64 base64 characters).
  return body.length >= 40 ? 0.95 : 0.2;
}

const EC_KEY_BODY = [
  'MHcCAQEEIF/ffyCwdjZ1g4ZdSlsm0ju+0L+9ENNjmj/rb6ex+2igoAoGCCqGSM49',
  'AwEHoUQDQgAEa3/bL8bLq9V6B8M4nzRPO+cqadweVbcH7zct63wF6Ux6tjCTtNd/',
  'YNc6XHHBwBnzdGmNggvVPZDWrNvGqGDxLQ==',
];
const EC_PEM = join('-----BEGIN EC ', 'PRIVATE KEY-----\n', EC_KEY_BODY.join('\n'), '\n-----END EC ', 'PRIVATE KEY-----');
const ED_PEM_ESCAPED = join('-----BEGIN ', 'PRIVATE KEY-----\\n', 'MC4CAQAwBQYDK2VwBCIEIA04vseM7LaEwsU66ZPGWpsdPhm1ynoIJmcQumqtkdDO', '\\n-----END ', 'PRIVATE KEY-----');
const SSH_BODY = [
  'b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW',
  'QyNTUxOQAAACD+YRe3Rl5m14kBvPN1RxB2AWVUHgaDtApCd8xdh5R6nXOnAQdZc93AyaDs',
  'yiWnG8gEqC/NjDR1omGve1RToIiFJV+Xr/Fut7+WTh9mNQYoWAL0nkaN/DzlTpT+wifTqq',
  '2JjSQR8doSbwf9YuOmhyQnuARMgY5mKxlDwsC4cJCXH6C0Q7i7OUjDoOIcIJ3T81Hxth68',
  'qUi5oIwDpi7fSrADIjgu61HnVhg8CZl+6cYdcN0Hl2gaa3Vvot8TnQeje7NXcgdDKjqFCq',
];
const SSH_PEM = join('-----BEGIN OPENSSH ', 'PRIVATE KEY-----\n', SSH_BODY.join('\n'), '\n-----END OPENSSH ', 'PRIVATE KEY-----');
const RSA_TRUNCATED = join(
  '-----BEGIN RSA ', 'PRIVATE KEY-----\n',
  'MIIEpAIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun\n',
  'VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK',
);

const privateKey: Detector = {
  class: 'secret.private_key',
  family: 'secret',
  severity: 'CRITICAL',
  variant: 'pem',
  description: 'PEM or OpenSSH private key block (RSA, EC, DSA, PKCS#8, encrypted, PGP), also with \\n-escaped line breaks inside JSON strings',
  // Either the whole block up to its END line (the body's alphabet has no '-', so it stops at
  // "-----END"), or — when the END line is missing (a truncated paste) — the header and up to
  // ten lines of key material.
  pattern:
    String.raw`-----BEGIN ${KEY_LABEL}-----(?:${NL}[A-Za-z-]{2,20}: [^\r\n\\]{1,100}){0,4}` +
    String.raw`(?:[A-Za-z0-9+/=\s\\]{16,}-----END ${KEY_LABEL}-----|(?:${NL}[A-Za-z0-9+/=]{16,100}){1,10})`,
  // The armour line: every match starts with it.
  prefilter: String.raw`-----BEGIN ${KEY_LABEL}-----`,
  keywords: ['private key'],
  // A 4096-bit RSA key in PKCS#1 is about 3.3 KB; 8192-bit about 6.4 KB; escaped line breaks add 2 %.
  maxLength: 10_000,
  confidence: privateKeyConfidence,
  examples: [
    { text: `Why does openssl reject our staging key?\n${EC_PEM}\nThanks!`, match: EC_PEM },
    { text: `{"type":"service_account","private_key":"${ED_PEM_ESCAPED}\\n","client_email":"ci@acme-prod.iam.gserviceaccount.com"}`, match: ED_PEM_ESCAPED },
    { text: `~/.ssh/id_ed25519:\n${SSH_PEM}\n`, match: SSH_PEM },
    { text: `${RSA_TRUNCATED}\n[… rest of the file cut]`, match: RSA_TRUNCATED },
  ],
  negatives: [
    'Public part:\n-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEa3/bL8bLq9V6B8M4nzRPO+cqadwe\n-----END PUBLIC KEY-----',
    'The file starts with -----BEGIN PRIVATE KEY----- and ends with -----END PRIVATE KEY-----.',
    join('-----BEGIN RSA ', 'PRIVATE KEY-----\nXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX\n-----END RSA ', 'PRIVATE KEY-----'),
    join('-----BEGIN ', 'PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC...\n-----END ', 'PRIVATE KEY-----'),
    '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQ9Y0nXKr3pLm2ZtABCDEx7Y0nXKr\n-----END CERTIFICATE-----',
  ],
};

const puttyKey: Detector = {
  class: 'secret.private_key',
  family: 'secret',
  severity: 'CRITICAL',
  variant: 'putty',
  description: 'PuTTY private key file (.ppk): header through the Private-Lines key material',
  pattern: String.raw`PuTTY-User-Key-File-[23]: [a-z0-9-]{3,40}(?:${NL}[^\r\n\\]{1,80}){2,12}?${NL}Private-Lines: \d{1,2}(?:${NL}[A-Za-z0-9+/=]{16,100}){1,8}`,
  keywords: ['putty-user-key-file'],
  confidence: privateKeyConfidence,
  examples: [
    {
      text: 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@build-01\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIPmRe3Rl5m14kBvPN1RxB2AWVUHgaDtApCd8xdh5R6nX\nPrivate-Lines: 1\nAAAAIGZ9Yb3q8K1mXr7TnQeje7NXcgdDKjqFCqAO839GG0qt1It7Y299\nPrivate-MAC: 5b1f0c2e',
      match: 'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: deploy@build-01\nPublic-Lines: 2\nAAAAC3NzaC1lZDI1NTE5AAAAIPmRe3Rl5m14kBvPN1RxB2AWVUHgaDtApCd8xdh5R6nX\nPrivate-Lines: 1\nAAAAIGZ9Yb3q8K1mXr7TnQeje7NXcgdDKjqFCqAO839GG0qt1It7Y299',
    },
    {
      text: '{"ppk":"PuTTY-User-Key-File-2: ssh-rsa\\nEncryption: none\\nComment: imported-openssh-key\\nPublic-Lines: 1\\nAAAAB3NzaC1yc2EAAAADAQABAAAAgQC7VJTUt9Us8cKj\\nPrivate-Lines: 2\\nAAAAgQCZ9Yb3q8K1mXr7TnQeje7NXcgdDKjqFCqAO839GG0qt1It7Y299\\nQbuXnt628tC/TE7W4fNYpFLLfa0X7ObN5+nnmujSJoKZo2hRqSdvsEikjz\\nPrivate-MAC: 9f"}',
      match: 'PuTTY-User-Key-File-2: ssh-rsa\\nEncryption: none\\nComment: imported-openssh-key\\nPublic-Lines: 1\\nAAAAB3NzaC1yc2EAAAADAQABAAAAgQC7VJTUt9Us8cKj\\nPrivate-Lines: 2\\nAAAAgQCZ9Yb3q8K1mXr7TnQeje7NXcgdDKjqFCqAO839GG0qt1It7Y299\\nQbuXnt628tC/TE7W4fNYpFLLfa0X7ObN5+nnmujSJoKZo2hRqSdvsEikjz',
    },
    {
      text: 'key.ppk:\r\nPuTTY-User-Key-File-3: ecdsa-sha2-nistp256\r\nEncryption: none\r\nComment: ops\r\nPublic-Lines: 1\r\nAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY\r\nPrivate-Lines: 1\r\nAAAAIQDx9Yb3q8K1mXr7TnQeje7NXcgdDKjqFCqAO839GG0qt1\r\n',
      match: 'PuTTY-User-Key-File-3: ecdsa-sha2-nistp256\r\nEncryption: none\r\nComment: ops\r\nPublic-Lines: 1\r\nAAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTY\r\nPrivate-Lines: 1\r\nAAAAIQDx9Yb3q8K1mXr7TnQeje7NXcgdDKjqFCqAO839GG0qt1',
    },
  ],
  negatives: [
    'Convert the .ppk (PuTTY-User-Key-File-3) with puttygen first.',
    'PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: demo\nPublic-Lines: 1\nAAAA\nPrivate-Lines: 1\nxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    'PuTTY-User-Key-File-3: ssh-ed25519 (public lines only)',
  ],
};

// ---------------------------------------------------------------------------------------------
// JWT

/** Signatures of the tokens printed in documentation (jwt.io's sample), not issued to anyone. */
const DOC_JWT_SIGNATURES = new Set(['SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c']);

const JWT_HS = 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ1c3JfOGYyazEiLCJ0ZW5hbnQiOiJhY21lIiwiaWF0IjoxNzE4MDAwMDAwLCJleHAiOjE3MTgwMDM2MDB9.vrcQCrtYImgucfLUQRDtzebgqr0LfImfTQfgxgIxZP0';
const JWT_RS =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6ImsxIn0.eyJpc3MiOiJodHRwczovL2F1dGguZXhhbXBsZS1jb3JwLmlvIiwiYXVkIjoiYXBpIiwic2NvcGUiOiJyZWFkOm9yZGVycyIsImV4cCI6MTcxODAwMzYwMH0.' +
  'toCzRi06lxFClqNcVwbciCDZRYq1DGGVWEWS7WjckgKEfwKFuUQVkPRApUcIRpLM1beGKaPsbzt7iyWnpLRiAoWZ1s_cJ_TV74Pw8o9IWTA3p0tVaC29UPPZB11VP82HMnqvcjG5mlYKNvOLaJuRlNO4i1RuIt80O_WSqLezywEfZt4r5hk_63whvy7y2SYOdgEAKV6keP13mTWUO3KtnMhgwQnf0Z2eOT1DGTKcF1Ufh8b8oGr3oCGr7_qfGakSyo_Xyk3GT5kXWSlRdJyLbe2vOgZRZi_gLKIq7I2sQ9BsTe8eCfZqrw5OcFVzzRkJRceXIl5gQ3lySP1F8Tusyh';
const JWT_NONE = 'eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiIsInJvbGUiOiJvd25lciJ9.';

const jwt: Detector = {
  class: 'secret.jwt',
  family: 'secret',
  severity: 'CRITICAL',
  description: 'JSON Web Token: three base64url parts, a JSON header with alg and a JSON payload',
  pattern: String.raw`\beyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*`,
  keywords: ['eyj'],
  // Segments are delimited by '.' and the base64url alphabet; an RS512 token with a large
  // payload stays well under this.
  maxLength: 16_384,
  validate: jwtValid,
  confidence: (value, text, start) => {
    if (/[A-Za-z0-9_-]/.test(charAfter(text, start, value))) return 0;
    return DOC_JWT_SIGNATURES.has(value.slice(value.lastIndexOf('.') + 1)) ? PLACEHOLDER_CONFIDENCE : 0.9;
  },
  examples: [
    { text: `Authorization: Bearer ${JWT_HS}`, match: JWT_HS },
    { text: `{"id_token":"${JWT_RS}","token_type":"Bearer"}`, match: JWT_RS },
    { text: `curl "https://api.acme.io/v1/me?access_token=${JWT_NONE}"`, match: JWT_NONE },
  ],
  negatives: [
    'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0 has only two parts',
    'header eyJub3QiOiJqd3QifQ.eyJhIjoxfQ.c2lnbmF0dXJl has no alg',
    'jwt.io sample: eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    'eyJhbGciOiJIUzI1NiJ9.eyJub3QganNvbiI.c2ln payload is not JSON',
  ],
};

// ---------------------------------------------------------------------------------------------
// RenLayer

const RL_LIVE = join('rl_live_', 'BZy8UFYmGsyWSxFVfYl7O7dPR96arYOl0ZePIF');
const RL_TEST = join('rl_test_', 'QXyIRT7PzjcUlAIWcxsyFhiNxaFLxwx03d27U2');
const RL_LIVE2 = join('rl_live_', 'zAUYPl3BTVtAym7tcXJyEluQ2qwL1mys0cYwz9');

const renlayerKey: Detector = {
  class: 'secret.renlayer_key',
  family: 'secret',
  severity: 'CRITICAL',
  description: "RenLayer API key (rl_live_/rl_test_), confirmed by its CRC32 checksum",
  pattern: String.raw`\brl_(?:live|test)_[0-9A-Za-z]{38}\b`,
  keywords: ['rl_live_', 'rl_test_'],
  validate: (v) => renlayerKeyValid(v) || isPlaceholder(v),
  confidence: (v) => (isPlaceholder(v) ? PLACEHOLDER_CONFIDENCE : 0.99),
  examples: [
    { text: `RENLAYER_API_KEY=${RL_LIVE}`, match: RL_LIVE },
    { text: `curl -H "Authorization: Bearer ${RL_TEST}" http://localhost:8080/v1/chat/completions`, match: RL_TEST },
    { text: `{"api_key": "${RL_LIVE2}"}`, match: RL_LIVE2 },
  ],
  negatives: [
    join('RENLAYER_API_KEY=', 'rl_live_', 'BZy8UFYmGsyWSxFVfYl7O7dPR96arYOl0ZePIG'),
    join('RENLAYER_API_KEY=', 'rl_live_', 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx'),
    join('rl_prod_', 'BZy8UFYmGsyWSxFVfYl7O7dPR96arYOl0ZePIF', ' is no environment'),
  ],
};

// ---------------------------------------------------------------------------------------------
// Generic key = value secrets

/** Identifiers, paths and URLs that sit where a secret could: `tokenizer = "bert-base-cased"`. */
function looksLikeWordsOrPath(v: string): boolean {
  if (/^[a-z]+(?:[-_.][a-z0-9]+)*$/.test(v)) return true;
  if (/:\/\//.test(v) || /^\.{0,2}\//.test(v)) return true;
  if ((v.match(/\//g) ?? []).length >= 2 && !/[A-Z]/.test(v)) return true;
  return /^[A-Za-z]+$/.test(v);
}

function genericConfidence(value: string): number {
  if (isPlaceholder(value)) return PLACEHOLDER_CONFIDENCE;
  if (looksLikeWordsOrPath(value)) return 0;
  return looksRandom(value, 3.5, 16) ? 0.75 : 0;
}

/** Field names that hold a secret, then up to 20 more name characters, quotes and the assignment. */
const SECRET_FIELD =
  String.raw`(?:api[_-]?key|apikey|api[_-]?secret|app[_-]?secret|client[_-]?secret|secret[_-]?key|access[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|private[_-]?token|secret|token|passw(?:or)?d|pwd|credentials?)` +
  String.raw`[a-z0-9_.-]{0,20}["'\]]{0,2}[\t\n\f\r ]{0,3}(?:=|:|=>|:=)[\t\n\f\r ]{0,3}["']?`;
const SECRET_VALUE = String.raw`[A-Za-z0-9_\-+/=~!@#$%^*]`;

const genericAssignment: Detector = {
  class: 'secret.generic_api_key',
  family: 'secret',
  severity: 'CRITICAL',
  variant: 'assignment',
  description: 'A value of 16+ random-looking characters assigned to a key, secret, token or password field',
  pattern: String.raw`(?i)${SECRET_FIELD}${SECRET_VALUE}{16,256}`,
  // The value is what follows the field (no RE2 group: see Detector.valuePrefix). 'u' folds case
  // as RE2 does (K and the Kelvin sign, s and ſ).
  valuePrefix: new RegExp(String.raw`^${SECRET_FIELD}(?=${SECRET_VALUE}{16})`, 'iu'),
  // The same with the value's first 16 characters: a counted repetition up to 256 burdens the Set.
  prefilter: String.raw`(?i)${SECRET_FIELD}${SECRET_VALUE}{16}`,
  keywords: ['key', 'secret', 'token', 'passw', 'pwd', 'credential'],
  confidence: genericConfidence,
  examples: [
    { text: 'OPENWEATHER_API_KEY=wKWhTWIpjszbg7EaU8oaiwOHBEoSq5SM', match: 'wKWhTWIpjszbg7EaU8oaiwOHBEoSq5SM' },
    { text: '{"client_secret": "SCFgdJAU1p2qUdYcDe6hbkv0FyjsiZrc", "grant_type": "client_credentials"}', match: 'SCFgdJAU1p2qUdYcDe6hbkv0FyjsiZrc' },
    { text: 'db:\n  host: pg.internal\n  password: "emso9N2y#vQTtL3we1PQ"', match: 'emso9N2y#vQTtL3we1PQ' },
    { text: "app.config['SECRET_KEY'] = 'Dj33vTOgl1LvxR7Cejq6JNmDrS0FicxD'", match: 'Dj33vTOgl1LvxR7Cejq6JNmDrS0FicxD' },
  ],
  negatives: [
    'api_key = "your-api-key-here"',
    'token: ${GITHUB_TOKEN}',
    'max_tokens: 4096',
    'tokenizer = "bert-base-multilingual-cased"',
    'password: "hunter2"',
    'secret_ref: "projects/acme-prod/secrets/db-password/versions/latest"',
    'API_KEY=XXXXXXXXXXXXXXXXXXXXXXXX',
  ],
};

const genericAuthHeader: Detector = {
  class: 'secret.generic_api_key',
  family: 'secret',
  severity: 'CRITICAL',
  variant: 'auth_header',
  description: 'Credential in an Authorization header (Bearer, Basic, token)',
  pattern: String.raw`(?i)\b(?:bearer\s{1,3}|authorization:\s{0,3}(?:token|basic)\s{1,3})(?P<value>[A-Za-z0-9_\-+/=.~]{16,512})`,
  prefilter: String.raw`(?i)\b(?:bearer\s{1,3}|authorization:\s{0,3}(?:token|basic)\s{1,3})[A-Za-z0-9_\-+/=.~]{16}`,
  keywords: ['bearer', 'authorization'],
  confidence: genericConfidence,
  examples: [
    { text: 'curl -H "Authorization: Bearer Dj33vTOgl1LvxR7Cejq6JNmDrS0FicxD" https://api.acme.io/v1/orders', match: 'Dj33vTOgl1LvxR7Cejq6JNmDrS0FicxD' },
    { text: 'Authorization: Basic ZGVwbG95OlM0bmQtYm94LTk5MjE=', match: 'ZGVwbG95OlM0bmQtYm94LTk5MjE=' },
    { text: 'headers = {"Authorization": "Bearer emso9N2yvQTtL3we1PQEGO6pif2ot6f3"}', match: 'emso9N2yvQTtL3we1PQEGO6pif2ot6f3' },
  ],
  negatives: [
    'Send the header Authorization: Bearer <token> with every call.',
    'Authorization: Bearer YOUR_ACCESS_TOKEN_HERE',
    'The bearer token-based-authentication-scheme is described in RFC 6750.',
  ],
};

export const SECRET_DETECTORS: readonly Detector[] = [
  awsAccessKey,
  awsSecretKey,
  gcpApiKey,
  stripeKey,
  slackToken,
  githubClassic,
  githubFineGrained,
  openaiKey,
  anthropicKey,
  privateKey,
  puttyKey,
  jwt,
  renlayerKey,
  genericAssignment,
  genericAuthHeader,
];
