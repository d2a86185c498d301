// Typed operations from the committed supergraph and the registered operations (schema/operations/), which are
// exactly the trusted-documents manifest's (gateway/persisted-documents.json): the portal sends nothing else.
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../schema/supergraph.graphql',
  documents: ['../schema/operations/*.graphql'],
  ignoreNoDocuments: false,
  generates: {
    './src/gql/': {
      preset: 'client',
      config: {
        scalars: { Date: 'string', DateTime: 'string', JSON: 'unknown', Upload: 'File' },
        enumsAsTypes: true,
        useTypeImports: true,
      },
      presetConfig: { fragmentMasking: false },
    },
  },
};
export default config;
