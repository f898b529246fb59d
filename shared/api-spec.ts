/**
 * The protocol's HTTP API as data (method, path, roles, body and answer validators), and the
 * OpenAPI 3.1 document and JSON Schemas built from it with zod's `z.toJSONSchema`. Written to
 * docs/ by scripts/gen-schemas.ts; a test fails when the files are out of date.
 *
 * Invariants: pure (no I/O); the same validators give the same bytes (keys in a fixed order).
 */
import * as z from 'zod';
import { PROTOCOL_HEADER, PROTOCOL_VERSION, type Role } from './protocol.js';
import * as W from './wire.js';
import { RepoPolicySchema, TaskSchema, WorkerProfileSchema } from './model.js';

export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path, parameters in braces. */
  path: string;
  summary: string;
  /** 'none' for public routes; admin may call every route. */
  roles: readonly Role[] | 'none';
  /** The request body: the relay's handler parses it with this schema (server/http/body.ts). */
  body?: z.ZodObject;
  /** What the body is, for refusals: `task_id is not a field of <noun>`. */
  noun?: string;
  answer: z.ZodType;
  /** Status of a success (default 200). */
  status?: number;
}

const WORKER = ['worker'] as const;
const MAINT = ['maintainer'] as const;
const ANY = ['worker', 'maintainer', 'viewer'] as const;
const ADMIN = [] as const;

const Tasks = z.looseObject({ tasks: z.array(W.TaskViewSchema) });
const Repos = z.looseObject({ repos: z.array(RepoPolicySchema) });
const RepoAnswer = z.looseObject({ repo: RepoPolicySchema });
const Tokens = z.looseObject({ tokens: z.array(W.TokenCreatedSchema.omit({ token: true }).extend({ revokedAt: z.number().int().optional() })) });
const Workers = z.looseObject({ workers: z.array(z.looseObject({ profile: WorkerProfileSchema.nullable().optional(), runtime: W.WorkerRuntimeSchema.nullable().optional(), online: z.boolean().optional() })) });
const Audit = z.looseObject({ entries: z.array(W.AuditEventSchema.extend({ seq: z.number().int(), prevHash: z.string(), hash: z.string() })) });
const leaseAction = (kind: string, summary: string, body: z.ZodObject) =>
  ({ method: 'post', path: `/api/tasks/{id}/${kind}`, summary, roles: WORKER, body, noun: `a ${kind} (POST /api/tasks/:id/${kind})`, answer: W.IntentAnswerSchema }) as const;
const maintainerAction = (kind: string, summary: string, body: z.ZodObject) =>
  ({ method: 'post', path: `/api/tasks/{id}/${kind}`, summary, roles: MAINT, body, noun: `a ${kind} (POST /api/tasks/:id/${kind})`, answer: W.IntentAnswerSchema }) as const;

