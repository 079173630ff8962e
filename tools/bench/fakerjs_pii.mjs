// PII records made by @faker-js/faker (MIT), the JavaScript Faker: its locale data and formats are
// its own community's, not Python Faker's. Records as tools/bench/pii_eval.py reads them
// (--from-file): {text, items: [[start, end, type]], origin}.
//
//   npm install @faker-js/faker
//   node tools/bench/fakerjs_pii.mjs > fakerjs.json   (from the folder that holds node_modules)
//   python tools/bench/pii_eval.py --from-file fakerjs.json
//
// Phones of every locale in its three styles (human, national, international), half after a phone
// word and half inside the locale's own words; cards of its six issuers, half after a word that
// says card; IBANs (compact and grouped), e-mails, IP addresses; and records whose numbers are not
// PII (IMEIs, ISBNs, account and routing numbers, VINs, PINs, CVVs, amounts, coordinates, ...).
import { createRequire } from 'module';
import path from 'path';

const { allFakers } = createRequire(path.join(process.cwd(), 'noop.js'))('@faker-js/faker');

const PHONE_WORDS = ['Phone: ', 'Call me at ', 'My mobile number is ', 'Tel. ', 'Telefon: ', 'téléphone : ', 'teléfono '];
const CARD_WORDS = ['Card number: ', 'Please charge my card ', 'Paid with '];
const ISSUERS = ['american_express', 'diners_club', 'discover', 'jcb', 'mastercard', 'visa'];
const records = [];
const put = (before, value, after, type, origin) => {
  records.push({ text: before + value + after, items: type ? [[before.length, before.length + value.length, type]] : [], origin });
};
const words = (f) => {
  try {
    return f.word.words({ count: { min: 3, max: 8 } });
  } catch {
    return f.lorem.words(5);
  }
};

for (const [name, f] of Object.entries(allFakers)) {
  if (name === 'base' || name === 'en_BORK') continue; // no data of its own / a joke locale
  f.seed(0);
  for (const style of ['human', 'national', 'international']) {
    for (let i = 0; i < 8; i++) {
      const number = f.phone.number({ style });
      if (i % 2 === 0) put(PHONE_WORDS[i % PHONE_WORDS.length], number, ' ' + words(f) + '.', 'phone', `words ${style} ${name}`);
      else put(words(f) + ' ', number, ' ' + words(f) + '.', 'phone', `bare ${style} ${name}`);
    }
  }
}
const f = allFakers.en_US;
f.seed(1);
for (let i = 0; i < 240; i++) {
  const issuer = ISSUERS[i % ISSUERS.length];
  const before = i % 2 ? CARD_WORDS[i % CARD_WORDS.length] : f.lorem.sentence() + ' ';
  put(before, f.finance.creditCardNumber(issuer), '. ' + f.lorem.sentence(), 'credit_card', issuer);
}
for (let i = 0; i < 200; i++) put(f.lorem.sentence() + ' ', f.finance.iban({ formatted: i % 2 === 1 }), ' ' + f.lorem.sentence(), 'iban', '-');
for (let i = 0; i < 200; i++) put(f.lorem.sentence() + ' ', f.internet.email(), ' ' + f.lorem.sentence(), 'email', '-');
for (let i = 0; i < 100; i++) put(f.lorem.sentence() + ' ', f.internet.ipv4(), ' ' + f.lorem.sentence(), 'ipv4', '-');
for (let i = 0; i < 100; i++) put(f.lorem.sentence() + ' ', f.internet.ipv6(), ' ' + f.lorem.sentence(), 'ipv6', '-');
const notPii = [
  () => f.phone.imei(), () => f.commerce.isbn(13), () => f.commerce.isbn(10), () => f.finance.accountNumber(),
  () => f.finance.routingNumber(), () => f.finance.bic(), () => f.vehicle.vin(), () => f.finance.pin(),
  () => f.finance.creditCardCVV(), () => f.finance.amount(), () => f.commerce.price(), () => f.location.zipCode(),
  () => `${f.location.latitude()}, ${f.location.longitude()}`, () => f.location.streetAddress(),
  () => f.date.anytime().toISOString(), () => f.string.uuid(), () => f.git.commitSha(), () => f.system.semver(),
  () => f.airline.flightNumber({ addLeadingZeros: true }), () => f.string.numeric(12), () => f.internet.mac(),
  () => String(f.internet.port()),
];
for (let i = 0; i < 400; i++) put(f.lorem.sentence() + ' ', notPii[i % notPii.length](), ' ' + f.lorem.sentence(), null, '-');
process.stdout.write(JSON.stringify(records));
