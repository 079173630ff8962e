// PII records made by @ngneat/falso (MIT), a third fake-data library with formats of its own (phones
// for ~240 country codes, written "+1(854)054 8770", "+49(554)52 351"; cards of twelve issuers,
// RuPay, UnionPay, Dankort, UATP and Visa Electron among them). Records as tools/bench/pii_eval.py
// reads them (--from-file): {text, items: [[start, end, type]], origin}.
//
//   npm install @ngneat/falso@8.0.2
//   node tools/bench/falso_pii.mjs > falso.json   (from the folder that holds node_modules)
//   python tools/bench/pii_eval.py --from-file falso.json
//
// Its IBANs are random letters and digits (no check digits, no country length), so none are used;
// a card number that fails Luhn is not a card number, so those are counted apart (origin "luhn-fails")
// and written as non-PII. Phones: half after a phone word, half between plain words.
import { createRequire } from 'module';
import path from 'path';

const falso = createRequire(path.join(process.cwd(), 'noop.js'))('@ngneat/falso');
falso.seed('edgeqwen');

const PHONE_WORDS = ['Phone: ', 'Call me at ', 'My mobile number is ', 'Tel. ', 'Telefon: ', 'téléphone : ', 'teléfono '];
const CARD_WORDS = ['Card number: ', 'Please charge my card ', 'Paid with '];
const BRANDS = ['American Express', 'UnionPay', 'Diners Club', 'Discover Card', 'RuPay', 'JCB', 'Maestro', 'Dankort',
  'Mastercard', 'Visa', 'Visa Electron', 'UATP'];
const COUNTRIES = [...new Set(
  'AC AD AE AF AG AI AL AM AO AR AS AT AU AW AZ BA BB BD BE BF BG BH BI BJ BM BN BO BR BS BT BW BY BZ CA CD CF CG CH CI CK CL CM CN CO CR CU CV CW CY CZ DE DJ DK DM DO DZ EC EE EG ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GH GI GL GM GN GQ GR GT GU GW GY HK HN HR HT HU ID IE IL IN IO IQ IR IS IT JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG US UY UZ VA VC VE VG VI VN VU WF WS YE ZA ZM ZW'.split(' '))];

const records = [];
const put = (before, value, after, type, origin) => {
  records.push({ text: before + value + after, items: type ? [[before.length, before.length + value.length, type]] : [], origin });
};
const sentence = () => falso.randSentence();
const luhn = (digits) => {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return sum % 10 === 0;
};

for (const country of COUNTRIES) {
  for (let i = 0; i < 4; i++) {
    const number = falso.randPhoneNumber({ countryCode: country });
    if (i % 2 === 0) put(PHONE_WORDS[(i + country.charCodeAt(0)) % PHONE_WORDS.length], number, '. ' + sentence(), 'phone', `words ${country}`);
    else put(sentence() + ' ', number, ' ' + sentence(), 'phone', `bare ${country}`);
  }
}
for (let i = 0; i < 480; i++) {
  const brand = BRANDS[i % BRANDS.length];
  const number = falso.randCreditCardNumber({ brand });
  const before = i % 2 ? CARD_WORDS[i % CARD_WORDS.length] : sentence() + ' ';
  const valid = luhn(number.replace(/\D/g, ''));
  put(before, number, '. ' + sentence(), valid ? 'credit_card' : null, valid ? brand : `luhn-fails ${brand}`);
}
for (let i = 0; i < 200; i++) put(sentence() + ' ', falso.randEmail(), ' ' + sentence(), 'email', '-');
for (let i = 0; i < 100; i++) put(sentence() + ' ', falso.randIp(), ' ' + sentence(), 'ipv4', '-');
for (let i = 0; i < 100; i++) put(sentence() + ' ', falso.randIpv6(), ' ' + sentence(), 'ipv6', '-');
process.stdout.write(JSON.stringify(records));