/** The routes a client of the protocol relies on (docs/PROTOCOL.md, HTTP API), by name. */
export const API = {
  health: { method: 'get', path: '/healthz', summary: 'Liveness, relay version and protocol version', roles: 'none', answer: W.HealthSchema },
  me: { method: 'get', path: '/api/me', summary: 'Who this token is', roles: ANY, answer: W.MeSchema },
  register: { method: 'post', path: '/api/workers/register', summary: "Write the worker's profile to its inbox", roles: WORKER, body: W.RegisterBodySchema, noun: 'a worker profile', answer: W.RegisterAnswerSchema },
  workers: { method: 'get', path: '/api/workers', summary: 'Workers with profile, runtime and presence', roles: ANY, answer: Workers },
  claim: { method: 'post', path: '/api/claim', summary: 'Claim a task (claim) or the best eligible one (claim-next)', roles: WORKER, body: W.ClaimBodySchema, noun: 'a claim (POST /api/claim)', answer: W.ClaimAnswerSchema },
  heartbeat: { method: 'post', path: '/api/tasks/{id}/heartbeat', summary: 'Extend a lease', roles: WORKER, body: W.HeartbeatBodySchema, noun: 'a heartbeat', answer: W.HeartbeatAnswerSchema },
  release: leaseAction('release', 'Give a lease back', W.LeaseActionBodySchema),
  submit: leaseAction('submit', 'Hand in a pull request', W.SubmitBodySchema),
  complete: leaseAction('complete', 'Finish a task without a pull request', W.LeaseActionBodySchema),
  fail: leaseAction('fail', 'Give up on a task, with a reason', W.FailBodySchema),
  review: maintainerAction('review', "Record a pull request's review state", W.ReviewBodySchema),
  requeue: maintainerAction('requeue', 'Put a task back in the queue', W.RequeueBodySchema),
  cancel: maintainerAction('cancel', 'End a task', W.CancelBodySchema),
  tasks: { method: 'get', path: '/api/tasks', summary: 'Tasks with their runtime', roles: ANY, answer: Tasks },
  task: { method: 'get', path: '/api/tasks/{id}', summary: 'One task and its runtime', roles: ANY, answer: W.TaskViewSchema },
  importTasks: { method: 'post', path: '/api/tasks', summary: 'Add or update tasks (idempotent); a bare array is { tasks: array }', roles: MAINT, body: W.ImportBodySchema, noun: 'a task import (POST /api/tasks)', answer: W.ImportAnswerSchema },
  patchTask: { method: 'patch', path: '/api/tasks/{id}', summary: "Change some of a task's fields (id, if sent, must be the path's)", roles: MAINT, body: W.TaskPatchBodySchema, noun: 'a task patch (PATCH /api/tasks/:id)', answer: z.looseObject({ task: TaskSchema }) },
  repos: { method: 'get', path: '/api/repos', summary: 'Repo policies', roles: ANY, answer: Repos },
  createRepo: { method: 'post', path: '/api/repos', summary: 'Create a repo policy (409 conflict when it exists)', roles: MAINT, body: W.RepoCreateBodySchema, noun: 'a repo policy (POST /api/repos)', answer: RepoAnswer, status: 201 },
  putRepo: { method: 'put', path: '/api/repos/{owner}/{name}', summary: "Create or replace a repo policy (repo, if sent, must be the path's)", roles: MAINT, body: W.RepoPutBodySchema, noun: 'a repo policy (PUT /api/repos/:owner/:name)', answer: RepoAnswer },
  patchRepo: { method: 'patch', path: '/api/repos/{owner}/{name}', summary: "Change some of a repo policy's fields", roles: MAINT, body: W.RepoPatchBodySchema, noun: 'a repo policy patch (PATCH /api/repos/:owner/:name)', answer: RepoAnswer },
  deleteRepo: { method: 'delete', path: '/api/repos/{owner}/{name}', summary: 'Delete a repo policy (409 repo-in-use while the repo has live tasks; audited as repo-deleted)', roles: ADMIN, answer: RepoAnswer },
  freeze: { method: 'post', path: '/api/repos/{owner}/{name}/freeze', summary: 'Freeze an area: no new claims touch it', roles: MAINT, body: W.AreaBodySchema, noun: 'an area freeze', answer: RepoAnswer },
  unfreeze: { method: 'post', path: '/api/repos/{owner}/{name}/unfreeze', summary: 'Unfreeze an area', roles: MAINT, body: W.AreaBodySchema, noun: 'an area unfreeze', answer: RepoAnswer },
  trust: { method: 'put', path: '/api/trust/{workerId}', summary: 'The risk tier maintainers trust a worker with', roles: MAINT, body: W.TrustBodySchema, noun: 'a trust setting', answer: z.looseObject({ workerId: z.string(), tier: z.number().int().nullable(), repo: z.string().optional() }) },
  createToken: { method: 'post', path: '/api/tokens', summary: 'Create a token (shown once)', roles: ADMIN, body: W.TokenBodySchema, noun: 'a new token', answer: W.TokenCreatedSchema, status: 201 },
  listTokens: { method: 'get', path: '/api/tokens', summary: 'List tokens (never the secrets)', roles: ADMIN, answer: Tokens },
  revokeToken: { method: 'delete', path: '/api/tokens/{id}', summary: 'Revoke a token; its sockets and streams close', roles: ADMIN, answer: z.looseObject({ id: z.string(), revokedAt: z.number().int() }) },
  audit: { method: 'get', path: '/api/audit', summary: 'Audit entries, oldest first', roles: ANY, answer: Audit },
} as const satisfies Record<string, ApiRoute>;

export type ApiName = keyof typeof API;
/** A route that takes a body (every one names what it is, for refusals). */
export type BodyRoute = ApiRoute & { body: z.ZodObject; noun: string };
export const hasBody = (r: ApiRoute): r is BodyRoute => r.body !== undefined && r.noun !== undefined;
export const API_ROUTES: readonly ApiRoute[] = Object.values(API);

