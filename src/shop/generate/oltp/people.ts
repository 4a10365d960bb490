import { type Rng, WeightedSampler } from '../random.ts';

/** Who shops: countries with their currencies, names and e-mail domains. */

/** Where customers live, how many, and what they pay in. */
export const COUNTRIES: readonly { code: string; weight: number; currency: string }[] = [
  { code: 'DE', weight: 20, currency: 'EUR' },
  { code: 'FR', weight: 14, currency: 'EUR' },
  { code: 'GB', weight: 12, currency: 'GBP' },
  { code: 'US', weight: 16, currency: 'USD' },
  { code: 'NL', weight: 6, currency: 'EUR' },
  { code: 'ES', weight: 8, currency: 'EUR' },
  { code: 'IT', weight: 8, currency: 'EUR' },
  { code: 'PL', weight: 5, currency: 'PLN' },
  { code: 'SE', weight: 4, currency: 'SEK' },
  { code: 'BE', weight: 3, currency: 'EUR' },
  { code: 'AT', weight: 2, currency: 'EUR' },
  { code: 'IE', weight: 2, currency: 'EUR' },
];
/** Currency of each country code. */
export const CURRENCY_BY_COUNTRY = new Map(COUNTRIES.map((c) => [c.code, c.currency]));

export const FIRST_NAMES = [
  'Anna',
  'Ben',
  'Clara',
  'David',
  'Emma',
  'Felix',
  'Greta',
  'Hugo',
  'Ines',
  'Jonas',
  'Karla',
  'Lukas',
  'Mia',
  'Noah',
  'Olivia',
  'Paul',
  'Quentin',
  'Rosa',
  'Sofia',
  'Tom',
  'Ursula',
  'Victor',
  'Wanda',
  'Xavier',
  'Yara',
  'Zoe',
  'Liam',
  'Chloé',
  'Mateo',
  'Léa',
  'Oskar',
  'Maja',
  'Giulia',
  'Lars',
  'Siobhan',
  'Zofia',
  'José',
  'Amélie',
  'Björn',
  'Nora',
];
export const LAST_NAMES = [
  'Müller',
  'Schmidt',
  'Martin',
  'Bernard',
  'Smith',
  'Jones',
  'Garcia',
  'Rossi',
  'Bianchi',
  'Nowak',
  'Kowalski',
  'Jansen',
  'de Vries',
  'Andersson',
  'Johansson',
  "O'Brien",
  'Murphy',
  'Dubois',
  'Lefebvre',
  'Fernández',
  'López',
  'Wagner',
  'Becker',
  'Hoffmann',
  'Peeters',
  'Gruber',
  'Taylor',
  'Brown',
  'Wilson',
  'Novak',
];
export const EMAIL_DOMAINS = ['example.com', 'mail.example.org', 'shopper.example.net', 'example.de', 'example.fr'];

/** Country codes by their share of customers. */
export const COUNTRY_SAMPLER = new WeightedSampler(
  COUNTRIES.map((c) => c.code),
  COUNTRIES.map((c) => c.weight),
);

/** A first and last name from the shop's customer base. */
export function customerName(rng: Rng): { first: string; last: string } {
  return { first: rng.pick(FIRST_NAMES), last: rng.pick(LAST_NAMES) };
}

/** An address like `ines.muller42@example.com` (accents dropped). */
export function emailFor(first: string, last: string, tag: string | number, domain: string): string {
  const clean = (s: string) =>
    s
      .normalize('NFD')
      .replace(/[^A-Za-z]/g, '')
      .toLowerCase();
  return `${clean(first)}.${clean(last)}${tag}@${domain}`;
}
