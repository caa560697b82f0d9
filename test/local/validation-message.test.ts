// Validation failures in plain words (plugins/validation-message.ts): the field, and what was
// expected — as a table of ajv issues, and once through the gateway.
import t from 'tap'
import { describeValidation, fieldPath } from '../../plugins/validation-message.ts'
import { startGateway, postJson } from '../helpers/gateway.ts'

t.test('paths read like code', async (t) => {
  t.equal(fieldPath('/messages/0/role'), 'messages[0].role')
  t.equal(fieldPath('', 'messages'), 'messages')
  t.equal(fieldPath('/tools/2/function', 'name'), 'tools[2].function.name')
})

t.test('each kind of failure, in words', async (t) => {
  const roles = ['system', 'developer', 'user', 'assistant', 'tool']
  const table: Array<[string, Array<{ keyword: string; instancePath: string; params: Record<string, unknown>; message?: string }>, string, string | null]> = [
    ['a literal union', [...roles.map((r) => ({ keyword: 'const', instancePath: '/messages/0/role', params: { allowedValue: r } })), { keyword: 'anyOf', instancePath: '/messages/0/role', params: {} }], 'messages[0].role must be one of system, developer, user, assistant, tool', 'messages.0.role'],
    ['an enum', [{ keyword: 'enum', instancePath: '/reasoning_effort', params: { allowedValues: ['low', 'medium', 'high'] } }], 'reasoning_effort must be one of low, medium, high', 'reasoning_effort'],
    ['missing', [{ keyword: 'required', instancePath: '', params: { missingProperty: 'messages' } }], 'messages is required', 'messages'],
    ['missing inside', [{ keyword: 'required', instancePath: '/messages/1', params: { missingProperty: 'role' } }], 'messages[1].role is required', 'messages.1.role'],
    ['a type', [{ keyword: 'type', instancePath: '/temperature', params: { type: 'number' } }], 'temperature must be a number', 'temperature'],
    ['one of two types', [{ keyword: 'type', instancePath: '/messages/0/content', params: { type: 'string' } }, { keyword: 'type', instancePath: '/messages/0/content', params: { type: 'array' } }], 'messages[0].content must be a string or an array', 'messages.0.content'],
    ['a bound', [{ keyword: 'maximum', instancePath: '/temperature', params: { comparison: '<=', limit: 2 } }], 'temperature must be <= 2', 'temperature'],
    ['too few items', [{ keyword: 'minItems', instancePath: '/messages', params: { limit: 1 } }], 'messages must have at least 1 item', 'messages'],
  ]
  for (const [what, issues, message, param] of table) t.same(describeValidation(issues), { message, param }, what)
})

t.test('through the gateway: a bad role names the field and the roles', async (t) => {
  const gw = await startGateway({})
  t.teardown(() => gw.close())
  const res = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm', messages: [{ role: 'wizard', content: 'x' }] })
  t.equal(res.status, 400)
  t.match(res.json.error.message, /messages\[0\]\.role must be one of system, developer, user, assistant, tool/)
  const missing = await postJson(`${gw.url}/v1/chat/completions`, { model: 'm' })
  t.match(missing.json.error.message, /messages is required/)
})
