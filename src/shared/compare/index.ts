export { compare, compareOp, checkVocabulary, sameOutcome, verdictOf, VocabularyError } from './compare'
export { describeOutcome, describeRange } from './describe'
