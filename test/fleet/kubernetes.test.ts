// deploy/kubernetes/: every manifest validates against the Kubernetes API schemas
// (kubernetes-models), and the Deployment has what the fleet needs — three replicas, probes on
// the real health routes, a grace period longer than preStop + SHUTDOWN_GRACE_MS, non-root,
// read-only root filesystem, resources; the env it hands tiergate is a valid configuration.
import t from 'tap'
import { readFile, readdir } from 'node:fs/promises'
import YAML from 'yaml'
import { ConfigMap, Secret, Service } from 'kubernetes-models/v1'
import { Deployment } from 'kubernetes-models/apps/v1'
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2'
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1'
import { ENV_VARIABLES, PROVIDER_VARIABLE, BUILTIN_PROVIDERS, loadConfig } from '../../config.ts'

const DIR = new URL('../../deploy/kubernetes/', import.meta.url)
const MODELS: Record<string, new (data: any) => { validate(): void }> = {
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
}

const files = (await readdir(DIR)).filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml').sort()
const docs: any[] = []
for (const file of files) {
  for (const doc of YAML.parseAllDocuments(await readFile(new URL(file, DIR), 'utf8'))) docs.push({ file, ...doc.toJS() })
}
const find = (kind: string, name: string) => docs.find((d) => d.kind === kind && d.metadata?.name === name)

t.test('every manifest validates against the Kubernetes schemas', async (t) => {
  t.ok(docs.length >= 8)
  for (const { file, ...doc } of docs) {
    const Model = MODELS[`${doc.apiVersion}/${doc.kind}`]
    t.ok(Model, `${file}: ${doc.apiVersion} ${doc.kind} is a known kind`)
    t.doesNotThrow(() => new Model(doc).validate(), `${file}: ${doc.kind} ${doc.metadata.name}`)
  }
  // The validator really rejects a broken manifest (a wrong type where an integer belongs).
  const broken = structuredClone(find('Deployment', 'tiergate'))
  delete broken.file
  broken.spec.replicas = 'three'
  t.throws(() => new Deployment(broken).validate(), 'a broken Deployment is rejected')
})

t.test('kustomization lists every manifest', async (t) => {
  const kustomization = YAML.parse(await readFile(new URL('kustomization.yaml', DIR), 'utf8'))
  t.same([...kustomization.resources].sort(), files)
})

t.test('the Deployment: replicas, probes, shutdown, security, resources', async (t) => {
  const deployment = find('Deployment', 'tiergate')
  const pod = deployment.spec.template.spec
  const [container] = pod.containers
  const config = find('ConfigMap', 'tiergate').data
  t.equal(deployment.spec.replicas, 3)
  t.equal(container.readinessProbe.httpGet.path, '/health/ready')
  t.equal(container.livenessProbe.httpGet.path, '/health')
  t.equal(container.ports[0].containerPort, Number(config.PORT))
  t.equal(config.HOST, '0.0.0.0', 'reachable from the Service')
  const preStopSeconds = Number(container.lifecycle.preStop.exec.command.at(-1))
  t.ok(pod.terminationGracePeriodSeconds * 1000 > preStopSeconds * 1000 + Number(config.SHUTDOWN_GRACE_MS),
    `grace ${pod.terminationGracePeriodSeconds} s > preStop ${preStopSeconds} s + SHUTDOWN_GRACE_MS ${config.SHUTDOWN_GRACE_MS} ms`)
  t.equal(pod.securityContext.runAsNonRoot, true)
  t.not(pod.securityContext.runAsUser, 0)
  t.equal(container.securityContext.readOnlyRootFilesystem, true)
  t.equal(container.securityContext.allowPrivilegeEscalation, false)
  t.ok(pod.volumes.some((v: any) => v.name === 'tmp' && v.emptyDir), 'a writable /tmp on a read-only root')
  for (const kind of ['requests', 'limits']) t.ok(container.resources[kind].cpu && container.resources[kind].memory, `resource ${kind}`)
  t.same(container.envFrom.map((e: any) => e.configMapRef?.name ?? e.secretRef?.name), ['tiergate', 'tiergate'])
  const service = find('Service', 'tiergate')
  t.same(service.spec.selector, deployment.spec.selector.matchLabels, 'the Service selects the pods')
  const hpa = find('HorizontalPodAutoscaler', 'tiergate')
  t.equal(hpa.spec.scaleTargetRef.name, 'tiergate')
  t.ok(hpa.spec.minReplicas >= 3)
  const pdb = find('PodDisruptionBudget', 'tiergate')
  t.ok(pdb.spec.minAvailable < hpa.spec.minReplicas, 'a drain can always proceed')
  t.same(pdb.spec.selector.matchLabels, deployment.spec.selector.matchLabels)
})

t.test('Redis: non-root, no persistence, reachable where REDIS_URL points', async (t) => {
  const redis = find('Deployment', 'tiergate-redis')
  const pod = redis.spec.template.spec
  t.equal(pod.securityContext.runAsNonRoot, true)
  t.equal(pod.containers[0].securityContext.readOnlyRootFilesystem, true)
  const url = new URL(find('ConfigMap', 'tiergate').data.REDIS_URL)
  const service = find('Service', url.hostname)
  t.ok(service, `a Service named ${url.hostname}`)
  t.equal(service.spec.ports[0].port, Number(url.port))
  t.same(service.spec.selector, redis.spec.selector.matchLabels)
})

t.test('the env the pods get is a valid tiergate configuration of known variables', async (t) => {
  const env = { ...find('ConfigMap', 'tiergate').data, ...find('Secret', 'tiergate').stringData }
  const builtins = new Set(BUILTIN_PROVIDERS.map((n) => n.toUpperCase()))
  for (const name of Object.keys(env)) {
    const family = PROVIDER_VARIABLE.exec(name)
    const provider = family?.[1] ?? family?.[2]
    t.ok(ENV_VARIABLES.includes(name) || (provider !== undefined && builtins.has(provider)), `${name} is a tiergate variable`)
  }
  const config = loadConfig(env)
  t.equal(config.redisUrl, 'redis://tiergate-redis:6379')
  t.ok(config.gatewayApiKeys.length > 0, 'gateway keys required when listening on 0.0.0.0')
  t.equal(config.trustProxy, 1)
})
