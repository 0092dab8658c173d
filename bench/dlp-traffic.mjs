// Realistic agent traffic for the DLP throughput benchmark: chunks of 1–8 KB (a typical message)
// made mostly of clean prose in six languages, corpus negatives, log lines and tool-call JSON,
// some code, and about one chunk in ten carrying a labelled finding from the corpus.
// Deterministic (seeded), so every run scans the same bytes.

let state = 20240611;
export const rand = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
export const pick = (xs) => xs[Math.floor(rand() * xs.length)];

const WORDS = {
  en: 'the a and of to in for on with we our team customer order report please can you summarise draft review update meeting next week quarter revenue growth risk plan project release feature bug fix deploy server latency users data migration budget forecast support ticket answer question explain why how what should could would new old first last important issue result test build service api request response error timeout retry cache database query index'.split(' '),
  de: 'der die das und zu den mit für auf ist nicht bitte können Sie wir unsere Kunden Bericht Quartal Umsatz Projekt Termin nächste Woche Rechnung Lieferung Anfrage Problem Lösung Fehler Server Daten Migration Besprechung zusammenfassen erklären prüfen senden'.split(' '),
  fr: 'le la les et de du des pour avec sur nous notre client commande rapport trimestre projet réunion semaine prochaine facture livraison demande problème solution erreur serveur données migration pouvez vous résumer expliquer vérifier envoyer merci bonjour'.split(' '),
  es: 'el la los las y de del para con en nosotros nuestro cliente pedido informe trimestre proyecto reunión semana próxima factura entrega solicitud problema solución error servidor datos migración puedes resumir explicar revisar enviar gracias hola'.split(' '),
  it: 'il la le e di del per con su noi nostro cliente ordine rapporto trimestre progetto riunione settimana prossima fattura consegna richiesta problema soluzione errore server dati migrazione puoi riassumere spiegare controllare inviare grazie ciao'.split(' '),
  nl: 'de het een en van voor met op wij onze klant bestelling rapport kwartaal project vergadering week volgende factuur levering aanvraag probleem oplossing fout server gegevens migratie kun je samenvatten uitleggen controleren sturen bedankt'.split(' '),
};
function sentence() {
  const words = WORDS[pick(Object.keys(WORDS))];
  const n = 6 + Math.floor(rand() * 16);
  const out = [];
  for (let i = 0; i < n; i++) out.push(pick(words));
  if (rand() < 0.25) out.splice(Math.floor(rand() * n), 0, pick(['3.2', '42 %', '2024', '12 June', 'v1.4.0', '#4412', '15:30', '1,250.00']));
  const s = out.join(' ');
  return s[0].toUpperCase() + s.slice(1) + pick(['.', '.', '.', '?', '!']);
}
const paragraph = () => Array.from({ length: 2 + Math.floor(rand() * 5) }, sentence).join(' ') + '\n\n';
let cleanCorpus = [];
let codeCorpus = [];
let findingCorpus = [];
function setCorpus(corpus) {
  cleanCorpus = corpus.filter((l) => l.expected.length === 0).map((l) => l.text);
  codeCorpus = corpus.filter((l) => l.expected.some((e) => e.class === 'code.source')).map((l) => l.text);
  findingCorpus = corpus.filter((l) => l.expected.some((e) => e.class !== 'code.source')).map((l) => l.text);
}
const logLine = () =>
  `2024-06-${String(1 + Math.floor(rand() * 28)).padStart(2, '0')}T10:${String(Math.floor(rand() * 60)).padStart(2, '0')}:00Z ${pick(['INFO', 'WARN', 'DEBUG'])} ${pick(['http', 'worker', 'db', 'cache'])} ${pick(['request done', 'slow query', 'job finished', 'retrying'])} status=${pick([200, 201, 204, 404, 500])} ms=${Math.floor(rand() * 900)}\n`;
const toolCall = () =>
  JSON.stringify({ tool: pick(['search_orders', 'get_weather', 'create_ticket', 'summarise']), arguments: { query: sentence(), limit: Math.floor(rand() * 100) } }) + '\n';

function chunk() {
  const size = 1024 + Math.floor(rand() * 7168);
  let text = '';
  while (Buffer.byteLength(text) < size) {
    const r = rand();
    if (r < 0.62) text += paragraph();
    else if (r < 0.74) text += pick(cleanCorpus) + '\n\n';
    else if (r < 0.78) text += pick(codeCorpus) + '\n\n';
    else if (r < 0.9) text += logLine().repeat(1 + Math.floor(rand() * 5));
    else text += toolCall();
  }
  // About one chunk in ten carries a finding from the corpus.
  if (rand() < 0.1) {
    const at = Math.floor(rand() * text.length);
    const cut = text.lastIndexOf('\n', at) + 1;
    text = text.slice(0, cut) + pick(findingCorpus) + '\n' + text.slice(cut);
  }
  return text;
}


/** Chunks adding up to at least `targetBytes` UTF-8 bytes. */
export function traffic(corpus, targetBytes) {
  state = 20240611;
  setCorpus(corpus);
  const chunks = [];
  let total = 0;
  while (total < targetBytes) {
    const c = chunk();
    chunks.push(c);
    total += Buffer.byteLength(c);
  }
  return chunks;
}