const strip = (v: Record<string, unknown>) => {
  const { $schema: _s, $id: _i, $defs: _d, ...rest } = v;
  return rest;
};
const schema = (s: z.ZodType, io: 'input' | 'output') => strip(z.toJSONSchema(s, { io, unrepresentable: 'any' }) as Record<string, unknown>);

/** Answers refer to the named shapes (components) instead of repeating them. */
function named(): z.core.$ZodRegistry<{ id: string }> {
  const reg = z.registry<{ id: string }>();
  for (const [id, s] of Object.entries(W.WIRE_SCHEMAS)) reg.add(s, { id });
  return reg;
}
const toComponents = (text: string) => JSON.parse(text.replaceAll('"#/$defs/', '"#/components/schemas/')) as Record<string, unknown>;
function answerSchema(s: z.ZodType, reg: z.core.$ZodRegistry<{ id: string }>): Record<string, unknown> {
  return toComponents(JSON.stringify(strip(z.toJSONSchema(s, { io: 'output', metadata: reg, unrepresentable: 'any' }) as Record<string, unknown>)));
}
function components(reg: z.core.$ZodRegistry<{ id: string }>): Record<string, unknown> {
  const all = z.toJSONSchema(reg, { io: 'output', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` }).schemas;
  return Object.fromEntries(Object.entries(all).map(([id, v]) => [id, strip(v as Record<string, unknown>)]));
}

/** JSON Schema (draft 2020-12) of each named wire shape, as accepted (input) by its validator. */
export function jsonSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const [name, s] of Object.entries(W.WIRE_SCHEMAS)) {
    out[name] = { $schema: 'https://json-schema.org/draft/2020-12/schema', $id: `https://owp.dev/schemas/${PROTOCOL_VERSION}/${name}.json`, title: name, ...schema(s, 'input') };
  }
  return out;
}

const errorResponse = { description: 'Refused: `{ error: { code, message, field?, filter? }, outcome? }`', content: { 'application/json': { schema: { $ref: '#/components/schemas/ErrorBody' } } } };

/** The OpenAPI 3.1 description of the protocol's HTTP API. */
export function openApiDocument(): Record<string, unknown> {
  const reg = named();
  const paths: Record<string, Record<string, unknown>> = {};
  for (const r of API_ROUTES) {
    const params = [...r.path.matchAll(/\{(\w+)\}/g)].map((m) => ({ name: m[1], in: 'path', required: true, schema: { type: 'string' } }));
    const who = r.roles === 'none' ? 'No token.' : `Roles: ${['admin', ...r.roles].join(', ')}.`;
    (paths[r.path] ??= {})[r.method] = {
      summary: r.summary,
      description: who,
      ...(r.roles === 'none' ? { security: [] } : {}),
      ...(params.length ? { parameters: params } : {}),
      ...(r.body ? { requestBody: { required: true, content: { 'application/json': { schema: schema(r.body, 'input') } } } } : {}),
      responses: {
        [String(r.status ?? 200)]: {
          description: 'OK',
          headers: { [PROTOCOL_HEADER]: { description: 'The protocol version the relay speaks', schema: { type: 'string' } } },
          content: { 'application/json': { schema: answerSchema(r.answer, reg) } },
        },
        default: errorResponse,
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: { title: 'Open Work Protocol relay HTTP API', version: PROTOCOL_VERSION, description: 'Generated from the validators in shared/wire.ts and shared/model.ts by scripts/gen-schemas.ts; the specification is docs/PROTOCOL.md.' },
    servers: [{ url: 'http://127.0.0.1:8787' }],
    security: [{ bearer: [] }],
    paths,
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'An OWP token (`owp_...`)' } },
      schemas: components(reg),
    },
  };
}

/** File name under docs/ -> its text (stable JSON, two-space indent, trailing newline). */
export function generatedSchemaFiles(): Record<string, string> {
  const text = (v: unknown) => JSON.stringify(v, null, 2) + '\n';
  const files: Record<string, string> = { 'schemas/openapi.json': text(openApiDocument()) };
  for (const [name, s] of Object.entries(jsonSchemas())) files[`schemas/${name}.json`] = text(s);
  return files;
}
