import { type Rng, WeightedSampler } from '../random.ts';

/** What the shop sells: categories with their price bands, and the words product names are made of. */

/** A product category: its share of the catalogue, its price band and what it sells. */
export interface CategorySpec {
  name: string;
  weight: number;
  minPrice: number;
  maxPrice: number;
  nouns: readonly string[];
}

/** The categories of a European web shop's catalogue. */
export const CATEGORIES: readonly CategorySpec[] = [
  {
    name: 'electronics',
    weight: 12,
    minPrice: 19,
    maxPrice: 1499,
    nouns: ['Headphones', 'Speaker', 'Smartwatch', 'Camera', 'Charger', 'Earbuds', 'Monitor', 'Power Bank'],
  },
  {
    name: 'computers',
    weight: 6,
    minPrice: 199,
    maxPrice: 2999,
    nouns: ['Laptop', 'Desktop', 'Tablet', 'Keyboard', 'Graphics Card', 'SSD'],
  },
  {
    name: 'books',
    weight: 14,
    minPrice: 4,
    maxPrice: 60,
    nouns: ['Novel', 'Cookbook', 'Travel Guide', 'Biography', 'Comic', 'Atlas'],
  },
  {
    name: 'clothing',
    weight: 14,
    minPrice: 9,
    maxPrice: 180,
    nouns: ['T-Shirt', 'Jacket', 'Jeans', 'Hoodie', 'Dress', 'Scarf', 'Sweater'],
  },
  {
    name: 'shoes',
    weight: 6,
    minPrice: 25,
    maxPrice: 220,
    nouns: ['Sneakers', 'Boots', 'Sandals', 'Loafers', 'Running Shoes'],
  },
  {
    name: 'home',
    weight: 10,
    minPrice: 8,
    maxPrice: 400,
    nouns: ['Lamp', 'Rug', 'Cushion', 'Mirror', 'Shelf', 'Blanket'],
  },
  {
    name: 'kitchen',
    weight: 8,
    minPrice: 6,
    maxPrice: 350,
    nouns: ['Pan', 'Knife Set', 'Kettle', 'Blender', 'Mug', 'Cutting Board'],
  },
  {
    name: 'toys',
    weight: 7,
    minPrice: 5,
    maxPrice: 120,
    nouns: ['Puzzle', 'Building Set', 'Plush Bear', 'Board Game', 'Kite'],
  },
  {
    name: 'beauty',
    weight: 7,
    minPrice: 3,
    maxPrice: 90,
    nouns: ['Shampoo', 'Face Cream', 'Perfume', 'Lipstick', 'Soap'],
  },
  {
    name: 'sports',
    weight: 7,
    minPrice: 10,
    maxPrice: 600,
    nouns: ['Yoga Mat', 'Dumbbell', 'Tennis Racket', 'Bike Helmet', 'Backpack'],
  },
  {
    name: 'garden',
    weight: 4,
    minPrice: 5,
    maxPrice: 300,
    nouns: ['Hose', 'Planter', 'Shears', 'Seeds', 'Bird Feeder'],
  },
  {
    name: 'grocery',
    weight: 5,
    minPrice: 1,
    maxPrice: 40,
    nouns: ['Coffee', 'Tea', 'Olive Oil', 'Chocolate', 'Pasta', 'Honey'],
  },
];

export const ADJECTIVES = [
  'Classic',
  'Premium',
  'Eco',
  'Compact',
  'Deluxe',
  'Ultra',
  'Smart',
  'Vintage',
  'Essential',
  'Pro',
  'Mini',
  'Organic',
  'Nordic',
  "Chef's",
  'Urban',
  'Soft',
];
export const COLORS = ['Black', 'White', 'Blue', 'Red', 'Green', 'Grey', 'Oak', 'Sand', 'Navy', 'Olive'];

/** Categories by their catalogue share. */
export const CATEGORY_SAMPLER = new WeightedSampler(
  CATEGORIES,
  CATEGORIES.map((c) => c.weight),
);

/** Price in cents: log-uniform inside the category's band, with shop-style endings (.99, .49, .95, .00). */
export function priceCents(rng: Rng, cat: CategorySpec): number {
  const v = Math.exp(rng.float(Math.log(cat.minPrice), Math.log(cat.maxPrice)));
  const euros = Math.max(0, Math.floor(v));
  const ending = rng.weighted([99, 49, 95, 0, 90], [50, 15, 15, 10, 10]);
  return Math.max(ending === 0 ? 100 : 0, euros * 100 + ending);
}
