export { compare, compareOp, sameOutcome, verdictOf } from './compare'
export { describeOutcome, describeRange } from './describe'
