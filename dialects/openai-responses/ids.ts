// Ids in OpenAI's forms: `resp_`, `msg_`, `fc_`, `rs_` followed by 48 hex digits.
import { randomText } from '../random-id.ts'

const ID_RANDOM_BYTES = 24

export type IdPrefix = 'resp' | 'msg' | 'fc' | 'rs'

export function newId(prefix: IdPrefix): string {
  return `${prefix}_${randomText(ID_RANDOM_BYTES, 'hex')}`
}
