/**
 * Generate the Cloud API types from Elastic's Swagger 2.0 spec:
 *   spec/cloud-api/apidocs.json (vendored, see spec/README.md) → swagger2openapi → openapi-typescript v7
 *   → src/clients/generated/cloud-api.ts
 *
 * Run with `npm run gen:cloud-types` (optionally `-- --spec PATH` to use another copy of the spec). The output is
 * committed; CI may re-run this and `git diff --exit-code` it to prove it is current.
 */
import fs from 'node:fs';
import path from 'node:path';
import openapiTS, { astToString } from 'openapi-typescript';
// swagger2openapi ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const swagger2openapi = require('swagger2openapi') as {
  convertObj(spec: unknown, options: Record<string, unknown>): Promise<{ openapi: Record<string, unknown> }>;
};

const repoRoot = path.resolve(__dirname, '..');
const DEFAULT_SPEC = path.join(repoRoot, 'spec', 'cloud-api', 'apidocs.json');
const OUT = path.join(repoRoot, 'src', 'clients', 'generated', 'cloud-api.ts');

function specPath(): string {
  const i = process.argv.indexOf('--spec');
  if (i >= 0 && process.argv[i + 1]) return path.resolve(process.argv[i + 1] as string);
  return DEFAULT_SPEC;
}

type OpenApi = {
  components: { schemas: Record<string, { properties?: Record<string, unknown> } & Record<string, unknown>> };
};

/**
 * Corrections to the published spec, each where the spec's own prose contradicts its schema. Kept here (and listed
 * in the generated header) so that regenerating from a newer spec keeps them and a reader sees why the types differ.
 */
const CORRECTIONS: { why: string; apply(o: OpenApi): void }[] = [
  {
    why: 'KeystoreSecret.value is "either a string or a JSON object" (the schema says object only)',
    apply(o) {
      const props = o.components.schemas.KeystoreSecret?.properties;
      if (!props) throw new Error('KeystoreSecret not found');
      props.value = {
        description: (props.value as { description?: string } | undefined)?.description,
        oneOf: [{ type: 'string' }, { type: 'object', additionalProperties: true }],
      };
    },
  },
  {
    why: 'KeystoreContents.secrets: a secret sent as null is removed (PATCH semantics of the keystore endpoint)',
    apply(o) {
      const props = o.components.schemas.KeystoreContents?.properties;
      if (!props) throw new Error('KeystoreContents not found');
      const secrets = props.secrets as { additionalProperties?: unknown };
      secrets.additionalProperties = { nullable: true, allOf: [{ $ref: '#/components/schemas/KeystoreSecret' }] };
    },
  },
];

async function main(): Promise<void> {
  const spec = specPath();
  if (!fs.existsSync(spec)) {
    throw new Error(`Cloud API spec not found at ${spec}: restore spec/cloud-api/apidocs.json or pass --spec PATH`);
  }
  const swagger = JSON.parse(fs.readFileSync(spec, 'utf8')) as { info?: { version?: string } };
  // patch: fix the small Swagger 2.0 irregularities instead of failing; warnOnly: report what could not be converted.
  const { openapi } = await swagger2openapi.convertObj(swagger, {
    patch: true,
    warnOnly: true,
    resolveInternal: false,
  });
  for (const c of CORRECTIONS) c.apply(openapi as unknown as OpenApi);
  const ast = await openapiTS(openapi as never, { alphabetize: false });
  const header = [
    '/**',
    ' * GENERATED FILE, DO NOT EDIT. Elastic Cloud API types.',
    ` * Source: spec/cloud-api/apidocs.json (Swagger 2.0, info.version ${swagger.info?.version ?? '?'})`,
    ' * Made by: npm run gen:cloud-types  (tsx scripts/gen-cloud-types.ts: swagger2openapi 7 → openapi-typescript 7)',
    ' * Corrections applied to the spec (see CORRECTIONS in the script):',
    ...CORRECTIONS.map((c) => ` *   - ${c.why}`),
    ' */',
    '/* eslint-disable */',
    '',
  ].join('\n');
  fs.mkdirSync(path.dirname(OUT), { recursive: true });
  fs.writeFileSync(OUT, header + astToString(ast));
  console.log(`wrote ${path.relative(repoRoot, OUT)} from ${spec}`);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
