import { useQuery } from './hooks';
import { UnitNamesDocument } from './gql/graphql';
import { lang } from './i18n';

/** Names of the caller's subtree (ids outside it stay ids: the API does not name them to this caller). */
export function useUnitNames(under: string): (id: string) => string {
  const q = useQuery(UnitNamesDocument, { under, first: 500 });
  const names = new Map<string, { nameZh: string; nameEn: string }>();
  for (const e of q.data?.units.edges ?? []) names.set(e.node.id, e.node);
  return (id: string) => {
    const n = names.get(id);
    if (!n) return id;
    return lang.value === 'en' && n.nameEn ? n.nameEn : n.nameZh;
  };
}
