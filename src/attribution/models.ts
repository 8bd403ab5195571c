/**
 * Attribution models: how a conversion's credit is shared among the clicks (touches) that led to it,
 * oldest first. Weights are basis points adding up to 10 000.
 *
 *   last_click   all to the newest touch (the default)
 *   first_click  all to the oldest
 *   linear       equal shares
 *   position     40% first, 40% last, 20% shared by the middle (one touch: all; two: half each)
 */
import { splitByWeights } from '../money/money.ts'

export const MODELS = ['last_click', 'first_click', 'linear', 'position'] as const
export type AttributionModel = (typeof MODELS)[number]

const WHOLE = 10_000

export function modelWeights(model: AttributionModel, touches: number): number[] {
  if (touches <= 0) return []
  if (touches === 1) return [WHOLE]
  const weights = new Array<number>(touches).fill(0)
  switch (model) {
    case 'last_click':
      weights[touches - 1] = WHOLE
      return weights
    case 'first_click':
      weights[0] = WHOLE
      return weights
    case 'linear':
      return splitByWeights(WHOLE, weights.fill(1))
    case 'position': {
      if (touches === 2) return [WHOLE / 2, WHOLE / 2]
      const middle = splitByWeights(WHOLE / 5, new Array<number>(touches - 2).fill(1))
      return [(WHOLE * 2) / 5, ...middle, (WHOLE * 2) / 5]
    }
  }
}
