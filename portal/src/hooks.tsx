import { useEffect, useState, useCallback } from 'preact/hooks';
import type { CombinedError, TypedDocumentNode } from '@urql/core';
import { api, errorCodes } from './api';
import { t } from './i18n';

export interface QueryState<T> {
  data: T | null;
  error: CombinedError | null;
  loading: boolean;
  reload: () => void;
}

export function useQuery<T, V extends Record<string, unknown>>(
  document: TypedDocumentNode<T, V>,
  variables: V | null,
): QueryState<T> {
  const [state, setState] = useState<{ data: T | null; error: CombinedError | null; loading: boolean }>({
    data: null,
    error: null,
    loading: variables !== null,
  });
  const [tick, setTick] = useState(0);
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (variables === null) return;
    let live = true;
    setState((s) => ({ ...s, loading: true }));
    api()
      .query(document, variables)
      .toPromise()
      .then((r) => live && setState({ data: (r.data as T) ?? null, error: r.error ?? null, loading: false }));
    return () => {
      live = false;
    };
  }, [key, tick]);
  const reload = useCallback(() => setTick((n) => n + 1), []);
  return { ...state, reload };
}

/** A subscription for as long as the component shows; `onData` gets each event. */
export function useSubscription<T, V extends Record<string, unknown>>(
  document: TypedDocumentNode<T, V>,
  variables: V | null,
  onData: (data: T) => void,
): boolean {
  const [live, setLive] = useState(false);
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (variables === null) return;
    setLive(true);
    const { unsubscribe } = api()
      .subscription(document, variables)
      .subscribe((r) => {
        if (r.data) onData(r.data as T);
        if (r.error) setLive(false);
      });
    return () => {
      setLive(false);
      unsubscribe();
    };
  }, [key]);
  return live;
}

/** A GraphQL error as the user should read it: FORBIDDEN and CONFLICT explained, the request id to quote. */
export function ErrorNote({ error }: { error: CombinedError | null | undefined }) {
  if (!error) return null;
  const codes = errorCodes(error);
  let text = `${t('error')}: ${error.message}`;
  if (codes.includes('FORBIDDEN')) text = t('forbidden');
  else if (codes.includes('CONFLICT')) text = t('conflict');
  else if (codes.includes('UNAUTHENTICATED')) text = t('unauthenticated');
  const requestId = error.response?.headers?.get?.('x-request-id');
  return (
    <div class="error" role="alert" data-codes={codes.join(' ')}>
      {text}
      {requestId ? <small> · {t('requestId')} {requestId}</small> : null}
    </div>
  );
}

export function Problems({ problems }: { problems: { path?: string | null; code: string; message: string }[] }) {
  if (!problems.length) return null;
  return (
    <ul class="problems" role="alert">
      {problems.map((p) => (
        <li data-path={p.path ?? ''}>
          {p.path ? <code>{p.path}</code> : null} {p.message} <small>({p.code})</small>
        </li>
      ))}
    </ul>
  );
}

/** The problems at exactly this path, shown beside its field. */
export function FieldProblems({ problems, path }: { problems: { path?: string | null; code: string; message: string }[]; path: string }) {
  const here = problems.filter((p) => p.path === path);
  if (!here.length) return null;
  return (
    <span class="field-problem" data-path={path} role="alert">
      {here.map((p) => p.message).join('; ')}
    </span>
  );
}
