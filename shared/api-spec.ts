/**
 * The protocol's HTTP API as data (method, path, roles, body and answer validators), and the
 * OpenAPI 3.1 document and JSON Schemas built from it with zod's `z.toJSONSchema`. Written to
 * docs/ by scripts/gen-schemas.ts; a test fails when the files are out of date.
 *
 * Invariants: pure (no I/O); the same validators give the same bytes (keys in a fixed order).
 */
import { z } from 'zod';
import { PROTOCOL_HEADER, PROTOCOL_VERSION, type Role } from './protocol.js';
import * as W from './wire.js';
import { RepoPolicySchema, WorkerProfileSchema } from './model.js';

export interface ApiRoute {
  method: 'get' | 'post' | 'put' | 'patch' | 'delete';
  /** OpenAPI path, parameters in braces. */
  path: string;
  summary: string;
  /** 'none' for public routes; admin may call every route. */
  roles: readonly Role[] | 'none';
  body?: z.ZodType;
  answer: z.ZodType;
  /** Status of a success (default 200). */
  status?: number;
}

const WORKER = ['worker'] as const;
const MAINT = ['maintainer'] as const;
const ANY = ['worker', 'maintainer', 'viewer'] as const;

const Tasks = z.looseObject({ tasks: z.array(W.TaskViewSchema) });
const Repos = z.looseObject({ repos: z.array(RepoPolicySchema) });
const Tokens = z.looseObject({ tokens: z.array(W.TokenCreatedSchema.omit({ token: true }).extend({ revokedAt: z.number().int().optional() })) });
const Workers = z.looseObject({ workers: z.array(z.looseObject({ profile: WorkerProfileSchema.nullable().optional(), runtime: W.WorkerRuntimeSchema.nullable().optional(), online: z.boolean().optional() })) });
const Audit = z.looseObject({ entries: z.array(W.AuditEventSchema.extend({ seq: z.number().int(), prevHash: z.string(), hash: z.string() })) });

/** The routes a client of protocol 0.1 relies on (docs/PROTOCOL.md, HTTP API). */
export const API_ROUTES: readonly ApiRoute[] = [
  { method: 'get', path: '/healthz', summary: 'Liveness, relay version and protocol version', roles: 'none', answer: W.HealthSchema },
  { method: 'get', path: '/api/me', summary: 'Who this token is', roles: ANY, answer: W.MeSchema },
  { method: 'post', path: '/api/workers/register', summary: "Write the worker's profile to its inbox", roles: WORKER, body: W.RegisterBodySchema, answer: W.RegisterAnswerSchema },
  { method: 'get', path: '/api/workers', summary: 'Workers with profile, runtime and presence', roles: ANY, answer: Workers },
  { method: 'post', path: '/api/claim', summary: 'Claim a task (claim) or the best eligible one (claim-next)', roles: WORKER, body: W.ClaimBodySchema, answer: W.ClaimAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/heartbeat', summary: 'Extend a lease', roles: WORKER, body: W.HeartbeatBodySchema, answer: W.HeartbeatAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/release', summary: 'Give a lease back', roles: WORKER, body: W.LeaseActionBodySchema, answer: W.IntentAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/submit', summary: 'Hand in a pull request', roles: WORKER, body: W.SubmitBodySchema, answer: W.IntentAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/complete', summary: 'Finish a task without a pull request', roles: WORKER, body: W.LeaseActionBodySchema, answer: W.IntentAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/fail', summary: 'Give up on a task, with a reason', roles: WORKER, body: W.FailBodySchema, answer: W.IntentAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/review', summary: "Record a pull request's review state", roles: MAINT, body: W.ReviewBodySchema, answer: W.IntentAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/requeue', summary: 'Put a task back in the queue', roles: MAINT, body: W.RequeueBodySchema, answer: W.IntentAnswerSchema },
  { method: 'post', path: '/api/tasks/{id}/cancel', summary: 'End a task', roles: MAINT, body: W.CancelBodySchema, answer: W.IntentAnswerSchema },
  { method: 'get', path: '/api/tasks', summary: 'Tasks with their runtime', roles: ANY, answer: Tasks },
  { method: 'get', path: '/api/tasks/{id}', summary: 'One task and its runtime', roles: ANY, answer: W.TaskViewSchema },
  { method: 'post', path: '/api/tasks', summary: 'Add or update tasks (idempotent)', roles: MAINT, body: W.ImportBodySchema, answer: W.ImportAnswerSchema },
  { method: 'get', path: '/api/repos', summary: 'Repo policies', roles: ANY, answer: Repos },
  { method: 'put', path: '/api/repos/{owner}/{name}', summary: 'Create or replace a repo policy', roles: MAINT, body: RepoPolicySchema.omit({ repo: true }), answer: z.looseObject({ repo: RepoPolicySchema }) },
  { method: 'post', path: '/api/tokens', summary: 'Create a token (shown once)', roles: [], body: W.TokenBodySchema, answer: W.TokenCreatedSchema, status: 201 },
  { method: 'get', path: '/api/tokens', summary: 'List tokens (never the secrets)', roles: [], answer: Tokens },
  { method: 'delete', path: '/api/tokens/{id}', summary: 'Revoke a token; its sockets and streams close', roles: [], answer: z.looseObject({ id: z.string(), revokedAt: z.number().int() }) },
  { method: 'get', path: '/api/audit', summary: 'Audit entries, oldest first', roles: ANY, answer: Audit },
];

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
