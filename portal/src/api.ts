// The portal's one way to the API: urql over the gateway, every operation sent by its trusted-document hash
// (never its text), subscriptions as server-sent events, the bearer token on every request.
import { Client, CombinedError, fetchExchange, mapExchange, type TypedDocumentNode } from '@urql/core';
import { persistedExchange } from '@urql/exchange-persisted';
import { signal } from '@preact/signals';

declare const __OPERATION_HASHES__: Record<string, string>;
const HASHES: Record<string, string> = __OPERATION_HASHES__;

export interface PortalConfig {
  gatewayUrl: string;
  devTokens: { label: string; token: string }[];
}

export const config = signal<PortalConfig | null>(null);
export const token = signal<string | null>(sessionStorage.getItem('hotline.token'));
/** Why the user was sent back to sign-in (UNAUTHENTICATED), shown there. */
export const signInReason = signal<string | null>(null);

export async function loadConfig(): Promise<PortalConfig> {
  const response = await fetch('./config.json', { cache: 'no-store' });
  const loaded = (await response.json()) as Partial<PortalConfig>;
  const value = { gatewayUrl: loaded.gatewayUrl || location.origin, devTokens: loaded.devTokens || [] };
  config.value = value;
  return value;
}

export function signIn(jwt: string) {
  token.value = jwt.trim();
  sessionStorage.setItem('hotline.token', token.value);
  signInReason.value = null;
  client = makeClient();
}

export function signOut(reason: string | null = null) {
  token.value = null;
  sessionStorage.removeItem('hotline.token');
  signInReason.value = reason;
  location.hash = '#/signin';
}

export function operationName(document: TypedDocumentNode<any, any>): string {
  for (const definition of document.definitions) {
    if (definition.kind === 'OperationDefinition') return definition.name?.value ?? '';
  }
  return '';
}

/** The registered hash of an operation; an unregistered one is a programming error, refused before sending. */
export function hashOf(document: TypedDocumentNode<any, any>): string {
  const name = operationName(document);
  const hash = HASHES[name];
  if (!hash) throw new Error(`operation ${name} is not in the trusted-documents manifest`);
  return hash;
}

export function errorCodes(error: CombinedError | undefined | null): string[] {
  if (!error) return [];
  return error.graphQLErrors.map((e) => String(e.extensions?.code ?? ''));
}

function makeClient(): Client {
  const cfg = config.value!;
  return new Client({
    url: `${cfg.gatewayUrl}/graphql`,
    requestPolicy: 'network-only',
    fetchSubscriptions: true,
    preferGetMethod: false,
    fetchOptions: (): RequestInit => ({
      headers: token.value ? { authorization: `Bearer ${token.value}` } : ({} as Record<string, string>),
    }),
    exchanges: [
      mapExchange({
        onError(error) {
          // A missing, expired or foreign token: back to sign-in, saying why.
          if (errorCodes(error).includes('UNAUTHENTICATED') || error.response?.status === 401) {
            signOut('unauthenticated');
          }
        },
      }),
      persistedExchange({
        enforcePersistedQueries: true,
        enableForMutation: true,
        enableForSubscriptions: true,
        preferGetForPersistedQueries: false,
        generateHash: async (_query, document) => hashOf(document),
      }),
      fetchExchange,
    ],
  });
}

let client: Client | null = null;
export function api(): Client {
  if (!client) client = makeClient();
  return client;
}

/** A REST file of the gateway (a run's report, an evidence file), fetched with the token and saved. */
export async function download(path: string, filename: string): Promise<{ ok: boolean; status: number }> {
  const response = await fetch(`${config.value!.gatewayUrl}${path}`, {
    headers: { authorization: `Bearer ${token.value}` },
  });
  if (response.status === 401) signOut('unauthenticated');
  if (!response.ok) return { ok: false, status: response.status };
  const blob = await response.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
  return { ok: true, status: response.status };
}
