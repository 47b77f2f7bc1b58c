export { compare, compareOp, checkVocabulary, sameOutcome, verdictOf, VocabularyError, OPTIONAL_FROM_STATS, optionalRange } from './compare'
export { describeOutcome, describeRange } from './describe'
