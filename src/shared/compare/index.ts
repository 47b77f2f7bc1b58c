export { compare, compareOp, checkVocabulary, sameOutcome, verdictOf, VocabularyError, OPTIONAL_FROM_STATS } from './compare'
export { describeOutcome, describeRange } from './describe'
