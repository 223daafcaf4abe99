export interface Quote {
  sku: number;
  qty: number;
  total: number;
}

const prices: ReadonlyMap<number, number> = new Map(
  Array.from({ length: 100 }, (_, k) => [k, 100 + k * 7] as const),
);

export function quote(sku: number, qty: number): Quote {
  const unit = prices.get(sku % 100) ?? 0;
  return { sku, qty, total: unit * qty };
}
