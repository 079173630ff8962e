// PII records made by chance.js (MIT), a random generator of its own: US, UK and French phones in
// its formatted, unformatted and mobile forms, cards of its 16 types, SSNs, e-mails, IP addresses,
// and records whose values are not PII (ZIP codes, GUIDs, hashes, plain integers, dates, prices,
// coordinates, MAC addresses). Records as tools/bench/pii_eval.py reads them (--from-file):
// {text, items: [[start, end, type]], origin}. Its SSNs and IPv4 addresses are random digits: some
// are numbers never issued (area 000, group 00) or no host's (127.x, 255.x).
//
//   npm install chance
//   node tools/bench/chance_pii.mjs > chance.json   (from the folder that holds node_modules)
//   python tools/bench/pii_eval.py --from-file chance.json
import { createRequire } from 'module';
import path from 'path';

const Chance = createRequire(path.join(process.cwd(), 'noop.js'))('chance');
const c = new Chance(7);
const records = [];
const put = (before, value, after, type, origin) => {
  records.push({ text: before + value + after, items: type ? [[before.length, before.length + value.length, type]] : [], origin });
};
const sentence = (n) => c.sentence({ words: n });

const PHONE_WORDS = ['Phone: ', 'Call me at ', 'Tel. '];
for (const country of ['us', 'uk', 'fr']) {
  for (const opts of [{}, { formatted: false }, { mobile: true }]) {
    for (let i = 0; i < 30; i++) {
      const n = c.phone({ country, ...opts });
      const origin = `${i % 2 ? 'words' : 'bare'} ${country} ${JSON.stringify(opts)}`;
      if (i % 2) put(PHONE_WORDS[i % 3], n, ' ' + sentence(5), 'phone', origin);
      else put(sentence(6) + ' ', n, ' ' + sentence(5), 'phone', origin);
    }
  }
}
const CARDS = ['American Express', 'Visa', 'Mastercard', 'Discover Card', 'JCB', 'Maestro', 'Diners Club International',
  'Visa Electron', 'Laser', 'Switch', 'Solo', 'InstaPayment', 'Bankcard', 'China UnionPay', 'Diners Club Carte Blanche',
  'Diners Club United States & Canada'];
for (const type of CARDS) {
  for (let i = 0; i < 10; i++) {
    try {
      put(i % 2 ? 'Card number: ' : sentence(6) + ' ', c.cc({ type }), '. ' + sentence(4), 'credit_card', type);
    } catch {
      // a type this version of chance.js does not know
    }
  }
}
for (let i = 0; i < 100; i++) put(sentence(6) + ' ', c.ssn(), ' ' + sentence(4), 'us_ssn', '-');
for (let i = 0; i < 100; i++) put(sentence(6) + ' ', c.email(), ' ' + sentence(4), 'email', '-');
for (let i = 0; i < 100; i++) put(sentence(6) + ' ', c.ip(), ' ' + sentence(4), 'ipv4', '-');
for (let i = 0; i < 100; i++) put(sentence(6) + ' ', c.ipv6(), ' ' + sentence(4), 'ipv6', '-');
const OTHER = [
  () => c.zip({ plusfour: true }), () => c.zip(), () => c.postcode(), () => c.guid(), () => c.hash({ length: 16 }),
  () => String(c.integer({ min: 100000000, max: 9999999999 })), () => c.date().toISOString(),
  () => c.timestamp().toString(), () => c.dollar(), () => c.euro(), () => c.exp(), () => String(c.integer({ min: 100, max: 999 })),
  () => c.coordinates(), () => c.altitude().toString(), () => c.android_id(), () => c.apple_token(), () => c.mac_address(),
];
for (let i = 0; i < 400; i++) {
  try {
    put(sentence(6) + ' ', OTHER[i % OTHER.length](), ' ' + sentence(4), null, '-');
  } catch {
    // a generator this version of chance.js does not have
  }
}
process.stdout.write(JSON.stringify(records));
