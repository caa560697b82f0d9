// A schema validation failure in plain words: which field, and what was expected —
// `messages[0].role must be one of system, developer, user, assistant, tool` — instead of
// ajv's "must be equal to constant". Pure; plugins/errors.ts uses it for every 400 of a schema.

export interface ValidationIssue {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string', integer: 'an integer', number: 'a number', object: 'an object', array: 'an array', boolean: 'true or false', null: 'null',
}

/** `/messages/0/role` → `messages[0].role`. */
export function fieldPath(instancePath: string, child?: string): string {
  const parts = instancePath.split('/').filter(Boolean)
  if (child) parts.push(child)
  return parts.reduce((path, part) => (/^\d+$/.test(part) ? `${path}[${part}]` : path ? `${path}.${part}` : part), '')
}

/** The dotted form kept in the envelope's `param` (`messages.0.role`), as before. */
export function fieldParam(instancePath: string, child?: string): string | null {
  const parts = instancePath.split('/').filter(Boolean)
  if (child) parts.push(child)
  return parts.join('.') || null
}

const words = (type: unknown) => (Array.isArray(type) ? type : [type]).map((t) => TYPE_WORDS[String(t)] ?? String(t)).join(' or ')

/** The first failure, with every alternative ajv tried at the same place folded into one list. */
export function describeValidation(issues: ValidationIssue[]): { message: string; param: string | null } {
  const first = issues[0]
  if (!first) return { message: 'the body is invalid', param: null }
  if (first.keyword === 'required') {
    const missing = String(first.params.missingProperty ?? '')
    return { message: `${fieldPath(first.instancePath, missing)} is required`, param: fieldParam(first.instancePath, missing) }
  }
  const at = issues.filter((issue) => issue.instancePath === first.instancePath)
  const field = fieldPath(first.instancePath) || 'the body'
  const param = fieldParam(first.instancePath)
  const allowed = at.flatMap((issue) => {
    if (issue.keyword === 'const') return [issue.params.allowedValue]
    if (issue.keyword === 'enum') return (issue.params.allowedValues as unknown[]) ?? []
    return []
  })
  if (allowed.length) return { message: `${field} must be one of ${[...new Set(allowed)].map(String).join(', ')}`, param }
  const types = [...new Set(at.filter((i) => i.keyword === 'type').flatMap((i) => (Array.isArray(i.params.type) ? i.params.type : [i.params.type])))]
  if (types.length) return { message: `${field} must be ${words(types)}`, param }
  switch (first.keyword) {
    case 'additionalProperties':
      return { message: `${field} has a field this API does not know: ${String(first.params.additionalProperty)}`, param }
    case 'minimum': case 'maximum': case 'exclusiveMinimum': case 'exclusiveMaximum':
      return { message: `${field} must be ${String(first.params.comparison)} ${String(first.params.limit)}`, param }
    case 'minItems':
      return { message: `${field} must have at least ${String(first.params.limit)} item${first.params.limit === 1 ? '' : 's'}`, param }
    case 'maxItems':
      return { message: `${field} must have at most ${String(first.params.limit)} items`, param }
    case 'minLength':
      return { message: `${field} must be at least ${String(first.params.limit)} characters long`, param }
    case 'maxLength':
      return { message: `${field} must be at most ${String(first.params.limit)} characters long`, param }
  }
  return { message: `${field} ${first.message ?? 'is invalid'}`, param }
}
